"""Outcome pages in both languages: rates with interval bars, model cards with the holdout
AUC, the at-risk list, settings and fit forms, win-back list, form and detail; roles and
tenancy."""

from __future__ import annotations

from npsloop.core.i18n import catalogs
from npsloop.outcomes.models import WinbackCampaign
from tests.outcomes.test_fit_api import plant
from tests.plans.test_plan_pages import csrf, login, post_form


def no_raw_keys(text: str) -> None:
    leaked = [k for k in catalogs()["en"] if k.startswith("outcomes.") and k in text]
    assert not leaked, leaked


def test_pages_render_with_model_and_campaign(client, db, org, survey):
    plant(db, org.org_id, survey["id"])
    login(client, org.owner_email)
    token = csrf(client, "/outcomes")
    fitted = post_form(client, "/outcomes/fit", {"csrf_token": token}, follow_redirects=False)
    assert fitted.status_code == 303
    campaign = WinbackCampaign(org_id=org.org_id, name="Past win-back", window_days=30)
    db.add(campaign)
    db.flush()
    for lang in ("en", "zh-CN"):
        page = client.get(f"/outcomes?lang={lang}&window_days=14")
        assert page.status_code == 200
        no_raw_keys(page.text)
        assert 'data-testid="rate-promoter"' in page.text
        assert 'data-testid="auc-churn"' in page.text
        assert 'class="oc-ci"' in page.text and 'data-testid="at-risk"' in page.text
        assert ("Holdout AUC" if lang == "en" else "验证集 AUC") in page.text
        for path in ("/outcomes/winback", f"/outcomes/winback/{campaign.id}"):
            shown = client.get(f"{path}?lang={lang}")
            assert shown.status_code == 200, path
            no_raw_keys(shown.text)
            assert "Past win-back" in shown.text


def test_settings_form_and_errors(client, org):
    login(client, org.owner_email)
    token = csrf(client, "/outcomes")
    bad = post_form(client, "/outcomes/settings?lang=en", {
        "csrf_token": token, "repurchase_event": "has space", "churn_mode": "event",
        "churn_event": "cancelled", "window_days": "30"})
    assert bad.status_code == 422 and "repurchase_event" in bad.text
    good = post_form(client, "/outcomes/settings", {
        "csrf_token": token, "repurchase_event": "order_paid", "churn_mode": "inactive",
        "churn_event": "ignored", "window_days": "45"}, follow_redirects=False)
    assert good.status_code == 303
    settings = client.get("/api/v1/outcomes/settings", headers=org.headers).json()
    assert settings == {"repurchase_event": "order_paid", "churn_event": "",
                        "churn_mode": "inactive", "window_days": 45}
    too_little = post_form(client, "/outcomes/fit?lang=en", {"csrf_token": token})
    assert too_little.status_code == 409 and "needs at least" in too_little.text
    preview = post_form(client, "/outcomes/winback?lang=en", {
        "csrf_token": token, "min_risk": "x", "holdout_share": "0.15", "offer_en": "Hi",
        "action": "preview"})
    assert preview.status_code == 422 and "min_risk" in preview.text


def test_roles_and_tenancy(client, db, org, make_org, role_key):
    other = make_org("Other")
    theirs = client.post("/api/v1/surveys", headers=other.headers,
                         json={"name": "Theirs", "status": "live"}).json()["id"]
    campaign = WinbackCampaign(org_id=other.org_id, name="Theirs", window_days=30)
    db.add(campaign)
    db.flush()
    login(client, org.owner_email)
    assert client.get(f"/outcomes/winback/{campaign.id}").status_code == 404
    filtered = client.get(f"/outcomes?survey_id={theirs}&from=2026-02-30&lang=en")
    assert filtered.status_code == 200 and "<code>from</code>" in filtered.text
    viewer = role_key(org.org_id, "viewer")
    assert client.get("/api/v1/outcomes/rates", headers=viewer).status_code == 200
    for method, path in (("post", "/api/v1/outcomes/model/fit"),
                         ("put", "/api/v1/outcomes/settings"),
                         ("post", "/api/v1/outcomes/winback")):
        assert getattr(client, method)(path, headers=viewer, json={}).status_code == 403
