"""Response ingest: validation errors name the field, idempotent re-submits count once."""

import pytest


def post(client, org, survey_id, body):
    return client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.headers)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"score": 11}, ["body", "score"], "less than or equal to 10"),
        ({"score": -1}, ["body", "score"], "greater than or equal to 0"),
        ({"score": "abc"}, ["body", "score"], "valid integer"),
        ({"score": 9.5}, ["body", "score"], "valid integer"),
        ({"comment": "no score"}, ["body", "score"], "Field required"),
        ({"score": 5, "drivers": {"price": 6}}, ["body", "drivers", "price"], "less than"),
        ({"score": 5, "drivers": {"speed": 3}}, ["body", "drivers", "speed"], "unknown driver"),
        ({"score": 5, "language": "fr"}, ["body", "language"], "must be one of"),
        ({"score": 5, "contact": {"attributes": {}}}, ["body", "contact", "external_id"],
         "Field required"),
        ({"score": 5, "submitted_at": "2026-01-01T10:00:00"}, ["body", "submitted_at"],
         "time zone"),
        ({"score": 5, "submitted_at": "2999-01-01T10:00:00Z"}, ["body", "submitted_at"],
         "future"),
    ],
)
def test_validation_errors_name_the_field(client, org, survey, body, field, fragment):
    response = post(client, org, survey["id"], body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"] == field and fragment in e["msg"] for e in errors), errors


def test_missing_body_is_422(client, org, survey):
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers,
                           content=b"not json", )
    assert response.status_code == 422


def test_unknown_survey_is_404(client, org):
    response = post(client, org, "nope", {"score": 9})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_create_and_read_back(client, org, survey):
    body = {
        "score": 9, "comment": "  送货很快 ", "drivers": {"delivery": 5, "price": 3},
        "language": "zh", "channel": "email",
        "contact": {"external_id": "c-1", "attributes": {"city": "杭州", "plan": "gold"}},
        "submitted_at": "2026-03-01T10:00:00+08:00",
    }
    created = post(client, org, survey["id"], body)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["category"] == "promoter"
    assert data["comment"] == "送货很快"
    assert data["language"] == "zh-CN"
    assert data["channel"] == "email"
    assert data["contact_attributes"] == {"city": "杭州", "plan": "gold"}
    assert data["submitted_at"].startswith("2026-03-01T02:00:00")
    assert {a["question_key"]: a["number_value"] for a in data["answers"]} == {
        "delivery": 5.0, "price": 3.0}
    listed = client.get(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers).json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == data["id"]


def test_idempotent_resubmit_counts_once(client, org, survey):
    body = {"score": 3, "comment": "slow", "idempotency_key": "order-42"}
    first = post(client, org, survey["id"], body)
    second = post(client, org, survey["id"], body)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.headers["Idempotent-Replay"] == "true"
    assert first.json()["id"] == second.json()["id"]
    stats = client.get(f"/api/v1/stats/nps?survey_id={survey['id']}", headers=org.headers).json()
    assert stats["n"] == 1
    assert stats["detractors"] == 1


def test_partial_then_complete_is_one_response(client, org, survey):
    partial = post(client, org, survey["id"],
                   {"score": 8, "status": "partial", "idempotency_key": "tap-1"})
    assert partial.status_code == 201
    assert partial.json()["status"] == "partial"
    done = post(client, org, survey["id"],
                {"score": 8, "comment": "ok", "idempotency_key": "tap-1"})
    assert done.status_code == 200
    assert done.json()["status"] == "complete"
    assert done.json()["comment"] == "ok"
    listed = client.get(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers).json()
    assert listed["total"] == 1


def test_list_filters_and_pagination(client, org, survey):
    for score in (0, 5, 7, 9, 10):
        assert post(client, org, survey["id"], {"score": score}).status_code == 201
    url = f"/api/v1/surveys/{survey['id']}/responses"
    detractors = client.get(url, params={"category": "detractor"}, headers=org.headers).json()
    assert detractors["total"] == 2
    page = client.get(url, params={"limit": 2, "offset": 2}, headers=org.headers).json()
    assert page["total"] == 5 and len(page["items"]) == 2
    bad = client.get(url, params={"from": "yesterday"}, headers=org.headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "from"]
