"""The layout, navigation, language switch, assets and shared filters."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from huikuan.iam.roles import Role
from huikuan.ledger.domain import bucket_for
from huikuan.web.templatetags import huikuan as tags


def test_root_sends_anonymous_users_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_root_sends_signed_in_users_to_the_ledger(client, personas):
    client.force_login(personas["collector"])
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:ledger")


def _nav_links(html: str) -> set[str]:
    nav = html.split('<nav aria-label="', 1)[1].split("</nav>", 1)[0]
    return set(re.findall(r'href="([^"]+)"', nav))


@pytest.mark.parametrize(
    ("persona", "sees_audit"),
    [
        ("collector", False),
        ("team_lead", False),
        ("finance", False),
        ("agency", False),
        ("outsider", False),
        ("auditor", True),
        ("compliance", True),
        ("manager", True),
        ("admin", True),
    ],
)
def test_navigation_follows_permissions(client, personas, persona, sees_audit):
    client.force_login(personas[persona])
    links = _nav_links(client.get(reverse("web:ledger")).content.decode())
    assert {reverse("web:ledger"), reverse("web:aging"), reverse("web:tokens")} <= links
    assert (reverse("web:audit_log") in links) is sees_audit


def test_the_current_page_is_marked_in_the_navigation(client, personas, ledger):
    client.force_login(personas["collector"])
    html = client.get(reverse("web:account", args=[ledger["mine"].pk])).content.decode()
    assert f'href="{reverse("web:ledger")}" class="active"' in html


def test_top_bar_has_search_language_user_roles_and_logout(client, personas):
    client.force_login(personas["team_lead"])
    html = client.get(reverse("web:aging")).content.decode()
    assert f'action="{reverse("web:ledger")}"' in html and 'name="q"' in html
    assert f'action="{reverse("set_language")}"' in html
    assert 'name="language" value="en"' in html
    assert "team_lead" in html
    assert str(Role.TEAM_LEAD.label) in html
    assert f'action="{reverse("web:logout")}" method="post"' in html


def test_language_switch_sets_the_cookie_and_the_page_language(client, personas):
    client.force_login(personas["collector"])
    assert '<html lang="zh-hans">' in client.get(reverse("web:ledger")).content.decode()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/ledger/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in client.get(reverse("web:ledger")).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/ledger/"})
    assert '<html lang="zh-hans">' in client.get(reverse("web:ledger")).content.decode()


def test_logout_is_a_post_and_ends_the_session(client, personas):
    client.force_login(personas["collector"])
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert client.get(reverse("web:ledger")).status_code == 302


def test_every_asset_comes_from_the_app(client, personas):
    client.force_login(personas["collector"])
    html = client.get(reverse("web:ledger")).content.decode()
    external = re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', html)
    assert external == []
    for path in (
        "/static/web/huikuan.css",
        "/static/web/huikuan.js",
        "/static/django_htmx/htmx.min.js",
    ):
        assert path in html
        response = client.get(path)
        assert response.status_code == 200, path
        b"".join(response.streaming_content)
    css = client.get("/static/web/huikuan.css")
    body = b"".join(css.streaming_content).decode()
    assert "Noto Sans CJK SC" in body and "@import" not in body and "url(" not in body


def test_403_and_404_use_the_layout(client, personas, ledger):
    client.force_login(personas["collector"])
    forbidden = client.get(reverse("web:audit_log"))
    assert forbidden.status_code == 403
    assert 'class="sidenav"' in forbidden.content.decode()
    missing = client.get(reverse("web:account", args=[ledger["theirs"].pk]))
    assert missing.status_code == 404
    assert 'class="sidenav"' in missing.content.decode()


# --- template filters -----------------------------------------------------------------------


def test_money_filter_formats_with_currency_and_separators():
    assert tags.money(Decimal("1234567.5"), "CNY") == "¥1,234,567.50"
    assert tags.money(Decimal("-12"), "USD") == "-$12.00"
    assert tags.money(Decimal("1000"), "JPY") == "¥1,000"
    assert tags.money(None) == "—"


def test_bucket_class_is_the_same_step_for_the_same_bucket_everywhere():
    assert tags.bucket_class(bucket_for(0)) == "bk-0"
    assert tags.bucket_class(bucket_for(15)) == "bk-1"
    assert tags.bucket_class(bucket_for(60)) == "bk-2"
    assert tags.bucket_class(bucket_for(120)) == "bk-3"
    assert tags.bucket_class(bucket_for(400)) == "bk-4"
    # More buckets than colours: everything past the fourth bound is the reddest.
    assert tags.bucket_class(bucket_for(999, [0, 30, 60, 90, 180, 360])) == "bk-4"
    assert tags.bucket_class(None) == "bk-none"


def test_dpd_filter():
    assert tags.dpd(0) == "0"
    assert tags.dpd(1234) == "1,234"
    assert tags.dpd(None) == "—"
    assert "45" in tags.dpd(45, "long")
    assert tags.dpd(0, "long") != "0"


def test_query_tag_replaces_and_drops_keys():
    request = RequestFactory().get("/ledger/", {"status": "legal", "page": "3", "sort": "dpd"})
    template = Template("{% load huikuan %}{% query page='' sort='-outstanding' %}")
    rendered = template.render(Context({"request": request}))
    assert rendered.startswith("?")
    assert "page=" not in rendered
    assert "status=legal" in rendered and "sort=-outstanding" in rendered


def test_audit_changes_filter_reads_status_pairs():
    lines = tags.audit_changes({"status": ["current", "delinquent"], "items": [None, 3]})
    assert lines[0][0] == "status"
    assert lines[1] == ("items", "—", "3")
    assert tags.audit_changes("not a dict") == []
