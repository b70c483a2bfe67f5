"""A delivery worker killed (SIGKILL) in the middle of a send: after its lease runs out
another worker delivers the message; the receiver sees the same webhook-id again and can
drop the duplicate. Nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import select

from npsloop.accounts.service import create_organization
from npsloop.core.config import Settings
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.notify import service
from npsloop.notify.channels.webhook import new_signing_secret
from npsloop.notify.models import DeliveryAttempt, NotifyMessage
from npsloop.notify.notices import render_notice
from tests.notify.servers import WebhookReceiver

WORKER = textwrap.dedent("""
    import sys, time
    from npsloop.core.config import Settings
    from npsloop.core.db import make_engine, make_session_factory
    from npsloop.notify import delivery
    from npsloop.notify.service import secret_box
    url, name = sys.argv[1], sys.argv[2]
    factory = make_session_factory(make_engine(url))
    policy = delivery.DeliveryPolicy(base_delay=0.05, max_delay=0.2, lease_seconds=2.0)
    box = secret_box(Settings(database_url=url, env="test"))
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not delivery.run_once(factory, name, policy, box):
            time.sleep(0.05)
""")


def _start(url: str, name: str) -> subprocess.Popen[str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, url, name], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_killed_worker_message_is_delivered_after_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    upgrade(url)
    factory = make_session_factory(make_engine(url))
    box = service.secret_box(Settings(database_url=url, env="test"))
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    receiver.delay = 3.0  # the first send hangs long enough to kill the worker in it
    first = second = None
    try:
        with factory() as session:
            org, _, _ = create_organization(session, name="K", admin_email="k@example.test",
                                            admin_password="password-123")
            channel = service.create_channel(
                session, org_id=org.id, kind="webhook", language="en", name="hook", box=box,
                config={"url": receiver.url, "signing_secret": secret, "timeout_seconds": 10})
            notice = render_notice("ticket.updated", "en", {
                "priority": "P1", "subject": "kill me", "change": "x"})
            message = service.enqueue(session, org_id=org.id, channel_id=channel.id,
                                      message=notice)
            session.commit()
            message_id = message.id
        first = _start(url, "doomed")
        assert _wait(lambda: _leased(factory, message_id), 10)
        time.sleep(0.5)  # inside the vendor call now
        os.kill(first.pid, signal.SIGKILL)
        first.wait(5)
        assert _status(factory, message_id) == "pending"  # killed before it could record
        receiver.delay = 0.0
        second = _start(url, "survivor")
        assert _wait(lambda: _status(factory, message_id) == "delivered", 20)
        # The receiver got the id once from the survivor (and maybe once, late, from the
        # doomed worker's request that the kill cut off): it dedupes by webhook-id.
        assert set(receiver.seen_ids) == {f"msg_{message_id}"}
        with factory() as session:
            attempts = session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.message_id == message_id)).all()
            assert [a.outcome for a in attempts][-1] == "delivered"
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)
        receiver.stop()


def _leased(factory, message_id: str) -> bool:
    with factory() as session:
        message = session.get(NotifyMessage, message_id)
        return message is not None and message.locked_by == "doomed"


def _status(factory, message_id: str) -> str:
    with factory() as session:
        return session.get(NotifyMessage, message_id).status
