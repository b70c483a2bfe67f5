"""Benchmark: the dashboard's four queries (overview NPS, weekly trend, channel x month
cross-tab, key drivers) through the analytics service, each against one hand-written SQL
query over the raw responses answering the same question on the same connection in the
same run, at 1,000,000 and 10,000,000 responses on PostgreSQL and 1,000,000 on SQLite
(100,000 / -- / 100,000 by default). Targets (PostgreSQL): under 300 ms at 1M and under
1 s at 10M.

The service reads whole days from the daily rollup (analytics.rollup); so each of the
first three is also timed against a hand-written query over `response_daily` (the least
that reading the rollup can cost), and the service with the rollup switched off
(`raw path`) is printed for reference. Key drivers is timed uncached (first request) and
cached (a repeated request: one data-version read). The rollup is built after the bulk
load (which bypasses triggers on PostgreSQL) and the build is timed against the raw
overview query (both read every response once).

Data: PostgreSQL rows are generated in SQL (bench_analytics.generate: INSERT ... SELECT FROM
generate_series); SQLite rows in SQL too (a recursive CTE), with the same distributions.
Each database is dropped (or its file deleted) afterwards.

    .venv/bin/python -m bench.bench_dashboard             # 100k on PostgreSQL and SQLite
    .venv/bin/python -m bench.bench_dashboard --full      # 1M + 10M PostgreSQL, 1M SQLite
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.bench_analytics import COUNTS, DRIVERS, TZ, generate, timed_pair
from bench.common import Result, create_database, drop_database
from npsloop.accounts.service import create_organization
from npsloop.analytics import crosstab, drivers, rollup, service, trends
from npsloop.analytics.drivers_cache import AnalysisCache
from npsloop.analytics.filters import Filters
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

PIVOT = """SELECT r.id, r.score, {columns} FROM responses r
    JOIN response_answers a ON a.response_id = r.id
    WHERE a.org_id = :org AND r.org_id = :org AND a.number_value IS NOT NULL
      AND r.id < :bound GROUP BY r.id, r.score ORDER BY r.id LIMIT 20000"""
PIVOT_COLUMNS = ", ".join(
    f"max(CASE WHEN a.question_key = '{key}' THEN a.number_value END)" for key in DRIVERS)
PG_SQL = {
    "overview": f"SELECT {COUNTS} FROM responses WHERE org_id = :org",
    "weekly trend": f"""SELECT date_trunc('week', timezone(:tz, submitted_at)) AS k, {COUNTS}
        FROM responses WHERE org_id = :org GROUP BY 1""",
    "cross-tab channel x month": f"""SELECT channel,
        date_trunc('month', timezone(:tz, submitted_at)) AS k, {COUNTS}
        FROM responses WHERE org_id = :org GROUP BY 1, 2""",
}
PG_ROLLUP_SQL = {
    "overview": "SELECT sum(n), sum(promoters), sum(passives), sum(detractors) "
                "FROM response_daily WHERE org_id = :org",
    "weekly trend": """SELECT date_trunc('week', day::timestamp) AS k, sum(n), sum(promoters),
        sum(passives), sum(detractors) FROM response_daily WHERE org_id = :org GROUP BY 1""",
    "cross-tab channel x month": """SELECT channel, date_trunc('month', day::timestamp) AS k,
        sum(n), sum(promoters), sum(passives), sum(detractors) FROM response_daily
        WHERE org_id = :org GROUP BY 1, 2""",
}
SQLITE_ROLLUP_SQL = {
    "overview": PG_ROLLUP_SQL["overview"],
    "weekly trend": """SELECT date(day, 'weekday 0', '-6 days') AS k, sum(n), sum(promoters),
        sum(passives), sum(detractors) FROM response_daily WHERE org_id = :org GROUP BY 1""",
    "cross-tab channel x month": """SELECT channel, strftime('%Y-%m-01', day) AS k, sum(n),
        sum(promoters), sum(passives), sum(detractors) FROM response_daily
        WHERE org_id = :org GROUP BY 1, 2""",
}
SQLITE_SQL = {
    "overview": PG_SQL["overview"],
    "weekly trend": f"""SELECT date(submitted_at, '+480 minutes', 'weekday 0', '-6 days') AS k,
        {COUNTS} FROM responses WHERE org_id = :org GROUP BY 1""",
    "cross-tab channel x month": f"""SELECT channel,
        strftime('%Y-%m-01', submitted_at, '+480 minutes') AS k, {COUNTS}
        FROM responses WHERE org_id = :org GROUP BY 1, 2""",
}


def generate_sqlite(session: Session, rows: int) -> str:
    """The PostgreSQL generator's rows, written by one recursive CTE per table."""
    org, _, _ = create_organization(session, name="Bench", admin_email="bench@example.test",
                                    admin_password="password-123")
    session.commit()
    surveys = [uuid.uuid4().hex for _ in range(4)]
    for index, sid in enumerate(surveys):
        session.execute(text(
            """INSERT INTO surveys (id, org_id, name, nps_type, journey_stage, touchpoint,
               status, languages, default_language, public_token, description, created_at,
               updated_at) VALUES (:id, :org, :name, 'relationship', '', '', 'live',
               '["zh-CN", "en"]', 'zh-CN', :token, '', datetime('now'), datetime('now'))"""),
            {"id": sid, "org": org.id, "name": f"S{index}", "token": uuid.uuid4().hex})
        for position, key in enumerate(DRIVERS):
            session.execute(text(
                """INSERT INTO questions (id, survey_id, position, kind, key, required, texts,
                   options) VALUES (:id, :sid, :pos, 'driver_rating', :key, 0, '{}', '[]')"""),
                {"id": uuid.uuid4().hex, "sid": sid, "pos": position + 1, "key": key})
    session.execute(text(
        f"""WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :rows),
        s AS (SELECT n, max(0, min(10, CAST(round(1.2 * ((n * 7) % 5 + 1) + 0.5 * ((n * 13) % 5
              + 1) + 0.2 * ((n * 3) % 5 + 1) - 1.5 + 2 * (abs(random() % 1000) / 1000.0
              - 0.5)) AS INTEGER))) AS score FROM g)
        INSERT INTO responses (id, org_id, survey_id, score, category, comment, language,
           channel, status, contact_attributes, submitted_at, created_at)
        SELECT lower(hex(randomblob(16))) || '', :org,
          CASE n % 4 WHEN 0 THEN '{surveys[0]}' WHEN 1 THEN '{surveys[1]}'
                     WHEN 2 THEN '{surveys[2]}' ELSE '{surveys[3]}' END, score,
          CASE WHEN score >= 9 THEN 'promoter' WHEN score >= 7 THEN 'passive'
               ELSE 'detractor' END, '', CASE WHEN n % 5 = 0 THEN 'en' ELSE 'zh-CN' END,
          CASE (n / 7) % 5 WHEN 0 THEN 'email' WHEN 1 THEN 'sms' WHEN 2 THEN 'wechat'
               WHEN 3 THEN 'web' ELSE 'api' END, 'complete',
          json_object('plan', CASE WHEN n % 3 = 0 THEN 'pro' ELSE 'basic' END),
          strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (n % 730) || ' days',
                   '-' || (n % 1440) || ' minutes'), datetime('now')
        FROM s"""), {"org": org.id, "rows": rows})
    for index, key in enumerate(DRIVERS):
        multiplier = (7, 13, 3)[index]
        session.execute(text(
            f"""INSERT INTO response_answers (id, response_id, org_id, question_key, kind,
               number_value)
            SELECT lower(hex(randomblob(16))), id, :org, :key, 'driver_rating',
                   ((rowid * {multiplier}) % 5 + 1)
            FROM responses WHERE rowid % 10 <> {index}"""), {"org": org.id, "key": key})
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    return org.id


def _size(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def build_rollup(session: Session, org_id: str, rows: int, backend: str) -> Result:
    """Builds the organisation's rollup (the bulk load bypassed the triggers on
    PostgreSQL), timed against one raw aggregate over the same responses."""
    start = time.perf_counter()
    rollup.rebuild(session, org_id=org_id, tz=TZ)
    session.commit()
    build_ms = (time.perf_counter() - start) * 1000
    if backend == "postgresql":
        session.execute(text("ANALYZE response_daily"))
        session.commit()
    start = time.perf_counter()
    session.execute(text(PG_SQL["overview"]), {"org": org_id}).all()
    scan_ms = (time.perf_counter() - start) * 1000
    days = session.scalar(text("SELECT count(*) FROM response_daily WHERE org_id = :org"),
                          {"org": org_id})
    result = Result("dashboard", f"rollup rebuild, {_size(rows)} responses, {backend}",
                    build_ms, "ms", scan_ms, "raw overview query", "", None,
                    f"{days:,} rollup rows for {rows:,} responses")
    print(result.line())
    return result


def measure(session: Session, org_id: str, rows: int, backend: str, repeat: int,
            target_ms: float | None, drivers_note: str = "") -> list[Result]:
    filters = Filters()
    service_calls: dict[str, Callable[[], Any]] = {
        "overview": lambda: service.nps(session, org_id=org_id, filters=filters),
        "weekly trend": lambda: trends.trend(session, org_id=org_id, filters=filters,
                                             bucket="week", tz=TZ),
        "cross-tab channel x month": lambda: crosstab.crosstab(
            session, org_id=org_id, filters=filters, rows="channel", cols="month", tz=TZ),
        # Uncached: the first request for a filter (the cache is measured below).
        "key drivers": lambda: drivers.key_drivers(session, org_id=org_id, filters=filters,
                                                   cache=None),
    }
    cache = AnalysisCache()
    service_calls["key drivers, cached repeat"] = lambda: drivers.key_drivers(
        session, org_id=org_id, filters=filters, cache=cache)
    fraction = min(1.0, 1.25 * 20_000 / rows)
    hand_sql = {**(PG_SQL if backend == "postgresql" else SQLITE_SQL),
                "key drivers": f"SELECT count(*) FROM responses WHERE org_id = :org; "
                               f"{PIVOT.format(columns=PIVOT_COLUMNS)}"}
    hand_sql["key drivers, cached repeat"] = hand_sql["key drivers"]
    rollup_sql = PG_ROLLUP_SQL if backend == "postgresql" else SQLITE_ROLLUP_SQL
    params = {"org": org_id, "tz": TZ, "bound": format(int(fraction * 16**8), "08x")}
    results = []
    size = _size(rows)

    def runner(sql: str) -> Callable[[], None]:
        statements = [text(s) for s in sql.split("; ")]

        def hand() -> None:
            for statement in statements:
                session.execute(statement, params).all()
        return hand

    for label, call in service_calls.items():
        service_ms, hand_ms = timed_pair(call, runner(hand_sql[label]), repeat)
        met = None if target_ms is None else service_ms < target_ms
        results.append(Result(
            "dashboard", f"{label}, {size} responses, {backend}", service_ms, "ms", hand_ms,
            "hand-written SQL", f"< {target_ms:g} ms" if target_ms else "", met,
            drivers_note if label.startswith("key drivers") else ""))
        print(results[-1].line())
        if label not in rollup_sql:
            continue
        service_ms, rollup_ms = timed_pair(call, runner(rollup_sql[label]), repeat)
        results.append(Result(
            "dashboard", f"{label} against the rollup query, {size} responses, {backend}",
            service_ms, "ms", rollup_ms, "hand-written SQL over response_daily"))
        print(results[-1].line())

        def raw_path(call: Callable[[], Any] = call) -> Any:
            with rollup.raw_rows_only():
                return call()

        raw_ms, hand_ms = timed_pair(raw_path, runner(hand_sql[label]), max(1, repeat - 1))
        results.append(Result(
            "dashboard", f"{label}, raw path (rollup off), {size} responses, {backend}",
            raw_ms, "ms", hand_ms, "hand-written SQL", "", None,
            "for reference: what the service costs without the rollup"))
        print(results[-1].line())
    return results


BULK_TABLES = ("responses", "response_answers")


def generate_bulk(session: Session, rows: int, answers_below: str | None = None) -> str:
    """bench_analytics.generate with the two big tables' secondary indexes and unique
    constraints dropped during the load and rebuilt after it (sorting once is many times
    faster than maintaining them row by row); the primary key of `responses` stays, other
    tables' foreign keys point at it."""
    constraints = session.execute(text(
        """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
           FROM pg_constraint WHERE conrelid::regclass::text = ANY(:tables)
             AND (contype = 'u' OR (contype = 'p' AND conrelid::regclass::text <> 'responses'))"""),
        {"tables": list(BULK_TABLES)}).all()
    indexes = session.execute(text(
        """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:tables)
             AND indexname NOT IN (SELECT conname FROM pg_constraint)"""),
        {"tables": list(BULK_TABLES)}).all()
    for table, name, _ in constraints:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    session.commit()
    org_id = generate(session, rows, answers_below)
    session.execute(text("SET maintenance_work_mem = '1GB'"))
    for table, name, definition in constraints:
        session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    for _, definition in indexes:
        session.execute(text(definition))
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()
    return org_id


def run_postgresql(rows: int, repeat: int, target_ms: float | None) -> list[Result]:
    name, url = create_database()
    engine = make_engine(url)
    try:
        upgrade(url, engine)
        with Session(engine) as session:
            start = time.perf_counter()
            # At 10M, driver answers only where the key-driver sample reads (twice its range).
            below = format(int(2.5 * 20_000 / rows * 16**8), "08x") if rows > 2_000_000 \
                else None
            org_id = generate_bulk(session, rows, below) if rows > 100_000 \
                else generate(session, rows)
            print(f"generated {rows:,} responses on PostgreSQL in "
                  f"{time.perf_counter() - start:.0f} s")
        # What autovacuum does after a bulk insert: the visibility map that lets the key
        # drivers sample read only its covering indexes (the same for the baseline query).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE responses"))
            conn.execute(text("VACUUM ANALYZE response_answers"))
        with Session(engine) as session:
            note = (f"driver answers generated only for responses with id < '{below}' (the "
                    "range the 20,000-response sample reads)") if below else ""
            built = build_rollup(session, org_id, rows, "postgresql")
            return [built, *measure(session, org_id, rows, "postgresql", repeat, target_ms,
                                    note)]
    finally:
        engine.dispose()
        drop_database(name)


def run_sqlite(rows: int, repeat: int) -> list[Result]:
    folder = Path(tempfile.mkdtemp(prefix="npsloop-bench-sqlite-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    try:
        upgrade(url, engine)
        with Session(engine) as session:
            start = time.perf_counter()
            org_id = generate_sqlite(session, rows)
            print(f"generated {rows:,} responses on SQLite in "
                  f"{time.perf_counter() - start:.0f} s")
            built = build_rollup(session, org_id, rows, "sqlite")
            return [built, *measure(session, org_id, rows, "sqlite", repeat, None)]
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def run(full: bool, repeat: int = 3, only: str | None = None) -> list[Result]:
    if only == "pg1m":
        return run_postgresql(1_000_000, repeat, 300)
    if only == "sqlite1m":
        return run_sqlite(1_000_000, repeat)
    if only == "pg10m":
        return run_postgresql(10_000_000, max(1, repeat - 1), 1000)
    if not full:
        return [*run_postgresql(100_000, repeat, 300), *run_sqlite(100_000, repeat)]
    return [*run_postgresql(1_000_000, repeat, 300), *run_sqlite(1_000_000, repeat),
            *run_postgresql(10_000_000, max(1, repeat - 1), 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="1M and 10M responses")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("pg1m", "sqlite1m", "pg10m"),
                        help="one of the full run's three parts")
    args = parser.parse_args()
    run(args.full, args.repeat, args.only)


if __name__ == "__main__":
    main()
