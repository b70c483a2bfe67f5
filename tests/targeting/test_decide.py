"""decide(): triggers, conditions, segments, delays, quiet-hour holds, the widget's waiting
invitation, and one log row per decision - on a real database with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from npsloop.contacts.segments import create_segment
from npsloop.distribution.models import Invitation
from npsloop.targeting import triggers
from npsloop.targeting.decide import decide
from npsloop.targeting.models import DecisionLog
from tests.targeting.helpers import make_contact, make_survey, set_policy

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # 14:00 in Asia/Shanghai


def add_trigger(db, org_id, survey_id, **fields):
    data = {"name": "After delivery", "event_name": "order_delivered", "survey_id": survey_id,
            "channel": "widget", "delay_seconds": 0} | fields
    trigger = triggers.create_trigger(db, org_id=org_id, data=triggers.TriggerData(**data))
    db.commit()
    return trigger


def log_rows(db, org_id):
    return list(db.scalars(select(DecisionLog).where(DecisionLog.org_id == org_id)
                           .order_by(DecisionLog.created_at)))


def test_trigger_with_conditions_segment_and_delay(db, org):
    survey = make_survey(db, org.org_id)
    vip = make_contact(db, org.org_id, "vip", email="v@example.test", attributes={"tier": "gold"})
    make_contact(db, org.org_id, "basic", email="b@example.test", attributes={"tier": "basic"})
    segment = create_segment(db, org_id=org.org_id, name="Gold", rules={
        "match": "all", "conditions": [
            {"field": "attribute", "key": "tier", "operator": "equals", "value": "gold"}]})
    trigger = add_trigger(db, org.org_id, survey, channel="email", delay_seconds=3600,
                          segment_id=segment.id,
                          conditions=[{"property": "order_amount", "op": "gt", "value": 100}])
    happened = NOW - timedelta(minutes=10)

    small = decide(db, org_id=org.org_id, contact_external_id="vip", event="order_delivered",
                   properties={"order_amount": 80}, channel="email", now=NOW,
                   occurred_at=happened)
    assert not small.eligible and [r.rule for r in small.refusals] == ["conditions_not_met"]
    assert "order_amount > 100" in small.refusals[0].message

    outsider = decide(db, org_id=org.org_id, contact_external_id="basic",
                      event="order_delivered", properties={"order_amount": 500},
                      channel="email", now=NOW, occurred_at=happened)
    assert [r.rule for r in outsider.refusals] == ["not_in_segment"]

    yes = decide(db, org_id=org.org_id, contact_external_id="vip", event="order_delivered",
                 properties={"order_amount": "150"}, channel="email", now=NOW,
                 occurred_at=happened)
    db.commit()
    assert yes.eligible and yes.survey_id == survey and yes.trigger_id == trigger.id
    invitation = yes.invitation
    assert invitation.contact_id == vip and invitation.channel == "email"
    assert invitation.send_at == happened + timedelta(hours=1)  # event time + delay
    assert invitation.trigger_id == trigger.id and invitation.status == "scheduled"

    again = decide(db, org_id=org.org_id, contact_external_id="vip", event="order_delivered",
                   properties={"order_amount": 150}, channel="email", now=NOW,
                   occurred_at=happened)
    assert [r.rule for r in again.refusals] == ["recontact_window"]
    rows = log_rows(db, org.org_id)
    assert [(r.eligible, r.rule) for r in rows] == [
        (False, "conditions_not_met"), (False, "not_in_segment"), (True, None),
        (False, "recontact_window")]
    assert rows[2].invitation_id == invitation.id and rows[2].trigger_id == trigger.id

    # A deleted segment never widens the trigger to everyone.
    from npsloop.contacts.segments import delete_segment
    delete_segment(db, segment=segment)
    db.commit()
    make_contact(db, org.org_id, "fresh", email="f@example.test")
    orphan = decide(db, org_id=org.org_id, contact_external_id="fresh",
                    event="order_delivered", properties={"order_amount": 500},
                    channel="email", now=NOW, occurred_at=happened)
    assert [r.rule for r in orphan.refusals] == ["not_in_segment"]


def test_quiet_hours_hold_an_email_until_morning(db, org):
    set_policy(db, org.org_id, quiet_start="22:00", quiet_end="08:00")
    survey = make_survey(db, org.org_id)
    make_contact(db, org.org_id, "late", email="l@example.test")
    add_trigger(db, org.org_id, survey, channel="email", delay_seconds=1800)
    night = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 23:00 Shanghai
    decision = decide(db, org_id=org.org_id, contact_external_id="late",
                      event="order_delivered", channel="email", now=night, occurred_at=night)
    assert decision.eligible and decision.refusals == []
    # 23:30 local falls in quiet hours: held until 08:00 the next local morning.
    assert decision.invitation.send_at == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def test_no_trigger_direct_survey_and_unknown_contact(db, org):
    survey = make_survey(db, org.org_id)
    make_contact(db, org.org_id, "c")
    none = decide(db, org_id=org.org_id, contact_external_id="c", event="page_view",
                  channel="api", now=NOW)
    assert [r.rule for r in none.refusals] == ["no_trigger"]
    # One second apart: the log orders by decision time, and equal times have no order.
    direct = decide(db, org_id=org.org_id, contact_external_id="c", event="page_view",
                    channel="api", survey_id=survey, now=NOW + timedelta(seconds=1))
    assert direct.eligible and direct.invitation.source == "api"
    assert direct.invitation.expires_at == direct.invitation.send_at + timedelta(days=14)
    ghost = decide(db, org_id=org.org_id, contact_external_id="nobody", event="x",
                   channel="api", now=NOW + timedelta(seconds=2), language="zh-CN")
    assert [r.rule for r in ghost.refusals] == ["unknown_contact"]
    assert "nobody" in ghost.refusals[0].message and "联系人" in ghost.refusals[0].message
    assert [r.rule for r in log_rows(db, org.org_id)] == ["no_trigger", None, "unknown_contact"]


def test_widget_gets_the_invitation_a_trigger_scheduled(db, org):
    survey = make_survey(db, org.org_id)
    contact = make_contact(db, org.org_id, "w")
    add_trigger(db, org.org_id, survey, channel="widget", delay_seconds=600)
    fired = decide(db, org_id=org.org_id, contact_external_id="w", event="order_delivered",
                   channel="widget", source="trigger", now=NOW, occurred_at=NOW)
    assert fired.eligible and fired.invitation.send_at == NOW + timedelta(minutes=10)
    db.commit()
    early = decide(db, org_id=org.org_id, contact_external_id="w", event=None,
                   channel="widget", now=NOW + timedelta(minutes=5))
    # Not due yet, and its own pending invitation keeps the window closed.
    assert not early.eligible and early.refusals[0].rule in ("no_trigger", "recontact_window")
    due = decide(db, org_id=org.org_id, contact_external_id="w", event=None, channel="widget",
                 now=NOW + timedelta(minutes=11))
    assert due.eligible and due.invitation.id == fired.invitation.id
    assert db.scalar(select(Invitation.id).where(Invitation.contact_id == contact,
                                                 Invitation.id != fired.invitation.id)) is None
    # Paused meanwhile: the waiting invitation is no longer offered.
    from npsloop.surveys.models import Survey
    db.get(Survey, survey).status = "paused"
    db.commit()
    paused = decide(db, org_id=org.org_id, contact_external_id="w", event=None,
                    channel="widget", now=NOW + timedelta(minutes=12))
    assert not paused.eligible and paused.invitation is None


def test_an_old_event_is_too_late_to_ask_about(db, org):
    survey = make_survey(db, org.org_id)
    make_contact(db, org.org_id, "c")
    add_trigger(db, org.org_id, survey, channel="widget", delay_seconds=3600)
    old = decide(db, org_id=org.org_id, contact_external_id="c", event="order_delivered",
                 channel="widget", source="trigger", now=NOW,
                 occurred_at=NOW - timedelta(days=3))
    assert [r.rule for r in old.refusals] == ["stale_event"]


def test_second_trigger_tried_when_the_first_does_not_apply(db, org):
    first, second = make_survey(db, org.org_id, "Big orders"), make_survey(db, org.org_id, "All")
    make_contact(db, org.org_id, "c")
    add_trigger(db, org.org_id, first, name="Big",
                conditions=[{"property": "amount", "op": "gte", "value": 1000}])
    add_trigger(db, org.org_id, second, name="Any")
    decision = decide(db, org_id=org.org_id, contact_external_id="c", event="order_delivered",
                      properties={"amount": 20}, channel="widget", now=NOW)
    assert decision.eligible and decision.survey_id == second


def test_log_retention_prunes_only_old_rows_of_one_organisation(db, make_org):
    from npsloop.targeting.decision_log import prune
    from npsloop.targeting.fatigue import log_decision

    mine, theirs = make_org("Mine"), make_org("Theirs")
    for org_id in (mine.org_id, theirs.org_id):
        for age in (200, 10):
            log_decision(db, org_id=org_id, contact_id=None, survey_id=None, channel="api",
                         source="api", eligible=True, refusals=[],
                         at=NOW - timedelta(days=age))
    db.commit()
    assert prune(db, org_id=mine.org_id, older_than_days=180, now=NOW) == 1
    db.commit()
    left = {(r.org_id, r.created_at) for r in db.scalars(select(DecisionLog).where(
        DecisionLog.org_id.in_((mine.org_id, theirs.org_id))))}
    assert len(left) == 3 and (mine.org_id, NOW - timedelta(days=200)) not in left
