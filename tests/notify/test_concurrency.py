"""Several workers on one queue never send a message twice (PostgreSQL: SKIP LOCKED plus
a conditional lease; SQLite: one leasing UPDATE under the write lock)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from npsloop.notify import delivery, service
from npsloop.notify.channels.webhook import new_signing_secret
from npsloop.notify.models import DeliveryAttempt
from npsloop.notify.notices import render_notice
from tests.notify.conftest import Live
from tests.notify.servers import WebhookReceiver

MESSAGES, WORKERS = 40, 3
POLICY = delivery.DeliveryPolicy(base_delay=0.05, max_delay=0.2, batch_size=4,
                                 lease_seconds=30)


def test_three_workers_never_deliver_a_message_twice(live: Live) -> None:
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    receiver.delay = 0.005  # keep sends in flight while other workers claim
    try:
        channel_id = live.channel("webhook", {"url": receiver.url, "signing_secret": secret})
        notice = render_notice("test", "en", {"channel": "load"})
        with live.factory() as session:
            for i in range(MESSAGES):
                service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                message=notice, dedupe_key=f"m{i}")
            session.commit()
        live.run_workers(WORKERS, until=lambda: live.pending() == 0, timeout=30, policy=POLICY)
        counts = Counter(receiver.seen_ids)
        assert len(counts) == MESSAGES
        assert max(counts.values()) == 1, counts.most_common(3)
        with live.factory() as session:
            per_worker = dict(session.execute(
                select(DeliveryAttempt.worker_id, func.count())
                .where(DeliveryAttempt.org_id == live.org_id)
                .group_by(DeliveryAttempt.worker_id)).all())
        assert sum(per_worker.values()) == MESSAGES
        assert len(per_worker) >= 2, per_worker  # the work really was shared
    finally:
        receiver.stop()
