"""The demo's targeting: a fatigue policy (30-day window, quiet hours 22:00-08:00, at most
4 invitations a year), a 7-day window for the delivery survey, three triggers, and a week of
decision-log history computed by the real fatigue rules for a sample of demo contacts (so
the log page has rules and counts to show). Flushes; the caller commits."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.contacts.models import Contact, Segment
from npsloop.core.db import utcnow
from npsloop.surveys.models import Survey
from npsloop.targeting import conditions, fatigue, policy, triggers
from npsloop.targeting.models import Trigger

DEMO_ACTOR = "npsloop demo"
SAMPLE = 240  # decisions of history
MIN_ORDER = 100


def _survey(session: Session, org_id: str, touchpoint: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.org_id == org_id,
                                               Survey.touchpoint == touchpoint))


def _triggers(session: Session, org_id: str, delivery: Survey, checkout: Survey | None,
              service: Survey | None) -> list[Trigger]:
    vip = session.scalar(select(Segment.id).where(Segment.org_id == org_id,
                                                  Segment.name.contains("VIP")))
    wanted = [triggers.TriggerData(
        name="配送后满意度 · After delivery", event_name="order_delivered",
        survey_id=delivery.id, channel="email", delay_seconds=2 * 3600,
        conditions=[{"property": "order_amount", "op": "gt", "value": MIN_ORDER}])]
    if checkout is not None:
        wanted.append(triggers.TriggerData(
            name="VIP 下单页弹窗 · VIP checkout widget", event_name="checkout_completed",
            survey_id=checkout.id, channel="widget", delay_seconds=0, segment_id=vip))
    if service is not None:
        wanted.append(triggers.TriggerData(
            name="工单关闭短信 · SMS after a closed ticket", event_name="ticket_closed",
            survey_id=service.id, channel="sms", delay_seconds=86400, active=False))
    return [triggers.create_trigger(session, org_id=org_id, data=d, actor=DEMO_ACTOR)
            for d in wanted]


def seed_demo_targeting(session: Session, org_id: str, seed: int = 7) -> dict[str, Any]:
    delivery = _survey(session, org_id, "delivery")
    if delivery is None:
        return {"triggers": 0, "decisions": 0}
    policy.save_policy(session, org_id=org_id, recontact_days=30, sampling_percent=100,
                       quiet_start="22:00", quiet_end="08:00", cap_count=4, cap_days=365,
                       actor=DEMO_ACTOR)
    policy.save_override(session, org_id=org_id, survey_id=delivery.id, recontact_days=7,
                         sampling_percent=None)
    created = _triggers(session, org_id, delivery, _survey(session, org_id, "checkout"),
                        _survey(session, org_id, "customer_service"))
    rng = random.Random(seed)
    contacts = list(session.scalars(select(Contact).where(Contact.org_id == org_id)
                                    .order_by(Contact.id).limit(SAMPLE * 4)))
    rule = created[0]
    now = utcnow()
    decisions = 0
    for contact in rng.sample(contacts, min(SAMPLE, len(contacts))):
        at = now - timedelta(minutes=rng.randint(5, 7 * 24 * 60))
        amount = rng.choice((49, 88, 129, 168, 256, 399, 520))
        failed = conditions.failing(rule.conditions, {"order_amount": amount})
        if failed:
            found = [fatigue.refusal("conditions_not_met", "en", trigger=rule.name,
                                     conditions=conditions.describe(failed[0]))]
        else:
            found = fatigue.check(session, org_id=org_id, contact_id=contact.id,
                                  survey_id=delivery.id, channel="email", now=at,
                                  include_quiet_hours=False)
        fatigue.log_decision(session, org_id=org_id, contact_id=contact.id,
                             survey_id=delivery.id, channel="email", source="trigger",
                             eligible=not found, refusals=found, trigger_id=rule.id, at=at)
        decisions += 1
    session.flush()
    return {"triggers": len(created), "decisions": decisions}
