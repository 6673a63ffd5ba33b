"""Demo users, teams and data for the embedded default (``huikuan setup --demo-accounts N``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from huikuan.iam.models import Team, User
from huikuan.iam.roles import Role
from huikuan.ledger.models import Account

# A demo database on a laptop; the password is printed on every run on purpose.
DEMO_PASSWORD = "huikuan-demo"  # noqa: S105
DEMO_USERS: tuple[tuple[str, Role], ...] = (
    ("collector", Role.COLLECTOR),
    ("collector2", Role.COLLECTOR),
    ("lead", Role.TEAM_LEAD),
    ("manager", Role.MANAGER),
    ("legal", Role.LEGAL),
    ("compliance", Role.COMPLIANCE),
    ("auditor", Role.AUDITOR),
    ("finance", Role.FINANCE),
    ("admin", Role.ADMIN),
    ("agency", Role.AGENCY),
)


@dataclass
class DemoUsers:
    by_name: dict[str, User]
    phone_team: Team
    agency_team: Team

    def logins(self) -> list[tuple[str, str]]:
        return [(name, str(role.label)) for name, role in DEMO_USERS]


@transaction.atomic
def demo_users_ensure() -> DemoUsers:
    users = {}
    for name, role in DEMO_USERS:
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User.objects.create_user(username=name, password=DEMO_PASSWORD)
        user.groups.add(Group.objects.get(name=role.value))
        users[name] = user
    phone, _ = Team.objects.get_or_create(name="电话催收一组", defaults={"kind": Team.Kind.PHONE})
    phone.leads.add(users["lead"])
    phone.members.add(users["collector"], users["collector2"])
    agency, _ = Team.objects.get_or_create(name="信达委外", defaults={"kind": Team.Kind.AGENCY})
    agency.members.add(users["agency"])
    return DemoUsers(users, phone, agency)


def demo_load_if_empty(*, accounts: int, users: DemoUsers) -> int:
    if Account.objects.exists():
        return 0
    from huikuan.ledger.demo import demo_generate

    demo_generate(
        accounts=accounts,
        as_of=timezone.localdate(),
        collectors=[users.by_name["collector"].pk, users.by_name["collector2"].pk],
        agency_team=users.agency_team.pk,
    )
    return accounts
