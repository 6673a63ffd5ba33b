from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from django.utils import timezone

from huikuan.iam.models import ApiToken, User
from huikuan.iam.roles import VIEW_PII, Role

TOKEN_PREFIX = "hk_"  # noqa: S105 — a public marker, not a secret


def hash_secret(secret: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; a slow KDF buys nothing here.
    return hashlib.sha256(secret.encode()).hexdigest()


def user_for_token(raw: str) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, revoked, inactive)."""
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix, revoked_at=None).first()
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(raw)):
        return None
    if not token.user.is_active:
        return None
    # At most one write a minute per token: reads must not queue behind the write lock.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def user_roles(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    names = set(user.groups.values_list("name", flat=True))
    return names & set(Role.values)


def can_see_pii(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(VIEW_PII))


def tokens_of(user: Any) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user).order_by("-created_at"))
