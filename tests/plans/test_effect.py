"""The effect statistics of a plan, checked against a hand computation on both databases."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scipy import stats as scipy_stats

from tests.analytics.helpers import add_response

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(UTC)


def seed_windows(db, org_id, survey_id, start: date) -> dict[str, list[int]]:
    """Before: 10 promoters, 15 passives, 15 detractors; after: 20 / 12 / 8; plus answers
    outside the 20-day windows that must not count. Delivery ratings go with them."""
    before = [10] * 10 + [8] * 15 + [2] * 15
    after = [9] * 20 + [7] * 12 + [5] * 8
    ratings = {"before": [], "after": []}
    for index, score in enumerate(before):
        rating = 1 + (index * 7) % 5
        ratings["before"].append(rating)
        add_response(db, org_id, survey_id, score, at=at(start - timedelta(days=1 + index % 19)),
                     drivers={"delivery": rating})
    for index, score in enumerate(after):
        rating = 2 + (index * 3) % 4
        ratings["after"].append(rating)
        add_response(db, org_id, survey_id, score, at=at(start + timedelta(days=index % 19)),
                     drivers={"delivery": rating})
    # Outside both windows: far before, and the last minute before the before-window opens.
    add_response(db, org_id, survey_id, 0, at=at(start - timedelta(days=40)),
                 drivers={"delivery": 1})
    edge = datetime.combine(start - timedelta(days=20), time.min, tzinfo=SHANGHAI)
    add_response(db, org_id, survey_id, 0, at=(edge - timedelta(minutes=1)).astimezone(UTC),
                 drivers={"delivery": 1})
    db.commit()
    return ratings


def plan_body(survey, start: date, **extra) -> dict:
    body = {"title": "Faster delivery", "owner": "Ops", "start_date": start.isoformat(),
            "link_kind": "survey", "link_value": survey["id"], "target_nps": 20}
    body.update(extra)
    return body


def test_effect_matches_hand_computation(client, db, org, survey):
    start = date.today() - timedelta(days=25)
    seed_windows(db, org.org_id, survey["id"], start)
    created = client.post("/api/v1/plans", json=plan_body(survey, start), headers=org.headers)
    assert created.status_code == 201, created.text
    plan_id = created.json()["id"]

    response = client.get(f"/api/v1/plans/{plan_id}/effect?before_days=20&after_days=20",
                          headers=org.headers)
    assert response.status_code == 200, response.text
    effect = response.json()
    assert (effect["before"]["promoters"], effect["before"]["passives"],
            effect["before"]["detractors"]) == (10, 15, 15)
    assert (effect["after"]["promoters"], effect["after"]["passives"],
            effect["after"]["detractors"]) == (20, 12, 8)
    # By hand: NPS = (P - D) / n; var = (p + d - (p - d)^2) / n; z = diff / sqrt(va + vb).
    nps_before, nps_after = (10 - 15) / 40 * 100, (20 - 8) / 40 * 100
    var_before = (0.25 + 0.375 - (0.25 - 0.375) ** 2) / 40
    var_after = (0.5 + 0.2 - (0.5 - 0.2) ** 2) / 40
    z = (nps_after - nps_before) / (math.sqrt(var_before + var_after) * 100)
    p = math.erfc(abs(z) / math.sqrt(2))
    assert effect["before"]["nps"] == -12.5 and effect["after"]["nps"] == 30.0
    assert effect["difference"] == 42.5
    assert math.isclose(effect["z"], z, abs_tol=1e-4)
    assert math.isclose(effect["p_value"], p, rel_tol=1e-9)
    assert 0.01 < p < 0.05 and effect["significant"] is True
    assert effect["verdict"] == "improved"
    assert effect["target_reached"] is True
    assert effect["windows"]["after"]["open"] is False
    # The weekly trend covers both windows and sums to the same counts.
    assert sum(point["n"] for point in effect["trend"]) == 80


def test_driver_rating_uses_welch_t_test(client, db, org, survey):
    start = date.today() - timedelta(days=25)
    ratings = seed_windows(db, org.org_id, survey["id"], start)
    body = plan_body(survey, start, link_kind="driver", link_value="delivery")
    plan_id = client.post("/api/v1/plans", json=body, headers=org.headers).json()["id"]
    effect = client.get(f"/api/v1/plans/{plan_id}/effect?before_days=20&after_days=20",
                        headers=org.headers).json()
    driver = effect["driver"]
    expected = scipy_stats.ttest_ind(ratings["after"], ratings["before"], equal_var=False)
    assert driver["before"]["n"] == 40 and driver["after"]["n"] == 40
    assert math.isclose(driver["before"]["mean"], sum(ratings["before"]) / 40)
    assert math.isclose(driver["after"]["mean"], sum(ratings["after"]) / 40)
    assert math.isclose(driver["welch"]["t"], float(expected.statistic), abs_tol=1e-4)
    assert math.isclose(driver["welch"]["p_value"], float(expected.pvalue), rel_tol=1e-6)
    # The scope of a driver link is the responses that rated it: the same 80 in the windows.
    assert effect["before"]["n"] == 40 and effect["after"]["n"] == 40


def test_verdicts_too_little_data_and_not_started(client, db, org, survey):
    start = date.today() - timedelta(days=10)
    for index in range(5):
        add_response(db, org.org_id, survey["id"], 10, at=at(start - timedelta(days=index + 1)))
        add_response(db, org.org_id, survey["id"], 0, at=at(start + timedelta(days=index % 3)))
    db.commit()
    plan_id = client.post("/api/v1/plans", json=plan_body(survey, start),
                          headers=org.headers).json()["id"]
    effect = client.get(f"/api/v1/plans/{plan_id}/effect", headers=org.headers).json()
    assert effect["verdict"] == "too_little_data"
    assert effect["before"]["n"] == 5 and effect["after"]["n"] == 5
    assert effect["windows"]["after"]["open"] is True
    assert effect["target_reached"] is None  # too few answers to say

    future = date.today() + timedelta(days=7)
    plan_id = client.post("/api/v1/plans", json=plan_body(survey, future),
                          headers=org.headers).json()["id"]
    effect = client.get(f"/api/v1/plans/{plan_id}/effect", headers=org.headers).json()
    assert effect["verdict"] == "not_started" and effect["after"]["n"] == 0


def test_no_change_when_difference_is_not_significant(client, db, org, survey):
    start = date.today() - timedelta(days=60)
    for index in range(40):
        score = (10, 8, 3)[index % 3]
        add_response(db, org.org_id, survey["id"], score,
                     at=at(start - timedelta(days=index + 1)))
        add_response(db, org.org_id, survey["id"], score, at=at(start + timedelta(days=index)))
    db.commit()
    plan_id = client.post("/api/v1/plans", json=plan_body(survey, start),
                          headers=org.headers).json()["id"]
    listing = client.get("/api/v1/plans?with_effect=true", headers=org.headers).json()
    effect = next(p["effect"] for p in listing["items"] if p["id"] == plan_id)
    assert effect["difference"] == 0 and effect["verdict"] == "no_change"
    assert "trend" not in effect and "driver" not in effect  # the list leaves them out


def test_effect_window_bounds_are_checked(client, org, survey):
    plan_id = client.post("/api/v1/plans", json=plan_body(survey, date.today()),
                          headers=org.headers).json()["id"]
    for query in ("before_days=3", "after_days=1000", "before_days=abc"):
        response = client.get(f"/api/v1/plans/{plan_id}/effect?{query}", headers=org.headers)
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"][0] == "query"
