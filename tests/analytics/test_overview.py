"""The organisation overview (analytics.overview and its section on `/`): relationship trend,
touchpoint NPS by stage, response rate (a registered counter, ticket follow-ups, or "no
invitations"), and movers, each equal to trends / stats on the same data."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from npsloop.analytics import movers, overview, trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.stats import compare, summarize
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from tests.analytics.helpers import add_contact, add_scores, counts_scores

TZ = "Asia/Shanghai"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def surveys(db, org):
    def make(name: str, nps_type: str, stage: str = "", touchpoint: str = "") -> str:
        survey = create_survey(db, org_id=org.org_id, data=SurveyCreate(
            name=name, nps_type=nps_type, journey_stage=stage, touchpoint=touchpoint,
            status="live", drivers=[]))
        db.flush()
        return survey.id

    ids = {"rel": make("Relationship", "relationship"),
           "checkout": make("Checkout", "touchpoint", "purchase", "checkout"),
           "courier": make("Courier", "touchpoint", "delivery", "courier")}
    # Last 20 days against the 20 days before: checkout falls, courier holds.
    add_scores(db, org.org_id, ids["rel"], counts_scores(30, 10, 10), at=NOW - timedelta(days=5))
    add_scores(db, org.org_id, ids["rel"], counts_scores(20, 10, 20),
               at=NOW - timedelta(days=70))
    add_scores(db, org.org_id, ids["checkout"], counts_scores(40, 5, 5),
               at=NOW - timedelta(days=25))
    add_scores(db, org.org_id, ids["checkout"], counts_scores(10, 5, 35),
               at=NOW - timedelta(days=3))
    add_scores(db, org.org_id, ids["courier"], counts_scores(20, 5, 5),
               at=NOW - timedelta(days=25))
    add_scores(db, org.org_id, ids["courier"], counts_scores(21, 4, 5),
               at=NOW - timedelta(days=3))
    return ids


def test_overview_numbers_match_trends_and_stats(db, org, surveys):
    last_20 = Filters(date_from=NOW - timedelta(days=20), date_to=NOW)
    view = overview.overview(db, org_id=org.org_id, filters=last_20, tz=TZ, now=NOW)
    expected = trends.trend(db, org_id=org.org_id, tz=TZ, bucket="month",
                            filters=replace(last_20, nps_type="relationship"))
    assert [(p.key, p.summary) for p in view.relationship.points] == [
        (p.key, p.summary) for p in expected.points]
    assert view.relationship_total == summarize(30, 10, 10)
    stages = {(s.stage, s.touchpoint): s.summary for s in view.stages}
    assert stages == {("purchase", "checkout"): summarize(10, 5, 35),
                      ("delivery", "courier"): summarize(21, 4, 5)}
    assert view.volume == 50 + 50 + 30
    assert view.response_rate.source == "none" and view.response_rate.rate is None

    report = view.movers
    checkout = compare(summarize(40, 5, 5), summarize(10, 5, 35))
    found = {(m.dimension, m.key): m for m in report.movers}
    # checkout is both a touchpoint and (alone) the purchase stage: listed once.
    mover = found[("touchpoint", "checkout")]
    assert mover.aliases == (("journey_stage", "purchase"),)
    assert (mover.change.difference, mover.change.z) == (checkout.difference, checkout.z)
    assert ("touchpoint", "courier") not in found  # 20,5,5 -> 21,4,5 is noise
    assert report.tested >= 4

    # A year with nothing before it: compare the last 30 days with the 30 before them.
    add_scores(db, org.org_id, surveys["checkout"], counts_scores(40, 5, 5),
               at=NOW - timedelta(days=45))
    year = Filters(date_from=NOW - timedelta(days=365), date_to=NOW)
    assert movers.movers(db, org_id=org.org_id, filters=year, tz=TZ).tested == 0
    report = overview.recent_movers(db, org_id=org.org_id, filters=year, tz=TZ, min_n=30,
                                    lang="en", now=NOW)
    assert report.current_from == NOW - timedelta(days=30) and report.tested > 0


def test_response_rate_sources(db, org, surveys):
    from npsloop.tickets.models import FollowUpStatus, Ticket, TicketFollowUp

    window = Filters(date_from=NOW - timedelta(days=20), date_to=NOW)
    contact = add_contact(db, org.org_id)
    ticket = Ticket(org_id=org.org_id, number=1, subject="late", contact_id=contact.id,
                    first_response_due_at=NOW, resolution_due_at=NOW)
    db.add(ticket)
    db.flush()
    for index, status in enumerate([FollowUpStatus.answered, FollowUpStatus.invited,
                                    FollowUpStatus.answered, FollowUpStatus.invited]):
        db.add(TicketFollowUp(org_id=org.org_id, ticket_id=ticket.id, contact_id=contact.id,
                              survey_id=surveys["courier"], status=status.value,
                              due_at=NOW - timedelta(days=2 + index),
                              invited_at=NOW - timedelta(days=2 + index)))
    db.commit()
    rate = overview.response_rate(db, org_id=org.org_id, filters=window)
    assert (rate.source, rate.invited, rate.responded, rate.rate) == ("followups", 4, 2, 0.5)
    overview.register_invitation_counter(
        lambda session, org_id, filters: overview.ResponseRate("custom", 200, 50))
    try:
        assert overview.response_rate(db, org_id=org.org_id, filters=window).rate == 0.25
    finally:
        overview.register_invitation_counter(None)


def test_dashboard_page_shows_the_overview(client, db, org, surveys):
    client.post("/login", data={"email": org.owner_email, "password": org.password,
                                "next": "/"})
    start = (NOW - timedelta(days=20)).astimezone(trends.ZoneInfo(TZ)).date()
    end = NOW.astimezone(trends.ZoneInfo(TZ)).date()
    page = client.get(f"/?from={start}&to={end}&lang=en")
    assert page.status_code == 200, page.text
    text = page.text
    shown = re.search(r'data-kpi="relationship-nps">([^<]+)<', text).group(1)
    assert shown == f"{summarize(30, 10, 10).nps:.1f}"
    assert 'data-stage="purchase"' in text and "Response rate: no invitations yet" in text
    movers_block = text[text.index('data-list="movers"'):]
    assert 'data-mover="touchpoint:checkout"' in movers_block
    diff = compare(summarize(40, 5, 5), summarize(10, 5, 35)).difference
    assert html.escape(f"{diff:+.1f}") in movers_block
    zh = client.get(f"/?from={start}&to={end}&lang=zh-CN").text
    assert "各旅程阶段触点 NPS" in zh and "dashboard.overview" not in zh


def test_segment_movers_use_the_segment_filter(db, org):
    from npsloop.contacts.segments import create_segment

    survey = create_survey(db, org_id=org.org_id, data=SurveyCreate(
        name="Any", nps_type="touchpoint", status="live", drivers=[]))
    vip = add_contact(db, org.org_id, tags=["vip"])
    other = add_contact(db, org.org_id, tags=[])
    segment = create_segment(db, org_id=org.org_id, name="VIP", rules={
        "match": "all", "conditions": [{"field": "tags", "operator": "has_any",
                                        "value": ["vip"]}]})
    add_scores(db, org.org_id, survey.id, counts_scores(40, 5, 5), contact=vip,
               at=NOW - timedelta(days=25))
    add_scores(db, org.org_id, survey.id, counts_scores(10, 5, 35), contact=vip,
               at=NOW - timedelta(days=5))
    add_scores(db, org.org_id, survey.id, counts_scores(20, 5, 5), contact=other,
               at=NOW - timedelta(days=25))
    last_20 = Filters(date_from=NOW - timedelta(days=20), date_to=NOW)
    report = movers.movers(db, org_id=org.org_id, filters=last_20, tz=TZ,
                           dimensions=["segment"], now=NOW)
    [mover] = report.movers
    assert (mover.key, mover.label) == (segment.id, "VIP")
    expected = compare(summarize(40, 5, 5), summarize(10, 5, 35))
    assert (mover.change.difference, mover.change.z) == (expected.difference, expected.z)
