"""Data scopes: who reads which accounts. One place decides (ledger.selectors)."""

from __future__ import annotations

import pytest
from django.http import Http404

from huikuan.ledger import selectors

pytestmark = pytest.mark.django_db


def _visible(user) -> set[str]:
    return set(selectors.accounts_visible_to(user).values_list("contract_no", flat=True))


ALL = {"HT-MINE-001", "HT-THEIRS-001", "HT-AGENCY-001"}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("collector", {"HT-MINE-001"}),
        ("other_collector", {"HT-THEIRS-001"}),
        ("team_lead", {"HT-MINE-001"}),
        ("agency", {"HT-AGENCY-001"}),
        ("outsider", set()),
        ("manager", ALL),
        ("legal", ALL),
        ("compliance", ALL),
        ("auditor", ALL),
        ("finance", ALL),
        ("admin", ALL),
    ],
)
def test_each_role_sees_its_scope(personas, ledger, persona, expected):
    assert _visible(personas[persona]) == expected


def test_out_of_scope_and_missing_accounts_look_the_same(personas, ledger):
    collector = personas["collector"]
    assert selectors.access_account(collector, ledger["mine"].pk) == ledger["mine"]
    with pytest.raises(Http404):
        selectors.access_account(collector, ledger["theirs"].pk)
    with pytest.raises(Http404):
        selectors.access_account(collector, 10**9)


def test_an_inactive_user_sees_nothing(personas, ledger):
    manager = personas["manager"]
    manager.is_active = False
    manager.save()
    assert _visible(manager) == set()


def test_a_lead_sees_accounts_of_every_member_without_duplicates(personas, ledger):
    lead, team = personas["team_lead"], personas["team"]
    team.members.add(personas["other_collector"])
    ledger["theirs"].team = team
    ledger["theirs"].save()
    visible = list(selectors.accounts_visible_to(lead).values_list("contract_no", flat=True))
    assert sorted(visible) == ["HT-MINE-001", "HT-THEIRS-001"]


def test_auditor_is_read_only_by_permission(personas):
    from huikuan.iam import roles

    auditor = personas["auditor"]
    assert auditor.has_perm(roles.VIEW_ALL)
    for perm in (
        roles.POST_PAYMENT,
        roles.REVERSE_PAYMENT,
        roles.CHANGE_STATUS,
        roles.MANAGE_LEDGER,
        roles.MANAGE_USERS,
        roles.VIEW_PII,
    ):
        assert not auditor.has_perm(perm)
