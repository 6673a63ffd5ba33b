from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from huikuan.audit.models import AppendOnlyError, AuditEvent
from huikuan.audit.selectors import audit_verify
from huikuan.audit.services import audit_record

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[AuditEvent]:
    return [
        audit_record(
            actor=None,
            action="test.event",
            object_type="test",
            object_id=str(i),
            changes={"n": [i, i + 1]},
        )
        for i in range(n)
    ]


def test_an_intact_chain_verifies():
    _events(5)
    report = audit_verify()
    assert report.ok and report.checked == 5


def test_an_edited_row_is_reported_as_the_first_bad_one():
    events = _events(5)
    AuditEvent.objects.filter(pk=events[2].pk).update(changes={"n": [2, 999]})
    report = audit_verify()
    assert report.first_bad_id == events[2].pk
    assert report.problem == "content"
    assert report.checked == 2


def test_a_removed_row_breaks_the_link_of_the_next():
    events = _events(4)
    AuditEvent.objects.filter(pk=events[1].pk)._raw_delete(AuditEvent.objects.db)
    report = audit_verify()
    assert report.first_bad_id == events[2].pk
    assert report.problem == "link"


def test_removing_the_newest_rows_is_noticed():
    events = _events(3)
    AuditEvent.objects.filter(pk=events[-1].pk)._raw_delete(AuditEvent.objects.db)
    assert audit_verify().problem == "truncated"


def test_events_cannot_be_edited_or_deleted_through_the_model():
    event = _events(1)[0]
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_an_event_rolls_back_with_the_change_it_describes():
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=None, action="test.event", object_type="test", object_id="1")
        raise RuntimeError("the service failed after auditing")
    assert AuditEvent.objects.count() == 0
    assert audit_verify().ok


def test_audit_verify_command_reports_the_tampered_row(capsys):
    events = _events(3)
    call_command("audit_verify")
    assert "3" in capsys.readouterr().out
    AuditEvent.objects.filter(pk=events[1].pk).update(actor_label="someone-else")
    with pytest.raises(CommandError, match=str(events[1].pk)):
        call_command("audit_verify")
