"""Benchmark: segment counts through the segment engine against hand-written SQL.

Builds a throw-away database with N contacts (default 100,000) and M behaviour events
(default 1,000,000) using one INSERT ... SELECT per table over a generated series (no Python
loop over rows), then, on the same connection in the same run, times:
  - two segment counts through `segments.count` (the compiled rule) and the same questions
    written by hand in the database's own SQL, and prints the ratio;
  - the one-contact check `segments.contact_matches` (what the widget's eligibility needs).
SQLite always; PostgreSQL too when a server answers (its database is dropped afterwards).

    .venv/bin/python -m bench.bench_segments
    .venv/bin/python -m bench.bench_segments --contacts 20000 --events 200000 --no-postgres
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from npsloop.accounts.service import create_organization
from npsloop.contacts import attributes, segments
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

PG_ADMIN_URL = os.environ.get("NPSLOOP_BENCH_ADMIN_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")

# 2+ paid orders in 30 days, on a paid plan, and either VIP or a big spender.
BUYERS = {"match": "all", "conditions": [
    {"field": "attribute", "key": "plan", "operator": "in", "value": ["pro", "team"]},
    {"match": "any", "conditions": [
        {"field": "attribute", "key": "vip", "operator": "is_true"},
        {"field": "attribute", "key": "spend", "operator": ">=", "value": 200}]},
    {"field": "event", "name": "order_paid", "operator": "at_least", "count": 2, "days": 30},
]}
# Tagged "beta" and no login in the last 7 days.
DORMANT_BETA = {"match": "all", "conditions": [
    {"field": "tags", "operator": "has_any", "value": ["beta"]},
    {"field": "event", "name": "login", "operator": "fewer_than", "count": 1, "days": 7},
]}

HAND_SQL = {
    ("sqlite", "buyers"): """
        SELECT count(*) FROM contacts c
        WHERE c.org_id = :org
          AND json_extract(c.attributes, '$.plan') IN ('pro', 'team')
          AND (json_extract(c.attributes, '$.vip') = 1
               OR json_extract(c.attributes, '$.spend') >= 200)
          AND c.id IN (SELECT contact_id FROM contact_events
                       WHERE org_id = :org AND name = 'order_paid' AND occurred_at >= :since30
                       GROUP BY contact_id HAVING count(*) >= 2)""",
    ("postgresql", "buyers"): """
        SELECT count(*) FROM contacts c
        WHERE c.org_id = :org
          AND c.attributes ->> 'plan' IN ('pro', 'team')
          AND ((c.attributes ->> 'vip') = 'true'
               OR (c.attributes ->> 'spend')::float >= 200)
          AND c.id IN (SELECT contact_id FROM contact_events
                       WHERE org_id = :org AND name = 'order_paid' AND occurred_at >= :since30
                       GROUP BY contact_id HAVING count(*) >= 2)""",
    ("sqlite", "dormant_beta"): """
        SELECT count(*) FROM contacts c
        WHERE c.org_id = :org
          AND EXISTS (SELECT 1 FROM json_each(c.tags) t WHERE t.value = 'beta')
          AND NOT EXISTS (SELECT 1 FROM contact_events e WHERE e.contact_id = c.id
                          AND e.org_id = :org AND e.name = 'login' AND e.occurred_at >= :since7)""",
    ("postgresql", "dormant_beta"): """
        SELECT count(*) FROM contacts c
        WHERE c.org_id = :org
          AND c.tags::jsonb ? 'beta'
          AND NOT EXISTS (SELECT 1 FROM contact_events e WHERE e.contact_id = c.id
                          AND e.org_id = :org AND e.name = 'login' AND e.occurred_at >= :since7)""",
}

SERIES = {
    "sqlite": "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :n - 1)",
    "postgresql": "WITH s(i) AS (SELECT generate_series(0, :n - 1))",
}
FILL_CONTACTS = {
    "sqlite": """
        INSERT INTO contacts (id, org_id, external_id, attributes, tags, lifecycle_stage,
                              created_at, updated_at)
        {series}
        SELECT printf('%032d', i), :org, 'C' || i,
               json_object('plan', CASE i % 4 WHEN 0 THEN 'free' WHEN 1 THEN 'pro'
                                   WHEN 2 THEN 'team' ELSE 'basic' END,
                           'spend', (i * 37) % 500,
                           'vip', json(CASE WHEN i % 10 = 0 THEN 'true' ELSE 'false' END),
                           'signup', date('2026-01-01', '-' || (i % 700) || ' days')),
               CASE i % 3 WHEN 0 THEN json_array('beta', 'north') WHEN 1 THEN json_array('vip')
                          ELSE json_array() END,
               'retention', :now, :now
        FROM s""",
    "postgresql": """
        INSERT INTO contacts (id, org_id, external_id, attributes, tags, lifecycle_stage,
                              created_at, updated_at)
        {series}
        SELECT lpad(i::text, 32, '0'), :org, 'C' || i,
               json_build_object('plan', CASE i % 4 WHEN 0 THEN 'free' WHEN 1 THEN 'pro'
                                 WHEN 2 THEN 'team' ELSE 'basic' END,
                                 'spend', (i * 37) % 500, 'vip', i % 10 = 0,
                                 'signup', to_char(date '2026-01-01' - (i % 700), 'YYYY-MM-DD')),
               CASE i % 3 WHEN 0 THEN '["beta", "north"]'::json WHEN 1 THEN '["vip"]'::json
                          ELSE '[]'::json END,
               'retention', :now, :now
        FROM s""",
}
FILL_EVENTS = {
    "sqlite": """
        INSERT INTO contact_events (id, org_id, contact_id, name, properties, occurred_at,
                                    source, created_at)
        {series}
        SELECT printf('e%031d', i), :org, printf('%032d', (i * 7919) % :contacts),
               CASE i % 5 WHEN 0 THEN 'order_paid' WHEN 1 THEN 'login' WHEN 2 THEN 'view'
                          WHEN 3 THEN 'ticket' ELSE 'refund' END,
               '{{}}',
               strftime('%Y-%m-%d %H:%M:%f000', :now, '-' || (i % 180) || ' days',
                        '-' || (i % 86400) || ' seconds'),
               'api', :now
        FROM s""",
    "postgresql": """
        INSERT INTO contact_events (id, org_id, contact_id, name, properties, occurred_at,
                                    source, created_at)
        {series}
        SELECT 'e' || lpad(i::text, 31, '0'), :org,
               lpad(((i::bigint * 7919) % :contacts)::text, 32, '0'),
               CASE i % 5 WHEN 0 THEN 'order_paid' WHEN 1 THEN 'login' WHEN 2 THEN 'view'
                          WHEN 3 THEN 'ticket' ELSE 'refund' END,
               '{{}}'::json,
               CAST(:now AS timestamptz) - (i % 180) * interval '1 day'
                   - (i % 86400) * interval '1 second',
               'api', :now
        FROM s""",
}


def timed(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in ms over `repeat` runs (after one warm-up) and the last result."""
    result = func()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def build(engine: Engine, dialect: str, contacts: int, events: int) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    now_param: Any = now.strftime("%Y-%m-%d %H:%M:%S.000000") if dialect == "sqlite" else now
    with Session(engine) as session:
        org, _, _ = create_organization(session, name="Bench", admin_email=(
            f"bench-{uuid.uuid4().hex[:8]}@example.test"), admin_password="password-123")
        for key, kind in (("plan", "string"), ("spend", "number"), ("vip", "boolean"),
                          ("signup", "date")):
            attributes.define(session, org_id=org.id, key=key, kind=kind)
        session.commit()
        org_id = org.id
    start = time.perf_counter()
    with engine.begin() as conn:
        series = SERIES[dialect]
        conn.execute(text(FILL_CONTACTS[dialect].format(series=series)),
                     {"n": contacts, "org": org_id, "now": now_param})
        conn.execute(text(FILL_EVENTS[dialect].format(series=series)),
                     {"n": events, "org": org_id, "now": now_param, "contacts": contacts})
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"  built {contacts:,} contacts and {events:,} events in "
          f"{time.perf_counter() - start:.1f} s")
    return org_id


def run(engine: Engine, dialect: str, contacts: int, events: int, repeat: int) -> None:
    print(f"{dialect}:")
    org_id = build(engine, dialect, contacts, events)
    now = datetime.now(UTC)
    params = {"org": org_id, "since30": now - timedelta(days=30),
              "since7": now - timedelta(days=7)}
    if dialect == "sqlite":  # compare with the text form the UTCDateTime column stores
        params = {k: (v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v)
                  for k, v in params.items()}
    with Session(engine) as session:
        for name, rules in (("buyers", BUYERS), ("dormant_beta", DORMANT_BETA)):
            engine_ms, engine_count = timed(
                lambda r=rules: segments.count(session, org_id, r), repeat)
            sql = text(HAND_SQL[(dialect, name)])
            hand_ms, hand_count = timed(
                lambda q=sql: session.execute(q, params).scalar(), repeat)
            same = "same count" if engine_count == hand_count else "COUNTS DIFFER"
            print(f"  {name:13s} segment engine {engine_ms:8.1f} ms  hand SQL {hand_ms:8.1f} ms"
                  f"  ratio {engine_ms / hand_ms:5.2f}  ({engine_count:,} contacts, {same})")
        ids = [f"{i:032d}" for i in range(0, contacts, max(1, contacts // 200))]
        single = []
        for contact_id in ids:
            start = time.perf_counter()
            segments.contact_matches(session, org_id, BUYERS, contact_id)
            single.append((time.perf_counter() - start) * 1000)
        print(f"  one-contact check (buyers), median of {len(ids)}: "
              f"{statistics.median(single):.2f} ms, p95 "
              f"{sorted(single)[int(len(single) * 0.95)]:.2f} ms")


def postgres_url() -> tuple[str, str] | None:
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                            connect_args={"connect_timeout": 3})
        name = f"npsloop_bench_segments_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    except Exception as exc:  # noqa: BLE001 - no server: SQLite only
        print(f"postgresql: skipped ({type(exc).__name__})")
        return None


def drop_postgres(name: str) -> None:
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def on_each_backend(args: argparse.Namespace, bench: Callable[[Engine, str], None]) -> None:
    """Runs `bench(engine, backend)` on a fresh migrated SQLite file and, unless --no-postgres
    or no server answers, on a fresh PostgreSQL database that is dropped afterwards."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            upgrade(url)
            engine = make_engine(url)
            bench(engine, "sqlite")
            engine.dispose()
    if args.no_postgres:
        return
    found = postgres_url()
    if found is None:
        return
    url, name = found
    try:
        upgrade(url)
        engine = make_engine(url)
        bench(engine, "postgresql")
        engine.dispose()
    finally:
        drop_postgres(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    on_each_backend(args, lambda engine, backend: run(
        engine, backend, args.contacts, args.events, args.repeat))


if __name__ == "__main__":
    main()
