"""Schedules and the worker: interval and cron math, a missed run happens once after
downtime, and two workers (threads with their own connections, on each database) never run
one occurrence twice nor send one invitation twice. Quiet hours hold a send."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.contacts.models import Contact, Segment
from npsloop.core.db import make_session_factory, utcnow
from npsloop.core.outbox import OutboxEvent
from npsloop.distribution import campaigns, dispatch, schedules
from npsloop.distribution.models import Campaign, Invitation, Schedule, ScheduleRun
from npsloop.distribution.service import DistributionError
from npsloop.notify import service as notify
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyMessage
from npsloop.surveys.models import Survey
from npsloop.targeting.policy import save_policy

CONTACTS = 60


@pytest.fixture
def world(backend):
    """A committed organisation with a live survey, a 60-contact segment and an email
    channel, on a real engine (workers are threads with their own connections)."""
    factory = make_session_factory(backend.engine)
    suffix = uuid.uuid4().hex[:8]
    with factory() as session:
        org, _, _ = create_organization(session, name=f"Sched {suffix}",
                                        admin_email=f"s-{suffix}@example.test",
                                        admin_password="password-123")
        survey = Survey(org_id=org.id, name="Relationship", status="live")
        session.add(survey)
        session.add_all(Contact(org_id=org.id, external_id=f"S-{i}", email=f"s{i}@example.test",
                                attributes={"tier": "a"}, tags=[]) for i in range(CONTACTS))
        segment = Segment(org_id=org.id, name="All", rules={"match": "all", "conditions": []})
        session.add(segment)
        session.flush()
        channel = notify.create_channel(
            session, org_id=org.id, kind="email", name="mail", box=SecretBox("k" * 32),
            config={"host": "127.0.0.1", "port": 2525, "security": "none",
                    "from_address": "a@example.test"})
        session.commit()
        ids = {"org_id": org.id, "survey_id": survey.id, "segment_id": segment.id,
               "notify_channel_id": channel.id}
    yield factory, ids
    with factory() as session:
        session.execute(delete(OutboxEvent).where(OutboxEvent.org_id == ids["org_id"]))
        session.execute(delete(Organization).where(Organization.id == ids["org_id"]))
        session.commit()


def _schedule(session, ids, **rule) -> Schedule:
    return schedules.create_schedule(
        session, org_id=ids["org_id"], name="Quarterly", survey_id=ids["survey_id"],
        segment_id=ids["segment_id"], channel="email",
        notify_channel_id=ids["notify_channel_id"], timezone="Asia/Shanghai", **rule)


def test_interval_and_cron_math(db, make_org):
    schedule = Schedule(every_unit="month", every_count=3, cron="", timezone="Asia/Shanghai",
                        starts_at=datetime(2026, 1, 31, 1, 0, tzinfo=UTC))
    after = datetime(2026, 3, 1, tzinfo=UTC)
    # Every 3 months from Jan 31 09:00 Shanghai: Apr 30 (clamped), local wall time kept.
    assert schedules.occurrence_after(schedule, after) == datetime(2026, 4, 30, 1, 0,
                                                                   tzinfo=UTC)
    weekly = Schedule(every_unit="week", every_count=2, cron="", timezone="UTC",
                      starts_at=datetime(2026, 1, 5, 8, tzinfo=UTC))
    assert schedules.occurrence_after(weekly, datetime(2026, 1, 5, 8, tzinfo=UTC)) == \
        datetime(2026, 1, 19, 8, tzinfo=UTC)
    cron = Schedule(every_unit="cron", every_count=1, cron="0 9 1 */3 *",
                    timezone="Asia/Shanghai", starts_at=after)
    assert schedules.occurrence_after(cron, after) == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(DistributionError) as bad:
        schedules._check_rule("cron", 1, "61 * * * *")
    assert bad.value.field == "cron"


def test_missed_run_happens_once_and_two_workers_never_double(world):
    factory, ids = world
    now = utcnow()
    with factory() as session:
        schedule = _schedule(session, ids, every_unit="month", every_count=3,
                             starts_at=now - timedelta(days=400))
        # The worker was down for three occurrences: the stored due time is long past.
        schedule.next_run_at = now - timedelta(days=200)
        session.commit()
        schedule_id = schedule.id
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def worker(name: str) -> None:
        barrier.wait()
        results.append(dispatch.tick(factory, now=now, worker_id=name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Workers poll: a batch one worker planned while the other was already dispatching goes
    # out on the next pass. Whatever the interleaving, each contact is sent exactly once.
    results.append(dispatch.tick(factory, now=now, worker_id="w0"))
    assert sum(r["schedule_runs"] for r in results) == 1
    assert sum(r["sent"] for r in results) == CONTACTS
    with factory() as session:
        runs = session.scalars(select(ScheduleRun).where(
            ScheduleRun.schedule_id == schedule_id)).all()
        assert len(runs) == 1 and runs[0].campaign_id
        schedule = session.get(Schedule, schedule_id)
        assert schedule.next_run_at > now  # jumped past the missed occurrences
        invitations = session.scalars(select(Invitation).where(
            Invitation.campaign_id == runs[0].campaign_id)).all()
        assert len(invitations) == CONTACTS and {i.status for i in invitations} == {"sent"}
        messages = session.scalar(select(func.count()).select_from(NotifyMessage).where(
            NotifyMessage.org_id == ids["org_id"]))
        assert messages == CONTACTS  # one message per invitation, none twice
    # Running again at the same moment finds nothing due.
    assert dispatch.tick(factory, now=now)["schedule_runs"] == 0


def test_two_workers_dispatch_disjoint_batches(world):
    factory, ids = world
    with factory() as session:
        campaign = campaigns.create_campaign(
            session, org_id=ids["org_id"], name="Now", survey_id=ids["survey_id"],
            segment_id=ids["segment_id"], channel="email",
            notify_channel_id=ids["notify_channel_id"])
        assert campaigns.send_campaign(session, campaign)["invited"] == CONTACTS
        session.commit()
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def worker() -> None:
        barrier.wait()
        total = 0
        while True:
            with factory() as session:
                counts = dispatch.dispatch_due(session, limit=7)
                session.commit()
            total += counts["sent"]
            if not counts["claimed"]:
                break
        sent.append(total)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(sent) == CONTACTS
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(NotifyMessage).where(
            NotifyMessage.org_id == ids["org_id"])) == CONTACTS


def test_quiet_hours_defer_instead_of_drop(world):
    factory, ids = world
    with factory() as session:
        # Quiet all day but one minute: whatever the clock, sending now is held.
        now = utcnow()
        local = now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
        start = (local - timedelta(minutes=1)).strftime("%H:%M")
        end = (local - timedelta(minutes=2)).strftime("%H:%M")
        save_policy(session, org_id=ids["org_id"], recontact_days=0, sampling_percent=100,
                    quiet_start=start, quiet_end=end, cap_count=None, cap_days=None)
        campaign = campaigns.create_campaign(
            session, org_id=ids["org_id"], name="Night", survey_id=ids["survey_id"],
            segment_id=ids["segment_id"], channel="email",
            notify_channel_id=ids["notify_channel_id"])
        result = campaigns.send_campaign(session, campaign, now=now)
        session.commit()
    assert result["invited"] == CONTACTS and result["deferred"] == CONTACTS
    assert result["skipped"] == {}
    assert dispatch.tick(factory, now=now)["sent"] == 0  # held, not sent, not dropped
    with factory() as session:
        due = session.scalar(select(func.min(Invitation.send_at)).where(
            Invitation.campaign_id == result["campaign_id"]))
        assert due > now
    assert dispatch.tick(factory, now=due + timedelta(seconds=1))["sent"] == CONTACTS


def test_large_segment_planned_in_committed_batches_by_two_workers(world, monkeypatch):
    """Planning resumes from the campaign's cursor, one committed batch at a time; two
    workers planning the same campaign never invite a contact twice nor count a skip
    twice."""
    factory, ids = world
    monkeypatch.setattr(campaigns, "BATCH", 7)
    with factory() as session:
        # One contact opted out: counted once, whoever plans its batch.
        opted = session.scalar(select(Contact.id).where(Contact.org_id == ids["org_id"])
                               .order_by(Contact.id).offset(30))
        from npsloop.distribution.models import Unsubscribe
        session.add(Unsubscribe(org_id=ids["org_id"], contact_id=opted, channel="email"))
        campaign = campaigns.create_campaign(
            session, org_id=ids["org_id"], name="Big", survey_id=ids["survey_id"],
            segment_id=ids["segment_id"], channel="email",
            notify_channel_id=ids["notify_channel_id"])
        campaigns.start_send(session, campaign)
        session.commit()
        campaign_id = campaign.id
    barrier = threading.Barrier(2)
    steps: list[int] = []

    def worker() -> None:
        barrier.wait()
        steps.append(dispatch.continue_planning(factory, now=utcnow()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(steps) >= CONTACTS // 7 + 1
    with factory() as session:
        from npsloop.distribution.models import Campaign
        campaign = session.get(Campaign, campaign_id)
        invited = session.scalar(select(func.count()).select_from(Invitation).where(
            Invitation.campaign_id == campaign_id))
        assert campaign.planned_at is not None
        assert invited == campaign.invited_count == CONTACTS - 1
        assert campaign.skipped == {"unsubscribed": 1}


def test_a_started_campaign_is_not_closed_before_it_is_planned(world):
    """One worker starts a scheduled run's campaign (committed, no invitation yet); another
    worker's closing step must leave it sending until its segment is planned."""
    factory, ids = world
    now = utcnow()
    with factory() as session:
        campaign = campaigns.create_campaign(
            session, org_id=ids["org_id"], name="Started", survey_id=ids["survey_id"],
            segment_id=ids["segment_id"], channel="email",
            notify_channel_id=ids["notify_channel_id"])
        campaigns.start_send(session, campaign, now=now)
        session.commit()
        campaign_id = campaign.id
    with factory() as session:
        assert dispatch.finish_campaigns(session, now) == 0
        session.commit()
    assert dispatch.tick(factory, now=now)["sent"] == CONTACTS
    with factory() as session:
        assert session.get(Campaign, campaign_id).status == "sent"
