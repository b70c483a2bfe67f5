"""Benchmark: how long the widget's trigger decision takes for one contact.

Builds a throw-away database like bench_segments (N contacts, default 100,000; M behaviour
events, default 1,000,000; plus an old invitation for every other contact so the fatigue
queries have history to skip), a live survey and a widget trigger on `order_paid` limited to
the "buyers" segment (attributes and "2+ paid orders in 30 days"). Then, for contacts in
that segment, in the same run, it times:
  - baseline: one indexed primary-key SELECT of the contact (the cheapest read there is);
  - eligible: `targeting.decide.decide(..., channel="widget")` when the contact may be asked
    (trigger lookup, segment check, every fatigue rule, invitation and decision-log
    inserts), each call rolled back so every call takes the full path;
  - refused: the same call for a second contact in the segment who was invited and saw it
    (stops at the recontact window);
  - widget track: `widget.flow.track`, what POST /widget/v1/{key}/track does besides HTTP
    (store the event, find no pending invitation, decide), rolled back like "eligible".
The four are timed call by call in turn (so a busy machine slows them alike); it prints the
median and p99 wall time of each, each median's ratio to the baseline's, and the median CPU
time of this process's thread (all of the work on SQLite; the client side on PostgreSQL),
which a machine shared with other jobs inflates much less than wall time.
SQLite always; PostgreSQL too when a server answers (its database is dropped afterwards).

    .venv/bin/python -m bench.bench_trigger_decision
    .venv/bin/python -m bench.bench_trigger_decision --contacts 20000 --events 200000 --calls 300
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from bench.bench_segments import BUYERS, build, on_each_backend
from npsloop.contacts import segments
from npsloop.contacts.models import Contact, Segment
from npsloop.core.db import new_id
from npsloop.distribution import service as distribution
from npsloop.distribution.models import Invitation
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from npsloop.targeting.decide import decide
from npsloop.targeting.models import Trigger
from npsloop.widget import flow

HISTORY_EVERY = 2  # every other contact has an old (outside the window) invitation


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


Timing = tuple[float, float]  # (wall ms, this thread's CPU ms) of one call


def sample(func: Callable[[], Timing], calls: int) -> list[Timing]:
    """`calls` timings (each run returns its own), after three warm-up runs."""
    for _ in range(3):
        func()
    return [func() for _ in range(calls)]


def sample_alternately(runs: dict[str, Callable[[], Timing]], calls: int
                       ) -> dict[str, list[Timing]]:
    for func in runs.values():
        sample(func, 0)
    times: dict[str, list[Timing]] = {label: [] for label in runs}
    for _ in range(calls):
        for label, func in runs.items():
            times[label].append(func())
    return times


def clock() -> Timing:
    return time.perf_counter() * 1000, time.thread_time() * 1000


def since(start: Timing) -> Timing:
    now = clock()
    return now[0] - start[0], now[1] - start[1]


def timed(func: Callable[[], Any]) -> Callable[[], Timing]:
    def run() -> Timing:
        start = clock()
        func()
        return since(start)

    return run


def prepare(engine: Engine, org_id: str, contacts: int) -> list[tuple[str, str]]:
    """The survey, segment and trigger, old invitations; returns (contact id, external id)
    of two contacts in the segment."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        survey = create_survey(session, org_id=org_id, data=SurveyCreate.model_validate(
            {"name": "Checkout", "status": "live", "drivers": ["delivery"]}))
        segment = Segment(org_id=org_id, name="Buyers", rules=BUYERS, description="")
        session.add(segment)
        session.flush()
        session.add(Trigger(org_id=org_id, name="After payment", event_name="order_paid",
                            segment_id=segment.id, survey_id=survey.id, channel="widget",
                            delay_seconds=0, conditions=[], active=True))
        old = now - timedelta(days=75)
        rows = [{"id": new_id(), "org_id": org_id, "survey_id": survey.id,
                 "contact_id": f"{i:032d}", "channel": "email", "source": "campaign",
                 "status": "completed", "error": "", "send_at": old, "sent_at": old,
                 "completed_at": old, "created_at": old}
                for i in range(0, contacts, HISTORY_EVERY)]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Invitation), rows[start:start + 5000])
        session.commit()
    # Statistics that know about those invitations, as autovacuum (PostgreSQL) would gather
    # soon after such a load: planning on an "empty" invitations table is not what a live
    # server does, and PostgreSQL then walked the organisation's invitations on every call.
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    with Session(engine) as session:
        found: list[str] = []
        for i in range(1, contacts, 2):  # odd ids: no invitation history at all
            if segments.contact_matches(session, org_id, BUYERS, f"{i:032d}", now=now):
                found.append(f"{i:032d}")
                if len(found) == 2:
                    break
        else:
            raise SystemExit("fewer than two contacts match the buyers segment; use more events")
        external = dict(session.execute(select(Contact.id, Contact.external_id).where(
            Contact.id.in_(found))).all())
        print(f"  {len(rows):,} old invitations; deciding for contacts "
              f"{external[found[0]]} (may be asked) and {external[found[1]]} (asked already)")
        return [(cid, str(external[cid])) for cid in found]


def rolled_back(engine: Engine, work: Callable[[Session], Any]) -> Callable[[], Timing]:
    """Times `work` in a transaction that is rolled back afterwards (outside the timing), so
    nothing it writes stays and every call takes the same path."""

    def run() -> Timing:
        with engine.connect() as conn:
            outer = conn.begin()
            # expire_on_commit=False as the application's sessions (make_session_factory):
            # an invitation read after the commit is not fetched again.
            with Session(bind=conn, join_transaction_mode="create_savepoint",
                         expire_on_commit=False) as session:
                start = clock()
                work(session)
                elapsed = since(start)
            outer.rollback()
        return elapsed

    return run


def report(label: str, times: list[Timing], baseline: Timing) -> None:
    wall = [t[0] for t in times]
    median = statistics.median(wall)
    cpu = statistics.median(t[1] for t in times)
    print(f"  {label:32s} median {median:7.2f} ms  p99 {percentile(wall, 0.99):7.2f} ms  "
          f"ratio {median / baseline[0]:6.1f}x  | CPU here {cpu:6.2f} ms, "
          f"ratio {cpu / max(baseline[1], 0.001):6.1f}x")


def run(engine: Engine, dialect: str, contacts: int, events: int, calls: int) -> None:
    print(f"{dialect}:")
    org_id = build(engine, dialect, contacts, events)
    (fresh_id, fresh), (_, asked) = prepare(engine, org_id, contacts)

    def decide_for(external_id: str, session: Session) -> Any:
        return decide(session, org_id=org_id, contact_external_id=external_id,
                      event="order_paid", properties={"amount": 120}, channel="widget")

    def eligible(session: Session) -> None:
        decision = decide_for(fresh, session)
        assert decision.eligible, [r.rule for r in decision.refusals]

    def refused(session: Session) -> None:
        decision = decide_for(asked, session)
        assert [r.rule for r in decision.refusals] == ["recontact_window"], decision

    def tracked(session: Session) -> None:
        offer = flow.track(session, org_id=org_id, user_id=fresh, event="order_paid",
                           properties={"amount": 120}, event_id=None, language="en")
        assert offer.invitation is not None, offer.refusals

    with Session(engine) as session:  # the second contact was invited and saw it
        invitation = decide_for(asked, session).invitation
        distribution.mark_invitation(session, org_id=org_id, invitation_id=invitation.id,
                                     event="opened")
        session.commit()
    with engine.connect() as conn, Session(bind=conn) as session:
        query = select(Contact).where(Contact.id == fresh_id)
        # A fresh SELECT by primary key every time (no identity-map shortcut).
        baseline_run = timed(lambda: session.execute(query).scalar_one())
        runs = {"baseline: contact by primary key": baseline_run,
                "decide, eligible (full path)": rolled_back(engine, eligible),
                "decide, refused (recontact)": rolled_back(engine, refused),
                "widget track (event + decide)": rolled_back(engine, tracked)}
        # Alternated call by call, so a busy machine slows every measurement alike.
        times = sample_alternately(runs, calls)
        session.rollback()
    base = times["baseline: contact by primary key"]
    baseline = (statistics.median(t[0] for t in base), statistics.median(t[1] for t in base))
    for label, samples in times.items():
        report(label, samples, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    on_each_backend(args, lambda engine, backend: run(
        engine, backend, args.contacts, args.events, args.calls))


if __name__ == "__main__":
    main()
