"""The referral link (visit, redirect, burst guard) and the conversions API with its guards."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from npsloop.core.db import utcnow
from npsloop.referrals import service
from npsloop.referrals.models import LifecycleMove, ReferralCode, ReferralVisit
from tests.referrals.helpers import promoter_code

LANDING = "https://shop.example.test/welcome?utm_source=nps"


def set_landing(client, org, **extra):
    body = {"landing_url": LANDING, **extra}
    response = client.put("/api/v1/referrals/settings", json=body, headers=org.headers)
    assert response.status_code == 200, response.text


def test_visit_redirects_with_code_and_stores_no_raw_ip(client, db, org, settings, survey):
    set_landing(client, org)
    code = promoter_code(client, org, survey)
    response = client.get(f"/r/{code.lower()[:4]}-{code.lower()[4:]}", follow_redirects=False,
                          headers={"User-Agent": "Mozilla/5.0 test"})
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "shop.example.test",
                                                           "/welcome")
    assert parse_qs(target.query) == {"utm_source": ["nps"], "ref": [code]}
    visit = db.scalar(select(ReferralVisit).join(ReferralCode).where(ReferralCode.code == code))
    assert visit.user_agent == "Mozilla/5.0 test" and visit.flagged is False
    assert visit.ip_hash == service.hash_ip(settings.secret_key, org.org_id, "testclient")
    assert "testclient" not in visit.ip_hash


def test_custom_code_parameter_and_page_without_landing_url(client, org, survey):
    code = promoter_code(client, org, survey)
    page = client.get(f"/r/{code}?lang=en", follow_redirects=False)
    assert page.status_code == 200 and "A friend invited you" in page.text
    assert f"{code[:4]}-{code[4:]}" in page.text
    set_landing(client, org, code_param="invite")
    response = client.get(f"/r/{code}", follow_redirects=False)
    assert parse_qs(urlsplit(response.headers["location"]).query)["invite"] == [code]


def test_unknown_code_is_a_404_page(client):
    for code in ("ZZZZZZZZ", "not-a-code", "x" * 40):
        response = client.get(f"/r/{code}?lang=en", follow_redirects=False)
        assert response.status_code == 404 and "not valid" in response.text
    assert client.get("/r/ZZZZZZZZ/qr.png").status_code == 404


def test_burst_from_one_address_is_flagged_but_kept(client, db, org, survey):
    set_landing(client, org, burst_max_visits=3, burst_window_minutes=10)
    code = promoter_code(client, org, survey)
    for _ in range(3):
        assert client.get(f"/r/{code}", follow_redirects=False).status_code == 302
    row = db.scalar(select(ReferralCode).where(ReferralCode.code == code))
    visits = db.scalars(select(ReferralVisit).where(ReferralVisit.code_id == row.id)).all()
    assert len(visits) == 3 and not any(v.flagged for v in visits)
    # The fourth within ten minutes makes it a burst: every visit of it is flagged.
    assert client.get(f"/r/{code}", follow_redirects=False).status_code == 302
    db.expire_all()
    visits = db.scalars(select(ReferralVisit).where(ReferralVisit.code_id == row.id)).all()
    assert len(visits) == 4 and all(v.flagged and v.flag_reason == "burst" for v in visits)
    funnel = client.get("/api/v1/referrals/funnel", headers=org.headers).json()["funnel"]
    assert funnel["visits"] == 0 and funnel["flagged_visits"] == 4 and funnel["shared"] == 0


def test_visits_from_other_addresses_or_spread_out_are_not_flagged(db, org, survey, client):
    set_landing(client, org, burst_max_visits=2, burst_window_minutes=10)
    code = promoter_code(client, org, survey)
    row = db.scalar(select(ReferralCode).where(ReferralCode.code == code))
    start = utcnow() - timedelta(hours=2)
    for index in range(5):  # one address, 15 minutes apart
        service.record_visit(db, row, ip="10.0.0.1", user_agent="ua", secret_key="k",
                             at=start + timedelta(minutes=15 * index))
    for index in range(5):  # five addresses at once
        service.record_visit(db, row, ip=f"10.0.1.{index}", user_agent="ua", secret_key="k",
                             at=start)
    db.commit()
    visits = db.scalars(select(ReferralVisit).where(ReferralVisit.code_id == row.id)).all()
    assert len(visits) == 10 and not any(v.flagged for v in visits)


def convert(client, org, code: str, customer: str, **extra):
    return client.post("/api/v1/referrals/conversions", headers=org.headers,
                       json={"code": code, "customer_external_id": customer, **extra})


def test_conversion_recorded_once(client, db, org, survey):
    code = promoter_code(client, org, survey, external_id="P-1")
    first = convert(client, org, code, "NEW-1", value=88.5)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["code"] == code and body["value"] == 88.5
    # The same report again (a retry) is answered with the stored conversion.
    again = convert(client, org, f"{code[:4]}-{code[4:]}".lower(), "NEW-1", value=88.5)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["created"] is False
    # The referrer moved to the referral stage, and the move was recorded.
    move = db.scalar(select(LifecycleMove).where(LifecycleMove.to_stage == "referral"))
    assert move is not None and move.source == "referral_conversion"


def test_one_conversion_per_new_customer(client, org, survey):
    first = promoter_code(client, org, survey, external_id="P-1")
    second = promoter_code(client, org, survey, external_id="P-2")
    assert convert(client, org, first, "NEW-1").status_code == 201
    response = convert(client, org, second, "NEW-1")
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "customer_external_id"]
    assert convert(client, org, second, "NEW-2").status_code == 201


def test_self_referral_is_refused(client, org, survey):
    code = promoter_code(client, org, survey, external_id="P-9")
    response = convert(client, org, code, "P-9")
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "customer_external_id"] and "self-referral" in detail["msg"]
    assert convert(client, org, code, " P-9 ").status_code == 422  # padded is the same id


def test_another_organisations_code_is_404(client, org, make_org, survey):
    code = promoter_code(client, org, survey)
    other = make_org("Other")
    response = convert(client, other, code, "NEW-1")
    assert response.status_code == 404
    assert client.get(f"/api/v1/referrals/codes/{code}", headers=other.headers).status_code == 404
    assert convert(client, org, "ZZZZ-ZZZZ", "NEW-1").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "ABC", "customer_external_id": "N"}, "code"),
    ({"code": "K7MQ-X3P0", "customer_external_id": "N"}, "code"),
    ({"customer_external_id": "N"}, "code"),
    ({"code": "K7MQ-X3PA"}, "customer_external_id"),
    ({"code": "K7MQ-X3PA", "customer_external_id": ""}, "customer_external_id"),
    ({"code": "K7MQ-X3PA", "customer_external_id": "N", "value": -1}, "value"),
    ({"code": "K7MQ-X3PA", "customer_external_id": "N", "value": "lots"}, "value"),
    ({"code": "K7MQ-X3PA", "customer_external_id": "N", "converted_at": "2026-01-01T10:00"},
     "converted_at"),
    ({"code": "K7MQ-X3PA", "customer_external_id": "N", "converted_at": "2999-01-01T00:00Z"},
     "converted_at"),
    ({"code": "K7MQ-X3PA", "customer_external_id": "N", "colour": "red"}, "colour"),
])
def test_conversion_bad_input_is_422(client, org, body, field):
    response = client.post("/api/v1/referrals/conversions", json=body, headers=org.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


def test_conversion_roles(client, org, survey, role_key):
    code = promoter_code(client, org, survey)
    viewer, analyst = role_key(org.org_id, "viewer"), role_key(org.org_id, "analyst")
    body = {"code": code, "customer_external_id": "NEW-7"}
    assert client.post("/api/v1/referrals/conversions", json=body,
                       headers=viewer).status_code == 403
    assert client.post("/api/v1/referrals/conversions", json=body).status_code == 401
    assert client.post("/api/v1/referrals/conversions", json=body,
                       headers=analyst).status_code == 201
    assert client.get("/api/v1/referrals/funnel", headers=viewer).status_code == 200
    assert client.put("/api/v1/referrals/settings", json={"enabled": False},
                      headers=viewer).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"landing_url": "javascript:alert(1)"}, "landing_url"),
    ({"landing_url": "shop.example.test"}, "landing_url"),
    ({"code_param": "a b"}, "code_param"),
    ({"burst_max_visits": 0}, "burst_max_visits"),
    ({"enabled": None}, "enabled"),
    ({"share_text_en": "x" * 501}, "share_text_en"),
])
def test_settings_validation(client, org, body, field):
    response = client.put("/api/v1/referrals/settings", json=body, headers=org.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]
