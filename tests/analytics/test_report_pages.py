"""Dashboard and digest pages: both languages without raw keys, widget fragments showing the
statistics module's numbers, roles, another organisation's dashboard, form errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from npsloop.analytics.stats import summarize
from npsloop.core.i18n import catalogs
from npsloop.notify import service as notify
from npsloop.notify.crypto import SecretBox
from tests.analytics.helpers import add_scores, counts_scores

NOW = datetime.now(UTC)


def login(client, email: str, password: str = "password-123") -> None:
    response = client.post("/login", data={"email": email, "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def raw_keys(page: str) -> list[str]:
    keys = set(catalogs()["en"])
    return sorted(k for k in re.findall(r"\b(?:reports|dashboard)\.[a-z_.0-9]+\b", page)
                  if k in keys)


@pytest.fixture
def dashboard(client, db, org):
    survey = client.post("/api/v1/surveys", headers=org.headers, json={
        "name": "Courier", "status": "live", "nps_type": "touchpoint",
        "touchpoint": "courier", "journey_stage": "delivery", "drivers": []}).json()
    add_scores(db, org.org_id, survey["id"], counts_scores(20, 6, 4),
               at=NOW - timedelta(days=2))
    made = client.post("/api/v1/dashboards", headers=org.headers, json={
        "name": "看板 One", "filters": {"period": "30d"},
        "widgets": [{"kind": "scorecard"}, {"kind": "nps_by"}, {"kind": "trend"},
                    {"kind": "journey"}, {"kind": "movers"}, {"kind": "crosstab"}]})
    assert made.status_code == 201, made.text
    return made.json()


def test_dashboard_pages_in_both_languages(client, org, dashboard):
    login(client, org.owner_email)
    for lang in ("zh-CN", "en"):
        listing = client.get(f"/dashboards?lang={lang}")
        assert listing.status_code == 200 and "看板 One" in listing.text
        assert not raw_keys(listing.text)
        view = client.get(f"/dashboards/{dashboard['id']}?edit=1&lang={lang}")
        assert view.status_code == 200 and 'data-editing="1"' in view.text
        assert "<script>" not in view.text  # no inline scripts (CSP)
        assert not raw_keys(view.text)
        for widget in dashboard["widgets"]:
            fragment = client.get(f"/dashboards/{dashboard['id']}/widgets/{widget['id']}")
            assert fragment.status_code == 200, fragment.text
            assert not raw_keys(fragment.text), widget["kind"]
    scorecard = client.get(f"/dashboards/{dashboard['id']}/widgets/"
                           f"{dashboard['widgets'][0]['id']}").text
    shown = re.search(r'data-value="nps">([^<]+)<', scorecard).group(1)
    assert shown == f"{summarize(20, 6, 4).nps:.1f}"
    # A filter in the page URL narrows the widgets: nothing answered by SMS.
    narrowed = client.get(f"/dashboards/{dashboard['id']}/widgets/"
                          f"{dashboard['widgets'][0]['id']}?channel=sms&lang=en").text
    assert "No responses match these filters." in narrowed
    # A new dashboard by the form: errors name the field, success opens it in edit mode.
    page = client.get("/dashboards?lang=en").text
    bad = client.post("/dashboards", data={"name": " ", "period": "30d",
                                           "csrf_token": csrf(page)})
    assert bad.status_code == 422 and "must not be empty" in bad.text
    made = client.post("/dashboards", data={"name": "Ops", "period": "90d", "shared": "on",
                                            "csrf_token": csrf(page)}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith("?edit=1")
    listed = client.get("/api/v1/dashboards", headers=org.headers).json()["items"]
    assert ("Ops", {"period": "90d"}, 4) in [
        (d["name"], d["filters"], d["widget_count"]) for d in listed]


def test_dashboard_page_roles_and_tenancy(client, org, make_org, make_user, dashboard):
    viewer = make_user(org.org_id, "viewer")
    login(client, viewer)
    page = client.get(f"/dashboards/{dashboard['id']}?edit=1")
    assert page.status_code == 200 and 'data-editing="0"' in page.text
    listing = client.get("/dashboards")
    assert 'action="/dashboards"' not in listing.text  # no create form for viewers
    # The sign-out form carries the session's CSRF token: the refusal is about the role.
    response = client.post("/dashboards", data={"name": "x", "csrf_token": csrf(listing.text)})
    assert response.status_code == 403
    other = make_org("Other")
    login(client, other.owner_email)
    assert client.get(f"/dashboards/{dashboard['id']}").status_code == 404
    assert client.get(f"/dashboards/{dashboard['id']}/widgets/"
                      f"{dashboard['widgets'][0]['id']}").status_code == 404


def test_digest_page_and_form_errors(client, db, org):
    channel = notify.create_channel(db, org_id=org.org_id, kind="email", name="mail",
                                    box=SecretBox("x" * 32), language="en",
                                    config={"host": "127.0.0.1", "port": 25,
                                            "security": "none",
                                            "from_address": "nps@example.test"})
    db.commit()
    login(client, org.owner_email)
    for lang in ("en", "zh-CN"):
        page = client.get(f"/reports/digests?lang={lang}")
        assert page.status_code == 200 and not raw_keys(page.text)
    form = {"name": "Weekly", "frequency": "weekly", "weekday": "0", "day_of_month": "1",
            "hour": "25", "language": "en", "recipients": "a@example.test",
            "channel_id": channel.id, "enabled": "on", "csrf_token": csrf(page.text)}
    bad = client.post("/reports/digests", data=form)
    assert bad.status_code == 422 and 'name="hour"' in bad.text
    assert re.search(r'name="hour"[^>]*aria-invalid="true"', bad.text)
    saved = client.post("/reports/digests", data={**form, "hour": "8"},
                        follow_redirects=False)
    assert saved.status_code == 303
    listed = client.get("/api/v1/digests", headers=org.headers).json()["items"]
    assert [(d["name"], d["hour"], d["recipients"]) for d in listed] == [
        ("Weekly", 8, ["a@example.test"])]
    for lang in ("en", "zh-CN"):
        shown = client.get(f"/reports/digests?lang={lang}").text
        assert f'/api/v1/digests/{listed[0]["id"]}/pdf' in shown and not raw_keys(shown)
