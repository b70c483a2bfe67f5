"""The campaigns, schedules and funnel API: clear 422s naming the field, and one
organisation never sees or uses another's campaigns, segments or channels."""

from __future__ import annotations

from tests.distribution.helpers import contacts_and_segment, email_channel


def _body(survey, segment_id, channel_id, **extra):
    return {"survey_id": survey["id"], "segment_id": segment_id, "channel": "email",
            "notify_channel_id": channel_id, **extra}


def _loc(response) -> list:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


def test_campaign_validation_names_the_field(client, org, survey):
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=1)
    post = lambda body: client.post("/api/v1/campaigns", json=body, headers=org.headers)  # noqa: E731
    assert _loc(post(_body(survey, "nope", channel_id))) == ["body", "segment_id"]
    assert _loc(post(_body(survey, segment_id, "nope"))) == ["body", "notify_channel_id"]
    assert _loc(post(_body(survey, segment_id, channel_id, channel="sms"))) == [
        "body", "notify_channel_id"]  # an email account cannot send SMS
    assert _loc(post(_body(survey, segment_id, channel_id, channel="fax"))) == [
        "body", "channel"]
    assert _loc(post(_body(survey, segment_id, channel_id, messages={
        "en": {"subject": "Hi {first_name}"}}))) == ["body", "messages", "en", "subject"]
    assert _loc(post(_body(survey, segment_id, channel_id, messages={
        "fr": {"subject": "Salut"}}))) == ["body", "messages", "fr"]
    assert _loc(post(_body(survey, segment_id, channel_id, expires_days=0)))[-1] == \
        "expires_days"
    draft = client.post("/api/v1/surveys", json={"name": "Draft"}, headers=org.headers).json()
    assert _loc(post(_body(draft, segment_id, channel_id))) == ["body", "survey_id"]
    later = post(_body(survey, segment_id, channel_id, send_at="2031-01-01T02:00:00Z"))
    assert later.status_code == 201 and later.json()["status"] == "scheduled"
    listed = client.get("/api/v1/campaigns", headers=org.headers).json()
    assert [c["id"] for c in listed] == [later.json()["id"]]


def test_schedules_api(client, org, survey):
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=1)
    post = lambda body: client.post("/api/v1/schedules", json=body, headers=org.headers)  # noqa: E731
    base = _body(survey, segment_id, channel_id, name="Quarterly")
    assert _loc(post({**base, "every_unit": "cron", "cron": "0 9 * * mon-xyz"})) == [
        "body", "cron"]
    assert _loc(post({**base, "every_unit": "month", "timezone": "Mars/Olympus"})) == [
        "body", "timezone"]
    assert _loc(post({**base, "every_unit": "fortnight"}))[-1] == "every_unit"
    created = post({**base, "every_unit": "month", "every_count": 3,
                    "starts_at": "2031-01-01T02:00:00Z"})
    assert created.status_code == 201, created.text
    assert created.json()["next_run_at"].startswith("2031-01-01T02:00")
    assert created.json()["timezone"] == "Asia/Shanghai"  # the organisation's
    cron = post({**base, "every_unit": "cron", "cron": "0 10 1 1,4,7,10 *"})
    assert cron.status_code == 201 and cron.json()["next_run_at"].endswith(":00:00Z")
    assert len(client.get("/api/v1/schedules", headers=org.headers).json()) == 2


def test_tenant_isolation(client, org, survey, make_org):
    channel_id = email_channel(client, org, 2525)
    segment_id = contacts_and_segment(client, org, count=2)
    campaign = client.post("/api/v1/campaigns", headers=org.headers, json=_body(
        survey, segment_id, channel_id, send_now=True)).json()
    other = make_org("Other")
    assert client.get(f"/api/v1/campaigns/{campaign['id']}",
                      headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/campaigns/{campaign['id']}/send",
                       headers=other.headers).status_code == 404
    assert client.get("/api/v1/campaigns", headers=other.headers).json() == []
    assert client.get("/api/v1/stats/funnel", headers=other.headers).json() == {"rows": []}
    own = client.get("/api/v1/stats/funnel", headers=org.headers).json()["rows"]
    assert own[0]["invited"] == 2
    # Another organisation cannot aim its campaign at this one's segment or channel.
    other_survey = client.post("/api/v1/surveys", json={"name": "S", "status": "live"},
                               headers=other.headers).json()
    response = client.post("/api/v1/campaigns", headers=other.headers, json=_body(
        other_survey, segment_id, channel_id))
    assert _loc(response) == ["body", "segment_id"]
    assert _loc(client.get("/api/v1/stats/funnel", params={"from": "yesterday"},
                           headers=org.headers)) == ["query", "from"]
