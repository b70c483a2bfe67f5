"""Funnel counts, referrals per promoter, top advocates, breakdowns and the later NPS of
referred customers, from rows whose expected numbers are counted by hand."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select

from npsloop.contacts.models import Contact
from npsloop.core.db import utcnow
from npsloop.referrals import service
from npsloop.referrals.models import AskChannel, ReferralCode
from tests.analytics.helpers import add_response
from tests.referrals.helpers import promoter_code


def code_row(db, code: str) -> ReferralCode:
    return db.scalar(select(ReferralCode).where(ReferralCode.code == code))


def visit(db, row, ip: str, minutes_ago: int = 60) -> None:
    service.record_visit(db, row, ip=ip, user_agent="ua", secret_key="k",
                         at=utcnow() - timedelta(minutes=minutes_ago))


def build(client, db, org, survey) -> dict[str, ReferralCode]:
    """A: asked, copied, 2 visits, 2 conversions; B: asked only; C: asked, a burst of 6
    visits (flagged); D: asked, 1 visit, 1 conversion; E: made but never asked."""
    client.put("/api/v1/referrals/settings", json={"burst_max_visits": 5},
               headers=org.headers)
    rows = {}
    for name, stage in (("A", "retention"), ("B", "acquisition"), ("C", "retention"),
                        ("D", "referral")):
        rows[name] = code_row(db, promoter_code(client, org, survey, external_id=f"P-{name}",
                                                stage=stage))
    service.record_share(db, rows["A"], "copy")
    visit(db, rows["A"], "1.1.1.1")
    visit(db, rows["A"], "2.2.2.2")
    for index in range(6):
        visit(db, rows["C"], "6.6.6.6", minutes_ago=30 - index)
    visit(db, rows["D"], "3.3.3.3")
    response = add_response(db, org.org_id, survey["id"], 10)
    db.flush()
    rows["E"] = service.code_for_response(db, response)
    visit(db, rows["E"], "4.4.4.4")
    db.commit()
    for code, customer, value in ((rows["A"], "N-1", 100.0), (rows["A"], "N-2", 50.0),
                                  (rows["D"], "N-3", None)):
        result = client.post("/api/v1/referrals/conversions", headers=org.headers, json={
            "code": code.code, "customer_external_id": customer, "value": value})
        assert result.status_code == 201, result.text
    return rows


def test_funnel_counts(client, db, org, survey):
    build(client, db, org, survey)
    body = client.get("/api/v1/referrals/funnel", headers=org.headers).json()
    funnel = body["funnel"]
    assert funnel["asked"] == 4  # E was never asked: outside the cohort
    assert funnel["shared"] == 2  # A copied (and was visited); D was visited
    assert funnel["visits"] == 3  # A 2 + D 1; C's six are a burst
    assert funnel["flagged_visits"] == 6
    assert funnel["conversions"] == 3 and funnel["converting_promoters"] == 2
    assert funnel["visited_promoters"] == 2
    assert funnel["value"] == 150.0
    assert funnel["share_rate"] == 0.5 and funnel["conversion_rate"] == 1.0
    per = body["per_promoter"]
    assert per["buckets"] == {"0": 2, "1": 1, "2": 1, "3+": 0} and per["mean"] == 0.75


def test_funnel_period_is_the_cohort_asked_in_it(client, db, org, survey):
    rows = build(client, db, org, survey)
    service.record_ask(db, rows["E"], AskChannel.email, at=utcnow() - timedelta(days=400))
    db.commit()
    old = utcnow() - timedelta(days=420)
    body = client.get(f"/api/v1/referrals/funnel?from={old.date().isoformat()}"
                      f"&to={(old + timedelta(days=30)).date().isoformat()}",
                      headers=org.headers).json()["funnel"]
    assert body["asked"] == 1 and body["visits"] == 1 and body["conversions"] == 0
    bad = client.get("/api/v1/referrals/funnel?from=yesterday", headers=org.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]
    backwards = client.get("/api/v1/referrals/funnel?from=2026-02-01&to=2026-01-01",
                           headers=org.headers)
    assert backwards.status_code == 422


def test_top_advocates_and_breakdowns(client, db, org, survey):
    rows = build(client, db, org, survey)
    advocates = client.get("/api/v1/referrals/advocates", headers=org.headers).json()["items"]
    assert [a["code"] for a in advocates][:2] == [rows["A"].code, rows["D"].code]
    assert advocates[0]["conversions"] == 2 and advocates[0]["visits"] == 2
    assert advocates[0]["contact_external_id"] == "P-A" and advocates[0]["value"] == 150.0
    assert rows["C"].code not in [a["code"] for a in advocates]  # only flagged visits

    by_stage = {r["key"]: r for r in client.get(
        "/api/v1/referrals/breakdown?by=lifecycle_stage", headers=org.headers).json()["items"]}
    assert by_stage["retention"]["asked"] == 2 and by_stage["retention"]["conversions"] == 2
    assert by_stage["acquisition"]["asked"] == 1 and by_stage["acquisition"]["shared"] == 0
    # D converted someone, so D is in the referral stage (on the code: the stage at the ask).
    assert by_stage["referral"]["conversions"] == 1

    segment = client.post("/api/v1/segments", headers=org.headers, json={
        "name": "Retained", "rules": {"match": "all", "conditions": [
            {"field": "lifecycle_stage", "operator": "equals", "value": "retention"}]}})
    assert segment.status_code == 201, segment.text
    by_segment = client.get("/api/v1/referrals/breakdown?by=segment",
                            headers=org.headers).json()["items"]
    # The promoter of A is in the referral stage now, so the segment holds C only.
    assert [(r["label"], r["asked"]) for r in by_segment] == [("Retained", 1)]
    by_touchpoint = client.get("/api/v1/referrals/breakdown?by=touchpoint",
                               headers=org.headers).json()["items"]
    assert sum(r["asked"] for r in by_touchpoint) == 4
    assert client.get("/api/v1/referrals/breakdown?by=weather",
                      headers=org.headers).status_code == 422


def test_referred_customers_nps_versus_others(client, db, org, survey):
    build(client, db, org, survey)
    now = utcnow()
    for external_id, scores in (("N-1", [10, 9, 10]), ("N-2", [8, 10])):
        contact = Contact(org_id=org.org_id, external_id=external_id, attributes={}, tags=[])
        db.add(contact)
        db.flush()
        # One answer from before the conversion does not count as "later".
        add_response(db, org.org_id, survey["id"], 0, contact=contact,
                     at=now - timedelta(days=3))
        for score in scores:
            add_response(db, org.org_id, survey["id"], score, contact=contact,
                         at=now + timedelta(seconds=1))
    db.commit()
    body = client.get("/api/v1/referrals/referred-nps", headers=org.headers).json()
    assert body["referred_customers"] == 2
    referred = body["referred"]
    assert (referred["promoters"], referred["passives"], referred["detractors"]) == (4, 1, 0)
    assert referred["nps"] == 80.0
    others = body["others"]
    # Others: the four promoters' own answers (10) and E's response (10).
    assert others["n"] == 5 and others["nps"] == 100.0
    var_ref = (0.8 + 0 - 0.8 ** 2) / 5
    z = (80.0 - 100.0) / (math.sqrt(var_ref + 0) * 100)
    assert math.isclose(body["z"], z, abs_tol=1e-4)
