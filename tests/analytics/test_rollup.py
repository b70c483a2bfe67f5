"""The daily rollup gives the raw rows' numbers, number for number: every overview, trend,
cross-tab, journey map, per-survey and movers figure is computed from the rollup and again from raw
rows only (rollup.raw_rows_only), after each kind of write the triggers must follow:
ORM inserts, API ingest, completing a partial response, a bulk import, an UPDATE that
moves responses between groups, privacy erasure, retention deletes, survey deletion, a
time zone change, and a backup restore; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import random
import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.analytics import crosstab, journey, movers, overview, rollup, service, trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.models import ResponseDaily
from npsloop.analytics.stats import category_of
from npsloop.backup.service import restore_backup, write_backup
from npsloop.demo.seed import delete_org
from npsloop.privacy.personal_data import erase_contact
from npsloop.responses.models import Response
from npsloop.surveys.models import Survey
from tests.analytics.helpers import add_contact, add_response

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
CHANNELS = ("api", "email", "sms")
LANGUAGES = ("zh-CN", "en")
DIMENSIONS = ("survey", "nps_type", "touchpoint", "journey_stage", "channel", "language",
              "status", "day", "week", "month")
MOVER_DIMENSIONS = ("touchpoint", "journey_stage", "survey", "channel", "language")


def _local_midnight(day: int, tz: str) -> datetime:
    return datetime.combine(datetime(2026, 3, day).date(), time.min, tzinfo=ZoneInfo(tz))


def _filter_sets(tz: str, surveys: list[dict]) -> list[Filters]:
    aligned = dict(date_from=_local_midnight(5, tz), date_to=_local_midnight(20, tz))
    odd = dict(date_from=datetime(2026, 3, 4, 13, 17, tzinfo=UTC),
               date_to=datetime(2026, 3, 22, 5, 41, tzinfo=UTC))
    return [
        Filters(),
        Filters(**aligned),
        Filters(**odd),
        Filters(**odd, channel="email"),
        Filters(**aligned, touchpoint="checkout", status="complete"),
        Filters(**odd, survey_id=surveys[0]["id"], language="en"),
        Filters(date_from=odd["date_from"], nps_type="touchpoint"),
        Filters(date_to=odd["date_to"], journey_stage="service"),
    ]


def _numbers(db: Session, org_id: str, tz: str, surveys: list[dict]) -> dict[str, str]:
    out: dict[str, Any] = {}
    for index, filters in enumerate(_filter_sets(tz, surveys)):
        out[f"nps {index}"] = service.nps(db, org_id=org_id, filters=filters, min_n=5)
        out[f"by survey {index}"] = service.nps_by_survey(db, org_id=org_id, filters=filters,
                                                          min_n=5)
        for name in DIMENSIONS:
            out[f"by {name} {index}"] = service.nps_by(db, org_id=org_id, filters=filters,
                                                       group_by=name, tz=tz, min_n=5)
        for bucket in ("day", "week", "month", "quarter"):
            out[f"trend {bucket} {index}"] = trends.trend(
                db, org_id=org_id, filters=filters, bucket=bucket, tz=tz, min_n=5,
                rolling_window=2)
        out[f"crosstab {index}"] = crosstab.crosstab(
            db, org_id=org_id, filters=filters, rows="channel", cols="month", tz=tz, min_n=5)
        out[f"crosstab weeks {index}"] = crosstab.crosstab(
            db, org_id=org_id, filters=filters, rows="touchpoint", cols="week", tz=tz, min_n=5)
        out[f"journey {index}"] = journey.journey_map(db, org_id=org_id, filters=filters,
                                                      tz=tz, bucket="week")
        out[f"movers {index}"] = movers.movers(
            db, org_id=org_id, filters=filters, tz=tz, min_n=5, dimensions=MOVER_DIMENSIONS,
            now=NOW)
    out["overview"] = overview.overview(db, org_id=org_id, filters=Filters(), tz=tz,
                                        min_n=5, now=NOW)
    # repr: NaN statistics compare equal as text; every field is in it.
    return {key: repr(value) for key, value in out.items()}


def assert_rollup_equals_raw(db: Session, org_id: str, tz: str, surveys: list[dict],
                             *, rollup_expected: bool = True) -> None:
    served = _numbers(db, org_id, tz, surveys)
    with rollup.raw_rows_only():
        raw = _numbers(db, org_id, tz, surveys)
    for key in raw:
        assert served[key] == raw[key], key
    aligned = _filter_sets(tz, surveys)[2]
    query = rollup.counts_query(db, org_id=org_id, filters=aligned, names=["channel", "week"],
                                tz=tz)
    assert (query is not None) == rollup_expected


def _survey(client, org, name: str, **fields: str) -> dict:
    body = {"name": name, "status": "live", "drivers": ["price"], **fields}
    response = client.post("/api/v1/surveys", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _seed(db: Session, org_id: str, surveys: list[dict], count: int = 400, seed: int = 7
          ) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        at = datetime(2026, 2, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(40 * 1440))
        add_response(db, org_id, rng.choice(surveys)["id"], rng.randrange(11), at=at,
                     channel=rng.choice(CHANNELS), language=rng.choice(LANGUAGES),
                     status="partial" if rng.random() < 0.1 else "complete")
    db.commit()


def _post(client, org, survey_id: str, **body: Any):
    response = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body,
                           headers=org.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_rollup_equals_raw_after_every_write_path(client, db, org, backend):
    tz = "Asia/Shanghai"
    surveys = [
        _survey(client, org, "Relationship"),
        _survey(client, org, "Checkout", nps_type="touchpoint", touchpoint="checkout",
                journey_stage="purchase"),
        _survey(client, org, "Support", nps_type="touchpoint", touchpoint="support",
                journey_stage="service"),
    ]
    contact = add_contact(db, org.org_id, attributes={"plan": "pro"})
    for score in (2, 9, 10):
        add_response(db, org.org_id, surveys[1]["id"], score, contact=contact,
                     at=datetime(2026, 3, 10, 3, tzinfo=UTC), comment="call me")
    _seed(db, org.org_id, surveys)
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # Ingest through the API, including one near local midnight and a partial one.
    for index, moment in enumerate(("2026-03-11T23:59:59+08:00", "2026-03-12T00:00:00+08:00",
                                    "2026-03-04T21:17:00+08:00")):
        _post(client, org, surveys[index]["id"], score=index * 4, channel="email",
              submitted_at=moment)
    _post(client, org, surveys[1]["id"], score=3, status="partial", idempotency_key="k-1",
          submitted_at="2026-03-15T08:00:00+08:00", language="en")
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # The follow-up submit completes it with another score and a driver answer.
    _post(client, org, surveys[1]["id"], score=10, status="complete", idempotency_key="k-1",
          drivers={"price": 5}, language="en")
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # A bulk import: one multi-row INSERT, not through the ORM unit of work.
    rng = random.Random(11)
    rows = []
    for _ in range(120):
        score = rng.randrange(11)
        rows.append(dict(
            id=uuid.uuid4().hex, org_id=org.org_id, survey_id=rng.choice(surveys)["id"],
            score=score, category=category_of(score), comment="", language="en",
            channel=rng.choice(CHANNELS), status="complete", contact_attributes={},
            submitted_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(
                minutes=rng.randrange(25 * 1440)), created_at=NOW))
    db.execute(insert(Response), rows)
    db.commit()
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # An UPDATE moving responses between groups (channel, day, score).
    db.execute(update(Response).where(Response.org_id == org.org_id, Response.channel == "sms",
                                      Response.score >= 8)
               .values(channel="api", score=Response.score - 2))
    for moved in db.scalars(select(Response).where(Response.org_id == org.org_id,
                                                   Response.language == "en").limit(30)):
        moved.submitted_at = moved.submitted_at + timedelta(hours=7)
    db.commit()
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # Privacy erasure: the contact goes, its responses stay anonymised.
    erase_contact(db, org_id=org.org_id, contact=contact)
    db.commit()
    assert db.scalar(select(Response.id).where(Response.comment == "call me")) is None
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # Retention: responses before a cut-off deleted in bulk.
    db.execute(delete(Response).where(Response.org_id == org.org_id,
                                      Response.submitted_at < datetime(2026, 3, 3, 7,
                                                                       tzinfo=UTC)))
    db.commit()
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # A survey deleted: its responses go by cascade, and so do their rollup rows.
    db.execute(delete(Survey).where(Survey.id == surveys[2]["id"]))
    db.commit()
    assert not db.scalar(select(ResponseDaily.n).where(
        ResponseDaily.survey_id == surveys[2]["id"]))
    assert_rollup_equals_raw(db, org.org_id, tz, surveys)

    # A new time zone: bucketed reads use raw rows until the rollup is re-keyed.
    db.execute(update(Organization).where(Organization.id == org.org_id)
               .values(timezone="America/New_York"))
    db.commit()
    new_tz = "America/New_York"
    assert (org.org_id, new_tz) in rollup.stale_organizations(db)
    assert_rollup_equals_raw(db, org.org_id, new_tz, surveys, rollup_expected=False)
    rollup.rebuild(db, org_id=org.org_id)
    db.commit()
    assert (org.org_id, new_tz) not in rollup.stale_organizations(db)
    assert_rollup_equals_raw(db, org.org_id, new_tz, surveys)
    # ... and writes after the rebuild are keyed in the new zone.
    _post(client, org, surveys[0]["id"], score=6, submitted_at="2026-03-08T23:30:00-05:00")
    assert_rollup_equals_raw(db, org.org_id, new_tz, surveys)

    # Backup restore: the rollup is not in the backup; restoring the responses rebuilds it.
    buffer = io.BytesIO()
    write_backup(db, org_id=org.org_id, out=buffer)
    before = _numbers(db, org.org_id, new_tz, surveys)
    delete_org(db, org.org_id)
    db.commit()
    assert not db.scalar(select(ResponseDaily.n).where(ResponseDaily.org_id == org.org_id))
    buffer.seek(0)
    restore_backup(db, buffer)
    db.commit()
    if backend.name == "sqlite":  # SQLite cannot key a zone in SQL: the job does it
        assert_rollup_equals_raw(db, org.org_id, new_tz, surveys, rollup_expected=False)
        rollup.rebuild(db, org_id=org.org_id)
        db.commit()
    assert_rollup_equals_raw(db, org.org_id, new_tz, surveys)
    assert _numbers(db, org.org_id, new_tz, surveys) == before


def test_contact_filters_and_other_groupings_use_raw_rows(db, org, survey):
    filters = Filters(attributes={"plan": "pro"})
    assert rollup.counts_query(db, org_id=org.org_id, filters=filters, names=[],
                               tz="Asia/Shanghai") is None
    assert rollup.counts_query(db, org_id=org.org_id, filters=Filters(), names=["category"],
                               tz="Asia/Shanghai") is None
    assert rollup.counts_query(db, org_id=org.org_id, filters=Filters(), names=["week"],
                               tz="Europe/Berlin") is None  # keyed in Asia/Shanghai
    short = Filters(date_from=datetime(2026, 3, 2, 1, tzinfo=UTC),
                    date_to=datetime(2026, 3, 2, 20, tzinfo=UTC))
    assert rollup.counts_query(db, org_id=org.org_id, filters=short, names=[],
                               tz=None) is None  # not one whole day


def test_data_version_moves_with_every_write(client, db, org, survey):
    before = rollup.data_version(db, org.org_id)
    assert before is not None
    response = add_response(db, org.org_id, survey["id"], 8)
    db.commit()
    after_insert = rollup.data_version(db, org.org_id)
    assert after_insert > before
    response.comment = "edited"
    db.commit()
    assert rollup.data_version(db, org.org_id) > after_insert
    edited = rollup.data_version(db, org.org_id)
    db.execute(update(Survey).where(Survey.id == survey["id"]).values(touchpoint="app"))
    db.commit()
    assert rollup.data_version(db, org.org_id) > edited


def test_concurrent_ingests_lose_no_increment(backend):
    """Two writers committing responses of one organisation at the same time (real
    connections, not the rolled-back test transaction): every increment lands."""
    with Session(backend.engine) as session:
        org, _, _ = create_organization(session, name="Concurrent",
                                        admin_email=f"c-{uuid.uuid4().hex[:8]}@example.test",
                                        admin_password="password-123")
        survey = Survey(org_id=org.id, name="S", public_token=uuid.uuid4().hex)
        session.add(survey)
        session.commit()
        org_id, survey_id = org.id, survey.id
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with Session(backend.engine) as session:
                for _ in range(40):
                    score = rng.randrange(11)
                    session.add(Response(org_id=org_id, survey_id=survey_id, score=score,
                                         category=category_of(score), channel="web",
                                         submitted_at=datetime(2026, 3, 2, 4, tzinfo=UTC)))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors
        with Session(backend.engine) as session:
            served = service.nps(session, org_id=org_id, filters=Filters())
            with rollup.raw_rows_only():
                raw = service.nps(session, org_id=org_id, filters=Filters())
            assert served == raw and served.n == 80
            assert session.scalar(select(ResponseDaily.n).where(
                ResponseDaily.org_id == org_id)) == 80
    finally:
        with Session(backend.engine) as session:
            delete_org(session, org_id)
            session.commit()
