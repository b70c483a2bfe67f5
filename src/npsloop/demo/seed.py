"""Seeds the demo workspace: 鲜达优选 FreshGo and a year of its customers' NPS responses.

`npsloop serve` calls `seed_demo` on every start, so an existing demo organisation (found by
its owner's email) returns at once. `npsloop demo --reset` deletes it and seeds again.

Accounts (all with the password DEMO_PASSWORD, see company.py): demo@npsloop.local (owner),
analyst@npsloop.local, agent@npsloop.local, viewer@npsloop.local; plus an admin API key
returned once in the result.

Rows are written with bulk inserts (executemany), not ORM objects, which keeps 24,000
responses with ~80,000 answers at a few seconds on SQLite. No outbox events are written for
this history: the events mean "a customer just answered", and handlers that react to them
(alerts, close-the-loop tickets, notifications) would otherwise fire a year of stale work on
first start. Dashboards and analytics read the response tables directly, so nothing is lost.
"""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import Organization, User
from npsloop.accounts.service import audit, create_organization, create_user
from npsloop.contacts.models import Contact
from npsloop.core.db import Base
from npsloop.demo.company import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ORG_NAME,
    OWNER_NAME,
    SURVEYS,
    TEAM,
    TIMEZONE,
    survey_create,
)
from npsloop.demo.generate import DemoRows, build
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.surveys.service import create_survey

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "seed_demo", "demo_org_id"]
BATCH = 5000


def demo_org_id(session: Session) -> str | None:
    return session.scalar(select(User.org_id).where(User.email == DEMO_EMAIL))


def local_today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


def seed_demo(
    factory: sessionmaker[Session], responses: int = 24000, reset: bool = False,
    *, today: date | None = None, analyse_text: bool = True,
) -> dict[str, Any]:
    """Creates the demo organisation unless it exists; with `reset`, re-creates it.

    `today` (default: the local date in Asia/Shanghai) anchors the year of data; the same
    `today` and `responses` always give the same rows. Returns {"created": bool, ...}.
    With `analyse_text=False` the comments are left for `analyse_demo_text` (the server
    runs it in the background so that it starts serving at once).
    """
    if responses < 0:
        raise ValueError("responses: must not be negative")
    with factory() as session:
        existing = demo_org_id(session)
        if existing is not None and not reset:
            return {"created": False, "org_id": existing, "email": DEMO_EMAIL,
                    "password": DEMO_PASSWORD}
        started = clock.monotonic()
        if existing is not None:
            delete_org(session, existing)
        try:
            info = _create(session, responses, today or local_today())
            session.commit()
        except IntegrityError:
            # Another process seeded at the same moment: theirs stands.
            session.rollback()
            return {"created": False, "org_id": demo_org_id(session), "email": DEMO_EMAIL,
                    "password": DEMO_PASSWORD}
    info.update(_seed_domains(factory, info["org_id"]))
    if analyse_text:
        info["comments_analysed"] = analyse_demo_text(factory, info["org_id"])
    info["seconds"] = round(clock.monotonic() - started, 2)
    return info


def _seed_domains(factory: sessionmaker[Session], org_id: str) -> dict[str, Any]:
    """What the other domains derive from a year of history: ticket rules and teams, action
    plans, referrals, and the text analysis of every comment (run here in batches because
    the historical rows were bulk-inserted without outbox events)."""
    from npsloop.contacts.attributes import discover
    from npsloop.plans.demo import seed_demo_plans_and_referrals
    from npsloop.reports.demo import seed_demo_reports
    from npsloop.tickets.demo import seed_demo_rules

    with factory() as session:
        # Typed attribute definitions for the bulk-loaded contacts (segments, imports, UI).
        discover(session, org_id=org_id)
        rules = seed_demo_rules(session, org_id)
        extras = seed_demo_plans_and_referrals(session, org_id)
        reports = seed_demo_reports(session, org_id)
        session.commit()
    with factory() as session:
        from npsloop.distribution.demo import seed_demo_distribution

        distribution = seed_demo_distribution(session, org_id)
        session.commit()
    with factory() as session:
        from npsloop.targeting.demo import seed_demo_targeting

        targeting = seed_demo_targeting(session, org_id)
        session.commit()
    return {"rules": rules, "plans_and_referrals": extras, "reports": reports,
            "distribution": distribution, "targeting": targeting}


def analyse_demo_text(factory: sessionmaker[Session], org_id: str) -> int:
    """Sentiment, keywords and topics of every demo comment, in committed batches; then the
    demo's outcome models and win-back campaign (the models read the topics). Sentiment is
    the n-gram model alone (e5 margin 0): routing a share of 24,000 comments to e5
    embeddings at ~12 per second would add minutes to every demo start; `npsloop text
    reprocess` re-scores them at the configured margin."""
    from npsloop.outcomes.demo import seed_demo_outcomes
    from npsloop.textmining.service import reprocess

    analysed = reprocess(factory, org_id=org_id, margin=0.0).analysed
    seed_demo_outcomes(factory, org_id)
    return analysed


def delete_org(session: Session, org_id: str) -> None:
    """Deletes an organisation and every row that belongs to it, children first.

    Any table with an org_id column is cleared explicitly (so this also works where a
    foreign key lacks ON DELETE CASCADE); rows keyed only by a parent (questions, web
    sessions) go with their parent's cascade.
    """
    import npsloop.models  # noqa: F401 - every domain's tables, so none is missed

    for table in reversed(Base.metadata.sorted_tables):
        if "org_id" in table.c and table.name != Organization.__tablename__:
            session.execute(delete(table).where(table.c.org_id == org_id))
    session.execute(delete(Organization).where(Organization.id == org_id))
    session.flush()


def _create(session: Session, responses: int, today: date) -> dict[str, Any]:
    tz = ZoneInfo(TIMEZONE)
    org, owner, api_key = create_organization(
        session, name=ORG_NAME, admin_email=DEMO_EMAIL, admin_password=DEMO_PASSWORD,
        timezone=TIMEZONE, default_language="zh-CN",
    )
    owner.name = OWNER_NAME
    users = [{"email": DEMO_EMAIL, "role": "owner"}]
    for email, role, name in TEAM:
        create_user(session, org_id=org.id, email=email, password=DEMO_PASSWORD, role=role,
                    name=name)
        users.append({"email": email, "role": role})
    # The company "started using npsloop" a little before its first response.
    founded = datetime.combine(today - timedelta(days=400), datetime.min.time(), tzinfo=tz)
    org.created_at = org.updated_at = founded.astimezone(UTC)
    survey_ids = {}
    for offset, spec in enumerate(SURVEYS):
        survey = create_survey(session, org_id=org.id, data=survey_create(spec))
        survey.created_at = survey.updated_at = (founded + timedelta(days=5 + offset)).astimezone(
            UTC)
        survey_ids[spec.code] = survey.id
    session.flush()
    rows = build(org_id=org.id, survey_ids=survey_ids, responses=responses, anchor=today, tz=tz)
    _bulk_insert(session, rows)
    behaviour = _insert_behaviour(session, rows, org.id, survey_ids, tz)
    audit(session, org_id=org.id, actor="npsloop demo", action="demo.seed",
          detail={"responses": len(rows.responses)})
    return {
        "created": True,
        "org_id": org.id,
        "organization": ORG_NAME,
        "email": DEMO_EMAIL,
        "password": DEMO_PASSWORD,
        "api_key": api_key,
        "users": users,
        "surveys": survey_ids,
        "contacts": len(rows.contacts),
        "responses": len(rows.responses),
        "answers": len(rows.answers),
        "behaviour_events": behaviour,
        "comments": sum(1 for r in rows.responses if r["comment"]),
        "from": rows.first_day.isoformat() if rows.first_day else None,
        "to": rows.last_day.isoformat() if rows.last_day else None,
    }


def _bulk_insert(session: Session, rows: DemoRows) -> None:
    """Core executemany in batches: parents before children."""
    for table, data in ((Contact.__table__, rows.contacts),
                        (Response.__table__, rows.responses),
                        (ResponseAnswer.__table__, rows.answers)):
        for start in range(0, len(data), BATCH):
            session.execute(insert(table), data[start:start + BATCH])


def _insert_behaviour(session: Session, rows: DemoRows, org_id: str,
                      survey_ids: dict[str, str], tz: ZoneInfo) -> int:
    """Orders and cancellations that follow what each customer said (demo/behaviour.py)."""
    from npsloop.contacts.models import Event
    from npsloop.demo.behaviour import build_events

    events = build_events(rows, org_id, {v: k for k, v in survey_ids.items()}, tz)
    for start in range(0, len(events), BATCH):
        session.execute(insert(Event.__table__), events[start:start + BATCH])
    return len(events)
