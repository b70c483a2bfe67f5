"""Targeting pages in both languages: the trigger editor round trip through forms (with the
CSRF token), fatigue settings and overrides, the decision log filters and counts, roles."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def signed_in(client, org):
    response = client.post("/login", data={"email": org.owner_email, "password": org.password},
                           follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return client


LANGS = ("en", "zh-CN")


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def untranslated(html: str) -> list[str]:
    return re.findall(r">\s*(targeting\.[a-z_.]+|nav\.targeting)", html)


def test_trigger_editor_round_trip(signed_in, org, survey):
    lang = "zh-CN"
    for shown in LANGS:
        page = signed_in.get("/targeting/triggers/new", params={"lang": shown})
        assert page.status_code == 200 and untranslated(page.text) == []
    form = {"csrf_token": csrf(page.text), "name": "Delivery NPS",
            "event_name": "order_delivered", "survey_id": survey["id"], "segment_id": "",
            "channel": "email", "delay_amount": "2", "delay_unit": "hours", "active": "on",
            "cond_property_0": "order_amount", "cond_op_0": "gt", "cond_value_0": "100",
            "cond_property_1": "city", "cond_op_1": "in", "cond_value_1": "上海, 北京"}
    saved = signed_in.post("/targeting/triggers/new", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    rules = signed_in.get("/api/v1/trigger-rules", headers=org.headers).json()
    assert len(rules) == 1
    rule = rules[0]
    assert rule["delay_seconds"] == 7200 and rule["channel"] == "email"
    assert rule["conditions"] == [{"property": "order_amount", "op": "gt", "value": 100},
                                  {"property": "city", "op": "in", "value": ["上海", "北京"]}]
    for shown, delay in (("zh-CN", "2 小时后"), ("en", "after 2 h")):
        listing = signed_in.get("/targeting/triggers", params={"lang": shown})
        assert "Delivery NPS" in listing.text and untranslated(listing.text) == []
        assert delay in listing.text
    edit = signed_in.get(f"/targeting/triggers/{rule['id']}", params={"lang": lang})
    assert 'value="order_amount"' in edit.text and 'value="上海, 北京"' in edit.text
    # A bad value comes back on the form with the field named, nothing saved.
    bad = signed_in.post(f"/targeting/triggers/{rule['id']}", data=form | {
        "cond_op_0": "gt", "cond_value_0": "lots"})
    assert bad.status_code == 422 and "conditions" in bad.text
    toggled = signed_in.post(f"/targeting/triggers/{rule['id']}",
                             data={"csrf_token": form["csrf_token"], "action": "toggle"},
                             follow_redirects=False)
    assert toggled.status_code == 303
    assert signed_in.get("/api/v1/trigger-rules", headers=org.headers).json()[0]["active"] is \
        False
    signed_in.post(f"/targeting/triggers/{rule['id']}",
                   data={"csrf_token": form["csrf_token"], "action": "delete"})
    assert signed_in.get("/api/v1/trigger-rules", headers=org.headers).json() == []


def test_try_a_decision_is_a_dry_run(signed_in, org, survey):
    signed_in.post("/api/v1/trigger-rules", headers=org.headers, json={
        "name": "Checkout", "event_name": "checkout", "survey_id": survey["id"],
        "channel": "api", "conditions": [{"property": "amount", "op": "gt", "value": 100}]})
    signed_in.post("/api/v1/contacts", headers=org.headers, json={"external_id": "T-1"})
    params = {"try_contact": "T-1", "try_event": "checkout", "try_channel": "api"}
    for props, expected in (('{"amount": 150}', "Would invite"),
                            ('{"amount": 50}', "amount &gt; 100"),
                            ("[1]", "JSON object")):
        page = signed_in.get("/targeting/triggers",
                             params=params | {"try_properties": props, "lang": "en"})
        result = re.search(r'data-testid="try-result".*?</div>\s*</form>', page.text, re.S)
        assert result and expected in result.group(0), (props, page.text[-2000:])
    log = signed_in.get("/api/v1/decisions", headers=org.headers).json()
    assert log["total"] == 0
    rule_id = signed_in.get("/api/v1/trigger-rules", headers=org.headers).json()[0]["id"]
    assert f'href="/targeting/log?trigger_id={rule_id}"' in signed_in.get(
        "/targeting/triggers").text
    filtered = signed_in.get("/targeting/log", params={"trigger_id": rule_id, "lang": "en"})
    assert "Trigger: Checkout" in filtered.text


def test_forms_need_the_csrf_token(signed_in, survey):
    response = signed_in.post("/targeting/fatigue", data={"recontact_days": "5"})
    assert response.status_code == 403


def test_fatigue_page_saves_policy_and_overrides(signed_in, org, survey):
    for lang in LANGS:
        page = signed_in.get("/targeting/fatigue", params={"lang": lang})
        assert page.status_code == 200 and untranslated(page.text) == []
    token = csrf(page.text)
    saved = signed_in.post("/targeting/fatigue", follow_redirects=False, data={
        "csrf_token": token, "recontact_days": "21", "sampling_percent": "50",
        "quiet_start": "22:00", "quiet_end": "08:00", "cap_count": "", "cap_days": ""})
    assert saved.status_code == 303
    policy = signed_in.get("/api/v1/fatigue", headers=org.headers).json()
    assert (policy["recontact_days"], policy["sampling_percent"], policy["quiet_end"]) == (
        21, 50.0, "08:00")
    bad = signed_in.post("/targeting/fatigue", data={
        "csrf_token": token, "recontact_days": "21", "sampling_percent": "50",
        "quiet_start": "22:00", "quiet_end": "", "cap_count": "3", "cap_days": "30"})
    assert bad.status_code == 422 and "quiet_end" in bad.text
    signed_in.post("/targeting/fatigue/overrides", data={
        "csrf_token": token, "survey_id": survey["id"], "recontact_days": "7",
        "sampling_percent": ""})
    overrides = signed_in.get("/api/v1/fatigue", headers=org.headers).json()["overrides"]
    assert overrides[0]["recontact_days"] == 7
    for lang, days in (("zh-CN", "7 天"), ("en", "7 days")):
        shown = signed_in.get("/targeting/fatigue", params={"lang": lang}).text
        assert survey["name"] in shown and days in shown


def test_decision_log_page_filters_and_counts(signed_in, org, survey):
    body = {"contact": {"external_id": "C-1", "name": "王芳"}, "event": {"name": "checkout"},
            "survey_id": survey["id"]}
    for _ in range(3):  # one invitation, then twice the recontact window
        signed_in.post("/api/v1/triggers", json=body, headers=org.headers)
    signed_in.post("/api/v1/triggers", headers=org.headers, json={
        "contact": {"external_id": "C-2"}, "event": {"name": "checkout"}})
    for lang in LANGS:
        page = signed_in.get("/targeting/log", params={"lang": lang})
        assert page.status_code == 200 and untranslated(page.text) == []
        counts = re.search(r'data-testid="rule-counts".*?</article>', page.text, re.S).group(0)
        window = "重复打扰间隔" if lang == "zh-CN" else "Recontact window"
        assert window in counts and ">2</span>" in counts and ">1</span>" in counts
        only = signed_in.get("/targeting/log", params={"lang": lang, "rule": "no_trigger"}).text
        assert "C-2" in only and ">C-1<" not in only
        mine = signed_in.get("/targeting/log", params={"lang": lang, "contact": "C-1",
                                                       "result": "yes"}).text
        assert ">C-1<" in mine and ("1 条决策" if lang == "zh-CN" else "Decisions: 1") in mine
    bad = signed_in.get("/targeting/log", params={"from": "2026-13-45"})
    assert bad.status_code == 200 and 'aria-invalid="true"' in bad.text


def test_viewer_reads_but_cannot_change(client, org, survey, make_user):
    email = make_user(org.org_id, "viewer")
    client.post("/login", data={"email": email, "password": "password-123"})
    assert client.get("/targeting/triggers").status_code == 200
    assert client.get("/targeting/log").status_code == 200
    fatigue = client.get("/targeting/fatigue")
    assert fatigue.status_code == 200 and "disabled" in fatigue.text
    assert client.get("/targeting/triggers/new").status_code == 403
    response = client.post("/targeting/fatigue", data={"csrf_token": csrf(fatigue.text),
                                                       "recontact_days": "1"})
    assert response.status_code == 403
