"""The import job's life: upload, mapping (saved per creditor), start, run, result."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from huikuan.audit.models import AuditEvent
from huikuan.intake import jobs
from huikuan.intake.models import ImportJob, MappingProfile
from huikuan.intake.tests.ledger_files import HEADERS, RID2, csv_text, row
from huikuan.ledger.models import Account, ReceivableItem
from huikuan.ledger.tests.factories import make_portfolio

pytestmark = pytest.mark.django_db


def _csv(*rows: list[str], headers: list[str] | None = None) -> bytes:
    text = csv_text(list(rows))
    if headers is not None:
        text = text.replace(",".join(HEADERS), ",".join(headers), 1)
    return text.encode("gbk")


def _create(actor: Any, portfolio: Any, data: bytes, **kw: Any) -> ImportJob:
    return jobs.import_job_create(
        actor=actor,
        kind=kw.pop("kind", "ledger"),
        creditor=portfolio.creditor,
        portfolio=portfolio,
        source=io.BytesIO(data),
        file_name=kw.pop("file_name", "台账.csv"),
        **kw,
    )


@pytest.fixture
def portfolio(db: Any) -> Any:
    return make_portfolio()


def test_upload_stores_the_file_by_its_hash_and_guesses_the_columns(
    personas: dict[str, Any], portfolio: Any
) -> None:
    data = _csv(row())
    job = _create(personas["manager"], portfolio, data)
    stored = jobs.stored_file(job)
    assert stored.read_bytes() == data
    assert stored.name.startswith(job.sha256)
    assert job.size_bytes == len(data)
    assert job.status == ImportJob.Status.MAPPING
    assert job.header_row == 2  # under the title row
    assert job.headers == HEADERS
    mapping = jobs.mapping_of(job)
    assert mapping[HEADERS.index("客户名称")] == "debtor_name"
    assert mapping[HEADERS.index("证件号码")] == "id_number"
    assert "序号" not in [job.headers[i] for i in mapping]
    assert AuditEvent.objects.filter(action="import.upload", object_id=str(job.pk)).exists()


def test_the_same_bytes_twice_are_one_stored_file(personas: dict[str, Any], portfolio: Any) -> None:
    data = _csv(row())
    first = _create(personas["manager"], portfolio, data)
    second = _create(personas["manager"], portfolio, data, file_name="again.csv")
    assert first.sha256 == second.sha256
    assert len(list(jobs.files_dir("uploads").glob(f"{first.sha256}*"))) == 1
    assert not list(jobs.files_dir("incoming").iterdir())


def test_who_may_import(personas: dict[str, Any], portfolio: Any) -> None:
    for name in ("collector", "team_lead", "auditor", "outsider"):
        with pytest.raises(PermissionDenied):
            _create(personas[name], portfolio, _csv(row()))
    with pytest.raises(PermissionDenied):
        _create(personas["legal"], portfolio, _csv(row()), kind="payments")
    assert _create(personas["finance"], portfolio, _csv(row()))


def test_an_unreadable_file_leaves_no_job(personas: dict[str, Any], portfolio: Any) -> None:
    from huikuan.intake.errors import IntakeError

    with pytest.raises(IntakeError, match="No header row"):
        _create(personas["manager"], portfolio, b"a,b\n1,2\n")
    assert not ImportJob.objects.exists()


def test_mapping_is_checked_and_saved_for_the_creditors_next_file(
    personas: dict[str, Any], portfolio: Any
) -> None:
    manager = personas["manager"]
    headers = [*HEADERS]
    headers[HEADERS.index("客户名称")] = "主体名"  # not a known header
    job = _create(manager, portfolio, _csv(row(), headers=headers))
    assert "debtor_name" not in jobs.mapping_of(job).values()
    with pytest.raises(ValidationError, match="debtor name"):
        jobs.import_job_start(job, actor=manager)

    mapping = jobs.mapping_of(job)
    with pytest.raises(ValidationError, match="already taken"):
        jobs.import_job_map(job, actor=manager, mapping={**mapping, 1: "contract_no"})
    mapping[headers.index("主体名")] = "debtor_name"
    mapping.pop(headers.index("手机号码"))  # a person leaves the phones out
    jobs.import_job_map(job, actor=manager, mapping=mapping)
    profile = MappingProfile.objects.get(creditor=portfolio.creditor, kind="ledger")
    assert profile.fields["主体名"] == "debtor_name"
    assert profile.fields["手机号码"] == ""

    again = _create(manager, portfolio, _csv(row(), headers=headers), file_name="next.csv")
    assert jobs.mapping_of(again) == mapping


def test_a_ledger_job_runs_to_done_and_a_second_run_changes_nothing(
    personas: dict[str, Any], portfolio: Any
) -> None:
    manager = personas["manager"]
    data = _csv(row(), row(期数="2", 到期日="2025/4/1", 已还金额=""))
    job = _create(manager, portfolio, data)
    jobs.import_job_start(job, actor=manager, enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.counts["rows_read"] == 2
    assert job.counts["accounts_created"] == 1
    assert job.counts["items_created"] == 2
    assert ReceivableItem.objects.filter(account__contract_no="HT2025001").count() == 2
    assert jobs.progress_get(job).percent == 100

    again = _create(manager, portfolio, data)
    jobs.import_job_start(again, actor=manager, enqueue=False)
    again = jobs.import_job_run(again.pk)
    assert again.status == ImportJob.Status.DONE
    assert again.counts["items_created"] == again.counts["items_updated"] == 0
    # Run twice (a task delivered twice): the second call finds it no longer queued.
    assert jobs.import_job_run(again.pk).counts == again.counts


def test_all_or_nothing_rejects_then_a_person_imports_the_valid_rows(
    personas: dict[str, Any], portfolio: Any
) -> None:
    manager = personas["manager"]
    bad = row(合同编号="HT2025002", 证件号码=RID2[:-1] + ("0" if RID2[-1] != "0" else "1"))
    job = _create(manager, portfolio, _csv(row(), bad))
    jobs.import_job_start(job, actor=manager, enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.REJECTED
    assert job.counts["rows_rejected"] == 1
    assert job.error_count >= 1
    assert not Account.objects.exists()
    report = jobs.report_file(job).read_text("utf-8-sig")
    assert "HT2025002" in report and "HT2025001" not in report

    jobs.import_job_start(job, actor=manager, mode="valid_only", enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.DONE
    assert list(Account.objects.values_list("contract_no", flat=True)) == ["HT2025001"]


def test_a_dry_run_writes_nothing(personas: dict[str, Any], portfolio: Any) -> None:
    job = _create(personas["manager"], portfolio, _csv(row()), dry_run=True)
    jobs.import_job_start(job, actor=personas["manager"], enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.DONE
    assert job.counts["rows_valid"] == 1
    assert not Account.objects.exists()


def test_cancel_only_before_it_runs(personas: dict[str, Any], portfolio: Any) -> None:
    manager = personas["manager"]
    job = _create(manager, portfolio, _csv(row()))
    jobs.import_job_cancel(job, actor=manager)
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.CANCELLED
    with pytest.raises(ValidationError):
        jobs.import_job_start(job, actor=manager)


@pytest.mark.django_db(transaction=True)
def test_the_database_worker_runs_a_queued_job(
    personas: dict[str, Any], portfolio: Any, settings: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    manager = personas["manager"]
    job = _create(manager, portfolio, _csv(row()))
    jobs.import_job_start(job, actor=manager)  # enqueued when the transaction commits
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED and job.task_id
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert Account.objects.filter(contract_no="HT2025001").exists()


def test_the_command_line_imports_a_file(
    personas: dict[str, Any], portfolio: Any, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "台账.csv"
    path.write_bytes(_csv(row()))
    call_command(
        "import", "ledger", str(path), creditor=portfolio.creditor.code, portfolio=portfolio.code
    )
    out = capsys.readouterr().out
    assert "Done" in out and "accounts created: 1" in out
    job = ImportJob.objects.get()
    assert job.created_by is None and job.status == ImportJob.Status.DONE

    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(row(到期日="明天")))
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "import", "ledger", str(bad), creditor=portfolio.creditor.code, report=str(report)
        )
    assert exit_.value.code == 1
    assert "明天" in report.read_text("utf-8-sig")


@pytest.mark.parametrize("kind", ["gbk-csv", "utf8-bom-csv", "xlsx"])
def test_a_file_with_every_error_is_rejected_whole_and_reported_row_by_row(
    personas: dict[str, Any], portfolio: Any, tmp_path: Path, kind: str
) -> None:
    from huikuan.intake.tests.ledger_files import write_csv, write_xlsx
    from huikuan.intake.tests.test_validate_ledger import CASES, ledger_rows

    if kind == "xlsx":
        path = write_xlsx(tmp_path / "台账.xlsx", [[c or None for c in r] for r in ledger_rows()])
    else:
        path = write_csv(
            tmp_path / "台账.csv",
            ledger_rows(),
            encoding="gbk" if kind == "gbk-csv" else "utf-8-sig",
        )
    manager = personas["manager"]
    job = _create(manager, portfolio, path.read_bytes(), file_name=path.name, language="zh-hans")
    jobs.import_job_start(job, actor=manager, enqueue=False)
    job = jobs.import_job_run(job.pk)
    assert job.status == ImportJob.Status.REJECTED
    assert not Account.objects.exists()  # nothing half-imported
    expected = {n for n, (_, error) in CASES.items() if error}
    assert job.counts["rows_rejected"] == len(expected)
    assert job.counts["rows_valid"] == 2
    import csv

    with jobs.report_file(job).open(encoding="utf-8-sig", newline="") as f:
        report = list(csv.reader(f))
    header, body = report[0], report[1:]
    assert set(HEADERS) <= set(header)
    # One report row per bad file row, in the user's language (the job's: Chinese).
    assert len(body) == len(expected)
    errors = [r[-1] if header[-1] != HEADERS[-1] else "" for r in body]
    assert all(errors), errors
    assert any("第" in text and "行" in text for text in errors), errors
