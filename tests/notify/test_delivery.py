"""The delivery worker on a real engine: order per ticket, dedupe, retries with backoff,
dead letters and an admin's retry, 410 disabling an endpoint, shared rate limits."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import delete, func, select

from npsloop.core.db import utcnow
from npsloop.notify import delivery, service, webhooks
from npsloop.notify.base import RateLimit
from npsloop.notify.channels.webhook import new_signing_secret
from npsloop.notify.models import (
    DeliveryAttempt,
    NotifyMessage,
    RateBucket,
    WebhookEndpoint,
)
from npsloop.notify.notices import render_notice
from npsloop.notify.ratelimit import wait_seconds
from tests.notify.conftest import FAST, Live
from tests.notify.servers import DingTalkServer, FeishuServer, WebhookReceiver


def notice(title: str):
    return render_notice("ticket.updated", "en", {"priority": "P2", "subject": title,
                                                  "change": "status changed"})


def drain(live: Live, timeout: float = 15, workers: int = 1, policy=FAST) -> None:
    live.run_workers(workers, until=lambda: live.pending() == 0, timeout=timeout, policy=policy)


def test_order_per_ticket_survives_a_failure_and_dedupe(live: Live) -> None:
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    try:
        channel_id = live.channel("webhook", {"url": receiver.url, "signing_secret": secret})
        with live.factory() as session:
            for i in range(3):
                for ticket in ("A", "B"):
                    service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                    message=notice(f"{ticket}{i}"),
                                    ordering_key=f"ticket:{ticket}",
                                    dedupe_key=f"{ticket}{i}")
            # The same dedupe key again (a retried caller): no second message.
            again = service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                    message=notice("A0"), ordering_key="ticket:A",
                                    dedupe_key="A0")
            session.commit()
            assert session.scalar(select(NotifyMessage.id).where(
                NotifyMessage.dedupe_key == "A0")) == again.id
        receiver.fail_next = 2  # the first two requests fail: both chains must wait
        drain(live, workers=2)
        titles = [p["data"]["title"] for p in receiver.payloads]
        assert sorted(titles) == sorted(f"[P2] Ticket updated: {t}{i}" for t in "AB"
                                        for i in range(3))
        for ticket in "AB":
            mine = [t for t in titles if t.endswith(tuple(f"{ticket}{i}" for i in range(3)))]
            assert mine == [f"[P2] Ticket updated: {ticket}{i}" for i in range(3)]
        assert len(set(receiver.seen_ids)) == len(receiver.seen_ids) == 6
        with live.factory() as session:
            attempts = session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.org_id == live.org_id)).all()
            assert len(attempts) == 8
            assert sum(a.outcome == "retry" and a.status_code == 503 for a in attempts) == 2
    finally:
        receiver.stop()


def test_dead_letter_after_max_attempts_then_admin_retry(live: Live) -> None:
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    receiver.mode = "http_500"
    policy = delivery.DeliveryPolicy(base_delay=0.02, max_delay=0.05, max_attempts=3,
                                     batch_size=5)
    try:
        channel_id = live.channel("webhook", {"url": receiver.url, "signing_secret": secret})
        with live.factory() as session:
            message_id = service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                         message=notice("X")).id
            session.commit()
        drain(live, policy=policy)
        with live.factory() as session:
            message = session.get(NotifyMessage, message_id)
            assert (message.status, message.attempts) == ("dead", 3)
            assert "HTTP 500" in message.last_error
            log = session.scalars(select(DeliveryAttempt.outcome).where(
                DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.attempt_no))
            assert list(log) == ["retry", "retry", "failed"]
            receiver.mode = "ok"
            service.retry_message(session, message)
            session.commit()
        drain(live, policy=policy)
        with live.factory() as session:
            message = session.get(NotifyMessage, message_id)
            assert message.status == "delivered"
            numbers = session.scalars(select(DeliveryAttempt.attempt_no).where(
                DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.attempt_no))
            assert list(numbers) == [1, 2, 3, 4]
        assert len(receiver.payloads) == 1
    finally:
        receiver.stop()


def test_permanent_vendor_error_is_dead_at_once(live: Live) -> None:
    server = DingTalkServer()
    try:
        channel_id = live.channel("dingtalk", {"webhook_url": server.url, "secret": "SECwrong"})
        with live.factory() as session:
            message_id = service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                         message=notice("Y")).id
            session.commit()
        drain(live)
        with live.factory() as session:
            message = session.get(NotifyMessage, message_id)
            assert (message.status, message.attempts) == ("dead", 1)
            assert "310000" in message.last_error
    finally:
        server.stop()


def test_gone_endpoint_is_disabled(live: Live) -> None:
    secret = new_signing_secret()
    receiver = WebhookReceiver(secret)
    receiver.mode = "gone"
    try:
        with live.factory() as session:
            endpoint, _ = webhooks.create_endpoint(
                session, org_id=live.org_id, url=receiver.url, secret=secret,
                event_types=["ticket.created"], box=live.box)
            sent = webhooks.publish_event(session, org_id=live.org_id,
                                          event_type="ticket.created", data={"id": "t1"})
            session.commit()
            endpoint_id, message_id = endpoint.id, sent[0].id
        drain(live)
        with live.factory() as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            assert endpoint.enabled is False and "410" in endpoint.disabled_reason
            assert session.get(NotifyMessage, message_id).status == "dead"
            assert webhooks.publish_event(session, org_id=live.org_id,
                                          event_type="ticket.created", data={}) == []
    finally:
        receiver.stop()


def test_rate_window_arithmetic() -> None:
    limits = (RateLimit(5, 1), RateLimit(100, 60))
    assert wait_seconds([], limits, 100.0) == 0
    assert wait_seconds([99.5] * 4, limits, 100.0) == 0
    assert abs(wait_seconds([99.2, 99.4, 99.5, 99.6, 99.9], limits, 100.0) - 0.2) < 1e-9
    assert abs(wait_seconds([50.0 + i * 0.5 for i in range(100)], limits, 100.0) - 10.0) < 1e-9


def test_dingtalk_20_per_minute_across_two_workers(live: Live) -> None:
    server = DingTalkServer()
    try:
        channel_id = live.channel("dingtalk", {"webhook_url": server.url,
                                               "secret": server.secret})
        with live.factory() as session:
            for i in range(25):
                service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                message=notice(f"R{i}"))
            session.commit()
        def all_handled() -> bool:
            with live.factory() as session:
                return session.scalar(select(func.count()).select_from(NotifyMessage).where(
                    NotifyMessage.org_id == live.org_id, NotifyMessage.status == "pending",
                    NotifyMessage.next_attempt_at > utcnow() + timedelta(seconds=30))) == 5

        live.run_workers(2, until=all_handled, timeout=10)
        assert len(server.requests) == 20  # the other 5 wait for the minute to pass
        assert live.pending() == 5
        with live.factory() as session:
            waiting = session.scalars(select(NotifyMessage).where(
                NotifyMessage.org_id == live.org_id, NotifyMessage.status == "pending")).all()
            assert all(m.attempts == 0 for m in waiting)  # deferral is not an attempt
            assert min(m.next_attempt_at.timestamp() for m in waiting) > time.time() + 50
    finally:
        server.stop()
        with live.factory() as session:
            session.execute(delete(RateBucket).where(RateBucket.key.like("dingtalk:%")))
            session.commit()


def test_feishu_5_per_second(live: Live) -> None:
    server = FeishuServer()
    try:
        channel_id = live.channel("feishu", {"webhook_url": server.url, "secret": server.secret})
        with live.factory() as session:
            for i in range(12):
                service.enqueue(session, org_id=live.org_id, channel_id=channel_id,
                                message=notice(f"F{i}"))
            session.commit()
        started = time.monotonic()
        drain(live, workers=2, timeout=10)
        assert len(server.accepted) == 12
        assert time.monotonic() - started >= 2.0  # 12 at 5 a second needs > 2 s
        stamps = sorted(r.json()["timestamp"] for r in server.accepted)
        per_second = {s: stamps.count(s) for s in stamps}
        # Signed timestamps are whole seconds, so a sliding 1 s window can straddle two of
        # them: at most 5 in any window means at most 10 in two adjacent whole seconds.
        assert all(per_second.get(s, 0) + per_second.get(str(int(s) + 1), 0) <= 10
                   for s in per_second)
    finally:
        server.stop()
        with live.factory() as session:
            session.execute(delete(RateBucket).where(RateBucket.key.like("feishu:%")))
            session.commit()
