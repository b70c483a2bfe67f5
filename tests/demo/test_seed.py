"""seed_demo on SQLite and PostgreSQL: what it creates, idempotence, reset, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from npsloop.accounts.models import ApiKey, Organization, User
from npsloop.accounts.service import login
from npsloop.contacts.models import Contact
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.demo.seed import DEMO_EMAIL, DEMO_PASSWORD, local_today, seed_demo
from npsloop.responses.models import Response, ResponseAnswer
from npsloop.surveys.models import Survey
from tests.demo.helpers import digest, driver_pairs, pearson

TODAY = date(2026, 11, 26)
SMALL = 1500


def _count(session, model, org_id: str) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.org_id == org_id))


def test_seed_creates_the_company_and_a_second_call_is_a_no_op(db_factory, client):
    info = seed_demo(db_factory, responses=SMALL, today=TODAY)
    assert info["created"] is True and info["responses"] == SMALL
    again = seed_demo(db_factory, responses=SMALL, today=TODAY)
    assert again == {"created": False, "org_id": info["org_id"], "email": DEMO_EMAIL,
                     "password": DEMO_PASSWORD}
    with db_factory() as session:
        org_id = info["org_id"]
        assert session.scalar(select(func.count()).select_from(Organization)
                              .where(Organization.name == info["organization"])) == 1
        assert _count(session, Response, org_id) == SMALL
        assert _count(session, Contact, org_id) == info["contacts"] == SMALL // 3
        assert _count(session, ResponseAnswer, org_id) == info["answers"] > 3 * SMALL
        roles = {email: role for email, role in session.execute(
            select(User.email, User.role).where(User.org_id == org_id))}
        assert roles[DEMO_EMAIL] == "owner"
        assert set(roles.values()) == {"owner", "analyst", "agent", "viewer"}
        assert login(session, email=DEMO_EMAIL, password=DEMO_PASSWORD, max_age_hours=1)
        assert login(session, email="viewer@npsloop.local", password=DEMO_PASSWORD,
                     max_age_hours=1)
        surveys = session.scalars(select(Survey).where(Survey.org_id == org_id)).all()
        assert Counter(s.nps_type for s in surveys) == {"touchpoint": 3, "relationship": 1,
                                                         "strategic": 1}
        assert {s.touchpoint for s in surveys} >= {"delivery", "customer_service", "checkout"}
        for survey in surveys:
            kinds = Counter(q.kind for q in survey.questions)
            assert kinds["nps"] == 1 and kinds["open_followup"] == 1
            assert kinds["driver_rating"] >= 3 and kinds["single_choice"] == 1
            assert all(set(q.texts) == {"zh-CN", "en"} for q in survey.questions)
        assert session.scalar(select(func.count()).select_from(ApiKey)
                              .where(ApiKey.org_id == org_id)) == 1
    # The printed API key works against the real API and sees every response.
    stats = client.get("/api/v1/stats/nps", params={"group_by": "survey"},
                       headers={"Authorization": f"Bearer {info['api_key']}"})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["n"] == SMALL and len(body["groups"]) == 5
    assert sum(group["n"] for group in body["groups"]) == SMALL


def test_seeded_year_spans_twelve_months_with_a_realistic_mix(db_factory):
    info = seed_demo(db_factory, responses=SMALL)
    today = local_today()
    tz = ZoneInfo("Asia/Shanghai")
    with db_factory() as session:
        responses = session.scalars(
            select(Response).where(Response.org_id == info["org_id"])).all()
    local_days = [r.submitted_at.astimezone(tz).date() for r in responses]
    assert min(local_days) >= today - timedelta(days=364)
    assert min(local_days) <= today - timedelta(days=330)
    assert max(local_days) == today - timedelta(days=1)
    assert (info["from"], info["to"]) == ((today - timedelta(days=364)).isoformat(),
                                          (today - timedelta(days=1)).isoformat())
    categories = Counter(r.category for r in responses)
    assert categories["promoter"] > categories["passive"] > categories["detractor"] > 0.1 * SMALL
    languages = Counter(r.language for r in responses)
    assert 0.15 < languages["en"] / SMALL < 0.35 and languages["zh-CN"] > 0.6 * SMALL
    assert {r.channel for r in responses} == {"link", "qr", "email", "sms", "widget", "api"}
    commented = [r for r in responses if r.comment]
    assert 0.45 < len(commented) / SMALL < 0.65
    assert {r.language for r in commented} == {"zh-CN", "en"}
    assert all(r.contact_id and r.contact_attributes["lifecycle_stage"] for r in responses)
    assert all(r.completed_at is not None for r in responses if r.status == "complete")


def test_driver_ratings_relate_to_the_score(db_factory):
    info = seed_demo(db_factory, responses=SMALL, today=TODAY)
    with db_factory() as session:
        pairs = driver_pairs(session, info["org_id"])
    assert pearson(pairs["mean"]) > 0.5
    assert pearson(pairs["delivery"]) > pearson(pairs["price"])
    assert pearson(pairs["quality"]) > pearson(pairs["price"])


def test_reset_recreates_the_workspace_without_duplicates(db_factory):
    first = seed_demo(db_factory, responses=300, today=TODAY)
    with db_factory() as session:
        before = digest(session, first["org_id"])
    second = seed_demo(db_factory, responses=300, reset=True, today=TODAY)
    assert second["created"] is True and second["org_id"] != first["org_id"]
    with db_factory() as session:
        assert session.get(Organization, first["org_id"]) is None
        assert _count(session, Response, first["org_id"]) == 0
        assert _count(session, Response, second["org_id"]) == 300
        assert session.scalar(select(func.count()).select_from(User)
                              .where(User.email == DEMO_EMAIL)) == 1
        assert digest(session, second["org_id"]) == before


def test_same_day_gives_identical_data_in_another_database(db_factory, tmp_path):
    """Seeded into the test backend and into a fresh SQLite file: the same rows."""
    info = seed_demo(db_factory, responses=400, today=TODAY)
    with db_factory() as session:
        here = digest(session, info["org_id"])
    url = f"sqlite:///{tmp_path / 'second.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        other = seed_demo(factory, responses=400, today=TODAY)
        with factory() as session:
            there = digest(session, other["org_id"])
        shifted = seed_demo(factory, responses=400, reset=True, today=TODAY + timedelta(days=1))
        with factory() as session:
            next_day = digest(session, shifted["org_id"])
    finally:
        engine.dispose()
    assert here == there
    assert next_day != here


def test_negative_count_is_refused(db_factory):
    with pytest.raises(ValueError, match="responses"):
        seed_demo(db_factory, responses=-1)


def test_full_size_on_sqlite(tmp_path):
    """The default 24,000 responses, timed, on a fresh SQLite file (once per run)."""
    url = f"sqlite:///{tmp_path / 'full.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        info = seed_demo(factory, analyse_text=False)
        assert seed_demo(factory)["created"] is False
        with factory() as session:
            assert _count(session, Response, info["org_id"]) == 24000
            customers = session.scalar(select(func.count()).select_from(Contact).where(
                Contact.org_id == info["org_id"], ~Contact.external_id.startswith("NL-")))
            assert 7900 <= customers <= 8000
            # Newsletter readers bring the contacts with an email to 10,000 (a campaign of
            # that size can be sent in the demo).
            assert session.scalar(select(func.count()).select_from(Contact).where(
                Contact.org_id == info["org_id"], Contact.email.is_not(None))) == 10_000
            assert info["distribution"]["newsletter_readers"] > 0
            pairs = driver_pairs(session, info["org_id"])
    finally:
        engine.dispose()
    assert info["responses"] == 24000 and info["answers"] > 80000
    assert pearson(pairs["mean"]) > 0.6
    assert pearson(pairs["delivery"]) > pearson(pairs["price"]) + 0.1


def test_demo_carries_text_analysis_rules_and_plans(db_factory):
    """The other domains' view of the demo: comments analysed, ticket rules, action plans."""
    from npsloop.plans.models import ActionPlan
    from npsloop.textmining.models import ResponseTextAnalysis
    from npsloop.tickets.models import Rule

    info = seed_demo(db_factory, responses=600, today=TODAY)
    with db_factory() as session:
        org_id = info["org_id"]
        commented = session.scalar(select(func.count()).select_from(Response).where(
            Response.org_id == org_id, Response.comment != ""))
        analysed = session.scalars(select(ResponseTextAnalysis).where(
            ResponseTextAnalysis.org_id == org_id)).all()
        assert commented > 100 and len(analysed) == commented == info["comments_analysed"]
        labels = Counter(a.sentiment_label for a in analysed)
        assert labels["negative"] > 10 and labels["positive"] > 10
        assert sum(1 for a in analysed if a.topic_hits) > commented // 2
        assert _count(session, Rule, org_id) >= 2
        assert _count(session, ActionPlan, org_id) >= 3
