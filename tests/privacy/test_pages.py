"""The privacy page as a browser without JavaScript uses it: retention form with errors,
export and erasure of a person (confirmation required), the audit log, roles, CSRF, zh/en."""

from __future__ import annotations

from npsloop.accounts.models import Role
from tests.plans.test_plan_pages import csrf, login, post_form
from tests.privacy.test_personal_data import _seed


def test_retention_form_saves_and_names_bad_fields(client, org):
    login(client, org.owner_email)
    client.cookies.set("lang", "en")
    token = csrf(client, "/settings/privacy")
    bad = post_form(client, "/settings/privacy/retention", {
        "csrf_token": token, "anonymise_responses_after_days": "-3",
        "delete_events_after_days": "90"})
    assert bad.status_code == 422
    assert 'id="err-anonymise_responses_after_days"' in bad.text
    assert 'value="90"' in bad.text  # what the user typed stays
    good = post_form(client, "/settings/privacy/retention", {
        "csrf_token": token, "anonymise_responses_after_days": "730",
        "delete_events_after_days": ""}, follow_redirects=True)
    assert good.status_code == 200 and "Retention settings saved" in good.text
    assert client.get("/api/v1/privacy/retention", headers=org.headers).json()[
        "anonymise_responses_after_days"] == 730
    no_token = post_form(client, "/settings/privacy/retention",
                         {"anonymise_responses_after_days": "1"})
    assert no_token.status_code == 403


def test_export_and_erase_from_the_page(client, org, survey, db):
    _seed(client, org, survey, db)
    login(client, org.owner_email)
    client.cookies.set("lang", "en")
    token = csrf(client, "/settings/privacy")
    exported = post_form(client, "/settings/privacy/subject", {
        "csrf_token": token, "external_id": "C-1", "what": "export"})
    assert exported.status_code == 200 and exported.json()["counts"]["responses"] == 2
    unconfirmed = post_form(client, "/settings/privacy/subject", {
        "csrf_token": token, "external_id": "C-1", "confirm": "C-2", "what": "erase"})
    assert unconfirmed.status_code == 422 and 'id="err-confirm"' in unconfirmed.text
    assert client.get("/api/v1/contacts/C-1", headers=org.headers).status_code == 200
    missing = post_form(client, "/settings/privacy/subject", {
        "csrf_token": token, "external_id": "nobody", "what": "export"})
    assert missing.status_code == 422 and "nobody" in missing.text
    erased = post_form(client, "/settings/privacy/subject", {
        "csrf_token": token, "external_id": "C-1", "confirm": "C-1", "what": "erase"},
        follow_redirects=True)
    assert erased.status_code == 200 and "anonymised" in erased.text
    assert client.get("/api/v1/contacts/C-1", headers=org.headers).status_code == 404
    page = client.get("/settings/privacy?action=contact.erase")
    assert "contact.erase" in page.text and "C-1" not in page.text.split("audit")[-1]


def test_only_owners_and_admins_see_it_and_chinese_works(client, org, make_user):
    analyst = make_user(org.org_id, Role.analyst)
    login(client, analyst)
    assert client.get("/settings/privacy").status_code == 403
    assert "/settings/privacy" not in client.get("/").text
    client.cookies.clear()
    login(client, org.owner_email)
    zh = client.get("/settings/privacy?lang=zh-CN")
    assert zh.status_code == 200 and "隐私与审计日志" in zh.text and "privacy." not in zh.text
