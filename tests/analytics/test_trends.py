"""Trends: local calendar buckets, gap filling, rolling windows from pooled counts, and the
change against the previous bucket or period tested exactly as stats.compare does."""

from datetime import UTC, date, datetime, timedelta

import pytest

from npsloop.analytics.stats import compare, summarize
from npsloop.analytics.trends import TrendError, bucket_keys, bucket_start
from tests.analytics.helpers import add_response, add_scores, counts_scores


def test_bucket_boundaries():
    sunday = date(2026, 3, 8)
    assert bucket_start(sunday, "week") == date(2026, 3, 2)
    assert bucket_start(date(2026, 3, 9), "week") == date(2026, 3, 9)
    assert bucket_start(date(2026, 12, 31), "quarter") == date(2026, 10, 1)
    assert bucket_start(date(2026, 5, 17), "month") == date(2026, 5, 1)
    assert bucket_keys(date(2026, 11, 15), date(2027, 2, 1), "month") == [
        "2026-11-01", "2026-12-01", "2027-01-01", "2027-02-01"]
    assert bucket_keys(date(2026, 2, 1), date(2026, 8, 1), "quarter") == [
        "2026-01-01", "2026-04-01", "2026-07-01"]
    with pytest.raises(TrendError):
        bucket_keys(date(2000, 1, 1), date(2026, 1, 1), "day")
    with pytest.raises(TrendError):
        bucket_start(sunday, "year")


def _shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def _trend(client, org, **params):
    response = client.get("/api/v1/stats/trend", headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_weekly_trend_local_weeks_gaps_rolling_and_change(client, db, org, survey):
    sid = survey["id"]
    # Week of 2 March (local): 40 promoters, 20 passives, 40 detractors; the Sunday 23:30
    # local response is Sunday 15:30 UTC and must stay in that week.
    add_scores(db, org.org_id, sid, counts_scores(40, 20, 39), at=_shanghai(3, 10))
    add_scores(db, org.org_id, sid, [0], at=_shanghai(8, 23, 30))
    # Week of 9 March is empty; Monday 00:30 local on 16 March is still Sunday in UTC.
    add_scores(db, org.org_id, sid, [10], at=_shanghai(16, 0, 30))
    add_scores(db, org.org_id, sid, counts_scores(69, 20, 10), at=_shanghai(18, 12))
    data = _trend(client, org, bucket="week", rolling=2, **{"from": "2026-03-02",
                                                            "to": "2026-03-22"})
    assert data["time_zone"] == "Asia/Shanghai"
    assert [b["key"] for b in data["buckets"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    first, empty, third = data["buckets"]
    assert (first["n"], first["promoters"], first["detractors"], first["nps"]) == (
        100, 40, 40, 0.0)
    assert (empty["n"], empty["nps"], empty["margin"]) == (0, None, None)
    assert (third["n"], third["nps"]) == (100, 60.0)
    assert third["margin"] == summarize(70, 20, 10).margin_of_error
    # Change against the previous bucket: empty -> third has nothing to compare with.
    assert first["change"] is None
    assert third["change"]["difference"] is None and third["change"]["significant"] is False
    # Rolling two weeks pools counts: the third bucket's window is the empty week plus itself.
    assert third["rolling"]["n"] == 100 and third["rolling"]["nps"] == 60.0
    assert empty["rolling"]["n"] == 100 and empty["rolling"]["nps"] == 0.0
    # Previous period of the same length (21 days before 2 March) is empty.
    assert data["period"]["current"]["n"] == 200
    assert data["period"]["previous"]["n"] == 0
    assert data["period"]["previous_to"] == "2026-03-02T00:00:00+08:00"
    assert data["period"]["previous_from"] == "2026-02-09T00:00:00+08:00"
    assert "bucket" not in data["share_query"] and "from=2026-03-02" in data["share_query"]


def test_change_is_the_z_test_of_stats_compare(client, db, org, survey):
    sid = survey["id"]
    add_scores(db, org.org_id, sid, counts_scores(40, 20, 40), at=_shanghai(3, 10))
    add_scores(db, org.org_id, sid, counts_scores(70, 20, 10), at=_shanghai(10, 10))
    add_scores(db, org.org_id, sid, counts_scores(72, 18, 10), at=_shanghai(17, 10))
    buckets = _trend(client, org, bucket="week")["buckets"]
    assert [b["key"] for b in buckets] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    jump = compare(summarize(40, 20, 40), summarize(70, 20, 10))
    assert buckets[1]["change"]["difference"] == jump.difference == 60.0
    assert buckets[1]["change"]["p_value"] == pytest.approx(jump.p_value)
    assert buckets[1]["change"]["significant"] is True
    steady = buckets[2]["change"]
    assert steady["difference"] == 2.0 and steady["significant"] is False
    assert steady["p_value"] == pytest.approx(
        compare(summarize(70, 20, 10), summarize(72, 18, 10)).p_value)


def test_too_few_responses_are_never_significant(client, db, org, survey):
    sid = survey["id"]
    add_scores(db, org.org_id, sid, [0] * 5, at=_shanghai(3, 10))
    add_scores(db, org.org_id, sid, [10] * 5, at=_shanghai(10, 10))
    second = _trend(client, org, bucket="week")["buckets"][1]
    assert second["too_few"] is True
    assert second["change"]["difference"] == 200.0
    assert second["change"]["significant"] is False


def test_month_and_quarter_buckets_without_range_span_the_data(client, db, org, survey):
    sid = survey["id"]
    add_response(db, org.org_id, sid, 10, at=datetime(2026, 1, 31, 17, tzinfo=UTC))  # Feb 1
    add_response(db, org.org_id, sid, 0, at=datetime(2026, 4, 2, tzinfo=UTC))
    db.commit()
    months = _trend(client, org, bucket="month")["buckets"]
    assert [(b["key"], b["n"]) for b in months] == [
        ("2026-02-01", 1), ("2026-03-01", 0), ("2026-04-01", 1)]
    quarters = _trend(client, org, bucket="quarter")["buckets"]
    assert [(b["key"], b["n"]) for b in quarters] == [("2026-01-01", 1), ("2026-04-01", 1)]
    assert _trend(client, org, bucket="day", survey_id=sid, channel="sms")["buckets"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"bucket": "year"}, "bucket"), ({"rolling": "0"}, "rolling"),
     ({"rolling": "four"}, "rolling"),
     ({"bucket": "day", "from": "2020-01-01", "to": "2026-01-01"}, "bucket")],
)
def test_bad_trend_parameters(client, org, params, field):
    response = client.get("/api/v1/stats/trend", headers=org.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]
