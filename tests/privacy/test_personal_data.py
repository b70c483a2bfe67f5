"""A contact's data exported and erased on request; aggregates keep their numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from npsloop.accounts.models import AuditLog, Role
from npsloop.core.db import utcnow
from npsloop.notify.models import NotifyMessage
from npsloop.responses.models import Response
from npsloop.textmining.models import ResponseTextAnalysis


def _respond(client, org, survey, external_id: str, score: int, comment: str, key: str):
    body = {"score": score, "comment": comment, "drivers": {"price": 3},
            "idempotency_key": key,
            "contact": {"external_id": external_id, "email": f"{external_id}@mail.test",
                        "phone": "13800138000", "attributes": {"city": "杭州"}}}
    response = client.post(f"/api/v1/surveys/{survey['id']}/responses", json=body,
                           headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _events(client, org, external_id: str, n: int) -> None:
    now = datetime.now(UTC)
    events = [{"contact_external_id": external_id, "name": "order_paid",
               "timestamp": (now - timedelta(days=i)).isoformat(), "properties": {"i": i}}
              for i in range(n)]
    response = client.post("/api/v1/events/batch", json={"events": events},
                           headers=org.headers)
    assert response.status_code == 200, response.text


def _nps(client, org, survey) -> dict:
    response = client.get(f"/api/v1/stats/nps?survey_id={survey['id']}", headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _seed(client, org, survey, db):
    mine = _respond(client, org, survey, "C-1", 2, "王先生 13800138000 配送太慢", "k1")
    _respond(client, org, survey, "C-1", 9, "later much better", "k2")
    _respond(client, org, survey, "C-2", 10, "great", "k3")
    _events(client, org, "C-1", 3)
    db.add(ResponseTextAnalysis(response_id=mine["id"], org_id=org.org_id, language="zh",
                                sentiment_score=-0.8, sentiment_label="negative",
                                keywords=["王先生", "配送"], terms=["王先生"], topic_hits=[],
                                comment_hash="abc", model_version="t",
                                analysed_at=utcnow()))
    db.add(NotifyMessage(org_id=org.org_id, target="email", kind="notice", event_type="t",
                         body={"quote": "王先生 配送太慢"}, recipients=["C-1@mail.test"],
                         status="delivered"))
    db.commit()
    return mine


def test_export_holds_everything_on_the_contact(client, org, survey, db):
    _seed(client, org, survey, db)
    response = client.get("/api/v1/contacts/C-1/export", headers=org.headers)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    document = response.json()
    tables = document["tables"]
    assert document["contact_external_id"] == "C-1"
    assert tables["contacts"][0]["email"] == "C-1@mail.test"
    assert {r["comment"] for r in tables["responses"]} == {
        "王先生 13800138000 配送太慢", "later much better"}
    assert len(tables["contact_events"]) == 3
    assert len(tables["response_answers"]) >= 2
    assert tables["response_text_analysis"][0]["keywords"] == ["王先生", "配送"]
    assert all("C-2" not in str(r) for r in tables["responses"])
    assert document["counts"]["responses"] == 2
    logged = db.scalars(select(AuditLog).where(AuditLog.org_id == org.org_id,
                                               AuditLog.action == "contact.export")).all()
    assert len(logged) == 1


def test_erasure_removes_the_person_and_keeps_the_aggregates(client, org, survey, db):
    mine = _seed(client, org, survey, db)
    before = _nps(client, org, survey)
    response = client.post("/api/v1/contacts/C-1/erase", headers=org.headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["erased"] and result["rows"]["contact_events"] == 3
    assert result["rows"]["responses"] == 2 and result["rows"]["notify_messages"] == 1

    assert client.get("/api/v1/contacts/C-1", headers=org.headers).status_code == 404
    assert _nps(client, org, survey) == before  # same n, same NPS
    db.expire_all()
    row = db.get(Response, mine["id"])
    assert row is not None and row.score == 2
    assert row.contact_id is None and row.comment == "" and row.contact_attributes == {}
    assert {a.question_key for a in row.answers} >= {"price"}  # ratings kept
    analysis = db.get(ResponseTextAnalysis, mine["id"])
    assert analysis.keywords == [] and analysis.sentiment_label == "negative"
    message = db.scalars(select(NotifyMessage).where(NotifyMessage.org_id == org.org_id)).one()
    assert message.recipients == ["[erased]"] and "王先生" not in str(message.body)
    other = db.scalars(select(Response).where(Response.comment == "great")).one()
    assert other.contact_id is not None  # the other contact is untouched

    entry = db.scalars(select(AuditLog).where(AuditLog.org_id == org.org_id,
                                              AuditLog.action == "contact.erase")).one()
    assert entry.detail["erasure_token"] == result["erasure_token"]
    assert "C-1" not in str(entry.detail)
    # A second request finds nothing to erase.
    assert client.post("/api/v1/contacts/C-1/erase", headers=org.headers).status_code == 404


def test_plain_delete_is_an_erasure_too(client, org, survey, db):
    mine = _seed(client, org, survey, db)
    assert client.delete("/api/v1/contacts/C-1", headers=org.headers).status_code == 204
    db.expire_all()
    row = db.get(Response, mine["id"])
    assert row.contact_id is None and row.comment == "" and row.contact_attributes == {}


def test_other_org_and_lower_roles_cannot_export_or_erase(client, org, survey, db, make_org,
                                                          role_key):
    _seed(client, org, survey, db)
    other = make_org("Other")
    for method, path in (("get", "/api/v1/contacts/C-1/export"),
                         ("post", "/api/v1/contacts/C-1/erase")):
        assert getattr(client, method)(path, headers=other.headers).status_code == 404
        for role in (Role.analyst, Role.agent, Role.viewer):
            headers = role_key(org.org_id, role)
            assert getattr(client, method)(path, headers=headers).status_code == 403
    assert client.get("/api/v1/contacts/C-1", headers=org.headers).status_code == 200


def test_audit_log_lists_who_did_what(client, org, survey, db):
    _seed(client, org, survey, db)
    client.post("/api/v1/contacts/C-2/erase", headers=org.headers)
    response = client.get("/api/v1/audit-log?action=contact.", headers=org.headers)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] >= 1
    assert page["items"][0]["action"] == "contact.erase"
    assert page["items"][0]["actor"]
    bad = client.get("/api/v1/audit-log?from=yesterday", headers=org.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]
