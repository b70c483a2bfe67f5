"""SLA deadlines, escalation on breach with a controllable clock, the pause while waiting on
the customer, the follow-up survey, "recovered", and the closed-loop metrics."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from npsloop.accounts.models import User
from npsloop.core.db import utcnow
from npsloop.notify import service as notify_service
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyMessage
from npsloop.surveys.models import Survey
from npsloop.tickets import sla
from npsloop.tickets.history import Actor
from npsloop.tickets.models import Ticket, TicketEvent, TicketFollowUp
from npsloop.tickets.service import add_comment, change_status

from .conftest import drain, make_rule, make_team, post_response, user_id

BOX = SecretBox("tickets-test-key")
AGENT = Actor("agent@example.test")


def channel(db, org_id, kind="feishu", name="escalations"):
    config = {"webhook_url": "http://127.0.0.1:9/open-apis/bot/v2/hook/t", "secret": "s"}
    created = notify_service.create_channel(db, org_id=org_id, kind=kind, name=name,
                                            box=BOX, config=config)
    db.commit()
    return created.id


def one_ticket(db, org_id) -> Ticket:
    db.expire_all()
    return db.scalar(select(Ticket).where(Ticket.org_id == org_id).order_by(Ticket.number))


def test_escalation_on_breach_with_a_controllable_clock(client, org, survey, db, db_factory,
                                                        agents, make_user):
    escalations = channel(db, org.org_id)
    boss = user_id(db, make_user(org.org_id, "admin"))
    team = make_team(client, org, "logistics", agents[:1], escalation_user_id=boss,
                     escalation_channel_ids=[escalations])
    make_rule(client, org, [{"field": "category", "values": ["detractor"]}], {"ticket": {
        "priority": "P2", "first_response_hours": 2, "resolution_hours": 10,
        "routing": {"mode": "round_robin", "team_id": team["id"]}}})
    post_response(client, org, survey["id"], 2, "too slow")
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    opened = ticket.created_at
    assert sla.state(ticket, opened) == "on_track"
    assert sla.state(ticket, opened + timedelta(hours=1, minutes=45)) == "at_risk"
    assert sla.state(ticket, opened + timedelta(hours=2, minutes=1)) == "breached"
    # Before the deadline: nothing happens.
    assert sla.tick(db, opened + timedelta(hours=1, minutes=59)).escalated == []
    # Past the first-response deadline: escalated once, priority up one step.
    report = sla.tick(db, opened + timedelta(hours=2, minutes=1))
    db.commit()
    assert report.escalated == [(ticket.id, "first_response")]
    ticket = one_ticket(db, org.org_id)
    assert (ticket.priority, ticket.escalation_level) == ("P1", 1)
    assert sla.tick(db, opened + timedelta(hours=3)).escalated == []  # once per deadline
    message = db.scalar(select(NotifyMessage).where(NotifyMessage.channel_id == escalations))
    assert message.recipients == [db.get(User, boss).email]
    assert message.body["level"] == "critical" and "first response" not in message.body["text"]
    assert message.body["title"].startswith("[P1]")
    event = db.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                TicketEvent.kind == "escalated"))
    assert (event.old_value, event.new_value, event.actor) == ("P2", "P1", "system")
    assert event.detail["sla"] == "first_response"
    # Responding then missing the resolution deadline escalates again.
    add_comment(db, ticket, AGENT, "looking into it", now=opened + timedelta(hours=3))
    db.commit()
    report = sla.tick(db, opened + timedelta(hours=10, minutes=1))
    db.commit()
    assert report.escalated == [(ticket.id, "resolution")]
    assert one_ticket(db, org.org_id).priority == "P0"
    sla.tick(db, opened + timedelta(hours=20))
    assert one_ticket(db, org.org_id).priority == "P0"


def test_waiting_on_customer_pauses_the_resolution_clock(client, org, survey, db, db_factory):
    make_rule(client, org, [{"field": "score", "max": 6}], {"ticket": {
        "priority": "P3", "first_response_hours": 1, "resolution_hours": 10}})
    post_response(client, org, survey["id"], 0, "")
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    t0 = ticket.created_at
    change_status(db, ticket, "waiting_on_customer", AGENT, now=t0 + timedelta(hours=0.5))
    assert sla.tick(db, t0 + timedelta(hours=30)).escalated == []  # paused: no breach
    change_status(db, ticket, "in_progress", AGENT, now=t0 + timedelta(hours=20.5))
    db.commit()
    ticket = one_ticket(db, org.org_id)
    assert ticket.resolution_due_at == t0 + timedelta(hours=30)  # 10 h + 20 h paused
    assert sla.tick(db, t0 + timedelta(hours=29)).escalated == []
    assert sla.tick(db, t0 + timedelta(hours=30, seconds=1)).escalated == [
        (ticket.id, "resolution")]


def test_followup_survey_and_recovered(client, org, survey, db, db_factory):
    mail = notify_service.create_channel(
        db, org_id=org.org_id, kind="email", name="mail", box=BOX,
        config={"host": "127.0.0.1", "port": 2525, "from_address": "cx@example.test",
                "security": "none"})
    db.commit()
    make_rule(client, org, [{"field": "category", "values": ["detractor"]}], {"ticket": {
        "priority": "P1", "followup_days": 5, "followup_channel_id": mail.id}})
    contact = {"external_id": "cust-9", "email": "cust9@example.test"}
    post_response(client, org, survey["id"], 3, "bad delivery", contact=contact)
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    resolved_at = utcnow()  # the customer's answer below comes after this
    change_status(db, ticket, "resolved", AGENT, resolution_category="delivery",
                  now=resolved_at)
    db.commit()
    followup = db.scalar(select(TicketFollowUp).where(TicketFollowUp.ticket_id == ticket.id))
    assert followup.status == "scheduled" and followup.due_at == resolved_at + timedelta(days=5)
    assert sla.tick(db, resolved_at + timedelta(days=4)).followups_invited == 0
    assert sla.tick(db, resolved_at + timedelta(days=5, minutes=1)).followups_invited == 1
    db.commit()
    db.expire_all()
    followup = db.get(TicketFollowUp, followup.id)
    assert followup.status == "invited"
    invitation = db.get(NotifyMessage, followup.message_id)
    assert invitation.recipients == ["cust9@example.test"]
    assert f"/s/{db.get(Survey, survey['id']).public_token}" in invitation.body["link_url"]
    # Another customer's answer, and this customer's answer to another survey, do not count.
    post_response(client, org, survey["id"], 10, "", contact={"external_id": "someone"})
    drain(db_factory)
    assert one_ticket(db, org.org_id).followup_score is None
    # The customer answers the follow-up with a higher score: recovered, and closed.
    post_response(client, org, survey["id"], 8, "much better now", contact=contact)
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    assert (ticket.followup_score, ticket.recovered, ticket.status) == (8, True, "closed")
    assert db.get(TicketFollowUp, followup.id).status == "answered"
    # Metrics: one detractor ticket, its follow-up answered, recovered.
    r = client.get("/api/v1/tickets/metrics", headers=org.headers)
    overall = r.json()["overall"]
    assert (overall["detractor_tickets"], overall["followups_answered"],
            overall["recovered"], overall["recovery_rate"]) == (1, 1, 1, 1.0)


def test_a_lower_followup_score_is_not_recovered(client, org, survey, db, db_factory):
    make_rule(client, org, [{"field": "category", "values": ["detractor"]}],
              {"ticket": {"followup_days": 1}})
    contact = {"external_id": "cust-1"}
    post_response(client, org, survey["id"], 6, "meh", contact=contact)
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    change_status(db, ticket, "resolved", AGENT, resolution_category="other")
    db.commit()
    post_response(client, org, survey["id"], 5, "", contact=contact)
    drain(db_factory)
    ticket = one_ticket(db, org.org_id)
    assert (ticket.followup_score, ticket.recovered) == (5, False)
    # The second (still detractor) answer opened a ticket of its own.
    assert len(db.scalars(select(Ticket).where(Ticket.org_id == org.org_id)).all()) == 2
