"""Decisions for one contact at the same moment, each in its own connection and committed
for real: the recontact window lets exactly one of them invite."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import delete, func, select

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.contacts.service import upsert_contact
from npsloop.core.db import make_session_factory
from npsloop.distribution.models import Invitation
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from npsloop.targeting.decide import decide
from npsloop.targeting.models import DecisionLog

THREADS = 4


def test_simultaneous_decisions_invite_once(backend):
    factory = make_session_factory(backend.engine)
    suffix = uuid.uuid4().hex[:8]
    with factory() as session:
        org, _, _ = create_organization(session, name=f"Race {suffix}",
                                        admin_email=f"race-{suffix}@example.test",
                                        admin_password="password-123")
        survey = create_survey(session, org_id=org.id,
                               data=SurveyCreate(name="Race", status="live"))
        upsert_contact(session, org_id=org.id, external_id="racer")
        session.commit()
        org_id, survey_id = org.id, survey.id
    start = threading.Barrier(THREADS)
    results: list[bool] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with factory() as session:
                start.wait(10)
                decision = decide(session, org_id=org_id, contact_external_id="racer",
                                  event=None, channel="api", survey_id=survey_id)
                session.commit()
                results.append(decision.eligible)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert sorted(results) == [False] * (THREADS - 1) + [True]
        with factory() as session:
            invited = session.scalar(select(func.count()).select_from(Invitation).where(
                Invitation.org_id == org_id))
            logged = session.scalar(select(func.count()).select_from(DecisionLog).where(
                DecisionLog.org_id == org_id))
        assert (invited, logged) == (1, THREADS)
    finally:
        with factory() as session:
            session.execute(delete(DecisionLog).where(DecisionLog.org_id == org_id))
            session.execute(delete(Organization).where(Organization.id == org_id))
            session.commit()
