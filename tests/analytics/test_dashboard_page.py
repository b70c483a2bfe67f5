"""The dashboard page at /: sign-in, the numbers it shows, its filters, both languages."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from npsloop.analytics import service
from npsloop.analytics.pages import preset_range
from npsloop.core.i18n import catalogs
from npsloop.core.timeutil import parse_bound

TZ = "Asia/Shanghai"  # the organisation default that create_organization uses
NOW = datetime.now(UTC)
# Survey A, within the last 12 months: 12 promoters, 5 passives, 8 detractors -> NPS 16.0.
RECENT_A = [10] * 7 + [9] * 5 + [8] * 3 + [7] * 2 + [6] * 4 + [3] * 3 + [0]
# Survey A, 45 days ago: all detractors; a 30-day range leaves them to the previous period.
OLDER_A = [2] * 6
# Survey B: 2 promoters, 4 detractors -> NPS -33.3 (too few responses).
RECENT_B = [10, 9, 5, 4, 1, 0]
# Older than 12 months: outside the default range.
ANCIENT_A = [10] * 4


def kpi(page: str, name: str) -> str:
    match = re.search(rf'data-kpi="{name}"[^>]*>([^<]*)<', page)
    assert match, f"no KPI {name!r} on the page"
    return html.unescape(match.group(1)).strip()


def shown_n(page: str) -> int:
    return int(kpi(page, "n").removeprefix("n = ").replace(",", ""))


def login(client: TestClient, email: str, password: str = "password-123") -> None:
    response = client.post("/login", data={"email": email, "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def make_survey(client: TestClient, headers: dict[str, str], name: str, **extra: str) -> str:
    body = {"name": name, "status": "live", **extra}
    response = client.post("/api/v1/surveys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def post_scores(client: TestClient, headers: dict[str, str], survey_id: str, scores: list[int],
                days_ago: float, comment: str = "") -> None:
    for i, score in enumerate(scores):
        at = NOW - timedelta(days=days_ago, minutes=5 + i)
        body = {"score": score, "submitted_at": at.isoformat(), "comment": comment,
                "language": "en" if i % 2 else "zh-CN"}
        response = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body,
                               headers=headers)
        assert response.status_code == 201, response.text


@pytest.fixture
def seeded(client: TestClient, org) -> dict[str, str]:
    survey_a = make_survey(client, org.headers, "Relationship NPS")
    survey_b = make_survey(client, org.headers, "After delivery", nps_type="touchpoint",
                           touchpoint="delivery")
    post_scores(client, org.headers, survey_a, RECENT_A, days_ago=3, comment="很快,很满意")
    post_scores(client, org.headers, survey_a, OLDER_A, days_ago=45)
    post_scores(client, org.headers, survey_a, ANCIENT_A, days_ago=400)
    post_scores(client, org.headers, survey_b, RECENT_B, days_ago=10, comment="Late parcel")
    return {"a": survey_a, "b": survey_b}


def page_filters(*, survey_id: str | None = None, start: str | None = None,
                 end: str | None = None) -> service.Filters:
    """The filters the page applies; without dates, its default of the last 12 months."""
    default_start, default_end = preset_range("12m", datetime.now(ZoneInfo(TZ)).date())
    return service.Filters(
        survey_id=survey_id,
        date_from=parse_bound(start or default_start.isoformat(), TZ, end=False, field="from"),
        date_to=parse_bound(end or default_end.isoformat(), TZ, end=True, field="to"),
    )


def expected(db: Session, org_id: str, **filters: str) -> service.NpsSummary:
    return service.nps(db, org_id=org_id, filters=page_filters(**filters))


def test_signed_out_visitor_is_sent_to_login(client: TestClient) -> None:
    response = client.get("/?survey_id=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/")


def test_dashboard_shows_the_service_numbers(client: TestClient, org, seeded, db) -> None:
    login(client, org.owner_email, org.password)
    page = client.get("/?lang=en").text

    summary = expected(db, org.org_id)
    # Independent of the service: the recent responses of both surveys.
    recent = RECENT_A + OLDER_A + RECENT_B
    promoters = sum(s >= 9 for s in recent)
    detractors = sum(s <= 6 for s in recent)
    assert summary.n == len(recent) == 37
    assert summary.nps == pytest.approx(round((promoters - detractors) / len(recent) * 100, 2))

    assert kpi(page, "nps") == f"{summary.nps:.1f}"
    assert shown_n(page) == summary.n
    assert kpi(page, "moe") == f"± {summary.margin_of_error:.1f}"
    assert kpi(page, "promoter-share") == f"{summary.promoter_share * 100:.1f}%"
    assert kpi(page, "detractor-count") == f"{summary.detractors} responses"
    assert kpi(page, "responses") == str(summary.n)

    # The charts' data is embedded for dashboard.js: histogram and weekly buckets.
    data = json.loads(re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S
    ).group(1))
    counts = service.histogram(db, org_id=org.org_id, filters=page_filters())
    assert [b["count"] for b in data["histogram"]] == counts
    assert counts[10] == RECENT_A.count(10) + RECENT_B.count(10)
    assert sum(w["n"] for w in data["weekly"]) == summary.n
    answered = [w for w in data["weekly"] if w["n"]]
    assert all(-100 <= w["nps"] <= 100 and w["margin_of_error"] >= 0 for w in answered)
    # Calendar weeks without answers stay on the axis as gaps rather than disappearing.
    starts = [date.fromisoformat(w["week"]) for w in data["weekly"]]
    assert all((b - a).days == 7 for a, b in zip(starts, starts[1:], strict=False))
    assert all(s.weekday() == 0 for s in starts)
    assert any(w["n"] == 0 and w["nps"] is None for w in data["weekly"])
    assert '<script src="/static/js/dashboard.js' in page
    assert "<script>" not in page  # the CSP forbids inline scripts

    # Survey table and latest comments.
    assert "Relationship NPS" in page and "After delivery" in page
    # The six newest comments: all survey A's (three days old), none of B's (ten days old).
    assert page.count('<li class="comment">') == 6
    assert "很快,很满意" in page and "Late parcel" not in page


def test_survey_filter_changes_the_numbers(client: TestClient, org, seeded, db) -> None:
    login(client, org.owner_email, org.password)
    page = client.get(f"/?lang=en&survey_id={seeded['b']}").text
    summary = expected(db, org.org_id, survey_id=seeded["b"])
    assert summary.n == len(RECENT_B)
    assert kpi(page, "nps") == f"{summary.nps:.1f}" == "-33.3"
    assert shown_n(page) == 6
    assert 'data-kpi="too-few"' in page  # 6 responses are below the minimum of 30
    assert f'value="{seeded["b"]}" selected' in page
    assert "Late parcel" in page and "很快,很满意" not in page


def test_date_filter_changes_the_numbers(client: TestClient, org, seeded, db) -> None:
    login(client, org.owner_email, org.password)
    today = datetime.now(ZoneInfo(TZ)).date()
    start = (today - timedelta(days=29)).isoformat()
    page = client.get(f"/?lang=en&from={start}&to={today.isoformat()}").text
    summary = expected(db, org.org_id, start=start, end=today.isoformat())
    assert summary.n == len(RECENT_A) + len(RECENT_B)
    assert shown_n(page) == summary.n
    assert kpi(page, "nps") == f"{summary.nps:.1f}"
    # The previous 30 days hold the six older detractors: the change is shown with its test.
    previous = expected(db, org.org_id, start=(today - timedelta(days=59)).isoformat(),
                        end=(today - timedelta(days=30)).isoformat())
    assert previous.n == len(OLDER_A) and previous.nps == -100
    change = re.search(r'class="delta-value">([^<]*)<', page).group(1)
    assert change.strip() == f"▲ {summary.nps - previous.nps:+.1f}"
    assert "Significant" in page

    wide = client.get("/?lang=en&from=2000-01-01").text
    assert shown_n(wide) == len(RECENT_A + OLDER_A + RECENT_B + ANCIENT_A)


def test_bad_filters_get_a_clear_4xx(client: TestClient, org, make_org, seeded) -> None:
    login(client, org.owner_email, org.password)
    bad_date = client.get("/?lang=en&from=2026-13-45")
    assert bad_date.status_code == 422
    assert "<code>from</code>" in bad_date.text and "is not a date" in bad_date.text

    reversed_range = client.get("/?lang=en&from=2026-05-01&to=2026-04-01")
    assert reversed_range.status_code == 422
    assert "<code>to</code>" in reversed_range.text

    other = make_org("Other")
    foreign = make_survey(client, other.headers, "Not yours")
    for survey_id in (foreign, "does-not-exist"):
        response = client.get(f"/?lang=en&survey_id={survey_id}")
        assert response.status_code == 404
        assert "<code>survey_id</code>" in response.text
        assert "Not yours" not in response.text


def test_empty_state_for_an_organisation_without_responses(client: TestClient, org) -> None:
    login(client, org.owner_email, org.password)
    page = client.get("/?lang=en").text
    assert 'data-state="empty"' in page
    assert 'href="/surveys"' in page
    assert 'data-kpi="nps"' not in page
    assert "dashboard-data" not in page


def test_no_match_state_when_filters_exclude_everything(client: TestClient, org, seeded) -> None:
    login(client, org.owner_email, org.password)
    page = client.get("/?lang=en&from=2001-01-01&to=2001-12-31").text
    assert 'data-state="no-match"' in page
    assert 'data-kpi="nps"' not in page


@pytest.mark.parametrize(("lang", "title"), [("en", "NPS overview"), ("zh-CN", "NPS 总览")])
def test_both_languages_render_without_raw_keys(
    client: TestClient, org, seeded, lang: str, title: str
) -> None:
    login(client, org.owner_email, org.password)
    page = client.get(f"/?lang={lang}").text
    assert f'<html lang="{lang}">' in page
    assert title in page
    text = re.sub(r"<[^>]+>", " ", page)  # visible text and embedded JSON, not attributes
    keys = set(catalogs()["en"])
    leaked = [key for key in keys if key in text]
    assert not leaked, leaked
    assert not re.search(r"\b(dashboard|nav|common|role)\.[a-z_]+", text)
    titles = " ".join(re.findall(r'(?:title|aria-label)="([^"]*)"', page))
    assert not re.search(r"\b(dashboard|nav|common|role)\.[a-z_]+", titles)


def test_empty_state_in_both_languages(client: TestClient, org) -> None:
    login(client, org.owner_email, org.password)
    for lang in ("en", "zh-CN"):
        text = re.sub(r"<[^>]+>", " ", client.get(f"/?lang={lang}").text)
        assert not re.search(r"\b(dashboard|nav|common|role)\.[a-z_]+", text)


def test_language_switch_keeps_the_filters(client: TestClient, org, seeded) -> None:
    login(client, org.owner_email, org.password)
    page = client.get(f"/?lang=en&survey_id={seeded['a']}").text
    assert f'href="/?lang=zh-CN&amp;survey_id={seeded["a"]}"' in page or (
        f'href="/?survey_id={seeded["a"]}&amp;lang=zh-CN"' in page
    )


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_every_role_can_read_the_dashboard(
    client: TestClient, org, seeded, make_user, db, role: str
) -> None:
    email = make_user(org.org_id, role)
    login(client, email)
    response = client.get("/?lang=en")
    assert response.status_code == 200
    assert kpi(response.text, "nps") == f"{expected(db, org.org_id).nps:.1f}"
