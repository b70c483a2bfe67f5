"""Referral, campaign, settings and lifecycle pages: both languages, forms, roles."""

from __future__ import annotations

import pytest

from tests.plans.test_plan_pages import CSRF, csrf, login, no_raw_keys, post_form
from tests.referrals.helpers import promoter_code


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_referral_pages_render(client, org, survey, lang):
    code = promoter_code(client, org, survey, external_id="P-1", stage="retention")
    client.post("/api/v1/referrals/conversions", headers=org.headers,
                json={"code": code, "customer_external_id": "N-1", "value": 99})
    login(client, org.owner_email)
    for path in ("/referrals", "/referrals?preset=12m", "/referrals/campaigns",
                 "/referrals/settings", "/lifecycle", "/lifecycle?preset=30d"):
        page = client.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
        assert page.status_code == 200, path
        no_raw_keys(page.text)
    dashboard = client.get(f"/referrals?lang={lang}").text
    assert f"{code[:4]}-{code[4:]}" in dashboard  # the top advocate
    assert 'id="referrals-data"' in dashboard and 'data-step="conversions"' in dashboard
    life = client.get(f"/lifecycle?lang={lang}").text
    assert 'data-stage="retention"' in life and 'id="lifecycle-data"' in life


def test_settings_form_saves_and_reports_errors(client, org):
    login(client, org.owner_email)
    token = csrf(client, "/referrals/settings")
    bad = post_form(client, "/referrals/settings?lang=en", {
        "csrf_token": token, "enabled": "on", "landing_url": "ftp://x", "code_param": "ref",
        "burst_max_visits": "0", "burst_window_minutes": "10"})
    assert bad.status_code == 422
    assert "landing_url" in bad.text and "burst_max_visits" in bad.text
    good = post_form(client, "/referrals/settings", {
        "csrf_token": token, "landing_url": "https://shop.example.test/join",
        "code_param": "invite", "share_text_en": "Join me", "burst_max_visits": "7",
        "burst_window_minutes": "15"}, follow_redirects=False)
    assert good.status_code == 303
    saved = client.get("/api/v1/referrals/settings").json()
    assert saved["enabled"] is False  # the box was not ticked
    assert (saved["landing_url"], saved["code_param"], saved["burst_max_visits"]) == (
        "https://shop.example.test/join", "invite", 7)


def test_campaign_form_without_channels_explains(client, org, survey):
    login(client, org.owner_email)
    page = client.get("/referrals/campaigns?lang=en")
    assert "No email or SMS channel yet" in page.text
    token = CSRF.search(page.text).group(1)
    response = post_form(client, "/referrals/campaigns?lang=en", {
        "csrf_token": token, "purpose": "refer", "lookback_days": "30", "action": "preview"})
    assert response.status_code == 422 and "channel_ids" in response.text
    response = post_form(client, "/referrals/campaigns?lang=en", {
        "csrf_token": token, "purpose": "refer", "lookback_days": "999", "action": "preview"})
    assert response.status_code == 422 and "between 1 and 365" in response.text


def test_viewer_reads_but_cannot_configure(client, org, make_user):
    login(client, make_user(org.org_id, "viewer"))
    assert client.get("/referrals").status_code == 200
    assert client.get("/lifecycle").status_code == 200
    campaigns = client.get("/referrals/campaigns?lang=en")
    assert campaigns.status_code == 200 and "Send invitations" not in campaigns.text
    assert client.get("/referrals/settings").status_code == 403
