"""Segments: every operator family, nested AND/OR, event counts, responded / not responded,
channels; the bulk query, the one-contact check and the preview agree with a hand count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from npsloop.contacts import segments

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


# external_id -> (attributes, tags, stage, language, email)
PEOPLE = {
    "p1": ({"plan": "Pro", "spend": 120, "vip": True, "renewal": day(10)}, ["beta", "north"],
           "retention", "zh-CN", "p1@x.cn"),
    "p2": ({"plan": "free", "spend": 0, "vip": False, "renewal": day(-40)}, ["north"],
           "acquisition", "en", None),
    "p3": ({"plan": "pro-max", "spend": 55.5, "renewal": day(-3)}, [], "conversion", None,
           "p3@x.cn"),
    "p4": ({"spend": 300}, ["beta"], None, "zh-CN", None),
    "p5": ({"plan": "team", "vip": True, "renewal": day(400)}, ["vip", "beta", "north"],
           "referral", "en", "p5@x.cn"),
    "p6": ({}, [], None, None, None),
}


@pytest.fixture
def people(client, org, survey):
    contacts = []
    for external_id, (attrs, tags, stage, language, email) in PEOPLE.items():
        contacts.append({"external_id": external_id, "attributes": attrs, "tags": tags,
                         "lifecycle_stage": stage, "language": language, "email": email})
    response = client.post("/api/v1/contacts/batch", json={"contacts": contacts},
                           headers=org.headers)
    assert response.status_code == 200, response.text
    ids = {item["external_id"]: item["id"] for item in response.json()["items"]}
    now = datetime.now(UTC)
    events = [("p1", "order_paid", 2), ("p1", "order_paid", 10), ("p1", "order_paid", 20),
              ("p2", "order_paid", 5), ("p2", "order_paid", 45), ("p2", "order_paid", 50),
              ("p3", "order_paid", 1), ("p3", "login", 1), ("p5", "login", 100)]
    client.post("/api/v1/events", json={"events": [
        {"contact_external_id": c, "name": n, "timestamp": (now - timedelta(days=d)).isoformat()}
        for c, n, d in events]}, headers=org.headers)
    answers = [("p1", 9, "email", 5), ("p2", 3, "sms", 60), ("p3", 6, "web", 2),
               ("p5", 10, "email", 200)]
    for external_id, score, channel, days_ago in answers:
        response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json={
            "score": score, "channel": channel, "contact": {"external_id": external_id},
            "submitted_at": (now - timedelta(days=days_ago)).isoformat()}, headers=org.headers)
        assert response.status_code == 201, response.text
    return ids


def members(client, org, rules) -> set[str]:
    response = client.post("/api/v1/segments/preview", json={"rules": rules, "sample_size": 100},
                           headers=org.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    found = {c["external_id"] for c in body["sample"]}
    assert body["count"] == len(found)
    return found


def check(client, org, db, people, condition, expected):
    """The preview, the bulk id query and the one-contact check all give `expected`."""
    rules = {"match": "all", "conditions": [condition]}
    assert members(client, org, rules) == set(expected), condition
    names = {v: k for k, v in people.items()}
    bulk = {names[i] for i in db.scalars(segments.contacts_query(db, org.org_id, rules))}
    assert bulk == set(expected)
    single = {name for name, cid in people.items()
              if segments.contact_matches(db, org.org_id, rules, cid)}
    assert single == set(expected), condition


def attr(key, operator, value=None):
    condition = {"field": "attribute", "key": key, "operator": operator}
    if value is not None:
        condition["value"] = value
    return condition


STRING_CASES = [
    (attr("plan", "equals", "free"), {"p2"}),
    (attr("plan", "not_equals", "free"), {"p1", "p3", "p4", "p5", "p6"}),
    (attr("plan", "contains", "PRO"), {"p1", "p3"}),
    (attr("plan", "not_contains", "pro"), {"p2", "p4", "p5", "p6"}),
    (attr("plan", "in", ["free", "team"]), {"p2", "p5"}),
    (attr("plan", "not_in", ["free", "team"]), {"p1", "p3", "p4", "p6"}),
    (attr("plan", "is_set"), {"p1", "p2", "p3", "p5"}),
    (attr("plan", "is_not_set"), {"p4", "p6"}),
]
NUMBER_CASES = [
    (attr("spend", "=", 0), {"p2"}),
    (attr("spend", "!=", 0), {"p1", "p3", "p4", "p5", "p6"}),
    (attr("spend", "<", 55.5), {"p2"}),
    (attr("spend", "<=", 55.5), {"p2", "p3"}),
    (attr("spend", ">", 120), {"p4"}),
    (attr("spend", ">=", 120), {"p1", "p4"}),
    (attr("spend", "between", [50, 150]), {"p1", "p3"}),
]
DATE_CASES = [
    (attr("renewal", "before", day(0)), {"p2", "p3"}),
    (attr("renewal", "after", day(10)), {"p5"}),
    (attr("renewal", "on", day(10)), {"p1"}),
    (attr("renewal", "between", [day(-40), day(-3)]), {"p2", "p3"}),
    (attr("renewal", "within_last_days", 7), {"p3"}),
    (attr("renewal", "more_than_days_ago", 30), {"p2"}),
    (attr("renewal", "within_next_days", 30), {"p1"}),
]
BOOLEAN_CASES = [
    (attr("vip", "is_true"), {"p1", "p5"}),
    (attr("vip", "is_false"), {"p2"}),
    (attr("vip", "is_not_set"), {"p3", "p4", "p6"}),
]
FIELD_CASES = [
    ({"field": "tags", "operator": "has_any", "value": ["vip", "beta"]}, {"p1", "p4", "p5"}),
    ({"field": "tags", "operator": "has_all", "value": ["beta", "north"]}, {"p1", "p5"}),
    ({"field": "tags", "operator": "has_none", "value": ["north"]}, {"p3", "p4", "p6"}),
    ({"field": "lifecycle_stage", "operator": "in", "value": ["retention", "referral"]},
     {"p1", "p5"}),
    ({"field": "lifecycle_stage", "operator": "not_equals", "value": "retention"},
     {"p2", "p3", "p4", "p5", "p6"}),
    ({"field": "lifecycle_stage", "operator": "is_not_set"}, {"p4", "p6"}),
    ({"field": "language", "operator": "equals", "value": "en"}, {"p2", "p5"}),
    ({"field": "email", "operator": "is_set"}, {"p1", "p3", "p5"}),
    ({"field": "created_at", "operator": "within_last_days", "value": 1},
     set(PEOPLE)),
]
BEHAVIOUR_CASES = [
    ({"field": "event", "name": "order_paid", "operator": "at_least", "count": 2, "days": 30},
     {"p1"}),
    ({"field": "event", "name": "order_paid", "operator": "at_least", "count": 3}, {"p1", "p2"}),
    ({"field": "event", "name": "order_paid", "operator": "at_least", "count": 1, "days": 7},
     {"p1", "p2", "p3"}),
    ({"field": "event", "name": "order_paid", "operator": "fewer_than", "count": 1, "days": 30},
     {"p4", "p5", "p6"}),
    ({"field": "event", "name": "order_paid", "operator": "fewer_than", "count": 2, "days": 30},
     {"p2", "p3", "p4", "p5", "p6"}),
    ({"field": "survey_response", "operator": "responded", "days": 30}, {"p1", "p3"}),
    ({"field": "survey_response", "operator": "not_responded", "days": 30},
     {"p2", "p4", "p5", "p6"}),
    ({"field": "survey_response", "operator": "responded", "categories": ["detractor"]},
     {"p2", "p3"}),  # scores 3 and 6
    ({"field": "survey_response", "operator": "responded", "categories": ["promoter"],
      "days": 30}, {"p1"}),
    ({"field": "channel", "operator": "in", "value": ["email"]}, {"p1", "p5"}),
    ({"field": "channel", "operator": "in", "value": ["email", "sms"], "days": 90},
     {"p1", "p2"}),
    ({"field": "channel", "operator": "not_in", "value": ["email"]}, {"p2", "p3", "p4", "p6"}),
]


@pytest.mark.parametrize("condition, expected", STRING_CASES + NUMBER_CASES)
def test_string_and_number_operators(client, org, db, people, condition, expected):
    check(client, org, db, people, condition, expected)


@pytest.mark.parametrize("condition, expected", DATE_CASES + BOOLEAN_CASES)
def test_date_and_boolean_operators(client, org, db, people, condition, expected):
    check(client, org, db, people, condition, expected)


@pytest.mark.parametrize("condition, expected", FIELD_CASES)
def test_tag_stage_language_and_field_operators(client, org, db, people, condition, expected):
    check(client, org, db, people, condition, expected)


@pytest.mark.parametrize("condition, expected", BEHAVIOUR_CASES)
def test_event_response_and_channel_conditions(client, org, db, people, condition, expected):
    check(client, org, db, people, condition, expected)


def test_survey_condition_names_the_survey(client, org, db, people, survey):
    condition = {"field": "survey_response", "operator": "not_responded",
                 "survey_id": survey["id"], "days": 90}
    check(client, org, db, people, condition, {"p4", "p5", "p6"})


def test_nested_and_or_matches_a_hand_count(client, org, people):
    # (tag north AND (spend >= 100 OR vip)) OR (plan contains "pro" AND NOT responded 1 day)
    rules = {"match": "any", "conditions": [
        {"match": "all", "conditions": [
            {"field": "tags", "operator": "has_any", "value": ["north"]},
            {"match": "any", "conditions": [attr("spend", ">=", 100), attr("vip", "is_true")]},
        ]},
        {"match": "all", "conditions": [
            attr("plan", "contains", "pro"),
            {"field": "survey_response", "operator": "not_responded", "days": 1},
        ]},
    ]}
    hand = set()
    for name, (attrs, tags, *_rest) in PEOPLE.items():
        first = "north" in tags and (attrs.get("spend", -1) >= 100 or attrs.get("vip") is True)
        second = "pro" in attrs.get("plan", "").lower() and True  # nobody answered today
        if first or second:
            hand.add(name)
    assert hand == {"p1", "p3", "p5"}
    assert members(client, org, rules) == hand
    assert members(client, org, {"match": "all", "conditions": []}) == set(PEOPLE)


def test_rules_are_validated_with_clear_messages(client, org, people):
    cases = [
        (attr("spend", "contains", "1"), "does not apply to number"),
        (attr("nope", "equals", "x"), "unknown attribute 'nope'"),
        (attr("spend", ">", "ten"), "must be a number"),
        (attr("renewal", "before", "soon"), "not a date"),
        (attr("spend", "between", [5, 1]), "must not be greater"),
        ({"field": "tags", "operator": "has_any", "value": []}, "non-empty list"),
        ({"field": "event", "name": "x", "operator": "at_least", "count": 0}, "whole number"),
        ({"field": "survey_response", "operator": "responded", "survey_id": "nope"},
         "unknown survey"),
        ({"field": "lifecycle_stage", "operator": "in", "value": ["later"]}, "is not one of"),
        ({"field": "colour", "operator": "is"}, "unknown field"),
    ]
    for condition, message in cases:
        response = client.post("/api/v1/segments/preview", json={"rules": {
            "match": "all", "conditions": [{"match": "any", "conditions": [condition]}]}},
            headers=org.headers)
        assert response.status_code == 422, condition
        detail = response.json()["detail"][0]
        assert message in detail["msg"], (condition, detail)
        assert detail["loc"][:5] == ["body", "rules", "conditions", 0, "conditions"]


def test_crud_count_and_isolation(client, org, db, people, make_org):
    rules = {"match": "all", "conditions": [attr("plan", "is_set")]}
    created = client.post("/api/v1/segments", json={"name": "Has plan", "rules": rules},
                          headers=org.headers)
    assert created.status_code == 201, created.text
    segment = created.json()
    dup = client.post("/api/v1/segments", json={"name": "Has plan", "rules": rules},
                      headers=org.headers)
    assert dup.status_code == 422 and dup.json()["detail"][0]["loc"] == ["body", "name"]
    url = f"/api/v1/segments/{segment['id']}"
    assert client.get(f"{url}/count", headers=org.headers).json() == {"count": 4}
    listed = client.get("/api/v1/contacts", params={"segment_id": segment["id"]},
                        headers=org.headers).json()
    assert listed["total"] == 4
    ids = set(db.scalars(segments.segment_contact_ids(db, org.org_id, segment["id"])))
    assert ids == {people[p] for p in ("p1", "p2", "p3", "p5")}
    streamed = [i for batch in segments.iter_segment_contact_ids(
        db, org.org_id, segment["id"], batch=3) for i in batch]
    assert sorted(streamed) == sorted(ids)
    patched = client.patch(url, json={"rules": {"match": "all", "conditions": [
        attr("plan", "equals", "free")]}}, headers=org.headers)
    assert patched.status_code == 200
    assert client.get(f"{url}/count", headers=org.headers).json() == {"count": 1}
    other = make_org("Other")
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        response = getattr(client, method)(url, headers=other.headers, **kwargs)
        assert response.status_code == 404
    assert client.get("/api/v1/segments", headers=other.headers).json() == []
    assert client.get("/api/v1/contacts", params={"segment_id": segment["id"]},
                      headers=other.headers).status_code == 404
    # The other org's preview over the same rule shape sees none of our contacts.
    assert client.post("/api/v1/segments/preview", json={"rules": {"match": "all",
                       "conditions": []}}, headers=other.headers).json()["count"] == 0
    assert not segments.contact_matches(db, other.org_id, {"match": "all", "conditions": []},
                                        people["p1"])
    assert client.delete(url, headers=org.headers).status_code == 204
    assert client.get(url, headers=org.headers).status_code == 404
