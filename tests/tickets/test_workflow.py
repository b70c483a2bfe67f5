"""The ticket state machine, history, comments, notes, replies, reassignment and bulk."""

from __future__ import annotations

from sqlalchemy import select

from npsloop.notify import service as notify_service
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyMessage
from npsloop.tickets.models import Ticket, TicketEvent, TicketFollowUp

from .conftest import drain, make_rule, make_team, post_response

BOX = SecretBox("tickets-test-key")


def open_ticket(client, org, survey, db_factory, db, contact=None, rule=True):
    if rule:
        make_rule(client, org, [{"field": "category", "values": ["detractor"]}],
                  {"ticket": {"priority": "P2", "followup_days": 3}})
    extra = {"contact": contact} if contact else {}
    post_response(client, org, survey["id"], 3, "not good", **extra)
    drain(db_factory)
    db.expire_all()
    return db.scalars(select(Ticket).where(Ticket.org_id == org.org_id)
                      .order_by(Ticket.number.desc())).first()


def patch(client, org, ticket_id, **body):
    return client.patch(f"/api/v1/tickets/{ticket_id}", json=body, headers=org.headers)


def test_full_lifecycle_with_history(client, org, survey, db, db_factory, agents):
    ticket = open_ticket(client, org, survey, db_factory, db, contact={"external_id": "k1"})
    tid = ticket.id
    assert patch(client, org, tid, status="in_progress").json()["status"] == "in_progress"
    r = patch(client, org, tid, status="waiting_on_customer")
    assert r.json()["sla_state"] == "paused" and r.json()["sla_due_at"] is None
    r = patch(client, org, tid, status="resolved")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "resolution_category"]
    r = patch(client, org, tid, status="resolved", resolution_category="delivery",
              resolution_note="re-sent the order")
    assert r.status_code == 200 and r.json()["resolved_at"] and r.json()["sla_state"] == "done"
    r = patch(client, org, tid, status="closed")
    assert r.json()["status"] == "closed" and r.json()["closed_at"]
    # Reopen: back to in_progress with a fresh resolution deadline.
    r = patch(client, org, tid, status="in_progress")
    body = r.json()
    assert body["status"] == "in_progress" and body["reopen_count"] == 1
    assert body["resolved_at"] is None and body["closed_at"] is None
    detail = client.get(f"/api/v1/tickets/{tid}", headers=org.headers).json()
    changes = [(e["kind"], e["old_value"], e["new_value"]) for e in detail["events"]]
    assert changes == [
        ("created", None, "open"),
        ("status", "open", "in_progress"),
        ("status", "in_progress", "waiting_on_customer"),
        ("resolution", None, "delivery"),
        ("status", "waiting_on_customer", "resolved"),
        ("followup", None, "scheduled"),
        ("status", "resolved", "closed"),
        ("status", "closed", "in_progress"),
    ]
    assert {e["actor"] for e in detail["events"][1:5]} == {"api_key:" + org.api_key[:10]}
    assert detail["events"][0]["actor"] == "system"
    assert detail["events"][-1]["detail"] == {"reopened": True}
    # The reopened ticket's pending follow-up survey is cancelled.
    followups = db.scalars(select(TicketFollowUp).where(TicketFollowUp.ticket_id == tid))
    assert [f.status for f in followups] == ["cancelled"]


def test_illegal_transitions_are_422(client, org, survey, db, db_factory):
    ticket = open_ticket(client, org, survey, db_factory, db)
    r = patch(client, org, ticket.id, status="done")
    assert r.status_code == 422 and "unknown status" in r.json()["detail"][0]["msg"]
    assert patch(client, org, ticket.id, status="closed").status_code == 200
    for target in ("resolved", "waiting_on_customer", "open"):
        r = patch(client, org, ticket.id, status=target)
        assert r.status_code == 422, target
        assert r.json()["detail"][0]["loc"] == ["body", "status"]
        assert "cannot move from 'closed'" in r.json()["detail"][0]["msg"]
    db.expire_all()
    assert db.get(Ticket, ticket.id).status == "closed"
    assert patch(client, org, ticket.id, resolution_category="bogus").status_code == 422


def test_first_response_comments_notes_and_reassignment(client, org, survey, db, db_factory,
                                                         agents):
    ticket = open_ticket(client, org, survey, db_factory, db)
    team = make_team(client, org, "cs", agents)
    url = f"/api/v1/tickets/{ticket.id}"
    r = client.post(url + "/comments", json={"body": "checking with the warehouse",
                                             "internal": True}, headers=org.headers)
    assert r.status_code == 201 and r.json()["kind"] == "note"
    assert client.get(url, headers=org.headers).json()["first_responded_at"] is None
    r = client.post(url + "/comments", json={"body": "  "}, headers=org.headers)
    assert r.status_code == 422
    r = client.post(url + "/comments", json={"body": "we are on it"}, headers=org.headers)
    assert r.status_code == 201 and r.json()["kind"] == "comment"
    detail = client.get(url, headers=org.headers).json()
    assert detail["first_responded_at"] is not None
    assert [c["kind"] for c in detail["comments"]] == ["note", "comment"]
    r = patch(client, org, ticket.id, owner_id=agents[1], team_id=team["id"], priority="P0")
    assert (r.json()["owner_id"], r.json()["team_id"], r.json()["priority"]) == (
        agents[1], team["id"], "P0")
    r = patch(client, org, ticket.id, owner_id="nobody")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "owner_id"]
    r = patch(client, org, ticket.id, unassign_owner=True)
    assert r.json()["owner_id"] is None
    kinds = [e["kind"] for e in client.get(url, headers=org.headers).json()["events"]]
    assert kinds == ["created", "note", "comment", "priority", "team", "owner", "owner"]


def test_reply_goes_to_the_customer_through_notify(client, org, survey, db, db_factory):
    ticket = open_ticket(client, org, survey, db_factory, db,
                         contact={"external_id": "c-1", "email": "c1@example.test"})
    email = notify_service.create_channel(
        db, org_id=org.org_id, kind="email", name="mail", box=BOX,
        config={"host": "127.0.0.1", "port": 2525, "from_address": "cx@example.test",
                "security": "none"})
    robot = notify_service.create_channel(
        db, org_id=org.org_id, kind="wecom", name="wecom", box=BOX,
        config={"webhook_url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"})
    db.commit()
    url = f"/api/v1/tickets/{ticket.id}/replies"
    r = client.post(url, json={"channel_id": robot.id, "body": "hi"}, headers=org.headers)
    assert r.status_code == 422 and "email or SMS" in r.json()["detail"][0]["msg"]
    r = client.post(url, json={"channel_id": email.id, "body": "我们已补发，抱歉！"},
                    headers=org.headers)
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["kind"] == "reply" and reply["recipient"] == "c1@example.test"
    message = db.get(NotifyMessage, reply["message_id"])
    assert message.recipients == ["c1@example.test"]
    assert message.body["text"] == "我们已补发，抱歉！"
    assert message.ordering_key == f"ticket:{ticket.id}"
    db.expire_all()
    assert db.get(Ticket, ticket.id).first_responded_at is not None


def test_reply_needs_a_reachable_customer(client, org, survey, db, db_factory):
    ticket = open_ticket(client, org, survey, db_factory, db)  # anonymous response
    email = notify_service.create_channel(
        db, org_id=org.org_id, kind="email", name="mail", box=BOX,
        config={"host": "127.0.0.1", "port": 2525, "from_address": "cx@example.test",
                "security": "none"})
    db.commit()
    r = client.post(f"/api/v1/tickets/{ticket.id}/replies",
                    json={"channel_id": email.id, "body": "hello"}, headers=org.headers)
    assert r.status_code == 422 and "no email address" in r.json()["detail"][0]["msg"]


def test_bulk_assign_and_close(client, org, survey, db, db_factory, agents):
    first = open_ticket(client, org, survey, db_factory, db)
    second = open_ticket(client, org, survey, db_factory, db, rule=False)
    ids = [first.id, second.id]
    r = client.post("/api/v1/tickets/bulk", headers=org.headers,
                    json={"ticket_ids": ids, "action": "assign", "owner_id": agents[2]})
    assert r.json() == {"changed": 2, "unchanged": 0, "errors": []}
    r = client.post("/api/v1/tickets/bulk", headers=org.headers,
                    json={"ticket_ids": [*ids, "missing"], "action": "close",
                          "resolution_category": "no_action"})
    assert r.json()["changed"] == 2 and r.json()["errors"][0]["ticket_id"] == "missing"
    db.expire_all()
    assert {(db.get(Ticket, i).status, db.get(Ticket, i).owner_id) for i in ids} == {
        ("closed", agents[2])}
    owners = db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == first.id))
    assert list(owners).count("owner") == 1
    r = client.post("/api/v1/tickets/bulk", headers=org.headers,
                    json={"ticket_ids": ids, "action": "assign"})
    assert r.status_code == 422
