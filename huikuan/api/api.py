"""The /api/v1 NinjaAPI: authentication, the one error body, and each app's router.

Every error leaves as ``{"code", "message", "fields"}`` with the message in the request's
language (LocaleMiddleware has activated it from Accept-Language by the time handlers run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.security import HttpBearer, SessionAuth

from huikuan.contact.api import router as contact_router
from huikuan.cycle.api import router as cycle_router
from huikuan.iam.api import router as iam_router
from huikuan.iam.selectors import user_for_token
from huikuan.intake.api import router as intake_router
from huikuan.intake.errors import IntakeError
from huikuan.ledger.api import router as ledger_router
from huikuan.ledger.domain import IllegalTransition
from huikuan.ledger.services import IdempotencyConflict
from huikuan.workqueue.api import router as workqueue_router

logger = logging.getLogger(__name__)


class TokenAuth(HttpBearer):
    """``Authorization: Bearer hk_...``: a personal token, hashed at rest (iam.selectors)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            # Endpoints, selectors and services all read request.user, whichever way it signed in.
            request.user = user
        return user


class BrowserSessionAuth(SessionAuth):
    """The Django session, with ninja's CSRF check on unsafe methods.

    Two refinements over plain ``django_auth``: a request that sent an Authorization header is
    judged by that header alone (a wrong token is not rescued by a cookie), and a request
    without a session cookie gets 401 rather than a CSRF error (it has no session to forge).
    """

    def __call__(self, request: HttpRequest) -> Any:
        if "Authorization" in request.headers or self.param_name not in request.COOKIES:
            return None
        return super().__call__(request)


api = NinjaAPI(
    urls_namespace="api",
    version="1",
    title="Huikuan API",
    description="The collection ledger over HTTP. "
    "Authenticate with `Authorization: Bearer hk_...`.",
    auth=[TokenAuth(), BrowserSessionAuth()],
    # ninja is not an installed app, so its docs page would fall back to a CDN (DESIGN §5).
    docs_url=None,
)
api.add_router("/", ledger_router, tags=["ledger"])
api.add_router("/", iam_router, tags=["iam"])
api.add_router("/", intake_router, tags=["intake"])
api.add_router("/", cycle_router, tags=["cycle"])
api.add_router("/", workqueue_router, tags=["workqueue"])
api.add_router("/", contact_router, tags=["contact"])


# --- the one error body ---------------------------------------------------------------------


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
) -> HttpResponse:
    body = {"code": code, "message": message, "fields": fields or {}}
    return api.create_response(request, body, status=status)


def _from_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    # Joined, so a client that shows only ``message`` still tells the user what is wrong.
    message = " ".join(m for msgs in fields.values() for m in msgs)
    return error_response(request, 422, "validation_error", message, fields)


# Pydantic's own messages are English only; the common ones get a translatable text.
_SCHEMA_MESSAGES = {
    "missing": gettext_noop("This field is required."),
    "int_parsing": gettext_noop("Enter a whole number."),
    "int_type": gettext_noop("Enter a whole number."),
    "date_parsing": gettext_noop("Enter a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": gettext_noop("Enter a date as YYYY-MM-DD."),
    "date_type": gettext_noop("Enter a date as YYYY-MM-DD."),
    "string_type": gettext_noop("Enter a text value."),
    "bool_parsing": gettext_noop("Enter true or false."),
    "json_invalid": gettext_noop("The request body is not valid JSON."),
    "enum": gettext_noop("Choose one of %(expected)s."),
    "greater_than_equal": gettext_noop("Enter a value of at least %(ge)s."),
    "less_than_equal": gettext_noop("Enter a value of at most %(le)s."),
}


def _field_name(loc: Sequence[Any]) -> str:
    """``("body", "payload", "amount")`` → ``amount``; ``("query", "limit")`` → ``limit``.

    The source and the endpoint's own parameter name mean nothing to a client.
    """
    parts = [str(p) for p in loc[1:]]
    if loc and loc[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or NON_FIELD_ERRORS


def _from_schema_validation(request: HttpRequest, exc: SchemaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        msgid = _SCHEMA_MESSAGES.get(error.get("type", ""))
        text = _(msgid) % error.get("ctx", {}) if msgid else str(error.get("msg", ""))
        fields.setdefault(_field_name(error.get("loc", ())), []).append(text)
    message = " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
    return error_response(request, 422, "validation_error", message, fields)


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


def _permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(
        request, 403, "permission_denied", _("You do not have permission to do this.")
    )


def _conflict(request: HttpRequest, exc: IdempotencyConflict) -> HttpResponse:
    return error_response(request, 409, "conflict", str(exc), {"Idempotency-Key": [str(exc)]})


def _file_invalid(request: HttpRequest, exc: IntakeError) -> HttpResponse:
    return error_response(request, 422, "file_invalid", str(exc), {"file": [str(exc)]})


def _illegal_transition(request: HttpRequest, exc: IllegalTransition) -> HttpResponse:
    return error_response(request, 422, "illegal_transition", str(exc), {"status": [str(exc)]})


def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request,
        401,
        "unauthorized",
        _("Sign in, or send a valid API token as “Authorization: Bearer hk_...”."),
    )
    response["WWW-Authenticate"] = 'Bearer realm="huikuan"'
    return response


_HTTP_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    429: "throttled",
}


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 403 and "CSRF" in exc.message:
        return error_response(
            request,
            403,
            "csrf_failed",
            _("CSRF check failed: send the X-CSRFToken header, or use an API token."),
        )
    return error_response(
        request, exc.status_code, _HTTP_CODES.get(exc.status_code, "error"), str(exc)
    )


def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Logged with its traceback for us; the client gets the same body shape, never the trace.
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(
        request, 500, "server_error", _("Something went wrong on our side; it has been logged.")
    )


# Order does not matter: ninja uses the handler of the nearest class in the exception's MRO.
_HANDLERS: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
    (Exception, _server_error),
    (DjangoValidationError, _from_django_validation),
    (SchemaValidationError, _from_schema_validation),
    (Http404, _not_found),
    (PermissionDenied, _permission_denied),
    (IdempotencyConflict, _conflict),
    (IllegalTransition, _illegal_transition),
    (IntakeError, _file_invalid),
    (AuthenticationError, _unauthorized),
    (HttpError, _http_error),
]
for _exc_class, _handler in _HANDLERS:
    api.add_exception_handler(_exc_class, _handler)
