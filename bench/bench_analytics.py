"""Benchmark: the analytics service against hand-written GROUP BY queries on PostgreSQL.

Generates N responses (default 100,000; --full for 1,000,000) in a throw-away database with
one INSERT ... SELECT FROM generate_series per table (no Python loop over rows), then times
the overview NPS, a weekly trend and a channel x month cross-tab through the service
functions, each against a single hand-written GROUP BY answering the same question, run in
the same process on the same connection. The 12-month trend through the service also
compares with the 12 months before (one more aggregate the hand-written query does not
do), as the trend API answers it. Also times the key-driver analysis and a CSV
export (with how much its resident memory grows) for scale. Prints the figures and the ratios.

    .venv/bin/python -m bench.bench_analytics            # 100k responses
    .venv/bin/python -m bench.bench_analytics --full     # 1M responses
    .venv/bin/python -m bench.bench_analytics --full --keep       # prints the database name
    .venv/bin/python -m bench.bench_analytics --reuse npsloop_bench_1a2b3c4d
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from npsloop.accounts.service import create_organization
from npsloop.analytics import crosstab, drivers, exports, rollup, service, trends
from npsloop.analytics.filters import Filters
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

ADMIN_URL = os.environ.get("NPSLOOP_BENCH_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
TZ = "Asia/Shanghai"
SURVEYS = [  # name, nps_type, journey_stage, touchpoint
    ("Relationship", "relationship", "", ""),
    ("Purchase", "touchpoint", "purchase", "checkout"),
    ("Delivery", "touchpoint", "delivery", "courier"),
    ("Support", "touchpoint", "service", "hotline"),
]
DRIVERS = ("price", "delivery", "service")

COUNTS = """count(*) AS n,
  sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END) AS promoters,
  sum(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
  sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END) AS detractors"""
HAND_WRITTEN = {
    "overview": f"SELECT {COUNTS} FROM responses WHERE org_id = :org",
    "weekly trend": f"""SELECT date_trunc('week', timezone(:tz, submitted_at)) AS k, {COUNTS}
        FROM responses WHERE org_id = :org GROUP BY 1""",
    "12-month trend + prior period": f"""SELECT date_trunc('week', timezone(:tz, submitted_at))
        AS k, {COUNTS} FROM responses WHERE org_id = :org AND submitted_at >= :start
        AND submitted_at < :end GROUP BY 1""",
    "crosstab channel x month": f"""SELECT channel,
        date_trunc('month', timezone(:tz, submitted_at)) AS k, {COUNTS}
        FROM responses WHERE org_id = :org GROUP BY 1, 2""",
}


def create_database(name: str) -> str:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def generate(session: Session, rows: int, answers_below: str | None = None) -> str:
    """An organisation with four surveys and `rows` responses over two years, each with
    driver ratings that drive its score; returns the organisation id. With `answers_below`,
    only responses whose id sorts below it get driver answers (the range the key-driver
    sample reads at 10M, to keep generation within minutes)."""
    org, _, _ = create_organization(session, name="Bench", admin_email="bench@example.test",
                                    admin_password="password-123")
    session.commit()
    # Bulk load of generated, consistent rows: skip the per-row foreign-key triggers
    # (superuser only, this transaction only); the indexes are still maintained.
    session.execute(text("SET LOCAL session_replication_role = replica"))
    survey_ids = []
    for name, nps_type, stage, touchpoint in SURVEYS:
        sid = uuid.uuid4().hex
        survey_ids.append(sid)
        session.execute(text(
            """INSERT INTO surveys (id, org_id, name, nps_type, journey_stage, touchpoint,
               status, languages, default_language, public_token, description, created_at,
               updated_at) VALUES (:id, :org, :name, :type, :stage, :tp, 'live',
               '["zh-CN", "en"]', 'zh-CN', :token, '', now(), now())"""),
            {"id": sid, "org": org.id, "name": name, "type": nps_type, "stage": stage,
             "tp": touchpoint, "token": uuid.uuid4().hex})
        for position, key in enumerate(DRIVERS):
            session.execute(text(
                """INSERT INTO questions (id, survey_id, position, kind, key, required, texts,
                   options) VALUES (:id, :sid, :pos, 'driver_rating', :key, false, '{}',
                   '[]')"""), {"id": uuid.uuid4().hex, "sid": sid, "pos": position + 1,
                               "key": key})
    # Ratings first (1-5, correlated through a shared mood), the score from them plus noise.
    session.execute(text(
        """INSERT INTO responses (id, org_id, survey_id, score, category, comment, language,
           channel, status, contact_attributes, submitted_at, created_at)
        SELECT md5(g::text || 'r'), :org, (CAST(:surveys AS text[]))[1 + g % 4], s.score,
          CASE WHEN s.score >= 9 THEN 'promoter' WHEN s.score >= 7 THEN 'passive'
               ELSE 'detractor' END,
          '', CASE WHEN g % 5 = 0 THEN 'en' ELSE 'zh-CN' END,
          (ARRAY['email', 'sms', 'wechat', 'web', 'api'])[1 + (g / 7) % 5], 'complete',
          json_build_object('city', (ARRAY['上海', '北京', '广州', '深圳', '成都'])[1 + g % 5],
                            'plan', CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'basic' END),
          now() - (g % 730) * interval '1 day' - (g % 1440) * interval '1 minute',
          now()
        FROM generate_series(1, :rows) AS g,
        LATERAL (SELECT greatest(0, least(10, round(
            1.2 * ((g * 7) % 5 + 1) + 0.5 * ((g * 13) % 5 + 1) + 0.2 * ((g * 3) % 5 + 1)
            - 1.5 + 2 * (random() - 0.5))))::int AS score) AS s"""),
        {"org": org.id, "surveys": survey_ids, "rows": rows})
    for index, key in enumerate(DRIVERS):
        multiplier = (7, 13, 3)[index]
        session.execute(text(
            f"""INSERT INTO response_answers (id, response_id, org_id, question_key, kind,
               number_value)
            SELECT md5(g::text || :key), md5(g::text || 'r'), :org, :key, 'driver_rating',
                   ((g * {multiplier}) % 5 + 1)
            FROM generate_series(1, :rows) AS g WHERE g % 10 <> {index}
              AND (CAST(:below AS text) IS NULL OR md5(g::text || 'r') < :below)"""),
            {"org": org.id, "key": key, "rows": rows, "below": answers_below})
    session.commit()
    # session_replication_role = replica skipped the daily rollup's triggers as well.
    rollup.rebuild(session, org_id=org.id, tz=TZ)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()  # statistics are transactional: without this the planner never sees them
    return org.id


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def timed_pair(first: Callable[[], Any], second: Callable[[], Any], repeat: int
               ) -> tuple[float, float]:
    """Median milliseconds of each, run alternately after a warm-up of both, so a busy
    machine or a cold cache does not favour whichever runs second."""
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for index, function in enumerate((first, second)):
            start = time.perf_counter()
            function()
            times[index].append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in milliseconds over `repeat` runs (after one warm-up)."""
    result = function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def run(rows: int, repeat: int, keep: bool, reuse: str | None = None,
        export: bool = True) -> None:
    name = reuse or f"npsloop_bench_{uuid.uuid4().hex[:8]}"
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" if reuse else create_database(name)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            if reuse:
                upgrade(url, engine)  # adds indexes from migrations newer than the data
                org_id = session.execute(text("SELECT id FROM organizations")).scalar_one()
                rows = session.execute(text("SELECT count(*) FROM responses")).scalar_one()
                print(f"reusing {name} with {rows:,} responses")
            else:
                upgrade(url, engine)
                start = time.perf_counter()
                org_id = generate(session, rows)
                print(f"generated {rows:,} responses + answers in "
                      f"{time.perf_counter() - start:.1f} s ({name})")
            filters = Filters()
            end = datetime.now(UTC)
            year = Filters(date_from=end - timedelta(days=365), date_to=end)
            service_calls: dict[str, Callable[[], Any]] = {
                "overview": lambda: service.nps(session, org_id=org_id, filters=filters),
                "weekly trend": lambda: trends.trend(session, org_id=org_id, filters=filters,
                                                     bucket="week", tz=TZ),
                "12-month trend + prior period": lambda: trends.trend(
                    session, org_id=org_id, filters=year, bucket="week", tz=TZ),
                "crosstab channel x month": lambda: crosstab.crosstab(
                    session, org_id=org_id, filters=filters, rows="channel", cols="month",
                    tz=TZ),
            }
            print(f"\n{'query':30} {'service ms':>11} {'GROUP BY ms':>12} {'ratio':>7}")
            for label, call in service_calls.items():
                sql = text(HAND_WRITTEN[label])
                params = {"org": org_id, "tz": TZ, "start": year.date_from, "end": end}
                service_ms, hand_ms = timed_pair(
                    call, lambda sql=sql, params=params: session.execute(sql, params).all(),
                    repeat)
                print(f"{label:30} {service_ms:11.1f} {hand_ms:12.1f} "
                      f"{service_ms / hand_ms:7.2f}")
            check = service.nps(session, org_id=org_id, filters=filters)
            hand = session.execute(text(HAND_WRITTEN["overview"]), {"org": org_id}).one()
            assert (check.n, check.promoters, check.detractors) == (
                hand.n, hand.promoters, hand.detractors), "service and hand-written differ"
            print()
            driver_ms, result = timed(lambda: drivers.key_drivers(
                session, org_id=org_id, filters=filters), 1)
            print(f"key drivers (sample {result.sample_size:,} of {result.n_responses:,}, "
                  f"{result.resamples} resamples): {driver_ms:.0f} ms, R2={result.r2}")
            if not export:
                return
            plan = exports.layout(session, org_id=org_id, filters=filters)
            start, size, base, peak = time.perf_counter(), 0, rss_mb(), 0.0
            for index, chunk in enumerate(exports.csv_chunks(exports.iter_rows(
                    session, org_id=org_id, filters=filters, tz=TZ, plan=plan))):
                size += len(chunk)
                if index % 10 == 0:
                    peak = max(peak, rss_mb() - base)
            elapsed = time.perf_counter() - start
            print(f"CSV export of {rows:,} responses: {elapsed:.1f} s, {size / 1e6:.0f} MB "
                  f"written, resident memory grew by at most {peak:.1f} MB")
    finally:
        engine.dispose()
        if not keep and not reuse:
            drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 responses")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="time against a database kept by an earlier --keep run")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    args = parser.parse_args()
    run(1_000_000 if args.full else args.rows, args.repeat, args.keep, args.reuse,
        export=not args.no_export)


if __name__ == "__main__":
    main()
