"""Retention limits: old personal data anonymised or deleted, the rest untouched, twice = once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from npsloop.contacts.models import Event
from npsloop.core.db import utcnow
from npsloop.privacy import retention
from npsloop.responses.models import Response


def _respond(client, org, survey, key: str, days_ago: int, comment: str = "慢") -> str:
    body = {"score": 3, "comment": comment, "idempotency_key": key,
            "submitted_at": (utcnow() - timedelta(days=days_ago)).isoformat(),
            "contact": {"external_id": f"R-{key}", "attributes": {"vip": True}}}
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json=body,
                           headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_settings_are_validated(client, org):
    assert client.get("/api/v1/privacy/retention", headers=org.headers).json()[
        "anonymise_responses_after_days"] is None
    bad = client.put("/api/v1/privacy/retention", json={"delete_events_after_days": 0},
                     headers=org.headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "delete_events_after_days"
    unknown = client.put("/api/v1/privacy/retention", json={"keep": 3}, headers=org.headers)
    assert unknown.status_code == 422
    ok = client.put("/api/v1/privacy/retention", json={"anonymise_responses_after_days": 365},
                    headers=org.headers)
    assert ok.status_code == 200 and ok.json()["anonymise_responses_after_days"] == 365


def test_apply_anonymises_only_old_data_once(client, org, survey, db, make_org):
    old = _respond(client, org, survey, "old", 400)
    new = _respond(client, org, survey, "new", 10)
    other_org = make_org("Other")
    other_survey = client.post("/api/v1/surveys", json={"name": "x", "status": "live"},
                               headers=other_org.headers).json()
    foreign = _respond(client, other_org, other_survey, "foreign", 400)
    client.post("/api/v1/events/batch", headers=org.headers, json={"events": [
        {"contact_external_id": "R-old", "name": "login",
         "timestamp": (utcnow() - timedelta(days=d)).isoformat()} for d in (5, 200, 300)]})
    client.put("/api/v1/privacy/retention", headers=org.headers, json={
        "anonymise_responses_after_days": 365, "delete_events_after_days": 180})

    first = client.post("/api/v1/privacy/retention/apply", headers=org.headers).json()
    assert first["responses_anonymised"] == 1 and first["events_deleted"] == 2
    again = client.post("/api/v1/privacy/retention/apply", headers=org.headers).json()
    assert again["responses_anonymised"] == 0 and again["events_deleted"] == 0

    db.expire_all()
    gone, kept, theirs = db.get(Response, old), db.get(Response, new), db.get(Response, foreign)
    assert gone.contact_id is None and gone.comment == "" and gone.contact_attributes == {}
    assert gone.score == 3  # the aggregate survives
    assert kept.comment == "慢" and kept.contact_id is not None
    assert theirs.comment == "慢" and theirs.contact_id is not None  # other org untouched
    assert db.scalar(select(func.count()).select_from(Event)
                     .where(Event.org_id == org.org_id)) == 1


def test_daily_job_runs_each_due_org_once(client, org, survey, db_factory, db):
    _respond(client, org, survey, "old", 400)
    client.put("/api/v1/privacy/retention", headers=org.headers,
               json={"anonymise_responses_after_days": 30})
    now = utcnow()
    assert org.org_id in retention.due_org_ids(db, now)
    retention.apply_retention(db, org_id=org.org_id, now=now)
    db.commit()
    assert org.org_id not in retention.due_org_ids(db, now + timedelta(hours=23))
    assert org.org_id in retention.due_org_ids(db, now + timedelta(hours=25))
