"""The demo's targeting set-up: policy, override, triggers and real log history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from npsloop.core.db import utcnow
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from npsloop.targeting import policy
from npsloop.targeting.decision_log import LogFilter, read_log
from npsloop.targeting.demo import seed_demo_targeting
from npsloop.targeting.models import Trigger
from tests.targeting.helpers import answered, make_contact


def test_demo_targeting(db, org):
    delivery = create_survey(db, org_id=org.org_id, data=SurveyCreate(
        name="After delivery", status="live", nps_type="touchpoint", touchpoint="delivery"))
    contacts = [make_contact(db, org.org_id, f"D-{i}", email=f"d{i}@example.test")
                for i in range(12)]
    for contact in contacts:  # answered yesterday: inside every window
        answered(db, org.org_id, delivery.id, contact, utcnow() - timedelta(days=1))
    info = seed_demo_targeting(db, org.org_id)
    db.commit()
    assert info == {"triggers": 1, "decisions": 12}
    rules = policy.effective_policy(db, org_id=org.org_id, survey_id=delivery.id)
    assert (rules.recontact_days, rules.quiet_start, rules.cap_count) == (7, "22:00", 4)
    assert db.scalar(select(Trigger.event_name).where(Trigger.org_id == org.org_id)) == \
        "order_delivered"
    log = read_log(db, org_id=org.org_id, spec=LogFilter())
    assert log.total == 12 and "recontact_window" in log.counts
    assert set(log.counts) <= {"recontact_window", "conditions_not_met"}
