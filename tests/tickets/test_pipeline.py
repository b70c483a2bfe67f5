"""A completed response runs the rules through the outbox: tickets, routing, tags, alerts,
webhooks, idempotency under retries, and one transaction for a ticket and its message."""

from __future__ import annotations

from sqlalchemy import func, select

from npsloop.contacts.models import Contact
from npsloop.core.outbox import OutboxEvent, emit
from npsloop.notify import service as notify_service
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyMessage
from npsloop.responses.models import Response
from npsloop.tickets import evaluate
from npsloop.tickets.models import ResponseTag, RuleMatch, Ticket, TicketEvent

from .conftest import drain, make_rule, make_team, post_response

DETRACTOR = [{"field": "category", "values": ["detractor"]}]
BOX = SecretBox("tickets-test-key")


def tickets_of(db, org_id):
    db.expire_all()
    return list(db.scalars(select(Ticket).where(Ticket.org_id == org_id)
                           .order_by(Ticket.number)))


def dingtalk_channel(db, org_id, name="robot"):
    channel = notify_service.create_channel(
        db, org_id=org_id, kind="dingtalk", name=name, box=BOX,
        config={"webhook_url": "http://127.0.0.1:9/robot/send?access_token=t",
                "secret": "SECabc"})
    db.commit()
    return channel.id


def test_detractor_opens_ticket_once_even_when_the_event_is_retried(
        client, org, survey, db, db_factory, agents):
    team = make_team(client, org, "logistics", agents[:2])
    rule = make_rule(client, org, DETRACTOR, {"ticket": {
        "priority": "P1", "routing": {"mode": "round_robin", "team_id": team["id"]}}})
    response = post_response(client, org, survey["id"], 3, "送货太慢了")
    post_response(client, org, survey["id"], 9, "很好")
    drain(db_factory)
    tickets = tickets_of(db, org.org_id)
    assert len(tickets) == 1
    ticket = tickets[0]
    assert (ticket.priority, ticket.team_id, ticket.rule_id) == ("P1", team["id"], rule["id"])
    assert ticket.owner_id == agents[0] and ticket.number == 1
    assert ticket.original_score == 3 and ticket.status == "open"
    assert ticket.subject == "送货太慢了"
    # P1 defaults: 4 h first response, 48 h resolution.
    assert (ticket.first_response_due_at - ticket.created_at).total_seconds() == 4 * 3600
    assert (ticket.resolution_due_at - ticket.created_at).total_seconds() == 48 * 3600
    # The outbox delivers the same event again (a retry after a crash): nothing new.
    emit(db, org_id=org.org_id, topic="response.completed",
         payload={"response_id": response["id"], "survey_id": survey["id"]})
    db.commit()
    drain(db_factory)
    assert len(tickets_of(db, org.org_id)) == 1
    assert db.scalar(select(func.count()).select_from(RuleMatch)
                     .where(RuleMatch.response_id == response["id"])) == 1
    created = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [e.kind for e in created] == ["created"]
    events = db.scalars(select(OutboxEvent.topic).where(OutboxEvent.org_id == org.org_id,
                                                        OutboxEvent.topic == "ticket.created"))
    assert list(events) == ["ticket.created"]


def test_round_robin_takes_turns_and_skips_inactive(client, org, survey, db, db_factory,
                                                     agents):
    from npsloop.accounts.models import User

    team = make_team(client, org, "cs", agents)
    make_rule(client, org, DETRACTOR, {"ticket": {
        "routing": {"mode": "round_robin", "team_id": team["id"]}}})
    db.get(User, agents[1]).is_active = False
    db.commit()
    for score in (1, 2, 3, 4):
        post_response(client, org, survey["id"], score, "bad")
    drain(db_factory)
    owners = [t.owner_id for t in tickets_of(db, org.org_id)]
    assert owners == [agents[0], agents[2], agents[0], agents[2]]


def test_attribute_routing_city_to_team(client, org, survey, db, db_factory, agents):
    shanghai = make_team(client, org, "shanghai", [agents[0]])
    beijing = make_team(client, org, "beijing", [agents[1]])
    other = make_team(client, org, "national", [agents[2]])
    make_rule(client, org, DETRACTOR, {"ticket": {"routing": {
        "mode": "attribute", "attribute": "city",
        "map": {"上海": shanghai["id"], "Beijing": beijing["id"]},
        "default_team_id": other["id"]}}})
    for index, city in enumerate(["上海", "beijing", "深圳", None]):
        attributes = {"city": city} if city else {}
        post_response(client, org, survey["id"], 2, "差",
                      contact={"external_id": f"c{index}", "attributes": attributes})
    drain(db_factory)
    routed = [(t.team_id, t.owner_id) for t in tickets_of(db, org.org_id)]
    assert routed == [(shanghai["id"], agents[0]), (beijing["id"], agents[1]),
                      (other["id"], agents[2]), (other["id"], agents[2])]


def test_ordering_stop_processing_and_enabled_flag(client, org, survey, db, db_factory):
    first = make_rule(client, org, [{"field": "score", "min": 0, "max": 2}],
                      {"ticket": {"priority": "P0"}}, name="severe", stop_processing=True)
    second = make_rule(client, org, DETRACTOR, {"ticket": {"priority": "P2"}}, name="all")
    post_response(client, org, survey["id"], 1, "terrible")  # severe only (stops)
    post_response(client, org, survey["id"], 5, "meh")  # second only
    drain(db_factory)
    assert [(t.priority, t.rule_id) for t in tickets_of(db, org.org_id)] == [
        ("P0", first["id"]), ("P2", second["id"])]
    # Reorder: the general rule first; it does not stop, so both fire.
    r = client.post("/api/v1/rules/order", json={"rule_ids": [second["id"], first["id"]]},
                    headers=org.headers)
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [second["id"], first["id"]]
    post_response(client, org, survey["id"], 0, "worst")
    drain(db_factory)
    assert [t.priority for t in tickets_of(db, org.org_id)][2:] == ["P2", "P0"]
    # Disabled rules do nothing.
    for rule in (first, second):
        r = client.patch(f"/api/v1/rules/{rule['id']}", json={"enabled": False},
                         headers=org.headers)
        assert r.status_code == 200 and r.json()["enabled"] is False
    post_response(client, org, survey["id"], 0, "still bad")
    drain(db_factory)
    assert len(tickets_of(db, org.org_id)) == 4


def test_text_conditions_use_the_analysis(client, org, survey, db, db_factory):
    make_rule(client, org, [
        {"field": "topic", "values": ["delivery"]},
        {"field": "sentiment", "labels": ["negative"]},
    ], {"ticket": {"priority": "P1"}, "tags": ["delivery-complaint"],
        "contact_tags": ["at-risk"]})
    hit = post_response(client, org, survey["id"], 4, "快递太慢了，物流三天都没到，很失望",
                        contact={"external_id": "u1"})
    post_response(client, org, survey["id"], 4, "价格太贵了")
    post_response(client, org, survey["id"], 10, "配送很快，非常满意")
    drain(db_factory)
    tickets = tickets_of(db, org.org_id)
    assert [t.response_id for t in tickets] == [hit["id"]]
    assert db.get(ResponseTag, (hit["id"], "delivery-complaint")) is not None
    contact = db.scalar(select(Contact).where(Contact.org_id == org.org_id,
                                              Contact.external_id == "u1"))
    assert contact.tags == ["at-risk"]


def test_ticket_and_its_notification_share_one_transaction(client, org, survey, db,
                                                           db_factory):
    channel_id = dingtalk_channel(db, org.org_id)
    make_rule(client, org, DETRACTOR, {"ticket": {"priority": "P1"},
                                       "notify_channel_ids": [channel_id]})
    created = post_response(client, org, survey["id"], 2, "坏了")
    response = db.get(Response, created["id"])
    with db_factory() as session:
        outcome = evaluate.evaluate_response(session, session.get(Response, response.id))
        assert outcome[0].ticket_id and outcome[0].messages == 1
        assert session.scalar(select(func.count()).select_from(NotifyMessage)
                              .where(NotifyMessage.org_id == org.org_id)) == 1
        session.rollback()  # e.g. a later handler failed: the event will be retried
    assert tickets_of(db, org.org_id) == []
    assert db.scalar(select(func.count()).select_from(NotifyMessage)
                     .where(NotifyMessage.org_id == org.org_id)) == 0
    drain(db_factory)
    ticket = tickets_of(db, org.org_id)[0]
    message = db.scalar(select(NotifyMessage).where(NotifyMessage.org_id == org.org_id))
    assert message.ordering_key == f"ticket:{ticket.id}"
    assert message.body["title"].startswith("[P1]") and f"#{ticket.number}" in message.body[
        "title"]
    assert message.body["link_url"].endswith(f"/tickets/{ticket.id}")


def test_alert_only_rule_and_webhook_action(client, org, survey, db, db_factory):
    channel_id = dingtalk_channel(db, org.org_id)
    r = client.post("/api/v1/webhooks", headers=org.headers, json={
        "url": "http://127.0.0.1:9/hook", "event_types": ["ticket.created"]})
    assert r.status_code == 201, r.text
    endpoint_id = r.json()["id"]
    make_rule(client, org, [{"field": "score", "max": 3}], {
        "notify_channel_ids": [channel_id], "webhook_endpoint_ids": [endpoint_id]})
    post_response(client, org, survey["id"], 1, "bad")
    drain(db_factory)
    assert tickets_of(db, org.org_id) == []
    messages = db.scalars(select(NotifyMessage).where(NotifyMessage.org_id == org.org_id)
                          .order_by(NotifyMessage.created_at)).all()
    kinds = sorted((m.target.split(":")[0], m.event_type) for m in messages)
    assert kinds == [("channel", None), ("endpoint", "rule.matched")]
