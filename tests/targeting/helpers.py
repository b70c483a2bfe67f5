"""Builders for targeting tests: surveys, contacts, responses and a policy, straight through
the services (the API paths have their own tests)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from npsloop.contacts.service import upsert_contact
from npsloop.responses.models import Response
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from npsloop.targeting import policy


def make_survey(db: Session, org_id: str, name: str = "Touchpoint", status: str = "live") -> str:
    survey = create_survey(db, org_id=org_id, data=SurveyCreate(name=name, status=status))
    db.commit()
    return survey.id


def make_contact(db: Session, org_id: str, external_id: str, **fields: object) -> str:
    contact = upsert_contact(db, org_id=org_id, external_id=external_id, **fields)  # type: ignore[arg-type]
    db.commit()
    return contact.id


def answered(db: Session, org_id: str, survey_id: str, contact_id: str, at: datetime) -> None:
    db.add(Response(org_id=org_id, survey_id=survey_id, contact_id=contact_id, score=9,
                    category="promoter", submitted_at=at, created_at=at))
    db.commit()


def set_policy(db: Session, org_id: str, **changes: object) -> None:
    values: dict[str, object] = {"recontact_days": 30, "sampling_percent": 100.0,
                                 "quiet_start": None, "quiet_end": None, "cap_count": None,
                                 "cap_days": None}
    values.update(changes)
    policy.save_policy(db, org_id=org_id, **values)  # type: ignore[arg-type]
    db.commit()
