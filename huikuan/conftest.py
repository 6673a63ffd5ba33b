"""Shared fixtures: personas (one user per role plus an outsider) and a small ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from huikuan.ledger.tests.factories import make_account, make_portfolio, make_user

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _today_is_fixed() -> Any:
    # Balances, DPD and statuses depend on today's date in the portfolio's time zone; tests
    # assert exact buckets, so they run on one known day (the clock still ticks).
    import time_machine

    with time_machine.travel(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Real hashing costs ~0.4 s per user; tests create a dozen users each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_files_and_tasks(settings: Any, tmp_path_factory: Any) -> None:
    # Uploaded files and reports go to a fresh folder; progress to this process's memory;
    # tasks run inline unless a test asks for the database backend (see intake tests).
    settings.HUIKUAN_FILES_DIR = tmp_path_factory.mktemp("files")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def personas(db: Any) -> dict[str, Any]:
    """One user per role, an outsider, a team led by ``lead`` that holds ``collector``."""
    from huikuan.iam.models import Team
    from huikuan.iam.services import roles_sync

    # Transactional tests (the browser ones) flush the database, data-migrated groups included.
    roles_sync()
    users: dict[str, Any] = {
        role: make_user(role)
        for role in (
            "collector",
            "team_lead",
            "manager",
            "legal",
            "compliance",
            "auditor",
            "finance",
            "admin",
            "agency",
        )
    }
    users["other_collector"] = make_user("collector", username="other_collector")
    users["outsider"] = make_user(None, username="outsider")
    team = Team.objects.create(name="电话一组", kind=Team.Kind.PHONE)
    team.leads.add(users["team_lead"])
    team.members.add(users["collector"])
    agency = Team.objects.create(name="华信委外", kind=Team.Kind.AGENCY)
    agency.members.add(users["agency"])
    users["team"] = team
    users["agency_team"] = agency
    return users


@pytest.fixture
def ledger(personas: dict[str, Any]) -> dict[str, Any]:
    """A portfolio with an account for ``collector``, one for ``other_collector`` and one
    placed with the agency."""
    portfolio = make_portfolio()
    mine = make_account(portfolio, collector=personas["collector"], contract_no="HT-MINE-001")
    theirs = make_account(
        portfolio, collector=personas["other_collector"], contract_no="HT-THEIRS-001"
    )
    placed = make_account(portfolio, team=personas["agency_team"], contract_no="HT-AGENCY-001")
    return {"portfolio": portfolio, "mine": mine, "theirs": theirs, "placed": placed}
