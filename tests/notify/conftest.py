"""Fixtures for worker tests: a real engine (threads need their own connections), an
organisation committed for real and removed afterwards, and channel helpers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.core.db import make_session_factory
from npsloop.core.outbox import OutboxEvent
from npsloop.notify import delivery, service
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import MessageStatus, NotifyMessage

FAST = delivery.DeliveryPolicy(base_delay=0.05, max_delay=0.4, max_attempts=100,
                               lease_seconds=30, batch_size=5)


@dataclass
class Live:
    factory: sessionmaker[Session]
    org_id: str
    box: SecretBox

    def channel(self, kind: str, config: dict[str, Any], name: str | None = None) -> str:
        with self.factory() as session:
            channel = service.create_channel(
                session, org_id=self.org_id, kind=kind, config=config, language="en",
                name=name or f"{kind}-{uuid.uuid4().hex[:6]}", box=self.box)
            session.commit()
            return channel.id

    def pending(self) -> int:
        with self.factory() as session:
            return len(session.scalars(select(NotifyMessage.id).where(
                NotifyMessage.org_id == self.org_id,
                NotifyMessage.status == MessageStatus.pending.value)).all())

    def run_workers(self, count: int, until: Callable[[], bool], timeout: float,
                    policy: delivery.DeliveryPolicy = FAST) -> list[str]:
        """Runs `count` worker threads until `until()` holds or `timeout` passes."""
        stop = threading.Event()
        ids = [f"worker-{i}" for i in range(count)]

        def loop(worker_id: str) -> None:
            while not stop.is_set():
                if not delivery.run_once(self.factory, worker_id, policy, self.box):
                    stop.wait(0.02)

        threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in ids]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not until():
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
        return ids


@pytest.fixture
def live(backend) -> Iterator[Live]:
    factory = make_session_factory(backend.engine)
    suffix = uuid.uuid4().hex[:8]
    with factory() as session:
        org, _, _ = create_organization(session, name=f"Live {suffix}",
                                        admin_email=f"live-{suffix}@example.test",
                                        admin_password="password-123")
        session.commit()
        org_id = org.id
    yield Live(factory, org_id, SecretBox("notify-test-secret-key"))
    with factory() as session:
        session.execute(delete(OutboxEvent).where(OutboxEvent.org_id == org_id))
        session.execute(delete(Organization).where(Organization.id == org_id))  # cascades
        session.commit()
