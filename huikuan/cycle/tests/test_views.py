"""Cycle pages and endpoints: starting a run from the page and the API, live progress, who may
see and do what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from huikuan.audit.models import AuditEvent
from huikuan.cycle import services
from huikuan.cycle.models import CycleRun
from huikuan.iam.services import token_create
from huikuan.ledger.tests.factories import PASSWORD, installments, make_account, make_portfolio

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 23)
PAGES = ("cycle_runs", "report_aging", "report_rolls", "report_segments", "report_actions")
ENDPOINTS = (
    "/api/v1/cycle/runs",
    "/api/v1/cycle/reports/aging?as_of=2026-11-23",
    "/api/v1/cycle/reports/roll-rates?first=2026-11-22&second=2026-11-23",
    "/api/v1/cycle/reports/segments?as_of=2026-11-23",
    "/api/v1/cycle/reports/planned-actions?as_of=2026-11-23",
)


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


def api(user: Any) -> Client:
    _token, raw = token_create(user=user, name="test", actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def book(personas: dict[str, Any]) -> dict[str, Any]:
    portfolio = make_portfolio()
    for first_due, count, principal in (
        (dt.date(2026, 11, 13), 3, "1000.00"),  # DPD 10
        (dt.date(2026, 10, 23), 3, "1000.00"),  # DPD 31
        (dt.date(2026, 5, 1), 6, "10000.00"),  # DPD 206
        (dt.date(2026, 12, 13), 3, "1000.00"),  # not yet due
    ):
        make_account(portfolio, items=installments(first_due, count, Decimal(principal)))
    return {"portfolio": portfolio, **personas}


def test_a_manager_starts_a_run_from_the_page_and_watches_it_finish(
    book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = browser(book["manager"])
    page = client.get(reverse("web:cycle_runs"))
    assert page.status_code == 200
    assert "Run the cycle" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-23", "partitions": 2})
    assert len(callbacks) == 1
    run = CycleRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:cycle_run", args=[run.pk])
    run.refresh_from_db()
    # Tests run tasks inline: both partition tasks ran, and the last one finished the run.
    assert (run.status, run.partitions_done, run.started_by) == ("done", [0, 1], book["manager"])
    assert run.counts["accounts"] == 4
    assert AuditEvent.objects.filter(action="cycle.finish", object_id=str(run.pk)).count() == 1

    progress = client.get(reverse("web:cycle_progress", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert progress["HX-Redirect"] == reverse("web:cycle_run", args=[run.pk])
    with translation.override("en"):
        detail = client.get(reverse("web:cycle_run", args=[run.pk])).content.decode()
        listing = client.get(reverse("web:cycle_runs")).content.decode()
    assert "Result" in detail and "Planned actions" in detail
    assert "2 / 2" in listing and "2026-11-23" in listing


def test_a_running_run_shows_its_progress_and_polls(book: dict[str, Any]) -> None:
    run = services.cycle_start(as_of=AS_OF, actor=book["manager"], partitions=4)
    services.cycle_partition(run.pk, 2)
    client = browser(book["manager"])
    page = client.get(reverse("web:cycle_run", args=[run.pk])).content.decode()
    assert reverse("web:cycle_progress", args=[run.pk]) in page
    progress = client.get(reverse("web:cycle_progress", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert "HX-Redirect" not in progress
    assert "1 / 4" in progress.content.decode()


def test_a_second_start_while_running_is_refused(book: dict[str, Any]) -> None:
    services.cycle_start(as_of=AS_OF, actor=book["manager"])
    client = browser(book["manager"])
    response = client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-23", "partitions": 1})
    assert response.status_code == 422
    assert "still in progress" in response.content.decode()
    assert CycleRun.objects.count() == 1


def test_a_failed_run_is_resumed_from_its_page(
    book: dict[str, Any], django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    real = services.partition_run

    def dies_on_partition_1(**kw: Any) -> Any:
        if kw["partition"] == 1:
            raise RuntimeError("the worker was killed")
        return real(**kw)

    monkeypatch.setattr(services, "partition_run", dies_on_partition_1)
    client = browser(book["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-23", "partitions": 2})
    run = CycleRun.objects.get()
    assert (run.status, run.partitions_done) == ("failed", [0])
    assert "the worker was killed" in run.message
    page = client.get(reverse("web:cycle_run", args=[run.pk])).content.decode()
    assert "Resume the run" in page
    monkeypatch.setattr(services, "partition_run", real)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-23", "partitions": 2})
    run.refresh_from_db()
    assert (run.status, run.partitions_done, CycleRun.objects.count()) == ("done", [0, 1], 1)
    assert AuditEvent.objects.filter(action="cycle.resume").count() == 1


def test_the_last_partition_finishes_the_run_once(book: dict[str, Any]) -> None:
    run = services.cycle_start(as_of=AS_OF, actor=None, partitions=2)
    services.cycle_partition(run.pk, 0)
    assert services.cycle_complete(run.pk).status == "running"
    services.cycle_partition(run.pk, 1)
    # Two tasks ending at once both ask to finish: one records it.
    assert services.cycle_complete(run.pk).status == "done"
    assert services.cycle_complete(run.pk).status == "done"
    assert AuditEvent.objects.filter(action="cycle.finish").count() == 1


def test_the_api_starts_a_run_with_202_and_reports_it(
    book: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = api(book["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/cycle/runs",
            {"as_of": "2026-11-23", "partitions": 3},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["partitions"], body["started_by"]) == ("running", 3, "manager")
    body = client.get(f"/api/v1/cycle/runs/{body['id']}").json()
    assert body["status"] == "done"
    assert body["partitions_done"] == [0, 1, 2]
    assert set(body["seconds"]) == {"read", "compute", "write"}
    listed = client.get("/api/v1/cycle/runs").json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    refused = client.post(
        "/api/v1/cycle/runs", {"as_of": "2026-11-22"}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert "already run" in refused.json()["message"]
    for url in ENDPOINTS[1:]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["collector", "team_lead", "agency", "outsider"])
def test_people_without_the_permissions_see_no_cycle(book: dict[str, Any], persona: str) -> None:
    run = services.cycle_run(as_of=AS_OF, actor=None)
    client = browser(book[persona])
    for name in PAGES:
        assert client.get(reverse(f"web:{name}")).status_code == 403, name
    assert client.get(reverse("web:cycle_run", args=[run.pk])).status_code == 403
    assert client.get(reverse("web:cycle_progress", args=[run.pk])).status_code == 403
    response = client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-24", "partitions": 1})
    assert response.status_code == 403
    token = api(book[persona])
    for url in ENDPOINTS:
        assert token.get(url).status_code == 403, url
    assert token.get(f"/api/v1/cycle/runs/{run.pk}").status_code == 403
    posted = token.post("/api/v1/cycle/runs", {"as_of": "2026-11-24"}, "application/json")
    assert posted.status_code == 403
    assert CycleRun.objects.count() == 1


@pytest.mark.parametrize("persona", ["auditor", "finance", "legal"])
def test_readers_see_runs_and_reports_but_may_not_start_a_run(
    book: dict[str, Any], persona: str
) -> None:
    run = services.cycle_run(as_of=AS_OF, actor=None)
    client = browser(book[persona])
    for name in PAGES:
        assert client.get(reverse(f"web:{name}")).status_code == 200, name
    page = client.get(reverse("web:cycle_runs")).content.decode()
    assert "cycle-run-form" not in page
    assert client.post(reverse("web:cycle_runs"), {"as_of": "2026-11-24"}).status_code == 403
    assert client.get(reverse("web:cycle_run", args=[run.pk])).status_code == 200
    token = api(book[persona])
    assert token.get(f"/api/v1/cycle/runs/{run.pk}").status_code == 200
    posted = token.post("/api/v1/cycle/runs", {"as_of": "2026-11-24"}, "application/json")
    assert posted.status_code == 403


def test_a_missing_run_is_404(book: dict[str, Any]) -> None:
    assert browser(book["manager"]).get(reverse("web:cycle_run", args=[999])).status_code == 404
    assert api(book["manager"]).get("/api/v1/cycle/runs/999").status_code == 404


def test_the_navigation_shows_the_cycle_to_those_who_may_open_it(book: dict[str, Any]) -> None:
    for persona, sees in (("manager", True), ("auditor", True), ("collector", False)):
        html = browser(book[persona]).get(reverse("web:ledger")).content.decode()
        nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
        assert (reverse("web:cycle_runs") in nav) is sees, persona
        assert (reverse("web:segments") in nav) is sees, persona
