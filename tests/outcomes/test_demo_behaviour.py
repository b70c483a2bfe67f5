"""The demo's behaviour events: deterministic, and shaped by what customers said
(promoters reorder more, detractors with delivery complaints cancel most)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from npsloop.demo.behaviour import CHURN_EVENT, REPURCHASE_EVENT, build_events
from npsloop.demo.generate import build

TZ = ZoneInfo("Asia/Shanghai")
SURVEYS = {code: f"{code}-id" for code in ("relationship", "checkout", "delivery", "service",
                                           "strategic")}


def _events(responses: int = 4500):
    rows = build(org_id="org", survey_ids=SURVEYS, responses=responses,
                 anchor=date(2026, 6, 1), tz=TZ)
    return rows, build_events(rows, "org", {v: k for k, v in SURVEYS.items()}, TZ)


def test_events_are_deterministic_and_in_the_past():
    rows, first = _events(900)
    _, second = _events(900)
    strip = [(e["contact_id"] is not None, e["name"], e["occurred_at"], e["properties"])
             for e in first]
    assert strip == [(e["contact_id"] is not None, e["name"], e["occurred_at"],
                      e["properties"]) for e in second]
    assert max(e["occurred_at"] for e in first).date() <= rows.last_day + timedelta(days=1)
    assert all(e["properties"]["amount"] > 0 for e in first if e["name"] == REPURCHASE_EVENT)
    contacts = {c["id"] for c in rows.contacts}
    assert {e["contact_id"] for e in first} <= contacts
    cancels = defaultdict(int)
    for event in first:
        if event["name"] == CHURN_EVENT:
            cancels[event["contact_id"]] += 1
    assert set(cancels.values()) <= {1}  # a membership is cancelled at most once


def test_behaviour_follows_the_answers():
    rows, events = _events()
    orders, cancelled = defaultdict(list), {}
    for event in events:
        if event["name"] == REPURCHASE_EVENT:
            orders[event["contact_id"]].append(event["occurred_at"])
        else:
            cancelled[event["contact_id"]] = event["occurred_at"]
    delivery = {a["response_id"]: a["number_value"] for a in rows.answers
                if a["question_key"] == "delivery"}
    reorder, cancel = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for response in rows.responses:
        at, contact = response["submitted_at"], response["contact_id"]
        if at > rows.responses[-1]["submitted_at"] - timedelta(days=60):
            continue
        key = response["category"]
        if key == "detractor" and delivery.get(response["id"], 5) <= 2:
            key = "detractor_delivery"
        came_back = any(at < t <= at + timedelta(days=30) for t in orders[contact])
        reorder[key][0] += came_back
        reorder[key][1] += 1
        left = contact in cancelled and at < cancelled[contact] <= at + timedelta(days=60)
        cancel[key][0] += left
        cancel[key][1] += 1
    share = {k: v[0] / v[1] for k, v in reorder.items()}
    churn = {k: v[0] / v[1] for k, v in cancel.items()}
    assert share["promoter"] > share["passive"] > share["detractor"] + 0.05
    assert churn["detractor_delivery"] > churn["detractor"] > churn["passive"] > \
        churn["promoter"]
