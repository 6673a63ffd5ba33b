"""API endpoints of iam: who am I, and my personal API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Router, Schema

from huikuan.iam import selectors, services
from huikuan.iam.models import ApiToken

router = Router()


class MeOut(Schema):
    id: int
    username: str
    name: str
    roles: list[str]
    can_see_pii: bool


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenIn(Schema):
    name: str


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name(),
        "roles": sorted(selectors.user_roles(user)),
        "can_see_pii": selectors.can_see_pii(user),
    }


@router.get("/tokens", response=list[TokenOut])
def tokens(request: HttpRequest) -> list[ApiToken]:
    return selectors.tokens_of(request.user)


@router.post("/tokens", response={201: TokenCreatedOut})
def token_create(request: HttpRequest, payload: TokenIn) -> tuple[int, dict[str, Any]]:
    # A token may not mint tokens: otherwise revoking a leaked token would not shut it out.
    # (TokenAuth is the only way a request with an Authorization header gets this far.)
    if "Authorization" in request.headers:
        raise PermissionDenied
    user: Any = request.user
    token, raw = services.token_create(user=user, name=payload.name, actor=user)
    return 201, {**TokenOut.from_orm(token).model_dump(), "token": raw}


@router.delete("/tokens/{token_id}", response={204: None})
def token_revoke(request: HttpRequest, token_id: int) -> tuple[int, None]:
    services.token_revoke(token=_my_token(request.user, token_id), actor=request.user)
    return 204, None


def _my_token(user: Any, pk: int) -> ApiToken:
    """One of ``user``'s own tokens; anyone else's is "not found", like one that never existed."""
    token = ApiToken.objects.filter(user_id=user.pk, pk=pk).first()
    if token is None:
        raise Http404
    return token
