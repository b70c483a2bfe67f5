"""Win-back campaigns: who is eligible, the randomised holdout (recorded, reproducible,
uniform), offers delivered through notify to a local SMTP server in each contact's
language, the measured effect (contacted vs holdout), tenancy and bad input."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from npsloop.notify import delivery
from npsloop.notify.models import NotifyMessage
from npsloop.notify.service import secret_box
from npsloop.outcomes import stats, winback
from npsloop.outcomes.models import ContactScore, WinbackCampaign, WinbackRecipient
from tests.analytics.helpers import add_contact
from tests.distribution.helpers import email_channel, start_smtp
from tests.outcomes.helpers import add_event, now_s


@pytest.fixture
def smtp():
    controller, port, inbox = start_smtp()
    yield port, inbox
    controller.stop()


def scored(db, org_id: str, risk: float, category: str = "detractor", *,
           email: str | None = None, language: str = "zh-CN"):
    contact = add_contact(db, org_id)
    contact.email, contact.language = email, language
    db.add(ContactScore(contact_id=contact.id, org_id=org_id, category=category,
                        score={"detractor": 3, "passive": 7, "promoter": 10}[category],
                        churn_risk=risk, repurchase_propensity=1 - risk))
    db.flush()
    return contact


@pytest.fixture
def at_risk(db, org):
    """Eight detractors at risk >= 0.3 with e-mail (two prefer English), one without an
    address, one below the threshold, one at-risk passive."""
    people = [scored(db, org.org_id, 0.3 + i * 0.05, email=f"d{i}@example.test",
                     language="en" if i in (1, 4) else "zh-CN") for i in range(8)]
    scored(db, org.org_id, 0.9)
    scored(db, org.org_id, 0.1, email="low@example.test")
    scored(db, org.org_id, 0.95, "passive", email="passive@example.test")
    return people


BODY = {"name": "Delivery apology", "min_risk": 0.3, "holdout_share": 0.25,
        "offer_zh": "下单立减 20 元 WINBACK20", "offer_en": "¥20 off with WINBACK20"}


def test_winback_sends_to_contacted_and_keeps_holdout_back(client, db, db_factory, org,
                                                           at_risk, smtp):
    port, inbox = smtp
    body = {**BODY, "channel_ids": [email_channel(client, org, port)]}
    preview = client.post("/api/v1/outcomes/winback", headers=org.headers,
                          json={**body, "dry_run": True})
    assert preview.status_code == 200, preview.text
    assert preview.json() | {"skipped": None} == {
        "eligible": 8, "contacted": 6, "holdout": 2, "skipped": None, "dry_run": True,
        "campaign_id": None}
    assert preview.json()["skipped"] == {"no_address": 1}
    assert db.scalar(select(NotifyMessage.id)) is None

    sent = client.post("/api/v1/outcomes/winback", headers=org.headers, json=body)
    assert sent.status_code == 201, sent.text
    campaign_id = sent.json()["campaign_id"]
    recipients = db.scalars(select(WinbackRecipient).where(
        WinbackRecipient.campaign_id == campaign_id)).all()
    groups = Counter(r.group for r in recipients)
    assert groups == {"contacted": 6, "holdout": 2}
    assert all((r.message_id is None) == (r.group == "holdout") for r in recipients)
    campaign = db.get(WinbackCampaign, campaign_id)
    # The recorded seed re-derives the same holdout.
    assert winback.assign_holdout([r.contact_id for r in recipients], 0.25,
                                  campaign.assignment_seed) == {
        r.contact_id for r in recipients if r.group == "holdout"}

    policy_ = delivery.DeliveryPolicy(base_delay=0.01, max_delay=0.02, max_attempts=2)
    delivery.run_once(db_factory, "test-worker", policy_, secret_box())
    emails = {c.id: c.email for c in at_risk}
    contacted = {emails[r.contact_id] for r in recipients if r.group == "contacted"}
    assert {rcpts[0] for rcpts, _ in inbox.messages} == contacted
    for rcpts, mail in inbox.messages:
        text = mail.get_body(("plain",)).get_content()
        if rcpts[0] in ("d1@example.test", "d4@example.test"):
            assert "make it up to you" in mail["Subject"] and "WINBACK20" in text
            assert "¥20 off" in text
        else:
            assert "弥补" in mail["Subject"] and "下单立减 20 元" in text

    again = client.post("/api/v1/outcomes/winback", headers=org.headers,
                        json={**body, "dry_run": True}).json()
    assert again["eligible"] == 0 and again["skipped"]["recently_contacted"] == 8
    listed = client.get("/api/v1/outcomes/winback", headers=org.headers).json()["items"]
    assert [(c["contacted"], c["holdout"]) for c in listed] == [(6, 2)]


def test_effect_counts_outcomes_in_the_window_after_the_send(client, db, org, at_risk):
    now = now_s()
    campaign = WinbackCampaign(org_id=org.org_id, name="Past", holdout_share=0.4,
                               window_days=30, created_at=now - timedelta(days=40))
    db.add(campaign)
    db.flush()
    contacted, holdout = at_risk[:5], at_risk[5:]
    for group, people in (("contacted", contacted), ("holdout", holdout)):
        for person in people:
            db.add(WinbackRecipient(campaign_id=campaign.id, contact_id=person.id,
                                    org_id=org.org_id, group=group))
    sent = campaign.created_at
    for person in contacted[:4]:  # 4 of 5 contacted came back within the window
        add_event(db, org.org_id, person, "order_placed", sent + timedelta(days=3))
    add_event(db, org.org_id, contacted[4], "order_placed", sent - timedelta(days=1))  # before
    add_event(db, org.org_id, holdout[0], "order_placed", sent + timedelta(days=31))  # after
    add_event(db, org.org_id, holdout[1], "order_placed", sent + timedelta(days=29))
    add_event(db, org.org_id, holdout[2], "subscription_cancelled", sent + timedelta(days=5))
    response = client.get(f"/api/v1/outcomes/winback/{campaign.id}", headers=org.headers)
    assert response.status_code == 200, response.text
    effect = response.json()["effect"]
    assert effect["complete"] is True
    repurchase = effect["outcomes"]["repurchase"]
    assert repurchase["groups"]["contacted"] | {"low": 0, "high": 0} == {
        "n": 5, "events": 4, "rate": 0.8, "low": 0, "high": 0}
    assert (repurchase["groups"]["holdout"]["events"], repurchase["groups"]["holdout"]["n"]) \
        == (1, 3)
    expected = stats.difference(stats.rate(4, 5), stats.rate(1, 3))
    assert repurchase["effect"]["difference"] == pytest.approx(0.8 - 1 / 3)
    assert repurchase["effect"]["low"] == pytest.approx(expected.low)
    assert repurchase["effect"]["p_value"] == pytest.approx(expected.p_value)
    assert repurchase["detectable"] == pytest.approx(
        stats.minimum_detectable_difference(1 / 3, 5, 3))
    churn = effect["outcomes"]["churn"]["groups"]
    assert (churn["contacted"]["events"], churn["holdout"]["events"]) == (0, 1)
    # Another organisation sees neither the campaign nor its effect.
    other = client.get(f"/api/v1/outcomes/winback/{campaign.id}", headers={
        "Authorization": f"Bearer {_other_key(client, db)}"})
    assert other.status_code == 404


def _other_key(client, db) -> str:
    from npsloop.accounts.service import create_organization

    _, _, key = create_organization(db, name="Other shop", admin_email="o@example.test",
                                    admin_password="password-123")
    db.flush()
    return key


def test_holdout_assignment_is_exact_reproducible_and_uniform():
    ids = [f"c{i:02d}" for i in range(10)]
    first = winback.assign_holdout(ids, 0.2, "seed-1")
    assert len(first) == 2 and first <= set(ids)
    assert winback.assign_holdout(list(reversed(ids)), 0.2, "seed-1") == first
    assert len(winback.assign_holdout(ids, 0.15, "s")) == 2  # round(1.5) == 2
    held = Counter(i for seed in range(3000) for i in winback.assign_holdout(ids, 0.2, str(seed)))
    # Each contact is held out in ~20% of draws (3000 draws: sd ~0.7 points).
    assert all(abs(held[i] / 3000 - 0.2) < 0.03 for i in ids)


def test_bad_input_is_refused(client, db, org, make_org, at_risk, smtp):
    port, _ = smtp
    channel_id = email_channel(client, org, port)
    chat = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "webhook", "name": "Ops hook", "config": {"url": "http://127.0.0.1:9/hook"}})
    cases = [({"channel_ids": []}, "channel_ids"),
             ({"channel_ids": ["nope"]}, "channel_ids"),
             ({"channel_ids": [channel_id], "min_risk": None}, "min_risk"),
             ({"channel_ids": [channel_id], "min_risk": 1.5}, "min_risk"),
             ({"channel_ids": [channel_id], "holdout_share": 0.9}, "holdout_share"),
             ({"channel_ids": [channel_id], "holdout_share": 0.0}, "holdout_share"),
             ({"channel_ids": [channel_id], "window_days": 0}, "window_days"),
             ({"channel_ids": [channel_id], "offer_zh": " ", "offer_en": ""}, "offer_zh"),
             ({"channel_ids": [channel_id], "bogus": 1}, "bogus")]
    if chat.status_code == 201:
        cases.append(({"channel_ids": [chat.json()["id"]]}, "channel_ids"))
    for change, field in cases:
        response = client.post("/api/v1/outcomes/winback", headers=org.headers,
                               json={**BODY, **change})
        assert response.status_code == 422, (change, response.text)
        assert response.json()["detail"][0]["loc"][-1] == field, change
    missing = client.post("/api/v1/outcomes/winback", headers=org.headers, json={
        **BODY, "channel_ids": [channel_id], "segment_id": "nosuchsegment"})
    assert missing.status_code == 404
    other = make_org("Other")
    theirs = client.post("/api/v1/outcomes/winback", headers=other.headers,
                         json={**BODY, "channel_ids": [channel_id]})
    assert theirs.status_code == 422 and "no such channel" in theirs.text
    nobody = client.post("/api/v1/outcomes/winback", headers=other.headers, json={
        **BODY, "channel_ids": [email_channel(client, other, port)]})
    assert nobody.status_code == 409  # their org has no at-risk detractor
    assert client.get("/api/v1/outcomes/winback/nope", headers=org.headers).status_code == 404
    assert db.scalar(select(WinbackCampaign.id)) is None
