"""Scale-out: two `npsloop serve` and two `npsloop worker` processes against one fresh
PostgreSQL database. Responses are posted to both servers (each with an idempotency key,
some retried on the other server); a rule turns detractors into tickets with an alert on a
webhook channel, and a webhook endpoint receives every response and ticket. Afterwards:
every response is stored once, every outbox event was handled once, every notification
and webhook was delivered, and none twice (receivers verify signatures and count ids)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from bench.common import (
    child_env,
    create_database,
    drop_database,
    free_port,
    start_process,
    stop_processes,
    wait_http,
    wait_log,
)
from sqlalchemy import text

from npsloop.core.db import make_engine
from npsloop.core.migrate import upgrade
from npsloop.notify.channels.webhook import new_signing_secret
from tests.conftest import PG_AVAILABLE
from tests.notify.servers import WebhookReceiver

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="scale-out needs PostgreSQL")

RESPONSES = 120
RETRY_EVERY = 6  # these keys are sent again, to the other server
SECRET_KEY = "scaleout-test-secret-key-0123456789abcdef"
TIMEOUT = 45.0


def is_detractor(index: int) -> bool:
    return index % 3 == 0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict]:
    name, url = create_database("npsloop_scaleout")
    engine = make_engine(url)
    upgrade(url, engine)  # once, before the processes start (each would run it again)
    env = child_env(NPSLOOP_DATABASE_URL=url, NPSLOOP_INPROCESS_WORKER="false",
                    NPSLOOP_SECRET_KEY=SECRET_KEY, NPSLOOP_ENV="development",
                    PYTHONUNBUFFERED="1")
    ports = [free_port(), free_port()]
    processes = [start_process(["-m", "npsloop.cli", "serve", "--no-demo", "--port", str(p)],
                               env, tmp_path / f"serve-{p}.log") for p in ports]
    processes += [start_process(["-m", "npsloop.cli", "worker", "--interval", "0.2"], env,
                                tmp_path / f"worker-{i}.log") for i in range(2)]
    try:
        servers = [f"http://127.0.0.1:{p}" for p in ports]
        for server, process in zip(servers, processes, strict=False):
            wait_http(server + "/healthz", timeout=60, process=process)
        # Both workers polling before any work is posted: on a busy machine one could still
        # be importing when the other has done everything.
        for i, process in enumerate(processes[2:]):
            wait_log(tmp_path / f"worker-{i}.log", "started (outbox", timeout=60,
                     process=process)
        yield {"servers": servers, "engine": engine, "processes": processes, "logs": tmp_path}
    finally:
        stop_processes(processes)
        engine.dispose()
        drop_database(name)


def org_key(server: str) -> str:
    """An organisation created through the first server's signup-free path: the CLI."""
    import subprocess
    import sys

    suffix = uuid.uuid4().hex[:8]
    done = subprocess.run(
        [sys.executable, "-m", "npsloop.cli", "org", "create", "--name", f"Scale {suffix}",
         "--admin-email", f"scale-{suffix}@example.test", "--admin-password", "password-123"],
        env=child_env(NPSLOOP_DATABASE_URL=server, NPSLOOP_SECRET_KEY=SECRET_KEY),
        capture_output=True, text=True, check=True, timeout=60)
    import json

    return str(json.loads(done.stdout.strip().splitlines()[-1])["api_key"])


def test_two_servers_and_two_workers_do_everything_once(cluster: dict) -> None:
    engine = cluster["engine"]
    first, second = cluster["servers"]
    key = org_key(engine.url.render_as_string(hide_password=False).replace("+psycopg", ""))
    auth = {"Authorization": f"Bearer {key}"}
    alert_secret, hook_secret = new_signing_secret(), new_signing_secret()
    alerts, hooks = WebhookReceiver(alert_secret), WebhookReceiver(hook_secret)
    try:
        with httpx.Client(base_url=first, headers=auth, timeout=30) as api:
            survey = api.post("/api/v1/surveys", json={"name": "Scale", "status": "live"})
            assert survey.status_code == 201, survey.text
            channel = api.post("/api/v1/notify/channels", json={
                "kind": "webhook", "name": "alerts", "language": "en",
                "config": {"url": alerts.url, "signing_secret": alert_secret}})
            assert channel.status_code == 201, channel.text
            hook = api.post("/api/v1/webhooks", json={
                "url": hooks.url, "secret": hook_secret,
                "event_types": ["response.created", "ticket.created"]})
            assert hook.status_code == 201, hook.text
            rule = api.post("/api/v1/rules", json={
                "name": "Detractor alert",
                "conditions": [{"field": "category", "values": ["detractor"]}],
                "actions": {"ticket": {"priority": "P1"},
                            "notify_channel_ids": [channel.json()["id"]]}})
            assert rule.status_code == 201, rule.text
        survey_id = survey.json()["id"]
        clients = [httpx.Client(base_url=s, headers=auth, timeout=60) for s in (first, second)]

        def post(index: int) -> list[int]:
            body = {"score": 2 if is_detractor(index) else 9, "comment": f"第{index}单，配送",
                    "idempotency_key": f"order-{index}"}
            path = f"/api/v1/surveys/{survey_id}/responses"
            statuses = [clients[index % 2].post(path, json=body).status_code]
            if index % RETRY_EVERY == 0:  # the client did not see the answer: it retries
                statuses.append(clients[(index + 1) % 2].post(path, json=body).status_code)
            return statuses

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(post, range(RESPONSES)))
        for client in clients:
            client.close()
        assert all(a[0] == 201 for a in answers), Counter(a[0] for a in answers)
        assert all(a[1:] in ([], [200]) for a in answers)  # a retry is a replay, not a copy

        detractors = sum(map(is_detractor, range(RESPONSES)))
        expected_hooks = RESPONSES + detractors  # response.created + ticket.created
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                busy = conn.execute(text(
                    "SELECT (SELECT count(*) FROM outbox_events WHERE status <> 'done') + "
                    "(SELECT count(*) FROM notify_messages WHERE status = 'pending')")
                ).scalar_one()
            if not busy and len(set(alerts.seen_ids)) >= detractors and \
                    len(set(hooks.seen_ids)) >= expected_hooks:
                break
            time.sleep(0.25)
        time.sleep(1.0)  # a late duplicate would arrive now

        with engine.connect() as conn:
            stored = conn.execute(text(
                "SELECT count(*), count(DISTINCT idempotency_key) FROM responses "
                "WHERE survey_id = :s"), {"s": survey_id}).one()
            events = conn.execute(text(
                "SELECT topic, status, attempts, locked_by, last_error FROM outbox_events")).all()
            tickets = conn.execute(text(
                "SELECT count(*), count(DISTINCT response_id) FROM tickets")).one()
            attempts = conn.execute(text("SELECT message_id, count(*) FROM "
                                         "notify_delivery_attempts GROUP BY message_id")).all()
            messages = conn.execute(text(
                "SELECT status, count(*) FROM notify_messages GROUP BY status")).all()
        assert tuple(stored) == (RESPONSES, RESPONSES)
        assert Counter(e.topic for e in events)["response.created"] == RESPONSES
        assert {e.status for e in events} == {"done"}
        retried = [(e.topic, e.last_error[:300]) for e in events if e.attempts > 1]
        assert not retried, f"outbox events failed or were handled twice: {retried}"
        assert len({e.locked_by for e in events}) == 2, "both workers took outbox work"
        assert tuple(tickets) == (detractors, detractors)
        assert dict(messages) == {"delivered": detractors + expected_hooks}
        assert max(n for _, n in attempts) == 1, "a notification was sent twice"
        for receiver, expected in ((alerts, detractors), (hooks, expected_hooks)):
            seen = Counter(receiver.seen_ids)
            assert len(seen) == expected, f"lost: {expected - len(seen)}"
            assert max(seen.values()) == 1, f"duplicates: {seen.most_common(3)}"
    finally:
        alerts.stop()
        hooks.stop()
