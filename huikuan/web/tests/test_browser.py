"""The main flows in a real browser: Debian's chromium driven by Playwright (never a download).

Screenshots of every step are kept in artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
    # here are plain synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


class Steps:
    """A page plus numbered screenshots of each step."""

    def __init__(self, page: Any, name: str) -> None:
        self.page, self.dir, self.n = page, SHOTS / name, 0
        self.dir.mkdir(parents=True, exist_ok=True)

    def shot(self, label: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(self.dir / f"{self.n:02d}-{label}.png"), full_page=True)


@pytest.fixture
def steps(browser: Any, request: Any) -> Iterator[Steps]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Steps(page, request.node.name)
    context.close()


def _login(steps: Steps, base: str, username: str) -> None:
    from huikuan.ledger.tests.factories import PASSWORD

    page = steps.page
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    steps.shot(f"login-{username}")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(re.compile(r"/ledger/"))


def _outstanding(steps: Steps) -> str:
    return str(steps.page.get_attribute("[data-outstanding]", "data-outstanding"))


def test_finance_filters_opens_posts_and_reverses_a_payment(live_server, personas, ledger, steps):
    page, base = steps.page, live_server.url
    _login(steps, base, "finance")
    assert page.locator("tr[data-contract]").count() == 3
    steps.shot("ledger")

    page.fill("#id_q", "HT-MINE")
    page.wait_for_function("document.querySelectorAll('tr[data-contract]').length === 1")
    steps.shot("filtered")
    page.click("tr[data-contract=HT-MINE-001]")
    page.wait_for_url(re.compile(r"/accounts/\d+/"))
    assert _outstanding(steps) == "3150.00"
    assert page.get_attribute("[data-bucket]", "data-bucket") == "91-180"
    steps.shot("account")

    page.fill("#pay_amount", "1,100.00")
    page.click("#post-payment button[type=submit]")
    page.wait_for_selector("[data-outstanding='2050.00']")
    # The oldest installment is paid, so the account is a month less late.
    assert page.get_attribute("[data-bucket]", "data-bucket") == "31-90"
    assert page.locator("[data-action='payment.post']").count() == 1
    steps.shot("payment-posted")

    page.click("details.inline-form summary")
    page.fill("input[name=reason]", "银行退票")
    page.click("details.inline-form button[type=submit]")
    page.wait_for_selector("[data-outstanding='3150.00']")
    assert page.locator("[data-action='payment.reverse']").count() == 1
    steps.shot("payment-reversed")


def test_collector_sees_only_their_accounts(live_server, personas, ledger, steps):
    page, base = steps.page, live_server.url
    _login(steps, base, "collector")
    contracts = page.locator("tr[data-contract]").evaluate_all(
        "rows => rows.map(r => r.dataset.contract)"
    )
    assert contracts == ["HT-MINE-001"]
    steps.shot("own-ledger")
    response = page.goto(f"{base}/accounts/{ledger['theirs'].pk}/")
    assert response is not None and response.status == 404
    steps.shot("other-account-404")


def test_language_switch_to_english_and_back(live_server, personas, ledger, steps):
    page, base = steps.page, live_server.url
    _login(steps, base, "manager")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.click(".lang-switch button[value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("h1", has_text="Collection ledger").count() == 1
    steps.shot("english")
    page.click(".lang-switch button[value=zh-hans]")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    steps.shot("chinese")


def test_manager_imports_a_gbk_ledger_file(live_server, personas, ledger, steps, tmp_path):
    from huikuan.intake.tests.ledger_files import row, write_csv

    page, base = steps.page, live_server.url
    portfolio = ledger["mine"].portfolio
    path = write_csv(tmp_path / "三月台账.csv", [row(), row(期数="2", 到期日="2025/4/1")])
    _login(steps, base, "manager")
    page.click("nav a[href='/imports/']")
    page.select_option("#id_creditor", str(portfolio.creditor_id))
    page.select_option("#id_portfolio", str(portfolio.pk))
    page.set_input_files("#id_file", str(path))
    steps.shot("upload")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#mapping-form")
    assert page.locator("#mapping-form tbody tr").count() == 14  # every column of the file
    steps.shot("columns")
    page.click("#mapping-form button[type=submit]")
    page.wait_for_selector("#job-result")
    steps.shot("result")
    assert page.locator(".status.import-done").count() == 1
    page.goto(f"{base}/ledger/?q=HT2025001")
    assert page.locator("tr[data-contract=HT2025001]").count() == 1


def test_manager_runs_the_cycle_and_reads_the_aging(live_server, personas, ledger, steps):
    from django.apps import apps

    from huikuan.strategy.defaults import seed

    seed(apps)  # transactional tests flush the data-migrated segments and strategies
    page, base = steps.page, live_server.url
    _login(steps, base, "manager")
    page.click("nav a[href='/cycle/']")
    page.fill("#id_as_of", "2026-11-23")
    steps.shot("run-form")
    page.click("#cycle-run-form button[type=submit]")
    # Tasks run inline in the tests: the run has finished when its page opens.
    page.wait_for_selector("#cycle-result")
    steps.shot("run-result")
    assert page.locator(".status.cycle-done").count() == 1
    page.click("a[href='/reports/aging/?as_of=2026-11-23']")
    page.wait_for_selector(".aging-card")
    steps.shot("aging")
    assert page.locator(".aging-card").count() == 1


def test_manager_previews_a_segment_change_before_saving(live_server, personas, ledger, steps):
    from django.apps import apps

    from huikuan.strategy.defaults import seed
    from huikuan.strategy.models import Segment

    seed(apps)  # transactional tests flush the data-migrated defaults
    page, base = steps.page, live_server.url
    light = Segment.objects.get(code="light_small")
    _login(steps, base, "manager")
    page.goto(f"{base}/strategy/segments/{light.pk}/")
    page.wait_for_selector("#preview-table")
    page.fill("#id_dpd_max", "5")
    page.locator("#id_dpd_max").dispatch_event("change")
    page.wait_for_selector("#preview-table tr.edited")
    steps.shot("preview")
    assert page.locator("#preview-table tr.edited").count() == 1
    light.refresh_from_db()
    assert light.conditions["dpd_max"] == 30  # previewing saved nothing
