"""Benchmark: notifications delivered per second through the notify queue (the outbox of
outgoing messages) by 1, 2 and 4 `npsloop notify worker` processes on PostgreSQL, to a
Standard Webhooks receiver on 127.0.0.1 that verifies every signature and counts every id.

Baseline, same run: one process POSTing the same signed payloads straight to the same
receiver in a loop (no queue, no lease, no attempt log): what one sender costs on the wire.
Each round enqueues its messages in one transaction, with the workers already idle-polling,
and ends when the receiver holds every message id; duplicates and losses are counted.

    .venv/bin/python -m bench.bench_delivery            # 300 messages per round
    .venv/bin/python -m bench.bench_delivery --full     # 2,000 messages per round
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from standardwebhooks import Webhook
from tests.notify.servers import WebhookReceiver

from bench.common import (
    Result,
    child_env,
    create_database,
    drop_database,
    start_process,
    stop_processes,
)
from npsloop.accounts.service import create_organization
from npsloop.core.config import Settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.notify import service
from npsloop.notify.channels.webhook import new_signing_secret
from npsloop.notify.notices import render_notice

SECRET_KEY = "bench-delivery-secret-key-0123456789abcdef"
WORKER_COUNTS = (1, 2, 4)


def baseline_rate(receiver: WebhookReceiver, secret: str, count: int) -> float:
    """Signed POSTs from one sender, one at a time, as a worker sends them."""
    signer = Webhook(secret)
    body = '{"type":"test","data":{"channel":"bench"}}'
    with httpx.Client(timeout=10) as client:
        start = time.perf_counter()
        for index in range(count):
            msg_id = f"msg_base{index}"
            moment = receiver_time()
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(moment.timestamp())),
                       "webhook-signature": signer.sign(msg_id, moment, body),
                       "content-type": "application/json"}
            client.post(receiver.url, content=body, headers=headers).raise_for_status()
        return count / (time.perf_counter() - start)


def receiver_time():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def run(count: int, timeout: float = 120.0) -> list[Result]:
    name, url = create_database()
    engine = make_engine(url)
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    workdir = Path(tempfile.mkdtemp(prefix="npsloop-bench-delivery-"))
    try:
        upgrade(url, engine)
        factory = make_session_factory(engine)
        box = service.secret_box(Settings(database_url=url, secret_key=SECRET_KEY))
        with factory() as session:
            org, _, _ = create_organization(session, name="Bench", admin_email=
                                            "bench@example.test", admin_password="password-1")
            channel = service.create_channel(
                session, org_id=org.id, kind="webhook", name="bench", language="en",
                config={"url": receiver.url, "signing_secret": secret}, box=box)
            session.commit()
            org_id, channel_id = org.id, channel.id
        base = baseline_rate(receiver, secret, min(count, 500))
        print(f"baseline: one sender posting signed payloads directly: {base:,.0f}/s")
        results: list[Result] = []
        for workers in WORKER_COUNTS:
            rate, duplicates, lost = one_round(factory, org_id, channel_id, receiver, url,
                                               workers, count, timeout, workdir)
            print(f"{workers} worker(s): {count:,} notifications at {rate:,.0f}/s, "
                  f"duplicates {duplicates}, lost {lost}")
            results.append(Result(
                "delivery", f"notifications/s, {workers} worker process(es)", rate, "/s", base,
                "1 sender, direct POST", "0 lost / doubled", duplicates == 0 and lost == 0,
                f"{count:,} webhooks; duplicates {duplicates}, lost {lost}"))
        return results
    finally:
        receiver.stop()
        engine.dispose()
        drop_database(name)


def one_round(factory, org_id: str, channel_id: str, receiver: WebhookReceiver,  # type: ignore[no-untyped-def]
              url: str, workers: int, count: int, timeout: float, workdir: Path
              ) -> tuple[float, int, int]:
    env = child_env(NPSLOOP_DATABASE_URL=url, NPSLOOP_SECRET_KEY=SECRET_KEY)
    processes = [start_process(["-m", "npsloop.cli", "notify", "worker", "--interval", "0.05"],
                                env, workdir / f"worker-{workers}-{i}.log")
                 for i in range(workers)]
    try:
        time.sleep(4)  # let the workers import and start polling an empty queue
        notice = render_notice("test", "en", {"channel": "bench"})
        with receiver.lock:
            receiver.seen_ids.clear()
        with factory() as session:
            for index in range(count):
                service.enqueue(session, org_id=org_id, channel_id=channel_id, message=notice,
                                dedupe_key=f"bench-{workers}-{index}")
            session.commit()
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with receiver.lock:
                if len(set(receiver.seen_ids)) >= count:
                    break
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        time.sleep(0.5)  # a late duplicate would arrive now
        with receiver.lock:
            seen = Counter(receiver.seen_ids)
        duplicates = sum(n - 1 for n in seen.values())
        lost = count - len(seen)
        return len(seen) / elapsed, duplicates, lost
    finally:
        stop_processes(processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="2,000 messages per round")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    for result in run(2000 if args.full else args.count):
        print(result.line())


if __name__ == "__main__":
    main()
