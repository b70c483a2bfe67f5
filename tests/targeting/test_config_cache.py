"""The per-process copy of an organisation's targeting settings (triggers, segments,
fatigue policy, overrides, time zone): every change through the application reaches the
very next decision, a change rolled back is not kept, and an entry is reloaded after
MAX_AGE whatever its version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from npsloop.accounts.models import Organization
from npsloop.contacts.segments import create_segment, delete_segment, update_segment
from npsloop.targeting import config_cache, policy, triggers
from npsloop.targeting.decide import decide
from npsloop.targeting.models import Trigger
from tests.targeting.helpers import make_contact, make_survey, set_policy

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
GOLD = {"match": "all", "conditions": [
    {"field": "attribute", "key": "tier", "operator": "equals", "value": "gold"}]}
SILVER = {"match": "all", "conditions": [
    {"field": "attribute", "key": "tier", "operator": "equals", "value": "silver"}]}


def rules_for(db, org_id: str, who: str, now: datetime = NOW) -> list[str]:
    decision = decide(db, org_id=org_id, contact_external_id=who, event="order_paid",
                      channel="widget", now=now)
    db.commit()
    return [r.rule for r in decision.refusals] if not decision.eligible else ["eligible"]


def test_every_settings_change_reaches_the_next_decision(db, org):
    survey = make_survey(db, org.org_id)
    for who in ("a", "b", "c", "d", "e"):
        make_contact(db, org.org_id, who, attributes={"tier": "silver"})
    trigger = triggers.create_trigger(db, org_id=org.org_id, data=triggers.TriggerData(
        name="Paid", event_name="order_paid", survey_id=survey, channel="widget"))
    db.commit()
    assert rules_for(db, org.org_id, "a") == ["eligible"]  # the settings are cached now

    data = triggers.as_data(trigger)
    data.active = False
    triggers.update_trigger(db, trigger=trigger, data=data)
    db.commit()
    assert rules_for(db, org.org_id, "b") == ["no_trigger"]

    segment = create_segment(db, org_id=org.org_id, name="Gold", rules=GOLD)
    data.active, data.segment_id = True, segment.id
    triggers.update_trigger(db, trigger=trigger, data=data)
    db.commit()
    assert rules_for(db, org.org_id, "b") == ["not_in_segment"]

    update_segment(db, segment=segment, rules=SILVER)
    db.commit()
    assert rules_for(db, org.org_id, "b") == ["eligible"]

    set_policy(db, org.org_id, sampling_percent=0.0)
    assert rules_for(db, org.org_id, "c") == ["sampling"]
    policy.save_override(db, org_id=org.org_id, survey_id=survey, recontact_days=None,
                         sampling_percent=100.0)
    db.commit()
    assert rules_for(db, org.org_id, "c") == ["eligible"]

    # The time zone shows in the reasons: the recontact window's dates are local.
    decision = decide(db, org_id=org.org_id, contact_external_id="c", event=None,
                      channel="api", survey_id=survey, now=NOW)
    assert decision.refusals[0].params["last_contact"].endswith("(Asia/Shanghai)")
    db.get(Organization, org.org_id).timezone = "Europe/Paris"
    db.commit()
    decision = decide(db, org_id=org.org_id, contact_external_id="c", event=None,
                      channel="api", survey_id=survey, now=NOW)
    assert decision.refusals[0].params["last_contact"].endswith("(Europe/Paris)")
    db.commit()

    delete_segment(db, segment=segment)
    db.commit()
    assert rules_for(db, org.org_id, "d") == ["not_in_segment"]
    triggers.delete_trigger(db, trigger=db.get(Trigger, trigger.id))
    db.commit()
    assert rules_for(db, org.org_id, "e") == ["no_trigger"]


def test_a_trigger_rolled_back_is_not_kept(db, org):
    survey = make_survey(db, org.org_id)
    make_contact(db, org.org_id, "a")
    assert rules_for(db, org.org_id, "a") == ["no_trigger"]
    savepoint = db.begin_nested()
    triggers.create_trigger(db, org_id=org.org_id, data=triggers.TriggerData(
        name="Paid", event_name="order_paid", survey_id=survey, channel="widget"))
    decision = decide(db, org_id=org.org_id, contact_external_id="a", event="order_paid",
                      channel="widget", now=NOW)
    assert decision.eligible  # cached with the trigger, inside the transaction
    savepoint.rollback()
    assert rules_for(db, org.org_id, "a") == ["no_trigger"]


def test_an_entry_is_reloaded_after_max_age_whatever_its_version(db, org, monkeypatch):
    survey = make_survey(db, org.org_id)
    make_contact(db, org.org_id, "a")
    make_contact(db, org.org_id, "b")
    trigger = triggers.create_trigger(db, org_id=org.org_id, data=triggers.TriggerData(
        name="Paid", event_name="order_paid", survey_id=survey, channel="widget"))
    db.commit()
    assert rules_for(db, org.org_id, "a") == ["eligible"]
    # A write that leaves updated_at alone (not the application's way) is not seen ...
    db.execute(update(Trigger).where(Trigger.id == trigger.id)
               .values(active=False, updated_at=Trigger.updated_at))
    db.commit()
    assert rules_for(db, org.org_id, "b") == ["eligible"]
    db.rollback()
    # ... until the entry is MAX_AGE old.
    later = config_cache.time.monotonic() + config_cache.MAX_AGE + 1
    monkeypatch.setattr(config_cache.time, "monotonic", lambda: later)
    make_contact(db, org.org_id, "c")
    assert rules_for(db, org.org_id, "c", now=NOW + timedelta(minutes=1)) == ["no_trigger"]
