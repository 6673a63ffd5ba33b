"""Cursor pagination for every list endpoint of the API.

Rows come in primary-key order and the cursor is the last key seen, so a page never repeats or
skips a row when rows are added meanwhile (offsets would). The cursor is opaque to clients: the
encoding may change without breaking them.

Usage in a router::

    @router.get("/things", response=Page[ThingOut])
    def things(request, page: Query[CursorParams]):
        return paginate(things_visible_to(request.user), page, to_out)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from ninja import Field, Schema

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_PREFIX = "pk:"

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class CursorParams(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page.")
    cursor: str | None = Field(
        None, description="The `next_cursor` of the previous page; omit for the first page."
    )


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The last primary key of the previous page, or ValidationError naming ``cursor``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(_PREFIX))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(
            {"cursor": _("This cursor is not valid; start again without one.")}
        ) from exc


def paginate(
    queryset: QuerySet[M],
    params: CursorParams,
    serialize: Callable[[M], Any] | None = None,
) -> dict[str, Any]:
    """One page of ``queryset`` in primary-key order, as ``{"items", "next_cursor"}``.

    Any ordering the queryset had is replaced: the cursor only works on the key order.
    """
    rows = queryset.order_by("pk")
    if params.cursor:
        rows = rows.filter(pk__gt=decode_cursor(params.cursor))
    # One extra row tells whether another page exists without a COUNT query.
    page = list(rows[: params.limit + 1])
    more = len(page) > params.limit
    page = page[: params.limit]
    return {
        "items": [serialize(row) for row in page] if serialize else page,
        "next_cursor": encode_cursor(page[-1].pk) if more else None,
    }
