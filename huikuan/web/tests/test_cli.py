"""The operator command: help in both languages, Django commands behind it."""

from __future__ import annotations

import pytest
from django.utils import translation

from huikuan.cli import main


@pytest.fixture(autouse=True)
def _no_language_from_the_shell(monkeypatch):
    monkeypatch.delenv("HUIKUAN_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
    # main() activates a language for the whole thread; later tests expect the default.
    translation.deactivate()


def test_help_defaults_to_chinese(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert "用法" in out and "audit-verify" in out and "demo" in out


def test_help_in_english_by_flag_or_environment(capsys, monkeypatch):
    main(["--lang", "en", "--help"])
    assert "Usage: huikuan <command>" in capsys.readouterr().out
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    main([])
    assert "Commands:" in capsys.readouterr().out


def test_command_help_is_translated(capsys):
    with pytest.raises(SystemExit):
        main(["--lang", "en", "token", "--help"])
    assert "Create, list or revoke API tokens" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["token", "--help"])
    assert "令牌" in capsys.readouterr().out


@pytest.mark.django_db
def test_audit_verify_runs_through_the_cli(capsys):
    main(["--lang", "en", "audit-verify"])
    assert "Audit chain intact" in capsys.readouterr().out
