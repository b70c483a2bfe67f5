"""The thank-you page invites promoters (and only promoters) to share: link, code, QR."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import select

from npsloop.referrals import codes
from npsloop.referrals.models import ReferralCode, ReferralEvent
from npsloop.referrals.service import hash_ip
from tests.referrals.helpers import api_response, code_on, thanks_page, token_of


def test_public_promoter_gets_code_link_and_qr(client, db, org, survey):
    token = token_of(survey)
    submitted = client.post(f"/s/{token}/responses", json={"score": 10, "language": "en"})
    assert submitted.status_code == 201, submitted.text
    page = client.get(submitted.json()["thanks_url"])
    assert page.status_code == 200
    code = code_on(page.text)
    assert set(code) <= set(codes.ALPHABET) and len(code) == 8
    assert f"http://127.0.0.1:8000/r/{code}" in page.text  # the personal link (base_url)
    assert f'src="/r/{code}/qr.png"' in page.text
    assert "Copy" in page.text and "Know someone who" in page.text
    assert "/static/js/referrals.js" in page.text
    row = db.scalar(select(ReferralCode).where(ReferralCode.code == code))
    # An anonymous promoter's code is tied to the response.
    assert row.contact_id is None and row.response_id == submitted.json()["id"]
    assert row.score == 10

    qr = client.get(f"/r/{code}/qr.png")
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_zh_invitation_and_org_texts(client, org, survey):
    client.put("/api/v1/referrals/settings", headers=org.headers, json={
        "share_text_zh": "鲜达优选的菜真新鲜,一起来!", "incentive_zh": "好友首单立减 20 元"})
    saved = api_response(client, org, survey, 9)
    page = thanks_page(client, survey, saved["id"], lang="zh-CN")
    assert "愿意把我们推荐给朋友吗" in page.text
    assert "鲜达优选的菜真新鲜,一起来!" in page.text and "好友首单立减 20 元" in page.text


@pytest.mark.parametrize("score", [0, 6, 7, 8])
def test_no_invitation_below_nine(client, db, org, survey, score):
    saved = api_response(client, org, survey, score)
    page = thanks_page(client, survey, saved["id"])
    assert page.status_code == 200 and 'data-testid="referral"' not in page.text
    assert db.scalar(select(ReferralCode).where(ReferralCode.response_id == saved["id"])) is None


def test_disabled_programme_shows_no_invitation(client, org, survey):
    assert client.put("/api/v1/referrals/settings", json={"enabled": False},
                      headers=org.headers).status_code == 200
    saved = api_response(client, org, survey, 10)
    assert 'data-testid="referral"' not in thanks_page(client, survey, saved["id"]).text


def test_contact_promoter_keeps_one_code_and_is_asked_once_per_response(client, db, org,
                                                                        survey):
    first = api_response(client, org, survey, 10, external_id="C-1")
    code = code_on(thanks_page(client, survey, first["id"]).text)
    # Reloading the page does not count a second ask.
    assert code_on(thanks_page(client, survey, first["id"]).text) == code
    second = api_response(client, org, survey, 9, external_id="C-1")
    assert code_on(thanks_page(client, survey, second["id"]).text) == code
    row = db.scalar(select(ReferralCode).where(ReferralCode.code == code))
    assert row.referrer_external_id == "C-1" and row.contact_id is not None
    asks = db.scalars(select(ReferralEvent).where(ReferralEvent.code_id == row.id,
                                                  ReferralEvent.kind == "asked")).all()
    assert sorted(a.response_id for a in asks) == sorted([first["id"], second["id"]])


def test_share_ping_records_shared_and_checks_input(client, db, org, survey):
    saved = api_response(client, org, survey, 10)
    code = code_on(thanks_page(client, survey, saved["id"]).text)
    assert client.post(f"/r/{code}/shared", json={"method": "copy"}).status_code == 204
    # A second copy within minutes is the same share.
    assert client.post(f"/r/{code}/shared", json={"method": "copy"}).status_code == 204
    assert client.post(f"/r/{code}/shared", json={"method": "qr"}).status_code == 204
    row = db.scalar(select(ReferralCode).where(ReferralCode.code == code))
    shares = db.scalars(select(ReferralEvent.channel).where(
        ReferralEvent.code_id == row.id, ReferralEvent.kind == "shared")).all()
    assert sorted(shares) == ["copy", "qr"]
    bad = client.post(f"/r/{code}/shared", json={"method": "fax"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "method"]
    assert client.post(f"/r/{code}/shared", content=b"{oops",
                       headers={"Content-Type": "application/json"}).status_code == 422
    assert client.post("/r/ZZZZZZZZ/shared", json={"method": "copy"}).status_code == 404
    assert client.post(f"/r/{code}/shared", content=b"x" * 5000).status_code == 413


def test_codes_avoid_ambiguous_characters_and_accept_sloppy_input():
    for _ in range(200):
        code = codes.new_code()
        assert not set(code) & set("01ILO")
    assert codes.normalize(" k7mq-x3pa ") == "K7MQX3PA"
    assert codes.normalize("K7MQ-X3P") is None and codes.normalize("K7MQ-X3P0") is None
    assert codes.display("K7MQX3PA") == "K7MQ-X3PA"


def test_ip_hash_is_keyed_per_organisation():
    one = hmac.new(b"k", b"org1:1.2.3.4", hashlib.sha256).hexdigest()
    assert hash_ip("k", "org1", "1.2.3.4") == one
    assert hash_ip("k", "org2", "1.2.3.4") != one


def test_invitation_as_json_for_embedded_surveys(client, org, survey):
    token = token_of(survey)
    promoter = api_response(client, org, survey, 10)
    response = client.get(f"/referral-invite/{token}/{promoter['id']}?lang=en")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    invite = response.json()["invite"]
    assert invite["url"] == f"http://127.0.0.1:8000/r/{invite['code']}"
    assert invite["qr_url"].endswith(f"/r/{invite['code']}/qr.png")
    assert invite["language"] == "en" and invite["share_text"]
    # The web thank-you page shows the same code.
    assert code_on(thanks_page(client, survey, promoter["id"]).text) == invite["code"]
    detractor = api_response(client, org, survey, 2)
    assert client.get(f"/referral-invite/{token}/{detractor['id']}").json() == {"invite": None}
    assert client.get(f"/referral-invite/{token}/nope").json() == {"invite": None}
    assert client.get(f"/referral-invite/nope/{promoter['id']}").status_code == 404
