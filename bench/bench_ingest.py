"""Benchmark: responses ingested per second through HTTP with 64 concurrent clients on
PostgreSQL, against a minimal ASGI endpoint that inserts one row (bench/ingest_baseline.py),
both served by one uvicorn process (uvloop, httptools) on 127.0.0.1 in the same run.

The load generator is another process (aiohttp, 64 connections, bounded by a count and a
time limit). Every npsloop request carries an idempotency key and every 20th is sent a
second time (a client retry, which must be answered 200 as a replay). Afterwards the rows
are counted: lost = acknowledged keys missing from the table, doubled = keys stored more
than once; each stored response must also have exactly one `response.created` event.

    .venv/bin/python -m bench.bench_ingest            # 3,000 requests each
    .venv/bin/python -m bench.bench_ingest --full     # 20,000 requests each
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import (
    Result,
    child_env,
    cpu_seconds,
    create_database,
    drop_database,
    free_port,
    percentile,
    start_process,
    stop_process,
    wait_http,
)
from npsloop.accounts.service import create_organization
from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade

CONCURRENCY = 64
RETRY_EVERY = 20
UVICORN = ["-m", "uvicorn", "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
           "--no-access-log", "--log-level", "warning"]


# --- load generator (runs in its own process) --------------------------------------------

async def _load(url: str, headers: dict[str, str], prefix: str, count: int, seconds: float,
                retry_every: int) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    acked: list[str] = []
    replays = errors = 0
    statuses: dict[str, int] = {}
    next_index = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as client:

        async def post(key: str, index: int) -> int:
            body = {"score": index % 11, "comment": "配送很快" if index % 3 else "",
                    "idempotency_key": key}
            async with client.post(url, json=body) as reply:
                await reply.read()
                return reply.status

        async def worker() -> None:
            nonlocal next_index, replays, errors
            while next_index < count and time.monotonic() < deadline:
                index, next_index = next_index, next_index + 1
                key = f"{prefix}-{index}"
                start = time.perf_counter()
                try:
                    status = await post(key, index)
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status in (200, 201):
                    acked.append(key)
                if retry_every and index % retry_every == 0:
                    try:
                        # Awaited before the +=: `replays += await ...` reads `replays`
                        # before the await and loses the other workers' increments.
                        replayed = await post(key, index) == 200
                        replays += replayed
                    except aiohttp.ClientError:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {"acked": acked, "latencies": latencies, "elapsed": elapsed, "replays": replays,
            "errors": errors, "statuses": statuses}


def load_main(args: argparse.Namespace) -> None:
    import uvloop

    headers = json.loads(args.headers)
    result = uvloop.run(_load(args.load_url, headers, args.prefix, args.count, args.seconds,
                              args.retry_every))
    Path(args.out).write_text(json.dumps(result))


def run_load(url: str, headers: dict[str, str], prefix: str, count: int, seconds: float,
             retry_every: int, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{prefix}.json"
    process = start_process(
        ["-m", "bench.bench_ingest", "--load-url", url, "--headers", json.dumps(headers),
         "--prefix", prefix, "--count", str(count), "--seconds", str(seconds),
         "--retry-every", str(retry_every), "--out", str(out)],
        child_env(), workdir / f"{prefix}.log")
    process.wait(seconds + 60)
    stop_process(process)
    if not out.exists():
        raise RuntimeError(f"load generator failed: {(workdir / f'{prefix}.log').read_text()}")
    return json.loads(out.read_text())


# --- the benchmark ----------------------------------------------------------------------

def make_survey(base: str, headers: dict[str, str], name: str) -> str:
    reply = httpx.post(f"{base}/api/v1/surveys", headers=headers, timeout=30,
                       json={"name": name, "status": "live"})
    reply.raise_for_status()
    return str(reply.json()["id"])


def stored(session: Session, survey_id: str, prefix: str) -> tuple[int, int, set[str]]:
    rows = session.execute(text(
        "SELECT idempotency_key FROM responses WHERE survey_id = :s AND idempotency_key "
        "LIKE :p"), {"s": survey_id, "p": f"{prefix}-%"}).scalars().all()
    return len(rows), len(set(rows)), set(rows)


def run(count: int, seconds: float) -> list[Result]:
    name, url = create_database()
    engine = make_engine(url)
    workdir = Path(tempfile.mkdtemp(prefix="npsloop-bench-ingest-"))
    servers = []
    try:
        upgrade(url, engine)
        with Session(engine) as session:
            org, _, key = create_organization(session, name="Bench", admin_email=
                                              "bench@example.test", admin_password="password-1")
            session.commit()
            org_id = org.id
        headers = {"Authorization": f"Bearer {key}"}
        app_port, base_port = free_port(), free_port()
        env = child_env(NPSLOOP_DATABASE_URL=url, NPSLOOP_INPROCESS_WORKER="false",
                        NPSLOOP_ENV="development")
        servers.append(start_process([*UVICORN, "--port", str(app_port), "--factory",
                                      "npsloop.app:create_app"], env, workdir / "app.log"))
        app = f"http://127.0.0.1:{app_port}"
        wait_http(app + "/", process=servers[-1])
        survey_id = make_survey(app, headers, "Ingest bench")
        baseline_survey = make_survey(app, headers, "Baseline")
        servers.append(start_process(
            [*UVICORN, "--port", str(base_port), "bench.ingest_baseline:app"],
            child_env(BENCH_DATABASE_URL=url, BENCH_ORG_ID=org_id,
                      BENCH_SURVEY_ID=baseline_survey), workdir / "baseline.log"))
        baseline = f"http://127.0.0.1:{base_port}"
        wait_http(baseline + "/", process=servers[-1])
        endpoint = f"{app}/api/v1/surveys/{survey_id}/responses"
        for target in (endpoint, baseline + "/"):  # warm both: connections, caches
            run_load(target, headers, "warm", 300, 20, 0, workdir)
        cpu = cpu_seconds(servers[0].pid)
        measured = run_load(endpoint, headers, "run", count, seconds, RETRY_EVERY, workdir)
        cpu_ms = (cpu_seconds(servers[0].pid) - cpu) * 1000 / max(1, len(measured["latencies"]))
        cpu = cpu_seconds(servers[1].pid)
        base = run_load(baseline + "/", headers, "base", count, seconds, 0, workdir)
        base_cpu_ms = (cpu_seconds(servers[1].pid) - cpu) * 1000 / max(1, len(base["latencies"]))
        with Session(engine) as session:
            rows, distinct, keys = stored(session, survey_id, "run")
            events = session.execute(text(
                "SELECT count(*) FROM outbox_events e JOIN responses r ON r.id = "
                "e.payload->>'response_id' WHERE e.topic = 'response.created' AND "
                "r.survey_id = :s AND r.idempotency_key LIKE 'run-%'"), {"s": survey_id}
            ).scalar_one()
            base_rows = session.execute(text(
                "SELECT count(*) FROM responses WHERE survey_id = :s AND idempotency_key "
                "LIKE 'base-%'"), {"s": baseline_survey}).scalar_one()
        acked = set(measured["acked"])
        lost = len(acked - keys)
        doubled = rows - distinct
        rate = len(measured["latencies"]) / measured["elapsed"]
        base_rate = len(base["latencies"]) / base["elapsed"]
        print(f"npsloop: {len(measured['latencies']):,} requests in {measured['elapsed']:.1f} s"
              f" ({rate:,.0f}/s), statuses {measured['statuses']}, {measured['replays']} "
              f"retries answered as replays, {measured['errors']} transport errors")
        print(f"baseline: {len(base['latencies']):,} requests in {base['elapsed']:.1f} s "
              f"({base_rate:,.0f}/s), statuses {base['statuses']}, {base_rows:,} rows")
        print(f"stored {rows:,} rows for {len(acked):,} acknowledged keys: lost {lost}, "
              f"doubled {doubled}, response.created events {events:,}")
        note = (f"{len(measured['latencies']):,} requests, {measured['replays']} retried "
                f"keys answered as replays")
        lat = measured["latencies"]
        base_lat = base["latencies"]
        return [
            Result("ingest", "responses/s (64 clients, PostgreSQL)", rate, "/s", base_rate,
                   "minimal ASGI insert", ">= 0.5 x baseline", rate >= 0.5 * base_rate, note),
            Result("ingest", "p50 latency", percentile(lat, 0.5), "ms",
                   percentile(base_lat, 0.5), "minimal ASGI insert"),
            Result("ingest", "p99 latency", percentile(lat, 0.99), "ms",
                   percentile(base_lat, 0.99), "minimal ASGI insert"),
            Result("ingest", "server CPU time per request", cpu_ms, "ms", base_cpu_ms,
                   "minimal ASGI insert", "", None,
                   "CPU seconds of the server process during the run / requests"),
            Result("ingest", "responses lost / doubled", lost + doubled, "rows", None, "",
                   "0", lost == 0 and doubled == 0 and events == rows,
                   f"lost {lost}, doubled {doubled}, events {events} for {rows} rows"),
        ]
    finally:
        for process in servers:
            stop_process(process)
        engine.dispose()
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="20,000 requests each")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--load-url", help=argparse.SUPPRESS)
    parser.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="run", help=argparse.SUPPRESS)
    parser.add_argument("--retry-every", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_url:
        load_main(args)
        return
    for result in run(20_000 if args.full else args.count, args.seconds):
        print(result.line())


if __name__ == "__main__":
    sys.exit(main())
