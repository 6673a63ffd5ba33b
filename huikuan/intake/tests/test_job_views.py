"""Import pages and endpoints: upload, mapping, progress, result, report; who may see what."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from huikuan.iam.services import token_create
from huikuan.intake import jobs
from huikuan.intake.models import ImportJob
from huikuan.intake.tests.ledger_files import HEADERS, csv_text, row
from huikuan.ledger.models import Account
from huikuan.ledger.tests.factories import PASSWORD, make_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(db: Any) -> Any:
    return make_portfolio()


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=user.username, password=PASSWORD)
    return client


def api(user: Any) -> Client:
    _token, raw = token_create(user=user, name="test", actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


def gbk_file(*rows: list[str], name: str = "台账.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_text(list(rows)).encode("gbk"), "text/csv")


def upload(client: Client, portfolio: Any, file: Any, **fields: Any) -> Any:
    data = {
        "kind": "ledger",
        "creditor": portfolio.creditor.pk,
        "portfolio": portfolio.pk,
        "mode": "all_or_nothing",
        "file": file,
        **fields,
    }
    return client.post(reverse("web:import_list"), data)


def test_the_whole_web_flow(
    personas: dict[str, Any], portfolio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = browser(personas["manager"])
    assert client.get(reverse("web:import_list")).status_code == 200
    response = upload(client, portfolio, gbk_file(row()))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_detail", args=[job.pk])

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "客户名称" in html and "张三" in html  # the header and a first-row sample
    form = page.context["mapping_form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["save_profile"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(response["Location"], data)
    assert response.status_code == 302
    job.refresh_from_db()
    # Tests run tasks inline: the job has run by the time the page answers.
    assert job.status == ImportJob.Status.DONE, job.message
    assert Account.objects.filter(contract_no="HT2025001").exists()
    result = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "accounts created" in result

    progress = client.get(reverse("web:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert progress["HX-Redirect"] == reverse("web:import_detail", args=[job.pk])


def test_a_rejected_file_offers_the_report_and_the_valid_rows(
    personas: dict[str, Any], portfolio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    manager = personas["manager"]
    job = jobs.import_job_create(
        actor=manager,
        kind="ledger",
        creditor=portfolio.creditor,
        portfolio=portfolio,
        source=io.BytesIO(csv_text([row(), row(合同编号="HT9", 到期日="下个月")]).encode("gbk")),
        file_name="台账.csv",
    )
    jobs.import_job_start(job, actor=manager, enqueue=False)
    jobs.import_job_run(job.pk)
    client = browser(manager)
    page = client.get(reverse("web:import_detail", args=[job.pk])).content.decode()
    assert "Download the error report" in page
    assert "Import the 1 valid row only" in page

    report = client.get(reverse("web:import_report", args=[job.pk]))
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "下个月" in text and "HT2025001" not in text

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:import_start", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.mode == ImportJob.Mode.VALID_ONLY
    assert list(Account.objects.values_list("contract_no", flat=True)) == ["HT2025001"]


def test_upload_errors_are_shown_on_the_form(personas: dict[str, Any], portfolio: Any) -> None:
    client = browser(personas["manager"])
    response = upload(
        client, portfolio, SimpleUploadedFile("x.xls", b"\xd0\xcf\x11\xe0" + b"0" * 64)
    )
    assert response.status_code == 200
    assert "Excel 97" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("persona", ["collector", "team_lead", "auditor", "outsider"])
def test_people_who_may_not_import_see_no_imports(
    personas: dict[str, Any], portfolio: Any, persona: str
) -> None:
    job = jobs.import_job_create(
        actor=personas["manager"],
        kind="ledger",
        creditor=portfolio.creditor,
        portfolio=portfolio,
        source=io.BytesIO(csv_text([row()]).encode("gbk")),
        file_name="台账.csv",
    )
    client = browser(personas[persona])
    assert client.get(reverse("web:import_list")).status_code == 403
    assert client.get(reverse("web:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("web:import_report", args=[job.pk])).status_code == 404
    assert api(personas[persona]).get(f"/api/v1/imports/{job.pk}").status_code == 404
    response = api(personas[persona]).post(
        "/api/v1/imports",
        {"kind": "ledger", "creditor": portfolio.creditor.code, "file": gbk_file(row())},
    )
    assert response.status_code == 403


def test_legal_may_not_import_payments_and_sees_no_payment_jobs(
    personas: dict[str, Any], portfolio: Any
) -> None:
    assert not personas["legal"].has_perm("ledger.manage_ledger")
    client = browser(personas["finance"])
    assert client.get(reverse("web:import_list")).status_code == 200


def test_the_api_flow(
    personas: dict[str, Any], portfolio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = api(personas["finance"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports",
            {
                "kind": "ledger",
                "creditor": portfolio.creditor.code,
                "portfolio": portfolio.code,
                "file": gbk_file(row()),
            },
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["headers"] == HEADERS
    assert body["missing_fields"] == []
    # Every required column was recognised, so it was queued (and ran once committed).
    assert body["status"] == "queued"
    body = client.get(f"/api/v1/imports/{body['id']}").json()
    assert body["status"] == "done", body["message"]
    assert body["counts"]["accounts_created"] == 1
    assert body["progress"]["percent"] == 100

    listed = client.get("/api/v1/imports").json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]


def test_the_api_asks_for_a_mapping_when_a_column_is_unknown(
    personas: dict[str, Any], portfolio: Any, django_capture_on_commit_callbacks: Any
) -> None:
    headers = [*HEADERS]
    headers[HEADERS.index("合同编号")] = "主体编码"
    text = csv_text([row()]).replace(",".join(HEADERS), ",".join(headers), 1)
    client = api(personas["manager"])
    response = client.post(
        "/api/v1/imports",
        {
            "kind": "ledger",
            "creditor": portfolio.creditor.code,
            "file": SimpleUploadedFile("a.csv", text.encode("gbk")),
        },
    )
    body = response.json()
    assert body["status"] == "mapping"
    assert body["missing_fields"] == ["contract_no"]
    mapping = {int(k): v for k, v in body["mapping"].items()}
    mapping[headers.index("主体编码")] = "contract_no"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put(
            f"/api/v1/imports/{body['id']}/mapping",
            {"mapping": mapping},
            content_type="application/json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "queued"
    assert client.get(f"/api/v1/imports/{body['id']}").json()["status"] == "done"

    bad = client.post(
        "/api/v1/imports",
        {"kind": "ledger", "creditor": "NOPE", "file": SimpleUploadedFile("a.csv", b"x")},
    )
    assert bad.status_code == 422
    assert "NOPE" in bad.json()["message"]
    unreadable = client.post(
        "/api/v1/imports",
        {
            "kind": "ledger",
            "creditor": portfolio.creditor.code,
            "file": SimpleUploadedFile("a.csv", b""),
        },
    )
    assert unreadable.status_code == 422
    assert unreadable.json()["code"] == "file_invalid"
