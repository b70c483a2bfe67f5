"""On a real engine with real commits: round-robin under two concurrent evaluations, and the
demo loop end to end (a detractor's delivery complaint -> P1 ticket for logistics -> DingTalk,
Feishu and WeCom messages at local vendor servers that check signatures -> worked to
"recovered")."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from npsloop.accounts.service import create_user
from npsloop.core import outbox
from npsloop.core.db import utcnow
from npsloop.responses.models import Response
from npsloop.responses.schemas import ResponseCreate
from npsloop.responses.service import ingest
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from npsloop.tickets import evaluate, rulebook, service
from npsloop.tickets.demo import P1_RULE, seed_demo_rules
from npsloop.tickets.history import Actor
from npsloop.tickets.models import Rule, Team, Ticket
from npsloop.tickets.rules import RuleBody
from tests.notify.conftest import Live
from tests.notify.servers import DingTalkServer, FeishuServer, WeComServer


def _setup(live: Live, agents: int = 2) -> tuple[str, list[str]]:
    with live.factory() as session:
        users = [create_user(session, org_id=live.org_id, email=f"a{i}-{live.org_id}@x.test",
                             password="password-123", role="agent").id for i in range(agents)]
        survey = create_survey(session, org_id=live.org_id, data=SurveyCreate(
            name="Delivery", status="live", drivers=["delivery"]))
        session.commit()
        return survey.id, users


def _respond(live: Live, survey_id: str, score: int, comment: str,
             contact: dict | None = None) -> str:
    from npsloop.surveys.models import Survey

    with live.factory() as session:
        survey = session.get(Survey, survey_id)
        data = ResponseCreate(score=score, comment=comment, contact=contact)
        return ingest(session, survey=survey, data=data).response.id


def test_round_robin_under_two_concurrent_evaluations(live: Live) -> None:
    survey_id, agents = _setup(live)
    with live.factory() as session:
        team = rulebook.save_team(session, live.org_id, {"key": "cs", "name": "CS",
                                                         "member_ids": agents})
        rulebook.create_rule(session, live.org_id, RuleBody.model_validate({
            "name": "rr", "conditions": [{"field": "score", "max": 6}],
            "actions": {"ticket": {"routing": {"mode": "round_robin", "team_id": team.id}}}}),
            actor="test")
        session.commit()
        team_id = team.id
    responses = [_respond(live, survey_id, 2, ""), _respond(live, survey_id, 3, "")]
    barrier = threading.Barrier(2)
    retries: list[int] = []

    def evaluate_one(response_id: str) -> None:
        barrier.wait()
        for attempt in range(20):
            try:
                with live.factory() as session:
                    evaluate.evaluate_response(session, session.get(Response, response_id))
                    time.sleep(0.05)  # hold the transaction open so the two overlap
                    session.commit()
                return
            except OperationalError:  # SQLite: the write race's loser; the outbox retries
                retries.append(attempt)
                time.sleep(0.05)
        raise AssertionError("evaluation never succeeded")

    threads = [threading.Thread(target=evaluate_one, args=(r,)) for r in responses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with live.factory() as session:
        tickets = session.scalars(select(Ticket).where(Ticket.org_id == live.org_id)).all()
        assert len(tickets) == 2
        assert sorted(t.owner_id for t in tickets) == sorted(agents)  # one each, no repeat
        assert sorted(t.number for t in tickets) == [1, 2]
        assert session.get(Team, team_id).rr_counter == 2


def test_demo_loop_delivery_complaint_to_recovered(live: Live) -> None:
    survey_id, agents = _setup(live)
    servers = [DingTalkServer(), FeishuServer(), WeComServer()]
    try:
        channel_ids = [
            live.channel("dingtalk", {"webhook_url": servers[0].url, "secret": servers[0].secret,
                                      "msg_type": "actionCard"}),
            live.channel("feishu", {"webhook_url": servers[1].url, "secret": servers[1].secret,
                                    "msg_type": "interactive"}),
            live.channel("wecom", {"webhook_url": servers[2].url,
                                   "msg_type": "template_card"}),
        ]
        with live.factory() as session:
            first = seed_demo_rules(session, live.org_id, channel_ids)
            session.commit()
            again = seed_demo_rules(session, live.org_id, channel_ids)  # idempotent
            session.commit()
            assert len(first["rules_created"]) == 2 and again["rules_created"] == []
            assert len(session.scalars(select(Rule).where(Rule.org_id == live.org_id)).all()) == 2
        contact = {"external_id": "freshgo-42", "email": "c42@example.test"}
        _respond(live, survey_id, 3, "快递太慢了，等了三天才送到，很失望", contact)
        while outbox.run_once(live.factory):
            pass
        with live.factory() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.org_id == live.org_id))
            rule = session.get(Rule, ticket.rule_id)
            assert (ticket.priority, rule.name) == ("P1", P1_RULE)
            assert session.get(Team, ticket.team_id).key == "logistics"
            assert ticket.owner_id == agents[0]  # agents take turns first
        live.run_workers(1, until=lambda: live.pending() == 0, timeout=20)
        for server in servers:
            assert len(server.accepted) == 1, type(server).__name__
        dingtalk = servers[0].accepted[0].json()["actionCard"]
        assert "[P1]" in dingtalk["title"] and dingtalk["singleURL"].endswith(
            f"/tickets/{ticket.id}")
        assert "[P1]" in str(servers[1].accepted[0].json()["card"])
        assert "[P1]" in str(servers[2].accepted[0].json()["template_card"])
        # Work it: in progress, resolved with a root cause, then the follow-up answer.
        agent = Actor("agent@example.test", ticket.owner_id)
        with live.factory() as session:
            ticket = session.get(Ticket, ticket.id)
            service.change_status(session, ticket, "in_progress", agent)
            service.change_status(session, ticket, "resolved", agent,
                                  resolution_category="delivery", now=utcnow())
            session.commit()
        _respond(live, survey_id, 9, "补发很快，谢谢", contact)
        while outbox.run_once(live.factory):
            pass
        with live.factory() as session:
            ticket = session.get(Ticket, ticket.id)
            assert (ticket.recovered, ticket.followup_score, ticket.status) == (True, 9, "closed")
    finally:
        for server in servers:
            server.stop()
