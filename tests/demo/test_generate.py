"""The demo generator without a database: the year's shape, the NPS story, the comments."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from npsloop.demo import phrases_en, phrases_zh, timeline
from npsloop.demo.company import SURVEYS
from npsloop.demo.generate import build
from tests.demo.helpers import mentions

ANCHOR = date(2026, 11, 26)
TZ = ZoneInfo("Asia/Shanghai")
CODES = [spec.code for spec in SURVEYS]


@pytest.fixture(scope="module")
def rows():
    return build(org_id="org", survey_ids={c: c for c in CODES}, responses=8000,
                 anchor=ANCHOR, tz=TZ)


def _nps(responses) -> float:
    scores = [r["score"] for r in responses]
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def _local(response) -> date:
    return response["submitted_at"].astimezone(TZ).date()


def test_same_inputs_same_rows():
    def content(data):
        return [(r["survey_id"], r["score"], r["comment"], r["submitted_at"], r["channel"])
                for r in data.responses]

    first = build(org_id="o", survey_ids={c: c for c in CODES}, responses=600, anchor=ANCHOR, tz=TZ)
    second = build(org_id="o", survey_ids={c: c for c in CODES}, responses=600, anchor=ANCHOR,
                   tz=TZ)
    other_day = build(org_id="o", survey_ids={c: c for c in CODES}, responses=600,
                      anchor=ANCHOR + timedelta(days=1), tz=TZ)
    assert content(first) == content(second)
    assert content(first) != content(other_day)


def test_year_ends_yesterday_and_every_survey_has_its_share(rows):
    days = {_local(r) for r in rows.responses}
    assert min(days) >= ANCHOR - timedelta(days=364) and max(days) == ANCHOR - timedelta(days=1)
    counts = Counter(r["survey_id"] for r in rows.responses)
    assert sum(counts.values()) == 8000
    for spec in SURVEYS:
        assert counts[spec.code] == pytest.approx(8000 * spec.share, abs=2)


def test_relationship_survey_comes_in_quarterly_waves(rows):
    months = Counter(_local(r).month for r in rows.responses if r["survey_id"] == "relationship")
    wave_months = {1, 4, 7, 10}
    in_waves = sum(n for month, n in months.items() if month in wave_months)
    assert in_waves / sum(months.values()) > 0.97


def test_volume_peaks_on_double_11_and_dips_over_spring_festival(rows):
    per_day = Counter(_local(r) for r in rows.responses if r["survey_id"] == "delivery")
    ordinary = statistics.mean(per_day[date(2026, 10, 12) + timedelta(days=i)] for i in range(14))
    assert per_day[date(2026, 11, 11)] > 2 * ordinary
    holiday = statistics.mean(per_day[date(2026, 2, 17) + timedelta(days=i)] for i in range(6))
    rush = statistics.mean(per_day[date(2026, 2, 1) + timedelta(days=i)] for i in range(10))
    assert holiday < 0.5 * rush


def test_delivery_crisis_lowers_touchpoint_nps_then_recovers(rows):
    delivery = [r for r in rows.responses if r["survey_id"] == "delivery"]
    crisis_days = {d.date for d in timeline.build_days(ANCHOR, random.Random(0))
                   if d.delivery_crisis >= 1.0}
    during = [r for r in delivery if _local(r) in crisis_days]
    before = [r for r in delivery if _local(r) < min(crisis_days)]
    after = [r for r in delivery if _local(r) > max(crisis_days) + timedelta(days=45)]
    assert _nps(during) < _nps(before) - 20
    assert _nps(after) > _nps(during) + 20
    east = [r for r in during if r["contact_attributes"]["city"] in timeline.EAST_CHINA]
    west = [r for r in during if r["contact_attributes"]["city"] not in timeline.EAST_CHINA]
    assert _nps(east) < _nps(west) - 20


def test_contact_attributes_snapshot_the_lifecycle_of_the_day(rows):
    snapshots = [r["contact_attributes"] for r in rows.responses]
    assert {"city", "plan", "acquisition_channel", "signup_date", "lifecycle_stage"} <= set(
        snapshots[0])
    stages = Counter(s["lifecycle_stage"] for s in snapshots)
    assert set(stages) == {"acquisition", "conversion", "retention", "referral"}
    assert len({s["city"] for s in snapshots}) >= 8
    assert {s["plan"] for s in snapshots} == {"free", "plus", "vip"}
    for response in rows.responses[:2000]:
        attributes = response["contact_attributes"]
        assert date.fromisoformat(attributes["signup_date"]) <= _local(response)
        if attributes["lifecycle_stage"] == "acquisition":
            assert (_local(response) - date.fromisoformat(attributes["signup_date"])).days < 30


def test_comments_read_like_customers(rows):
    commented = [r for r in rows.responses if r["comment"]]
    assert 0.5 < len(commented) / len(rows.responses) < 0.6
    texts = [r["comment"] for r in commented]
    assert len(set(texts)) / len(texts) > 0.7  # varied, not a handful of canned lines
    assert not any("comment #" in t or "{" in t for t in texts)
    by_language = Counter(r["language"] for r in commented)
    assert by_language["en"] > 0.15 * len(commented) and by_language["zh-CN"] > 0.6 * len(
        commented)
    zh = [r["comment"] for r in commented if r["language"] == "zh-CN"]
    assert any(c.isascii() is False and any(w in c for w in ("App", "app", "ok", "nice"))
               for c in zh)  # mixed zh/en
    lengths = [len(t) for t in texts]
    assert min(lengths) <= 4 and max(lengths) >= 60


def test_detractor_comments_talk_about_the_main_reason(rows):
    reasons = {a["response_id"]: a["choice_values"][0] for a in rows.answers
               if a["question_key"] == "main_reason"}
    checked = matched = 0
    for response in rows.responses:
        reason = reasons.get(response["id"])
        if response["category"] != "detractor" or not response["comment"] or reason in (
                None, "other"):
            continue
        checked += 1
        matched += mentions(response["comment"], reason)
    assert checked > 300 and matched / checked > 0.97


@pytest.mark.parametrize("bank", [phrases_zh, phrases_en], ids=["zh", "en"])
def test_every_fragment_names_its_topic(bank):
    for topic, polarities in bank.TOPICS.items():
        if topic == "other":
            continue
        for polarity, fragments in polarities.items():
            assert len(fragments) >= 5, (topic, polarity)
            for fragment in fragments:
                assert mentions(fragment, topic), (topic, polarity, fragment)


def test_driver_ratings_missing_sometimes_and_reasons_fit_ratings(rows):
    answers = defaultdict(dict)
    for answer in rows.answers:
        answers[answer["response_id"]][answer["question_key"]] = answer
    complete = [r for r in rows.responses if r["status"] == "complete"]
    drivers = {spec.code: spec.drivers for spec in SURVEYS}
    asked = sum(len(drivers[r["survey_id"]]) for r in complete)
    given = sum(1 for a in rows.answers if a["kind"] == "driver_rating")
    assert 0.85 < given / asked < 0.97
    agree = total = 0
    for response in complete:
        mine = answers[response["id"]]
        reason = mine.get("main_reason", {}).get("choice_values", [None])[0]
        ratings = {k: a["number_value"] for k, a in mine.items() if a["kind"] == "driver_rating"}
        if response["category"] == "detractor" and reason in ratings:
            total += 1
            agree += ratings[reason] == min(ratings.values())
    assert agree / total > 0.9
