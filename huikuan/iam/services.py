from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huikuan.audit.services import audit_record
from huikuan.iam.models import ApiToken, Team, User
from huikuan.iam.roles import ROLE_PERMISSIONS, Role
from huikuan.iam.selectors import TOKEN_PREFIX, hash_secret


def roles_sync() -> None:
    """Make each role's group carry exactly the permissions ``ROLE_PERMISSIONS`` gives it."""
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
        if f"{p.content_type.app_label}.{p.codename}" in wanted
    }
    missing = wanted - found.keys()
    if missing:
        raise RuntimeError(f"permissions not created yet: {sorted(missing)}")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        group.permissions.set([found[p] for p in perms])


def user_create(
    *,
    username: str,
    password: str,
    roles: list[str],
    actor: Any,
    first_name: str = "",
    last_name: str = "",
) -> User:
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise ValidationError(
            {"roles": _("Unknown role: %(r)s") % {"r": ", ".join(sorted(unknown))}}
        )
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, password=password, first_name=first_name, last_name=last_name
        )
        user.groups.set(Group.objects.filter(name__in=roles))
        audit_record(
            actor=actor,
            action="user.create",
            obj=user,
            changes={"username": [None, username], "roles": [None, sorted(roles)]},
        )
    return user


def team_create(
    *,
    name: str,
    kind: str,
    actor: Any,
    leads: Sequence[User] = (),
    members: Sequence[User] = (),
) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name, kind=kind)
        team.leads.set(leads)
        team.members.set(members)
        audit_record(
            actor=actor,
            action="team.create",
            obj=team,
            changes={
                "name": [None, name],
                "kind": [None, kind],
                "leads": [None, [u.pk for u in leads]],
                "members": [None, [u.pk for u in members]],
            },
        )
    return team


def token_create(*, user: User, name: str, actor: Any) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    if not name.strip():
        raise ValidationError({"name": _("Give the token a name.")})
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip(), prefix=prefix, secret_hash=hash_secret(raw)
        )
        audit_record(
            actor=actor,
            action="token.create",
            obj=token,
            changes={"user": [None, user.pk], "name": [None, token.name]},
        )
    return token, raw


def token_revoke(*, token: ApiToken, actor: Any) -> ApiToken:
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="token.revoke",
                obj=locked,
                changes={"revoked_at": [None, locked.revoked_at]},
            )
    return locked
