"""Demo outcomes for the FreshGo workspace: the outcome settings, a past win-back e-mail
campaign with its randomised holdout, and the fitted propensity models.

The campaign went out 50 days ago to the contacts (with an e-mail address) whose latest
answer in the 60 days before was a detractor's; a random 20% were kept back. Some of the
contacted used the coupon: extra `order_placed` events with `coupon: WINBACK20` in the 21
days after the send, which is what the campaign's measured effect picks up. No message is
queued: the send is history. Randomness is seeded, so the same demo gives the same rows.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from npsloop.contacts.models import Contact, Event
from npsloop.core.db import new_id, utcnow
from npsloop.outcomes import model, service, winback
from npsloop.outcomes.models import (
    ContactScore,
    Group,
    Outcome,
    WinbackCampaign,
    WinbackRecipient,
)
from npsloop.responses.models import Response

SEED = "npsloop-demo-winback-v1"
SENT_DAYS_AGO = 50
LOOKBACK_DAYS = 60
HOLDOUT_SHARE = 0.2
REDEEM_CHANCE = 0.25  # contacted detractors who came back for the coupon
OFFER_ZH = "我们很抱歉上次没能让您满意。7 天内下单立减 20 元,优惠码 WINBACK20。"
OFFER_EN = "We're sorry we let you down last time. Take ¥20 off an order in the next 7 days " \
           "with code WINBACK20."


def seed_demo_outcomes(factory: sessionmaker[Session], org_id: str) -> dict[str, Any]:
    """Idempotent: the campaign is created once; the models are fitted when none exists."""
    out: dict[str, Any] = {}
    with factory() as session:
        service.save_settings(session, org_id, {})
        if session.scalar(select(WinbackCampaign.id).where(WinbackCampaign.org_id == org_id)):
            out["winback_contacted"] = 0
        else:
            out.update(_campaign(session, org_id))
        if model.latest_model(session, org_id, Outcome.churn) is None:
            try:
                fitted = model.fit_org(session, org_id, actor="npsloop demo")
                out["holdout_auc"] = {k: round(v["holdout_auc"], 3)
                                      for k, v in fitted["models"].items()}
            except service.OutcomeError as exc:  # a tiny demo has too little history
                out["model"] = exc.message
        session.commit()
    return out


def _campaign(session: Session, org_id: str) -> dict[str, Any]:
    sent_at = (utcnow() - timedelta(days=SENT_DAYS_AGO)).replace(microsecond=0)
    since = sent_at - timedelta(days=LOOKBACK_DAYS)
    latest = (select(Response.contact_id, func.max(Response.submitted_at).label("at"))
              .where(Response.org_id == org_id, Response.contact_id.is_not(None),
                     Response.submitted_at < sent_at, Response.submitted_at >= since)
              .group_by(Response.contact_id).subquery())
    contact_ids = sorted(set(session.scalars(
        select(Contact.id).join(latest, latest.c.contact_id == Contact.id)
        .join(Response, (Response.contact_id == Contact.id)
              & (Response.submitted_at == latest.c.at))
        .where(Contact.org_id == org_id, Response.org_id == org_id,
               Response.category == "detractor", Contact.email.is_not(None)))))
    if not contact_ids:
        return {"winback_contacted": 0}
    holdout = winback.assign_holdout(contact_ids, HOLDOUT_SHARE, SEED)
    risks = dict(session.execute(select(ContactScore.contact_id, ContactScore.churn_risk).where(
        ContactScore.org_id == org_id, ContactScore.contact_id.in_(contact_ids))).all())
    campaign = WinbackCampaign(
        org_id=org_id, name="近期贬损者挽回 · Win back recent detractors", min_risk=None,
        segment_id=None, holdout_share=HOLDOUT_SHARE, window_days=30, offer_zh=OFFER_ZH,
        offer_en=OFFER_EN, channel_ids=[], contacted_count=len(contact_ids) - len(holdout),
        holdout_count=len(holdout), skipped={}, assignment_seed=SEED,
        created_by="analyst@npsloop.local", created_at=sent_at)
    session.add(campaign)
    session.flush()
    rng = random.Random(SEED)
    recipients, orders = [], []
    for contact_id in contact_ids:
        group = Group.holdout if contact_id in holdout else Group.contacted
        recipients.append({"campaign_id": campaign.id, "contact_id": contact_id,
                           "org_id": org_id, "group": group.value,
                           "churn_risk": risks.get(contact_id), "message_id": None})
        if group == Group.contacted and rng.random() < REDEEM_CHANCE:
            at = sent_at + timedelta(days=rng.uniform(0.2, 21))
            orders.append({"id": new_id(), "org_id": org_id, "contact_id": contact_id,
                           "name": "order_placed", "source": "demo", "event_key": None,
                           "properties": {"amount": round(rng.uniform(60, 220), 2),
                                          "coupon": "WINBACK20"},
                           "occurred_at": at.replace(microsecond=0), "created_at": at})
    session.execute(insert(WinbackRecipient.__table__), recipients)
    if orders:
        session.execute(insert(Event.__table__), orders)
    session.flush()
    return {"winback_contacted": campaign.contacted_count,
            "winback_holdout": campaign.holdout_count, "winback_coupon_orders": len(orders)}
