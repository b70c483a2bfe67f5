"""The receiver goes down for a while, then comes back: every message is delivered exactly
once, in order per ticket. Figures (messages, attempts, time to drain) are printed and kept
in the test's report section; run with `-s` to see them."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from npsloop.notify import delivery, service
from npsloop.notify.channels.webhook import new_signing_secret
from npsloop.notify.models import DeliveryAttempt, NotifyMessage
from npsloop.notify.notices import render_notice
from tests.notify.conftest import Live
from tests.notify.servers import WebhookReceiver

TICKETS, PER_TICKET, OUTAGE_SECONDS = 6, 6, 2.0
POLICY = delivery.DeliveryPolicy(base_delay=0.05, max_delay=0.5, max_attempts=100,
                                 lease_seconds=30, batch_size=5)


def test_outage_then_recovery_delivers_everything_once_in_order(live: Live, record_property
                                                                ) -> None:
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    try:
        channel_id = live.channel("webhook", {"url": receiver.url, "signing_secret": secret,
                                              "timeout_seconds": 2})
        receiver.stop()  # the outage starts before the first message is sent
        with live.factory() as session:
            for seq in range(PER_TICKET):
                for ticket in range(TICKETS):
                    notice = render_notice("ticket.updated", "en", {
                        "priority": "P1", "subject": f"T{ticket}#{seq}",
                        "change": f"step {seq}"})
                    service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                    message=notice, ordering_key=f"ticket:{ticket}")
            session.commit()
        total = TICKETS * PER_TICKET

        started = time.monotonic()
        recovered_at: list[float] = []

        def bring_back() -> None:
            time.sleep(OUTAGE_SECONDS)
            receiver.start()
            recovered_at.append(time.monotonic())

        threading.Thread(target=bring_back, daemon=True).start()
        live.run_workers(2, until=lambda: live.pending() == 0, timeout=30, policy=POLICY)
        drained = time.monotonic()

        assert live.pending() == 0
        titles = [p["data"]["title"] for p in receiver.payloads]
        assert len(titles) == total and len(set(receiver.seen_ids)) == total  # exactly once
        for ticket in range(TICKETS):
            mine = [t.split(": ")[1] for t in titles if f"T{ticket}#" in t]
            assert mine == [f"T{ticket}#{seq}" for seq in range(PER_TICKET)]  # in order
        with live.factory() as session:
            statuses = session.execute(select(NotifyMessage.status, func.count()).where(
                NotifyMessage.org_id == live.org_id).group_by(NotifyMessage.status)).all()
            assert dict(statuses) == {"delivered": total}
            attempts = session.scalar(select(func.count()).select_from(DeliveryAttempt).where(
                DeliveryAttempt.org_id == live.org_id))
            failed = session.scalar(select(func.count()).select_from(DeliveryAttempt).where(
                DeliveryAttempt.org_id == live.org_id, DeliveryAttempt.outcome == "retry"))
        figures = {
            "messages": total,
            "attempts": attempts,
            "failed_attempts_during_outage": failed,
            "outage_s": round(recovered_at[0] - started, 2),
            "drain_after_recovery_s": round(drained - recovered_at[0], 2),
            "total_s": round(drained - started, 2),
        }
        for name, value in figures.items():
            record_property(name, value)
        print(f"\noutage figures ({live.factory.kw['bind'].dialect.name}): {figures}")
        assert attempts == total + failed
    finally:
        receiver.stop()
