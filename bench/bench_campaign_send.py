"""Benchmark: a campaign to a 10,000-contact segment, on SQLite and (when it answers)
PostgreSQL: creating the invitations (a fatigue check per contact, batched inserts, one
transaction) and handing them to notify (one queued email per invitation). The baseline is
a bare bulk INSERT of the same 10,000 invitation rows in the same process: the ratio says
what the per-contact checks and the notify queue cost on top of writing the rows.

    .venv/bin/python -m bench.bench_campaign_send
    .venv/bin/python -m bench.bench_campaign_send --contacts 2000 --backend sqlite
"""

from __future__ import annotations

import argparse
import time
import uuid

from sqlalchemy import Engine, delete, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bench.bench_segments import on_each_backend
from npsloop.accounts.service import create_organization
from npsloop.contacts.models import Contact, Segment
from npsloop.core.db import new_id, utcnow
from npsloop.distribution import campaigns, dispatch
from npsloop.distribution.models import Invitation
from npsloop.notify import service as notify
from npsloop.notify.crypto import SecretBox
from npsloop.surveys.models import Survey


def setup(factory: sessionmaker[Session], contacts: int) -> dict[str, str]:
    with factory() as session:
        org, _, _ = create_organization(session, name=f"Bench {uuid.uuid4().hex[:6]}",
                                        admin_email=f"b-{uuid.uuid4().hex[:6]}@example.test",
                                        admin_password="password-123")
        survey = Survey(org_id=org.id, name="Relationship", status="live")
        segment = Segment(org_id=org.id, name="Everyone with email",
                          rules={"match": "all", "conditions": [
                              {"field": "email", "operator": "is_set"}]})
        session.add_all([survey, segment])
        now = utcnow()
        rows = [{"id": new_id(), "org_id": org.id, "external_id": f"B-{i:06d}",
                 "email": f"b{i}@example.com", "language": "zh-CN" if i % 5 else "en",
                 "attributes": {"tier": "gold"}, "tags": [], "created_at": now,
                 "updated_at": now} for i in range(contacts)]
        for start in range(0, contacts, 2000):
            session.execute(insert(Contact), rows[start:start + 2000])
        channel = notify.create_channel(
            session, org_id=org.id, kind="email", name="mail", box=SecretBox("b" * 32),
            config={"host": "127.0.0.1", "port": 1025, "security": "none",
                    "from_address": "a@example.test"})
        session.commit()
        return {"org_id": org.id, "survey_id": survey.id, "segment_id": segment.id,
                "notify_channel_id": channel.id}


def baseline(factory: sessionmaker[Session], ids: dict[str, str], contacts: int) -> float:
    """The floor: the same number of invitation rows, one bulk insert, no checks."""
    with factory() as session:
        contact_ids = [c for (c,) in session.execute(
            text("select id from contacts where org_id = :o"), {"o": ids["org_id"]})]
        started = time.perf_counter()
        now = utcnow()
        session.execute(insert(Invitation), [
            {"id": new_id(), "org_id": ids["org_id"], "survey_id": ids["survey_id"],
             "contact_id": c, "channel": "email", "source": "api", "status": "scheduled",
             "error": "", "send_at": now, "created_at": now} for c in contact_ids])
        session.commit()
        took = time.perf_counter() - started
        session.execute(delete(Invitation).where(Invitation.org_id == ids["org_id"]))
        session.commit()
    return took


def run(engine: Engine, name: str, contacts: int) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    ids = setup(factory, contacts)
    floor = baseline(factory, ids, contacts)
    with factory() as session:
        campaign = campaigns.create_campaign(
            session, org_id=ids["org_id"], name="Bench", survey_id=ids["survey_id"],
            segment_id=ids["segment_id"], channel="email",
            notify_channel_id=ids["notify_channel_id"])
        started = time.perf_counter()
        result = campaigns.send_campaign(session, campaign)
        session.commit()
        create_s = time.perf_counter() - started
    started = time.perf_counter()
    totals = dispatch.tick(factory, max_batches=10_000)
    enqueue_s = time.perf_counter() - started
    print(f"{name:10s} {result['invited']:>6,} invitations created in {create_s:5.1f} s "
          f"({result['invited'] / create_s:,.0f}/s; bare insert {floor:.2f} s, ratio "
          f"{create_s / floor:.0f}x), {totals['sent']:,} emails queued in {enqueue_s:5.1f} s "
          f"({totals['sent'] / enqueue_s:,.0f}/s); total {create_s + enqueue_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args()
    backends = argparse.Namespace(no_sqlite=args.backend == "postgresql",
                                  no_postgres=args.backend == "sqlite")
    on_each_backend(backends, lambda engine, name: run(engine, name, args.contacts))


if __name__ == "__main__":
    main()
