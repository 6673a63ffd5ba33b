"""The data migration that makes the role groups match ``iam.roles`` (DESIGN.md §1).

Permissions are normally created after all migrations; the groups need them while migrating,
so this creates them from the historical models first. A permission whose model state does
not declare it yet (its app's migration runs later on a fresh database) is skipped: the app
that adds a permission adds a migration calling :func:`sync_role_groups` again, after its own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions

from huikuan.iam.roles import ROLE_PERMISSIONS


def sync_role_groups(apps: Any, schema_editor: Any) -> None:
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=role.value)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found is not None:
                wanted.append(found)
        group.permissions.set(wanted)
