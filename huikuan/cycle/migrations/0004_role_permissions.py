"""Give the roles the permissions added with the cycle pages: run the cycle, edit strategies."""

from django.db import migrations

from huikuan.iam.role_migrations import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("cycle", "0003_run_cycle_permission_schedule_claim"),
        ("strategy", "0003_manage_strategy_permission"),
        ("iam", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
