"""The outbox: events written with the response, handled once, retried with backoff."""

from datetime import timedelta

from sqlalchemy import select

from npsloop.core import outbox
from npsloop.core.db import utcnow
from npsloop.core.outbox import OutboxEvent


def test_ingest_emits_and_worker_handles_once(client, org, survey, db_factory):
    seen: list[str] = []

    @outbox.subscribe("response.created")
    def record(session, event):  # noqa: ANN001
        seen.append(event.payload["response_id"])

    try:
        created = client.post(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers,
                              json={"score": 4, "comment": "slow"}).json()
        handled = 0
        while n := outbox.run_once(db_factory, "w1"):
            handled += n
        assert created["id"] in seen
        assert seen.count(created["id"]) == 1
        assert outbox.run_once(db_factory, "w1") == 0
        with db_factory() as session:
            topics = {e.topic: e.status for e in session.scalars(select(OutboxEvent))}
        # Domains may emit follow-up events (e.g. text.analysed): all must be done too.
        assert {"response.created", "response.completed"} <= set(topics)
        assert set(topics.values()) == {"done"}
    finally:
        outbox._handlers["response.created"].remove(record)


def test_failure_is_retried_with_backoff_then_dead(db_factory, org):
    calls = []

    @outbox.subscribe("test.flaky")
    def flaky(session, event):  # noqa: ANN001
        calls.append(event.id)
        raise RuntimeError("receiver down")

    try:
        with db_factory() as session:
            event = outbox.emit(session, org_id=org.org_id, topic="test.flaky", payload={})
            session.commit()
            event_id = event.id
        assert outbox.run_once(db_factory, "w") == 1
        with db_factory() as session:
            stored = session.get(OutboxEvent, event_id)
            assert stored.attempts == 1 and stored.status == "pending"
            assert "receiver down" in stored.last_error
            assert stored.available_at > utcnow()  # backed off, not due now
        assert outbox.run_once(db_factory, "w") == 0
        for _ in range(outbox.MAX_ATTEMPTS):
            with db_factory() as session:
                stored = session.get(OutboxEvent, event_id)
                stored.available_at = utcnow() - timedelta(seconds=1)
                session.commit()
            outbox.run_once(db_factory, "w")
        with db_factory() as session:
            stored = session.get(OutboxEvent, event_id)
            assert stored.status == "dead"
            assert stored.attempts == outbox.MAX_ATTEMPTS
        assert len(calls) == outbox.MAX_ATTEMPTS
    finally:
        outbox._handlers["test.flaky"].remove(flaky)


def test_a_leased_event_is_not_claimed_twice(db_factory, org):
    with db_factory() as session:
        outbox.emit(session, org_id=org.org_id, topic="test.none", payload={})
        session.commit()
    with db_factory() as session:
        first = outbox.claim(session, "a")
    with db_factory() as session:
        second = outbox.claim(session, "b")
    assert len(first) == 1 and second == []
