"""The targeting API end to end: events -> outbox -> trigger -> invitation, the decision
endpoint, trigger rules, fatigue settings, the decision log, validation and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from npsloop.core import outbox
from npsloop.distribution.models import Invitation


def rule_body(survey_id: str, **fields) -> dict:
    return {"name": "Delivered", "event_name": "order_delivered", "survey_id": survey_id,
            "channel": "email", "delay_seconds": 7200,
            "conditions": [{"property": "order_amount", "op": "gt", "value": 100}]} | fields


def drain(db_factory) -> None:
    while outbox.run_once(db_factory):
        pass


def test_event_to_invitation_through_the_outbox(client, org, survey, db, db_factory):
    created = client.post("/api/v1/trigger-rules", json=rule_body(survey["id"]),
                          headers=org.headers)
    assert created.status_code == 201, created.text
    trigger_id = created.json()["id"]
    happened = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    for external_id, amount in (("big", 250), ("small", 50)):
        response = client.post("/api/v1/events", headers=org.headers, json={
            "contact_external_id": external_id, "name": "order_delivered",
            "properties": {"order_amount": amount}, "timestamp": happened.isoformat()})
        assert response.status_code == 200, response.text
    client.post("/api/v1/contacts", headers=org.headers,
                json={"external_id": "big", "email": "big@example.test"})
    drain(db_factory)
    invitations = list(db.scalars(select(Invitation).where(Invitation.org_id == org.org_id)))
    assert len(invitations) == 1
    invitation = invitations[0]
    assert (invitation.channel, invitation.source, invitation.trigger_id) == (
        "email", "trigger", trigger_id)
    assert invitation.send_at == happened + timedelta(hours=2)

    log = client.get("/api/v1/decisions", headers=org.headers).json()
    assert log["total"] == 2 and log["counts"] == {"conditions_not_met": 1, "eligible": 1}
    by_contact = {item["contact_external_id"]: item for item in log["items"]}
    assert by_contact["big"]["eligible"] and by_contact["big"]["invitation_id"] == invitation.id
    assert by_contact["small"]["reasons"][0]["rule"] == "conditions_not_met"
    refused = client.get("/api/v1/decisions", headers=org.headers,
                         params={"eligible": "false", "contact": "small"}).json()
    assert [i["contact_external_id"] for i in refused["items"]] == ["small"]
    by_trigger = client.get("/api/v1/decisions", headers=org.headers,
                            params={"trigger_id": trigger_id}).json()
    assert by_trigger["total"] == 2
    assert client.get("/api/v1/decisions", headers=org.headers,
                      params={"trigger_id": "nope"}).json()["total"] == 0

    # The same event again: one invitation is enough, the log says why.
    client.post("/api/v1/events", headers=org.headers, json={
        "contact_external_id": "big", "name": "order_delivered",
        "properties": {"order_amount": 300}})
    drain(db_factory)
    again = client.get("/api/v1/decisions", headers={**org.headers, "Accept-Language": "zh-CN"},
                       params={"rule": "recontact_window"}).json()
    assert again["total"] == 1 and "30 天" in again["items"][0]["reasons"][0]["message"]
    assert again["counts"]["recontact_window"] == 1 and again["counts"]["eligible"] == 1


def test_decision_endpoint(client, org, survey):
    client.post("/api/v1/trigger-rules", headers=org.headers,
                json=rule_body(survey["id"], channel="api", delay_seconds=0, conditions=[]))
    body = {"contact": {"external_id": "C-9", "email": "c9@example.test",
                        "attributes": {"plan": "pro"}},
            "event": {"name": "order_delivered", "properties": {"order_amount": 120}}}
    first = client.post("/api/v1/triggers", json=body, headers=org.headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["eligible"] and answer["survey_id"] == survey["id"]
    assert answer["reasons"] == []
    invitation = answer["invitation"]
    assert invitation["channel"] == "api" and "/i/" in invitation["url"]
    assert invitation["expires_at"] > invitation["send_at"]
    contact = client.get("/api/v1/contacts/C-9", headers=org.headers).json()
    assert contact["attributes"]["plan"] == "pro"

    second = client.post("/api/v1/triggers", json=body,
                         headers={**org.headers, "Accept-Language": "en"}).json()
    assert not second["eligible"] and second["invitation"] is None
    reason = second["reasons"][0]
    assert reason["rule"] == "recontact_window" and reason["params"]["days"] == 30
    assert "Recontact window" in reason["message"]

    other = client.post("/api/v1/triggers", headers=org.headers, json={
        "contact": {"external_id": "C-10"}, "event": {"name": "page_view"}}).json()
    assert [r["rule"] for r in other["reasons"]] == ["no_trigger"]


def test_decision_endpoint_validation(client, org, survey, make_org):
    stranger = make_org("Stranger")
    theirs = client.post("/api/v1/surveys", json={"name": "Theirs", "status": "live"},
                         headers=stranger.headers).json()
    cases = [
        ({"contact": {"external_id": "x"}, "event": {"name": "a b"}}, ["body", "event", "name"]),
        ({"contact": {"external_id": "x"}, "event": {"name": "e",
                                                     "timestamp": "2026-01-01T10:00:00"}},
         ["body", "event", "timestamp"]),
        ({"contact": {"external_id": "x", "email": "not-an-email"}, "event": {"name": "e"}},
         ["body", "contact", "email"]),
        ({"contact": {"external_id": "x"}, "event": {"name": "e"}, "survey_id": theirs["id"]},
         ["body", "survey_id"]),
        ({"contact": {"external_id": "x"}, "event": {"name": "e"}, "channel": "fax"},
         ["body", "channel"]),
    ]
    for body, loc in cases:
        response = client.post("/api/v1/triggers", json=body, headers=org.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"] == loc, response.text
    # Nothing of a rejected request was stored.
    assert client.get("/api/v1/contacts/x", headers=org.headers).status_code == 404


def test_trigger_rules_crud_validation_and_tenancy(client, org, survey, make_org):
    bad = [
        (rule_body(survey["id"], event_name="has space"), ["body", "event_name"]),
        (rule_body("nope"), ["body", "survey_id"]),
        (rule_body(survey["id"], segment_id="nope"), ["body", "segment_id"]),
        (rule_body(survey["id"], conditions=[{"property": "a", "op": "gt", "value": "x"}]),
         ["body", "conditions", 0, "value"]),
        (rule_body(survey["id"], delay_seconds=-1), ["body", "delay_seconds"]),
    ]
    for body, loc in bad:
        response = client.post("/api/v1/trigger-rules", json=body, headers=org.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc, response.text
    created = client.post("/api/v1/trigger-rules", json=rule_body(survey["id"]),
                          headers=org.headers).json()
    changed = client.put(f"/api/v1/trigger-rules/{created['id']}", headers=org.headers,
                         json=rule_body(survey["id"], active=False, delay_seconds=60)).json()
    assert changed["active"] is False and changed["delay_seconds"] == 60
    other = make_org("Other")
    assert client.get("/api/v1/trigger-rules", headers=other.headers).json() == []
    for method in ("get", "delete"):
        response = getattr(client, method)(f"/api/v1/trigger-rules/{created['id']}",
                                           headers=other.headers)
        assert response.status_code == 404
    assert client.put(f"/api/v1/trigger-rules/{created['id']}", headers=other.headers,
                      json=rule_body(survey["id"])).status_code == 404
    # Their survey is not ours to target.
    assert client.post("/api/v1/trigger-rules", json=rule_body(survey["id"]),
                       headers=other.headers).status_code == 422
    assert client.delete(f"/api/v1/trigger-rules/{created['id']}",
                         headers=org.headers).status_code == 204
    assert client.get("/api/v1/trigger-rules", headers=org.headers).json() == []


def test_fatigue_settings_and_overrides(client, org, survey, make_org, role_key):
    default = client.get("/api/v1/fatigue", headers=org.headers).json()
    assert default["recontact_days"] == 30 and default["saved"] is False
    assert default["timezone"] == "Asia/Shanghai"
    body = {"recontact_days": 45, "sampling_percent": 12.5, "quiet_start": "22:00",
            "quiet_end": "08:00", "cap_count": 3, "cap_days": 90}
    saved = client.put("/api/v1/fatigue", json=body, headers=org.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() | body == saved.json() and saved.json()["saved"] is True
    for wrong, field in (({"quiet_start": "22:00"}, "quiet_end"),
                         ({"quiet_start": "25:00", "quiet_end": "08:00"}, "quiet_start"),
                         ({"cap_count": 2}, "cap_days"),
                         ({"sampling_percent": 120}, "sampling_percent")):
        response = client.put("/api/v1/fatigue", json=wrong, headers=org.headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", field]
    override = client.put(f"/api/v1/fatigue/surveys/{survey['id']}", headers=org.headers,
                          json={"recontact_days": 7}).json()
    assert override["overrides"] == [{"survey_id": survey["id"], "survey_name": survey["name"],
                                      "recontact_days": 7, "sampling_percent": None}]
    analyst = role_key(org.org_id, "analyst")
    assert client.put("/api/v1/fatigue", json=body, headers=analyst).status_code == 403
    other = make_org("Other")
    assert client.get("/api/v1/fatigue", headers=other.headers).json()["recontact_days"] == 30
    assert client.put(f"/api/v1/fatigue/surveys/{survey['id']}", headers=other.headers,
                      json={"recontact_days": 1}).status_code == 404
    cleared = client.delete(f"/api/v1/fatigue/surveys/{survey['id']}", headers=org.headers)
    assert cleared.json()["overrides"] == []


def test_decision_log_is_per_organisation(client, org, survey, make_org):
    client.post("/api/v1/triggers", headers=org.headers, json={
        "contact": {"external_id": "C-1"}, "event": {"name": "x"}, "survey_id": survey["id"]})
    other = make_org("Other")
    assert client.get("/api/v1/decisions", headers=other.headers).json()["total"] == 0
    assert client.get("/api/v1/decisions", headers=org.headers).json()["total"] == 1
    bad = client.get("/api/v1/decisions", headers=org.headers, params={"from": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]


def test_dry_run_writes_nothing(client, org, survey, db):
    from npsloop.targeting.models import DecisionLog

    client.post("/api/v1/contacts", headers=org.headers, json={"external_id": "D-1"})
    body = {"contact": {"external_id": "D-1", "attributes": {"plan": "pro"}},
            "event": {"name": "checkout"}, "survey_id": survey["id"], "channel": "email",
            "dry_run": True}
    answer = client.post("/api/v1/triggers", json=body, headers=org.headers).json()
    assert answer["dry_run"] and not answer["eligible"]
    assert [r["rule"] for r in answer["reasons"]] == ["no_address"]
    answer = client.post("/api/v1/triggers", json=body | {"channel": "api"},
                         headers=org.headers).json()
    assert answer["eligible"] and answer["invitation"] is None and answer["send_at"]
    assert db.scalar(select(Invitation.id).where(Invitation.org_id == org.org_id)) is None
    assert db.scalar(select(DecisionLog.id).where(DecisionLog.org_id == org.org_id)) is None
    contact = client.get("/api/v1/contacts/D-1", headers=org.headers).json()
    assert "plan" not in contact["attributes"]
    events = client.get("/api/v1/events", params={"contact_external_id": "D-1"},
                        headers=org.headers).json()
    assert events == []
