"""Outcome rates in SQL against a small hand-computed dataset, on SQLite and PostgreSQL:
the window's boundaries, one respondent per contact (latest answer), pending answers,
inactivity as churn, analytics filters, tenancy and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from npsloop.outcomes import stats
from tests.analytics.helpers import add_contact, add_response
from tests.outcomes.helpers import add_event, answered, now_s

DAY = timedelta(days=1)


@pytest.fixture
def dataset(db, org, make_org, survey, client):
    """Window 30 days. Expected repurchase: promoters 2/3 (A yes, B too late, F yes),
    detractors 1/3 (C no, D exactly at the boundary, E one second late); G is pending."""
    now = now_s()
    org_id, sid = org.org_id, survey["id"]
    other_survey = client.post("/api/v1/surveys", headers=org.headers, json={
        "name": "After delivery", "status": "live"}).json()["id"]
    a = answered(db, org_id, sid, 10, now - 40 * DAY)
    add_event(db, org_id, a, "order_placed", now - 30 * DAY, amount=88)
    add_event(db, org_id, a, "page_view", now - 35 * DAY)  # not the repurchase event
    b = answered(db, org_id, sid, 9, now - 45 * DAY)
    add_event(db, org_id, b, "order_placed", now - 10 * DAY)  # 35 days after: outside
    c = answered(db, org_id, sid, 3, now - 50 * DAY)
    add_event(db, org_id, c, "subscription_cancelled", now - 45 * DAY)
    d_at = now - 60 * DAY
    d = answered(db, org_id, sid, 5, d_at)
    add_event(db, org_id, d, "order_placed", d_at - 2 * DAY)  # before the answer
    add_event(db, org_id, d, "order_placed", d_at + 30 * DAY)  # exactly at the end: counts
    e_at = now - 60 * DAY
    e = answered(db, org_id, sid, 0, e_at)
    add_event(db, org_id, e, "order_placed", e_at + 30 * DAY + timedelta(seconds=1))
    f = answered(db, org_id, sid, 8, now - 40 * DAY)  # passive in this survey ...
    answered(db, org_id, other_survey, 10, now - 35 * DAY, contact=f)  # ... then promoter
    add_event(db, org_id, f, "order_placed", now - 20 * DAY)
    answered(db, org_id, sid, 10, now - 5 * DAY)  # G: window not over yet
    add_response(db, org_id, sid, 10, at=now - 40 * DAY)  # anonymous: no behaviour
    # Another organisation's respondents and events never count.
    other = make_org("Other")
    other_survey_id = client.post("/api/v1/surveys", headers=other.headers, json={
        "name": "Theirs", "status": "live"}).json()["id"]
    x = add_contact(db, other.org_id)
    add_response(db, other.org_id, other_survey_id, 10, at=now - 40 * DAY, contact=x)
    add_event(db, other.org_id, x, "order_placed", now - 30 * DAY)
    return {"other_survey": other_survey, "other": other}


def rates(client, org, **params):
    response = client.get("/api/v1/outcomes/rates", headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def counts(result):
    return {c: (v["events"], v["n"]) for c, v in result["categories"].items()}


def test_repurchase_rates_by_category(client, org, dataset):
    result = rates(client, org, outcome="repurchase", window_days=30)
    assert counts(result) == {"promoter": (2, 3), "passive": (0, 0), "detractor": (1, 3)}
    assert result["pending"] == 1
    assert result["overall"]["events"] == 3 and result["overall"]["n"] == 6
    promoters = result["categories"]["promoter"]
    low, high = stats.wilson(2, 3)
    assert promoters["rate"] == pytest.approx(2 / 3)
    assert (promoters["low"], promoters["high"]) == (pytest.approx(low), pytest.approx(high))
    expected = stats.difference(stats.rate(2, 3), stats.rate(1, 3))
    diff = result["promoters_vs_detractors"]
    assert diff["difference"] == pytest.approx(1 / 3)
    assert diff["p_value"] == pytest.approx(expected.p_value)
    assert diff["low"] == pytest.approx(expected.low)
    assert result["event"] == "order_placed" and result["window_days"] == 30


def test_churn_by_event_and_by_inactivity(client, org, dataset):
    result = rates(client, org, outcome="churn")  # default window from the settings: 30
    assert counts(result) == {"promoter": (0, 3), "passive": (0, 0), "detractor": (1, 3)}
    saved = client.put("/api/v1/outcomes/settings", headers=org.headers,
                       json={"churn_event": ""})
    assert saved.status_code == 200 and saved.json()["churn_mode"] == "inactive"
    inactive = rates(client, org, outcome="churn", window_days=30)
    # Churned = no order within the window: B among promoters; C and E among detractors.
    assert counts(inactive) == {"promoter": (1, 3), "passive": (0, 0), "detractor": (2, 3)}
    assert inactive["event"] == "inactive:order_placed"


def test_a_longer_window_and_filters(client, org, survey, dataset):
    longer = rates(client, org, outcome="repurchase", window_days=36)
    # B's order (35 days after) now counts. F's answer of 35 days ago cannot show a 36-day
    # outcome yet, so F counts with the passive answer before it (order 20 days after);
    # E's order, one second after 30 days, is inside 36.
    assert counts(longer) == {"promoter": (2, 2), "passive": (1, 1), "detractor": (2, 3)}
    only_first = rates(client, org, outcome="repurchase", window_days=30,
                       survey_id=survey["id"])
    # In this survey F's latest answer is the passive one, 40 days ago (order 20 days after).
    assert counts(only_first) == {"promoter": (1, 2), "passive": (1, 1), "detractor": (1, 3)}
    assert only_first["filters"] == {"survey_id": survey["id"]}


def test_tenancy(client, dataset):
    other = dataset["other"]
    theirs = rates(client, other, outcome="repurchase", window_days=30)
    assert counts(theirs) == {"promoter": (1, 1), "passive": (0, 0), "detractor": (0, 0)}


def test_bad_input_is_refused(client, org, make_org, dataset):
    for params, field in (({"outcome": "revenue"}, "outcome"),
                          ({"window_days": "0"}, "window_days"),
                          ({"window_days": "abc"}, "window_days"),
                          ({"window_days": "400"}, "window_days"),
                          ({"chanel": "web"}, "chanel"),
                          ({"from": "2026-13-01"}, "from")):
        response = client.get("/api/v1/outcomes/rates", headers=org.headers, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][-1] == field
    theirs = client.get("/api/v1/outcomes/rates", headers=dataset["other"].headers,
                        params={"survey_id": dataset["other_survey"]})
    assert theirs.status_code == 404
    for body, field in (({"repurchase_event": "bad name!"}, "repurchase_event"),
                        ({"churn_event": "x" * 101}, "churn_event"),
                        ({"window_days": 0}, "window_days"),
                        ({"window_days": None}, "window_days"),
                        ({"unknown": 1}, "unknown")):
        response = client.put("/api/v1/outcomes/settings", headers=org.headers, json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][-1] == field
