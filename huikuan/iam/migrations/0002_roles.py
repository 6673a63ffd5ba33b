"""Create the role groups with their permissions (DESIGN.md §1, table in iam.roles)."""

from django.db import migrations

from huikuan.iam.role_migrations import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0001_initial"),
        ("ledger", "0001_initial"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
