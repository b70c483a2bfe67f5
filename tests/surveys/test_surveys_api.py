"""Survey projects through the API: defaults, validation, state transitions."""

import pytest


def test_create_with_standard_questions(client, org):
    response = client.post("/api/v1/surveys", headers=org.headers, json={
        "name": "After delivery", "nps_type": "touchpoint", "journey_stage": "fulfilment",
        "touchpoint": "delivery", "drivers": ["delivery", "quality"], "brand": "FreshGo"})
    assert response.status_code == 201, response.text
    survey = response.json()
    assert survey["status"] == "draft"
    assert [q["kind"] for q in survey["questions"]] == [
        "nps", "open_followup", "driver_rating", "driver_rating"]
    nps = survey["questions"][0]
    assert "FreshGo" in nps["texts"]["en"]["text"] and "FreshGo" in nps["texts"]["zh-CN"]["text"]
    followup = survey["questions"][1]["texts"]["zh-CN"]["by_category"]
    assert set(followup) == {"promoter", "passive", "detractor"}
    assert "/s/" in survey["public_url"] and survey["id"] not in survey["public_url"]


def test_custom_questions_with_skip_logic(client, org):
    body = {"name": "Checkout", "questions": [
        {"kind": "nps", "key": "nps", "texts": {"en": {"text": "Recommend?"}}},
        {"kind": "multiple_choice", "key": "reasons", "show_if_categories": ["detractor"],
         "options": [{"key": "slow", "labels": {"en": "Slow", "zh-CN": "慢"}},
                     {"key": "price", "labels": {"en": "Price", "zh-CN": "价格"}}]},
    ]}
    survey = client.post("/api/v1/surveys", headers=org.headers, json=body).json()
    reasons = survey["questions"][1]
    assert reasons["show_if_categories"] == ["detractor"]
    sid = survey["id"]
    ok = client.post(f"/api/v1/surveys/{sid}/responses", headers=org.headers,
                     json={"score": 2, "choices": {"reasons": ["slow", "price"]}})
    assert ok.status_code == 201
    bad = client.post(f"/api/v1/surveys/{sid}/responses", headers=org.headers,
                      json={"score": 2, "choices": {"reasons": ["weather"]}})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "choices",
                                                                         "reasons"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"name": ""}, "at least 1 character"),
     ({"name": "x", "nps_type": "loyalty"}, "strategic"),
     ({"name": "x", "languages": ["zh-CN"], "default_language": "en"}, "default_language"),
     ({"name": "x", "questions": [{"kind": "open_followup", "key": "comment"}]}, "exactly one"),
     ({"name": "x", "questions": [{"kind": "nps", "key": "Bad Key"}]}, "lower-case"),
     ({"name": "x", "drivers": ["Price!"]}, "slug")],
)
def test_create_validation(client, org, body, fragment):
    response = client.post("/api/v1/surveys", headers=org.headers, json=body)
    assert response.status_code == 422, response.text
    assert fragment in str(response.json()["detail"])


def test_status_transitions(client, org, survey):
    sid = survey["id"]

    def patch(status):
        return client.patch(f"/api/v1/surveys/{sid}", headers=org.headers,
                            json={"status": status})

    assert patch("paused").status_code == 200
    assert patch("draft").status_code == 422
    assert patch("closed").status_code == 200
    assert patch("live").status_code == 200


def test_patch_replaces_questions_and_lists(client, org, survey):
    sid = survey["id"]
    response = client.patch(f"/api/v1/surveys/{sid}", headers=org.headers, json={
        "questions": [{"kind": "nps", "key": "nps"}, {"kind": "driver_rating", "key": "app"}]})
    assert response.status_code == 200
    assert [q["key"] for q in response.json()["questions"]] == ["nps", "app"]
    listed = client.get("/api/v1/surveys", headers=org.headers, params={"status": "live"}).json()
    assert listed["total"] == 1
    assert client.get("/api/v1/surveys", headers=org.headers, params={"status": "bogus"}
                      ).status_code == 422
