"""The notify API: channel settings with encrypted, masked secrets; test messages; the
delivery log and retries; webhook endpoints; permissions and organisation isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.notify.servers import DingTalkServer, WebhookReceiver

SECRET = "SECabcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def dingtalk():
    server = DingTalkServer(secret=SECRET)
    yield server
    server.stop()


def create_dingtalk(client, org, server: DingTalkServer, name: str = "Ops robot") -> dict:
    body = {"kind": "dingtalk", "name": name, "language": "en",
            "config": {"webhook_url": server.url, "secret": SECRET, "msg_type": "markdown"}}
    response = client.post("/api/v1/notify/channels", json=body, headers=org.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_secrets_encrypted_at_rest_and_masked(client, org, db, dingtalk) -> None:
    channel = create_dingtalk(client, org, dingtalk)
    assert channel["config"]["secret"] == "••••••" + SECRET[-4:]
    assert "access_token" not in channel["config"]["webhook_url"]
    assert channel["secret_fields"] == ["secret", "webhook_url"]
    raw = db.execute(text("SELECT config, secrets_encrypted FROM notify_channels WHERE id = :id"),
                     {"id": channel["id"]}).one()
    assert SECRET not in str(raw.config) and SECRET not in raw.secrets_encrypted
    assert "dt-token" not in str(raw.config) + raw.secrets_encrypted
    listed = client.get("/api/v1/notify/channels", headers=org.headers).json()["items"]
    assert SECRET not in str(listed) and "dt-token" not in str(listed)

    # Sending the masked values back keeps the secrets; the robot still accepts them.
    patched = client.patch(f"/api/v1/notify/channels/{channel['id']}", headers=org.headers,
                           json={"config": {**channel["config"], "msg_type": "text"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["config"]["msg_type"] == "text"
    test = client.post(f"/api/v1/notify/channels/{channel['id']}/test", headers=org.headers)
    assert test.json()["outcome"] == "delivered", test.text
    assert "npsloop test message" in dingtalk.accepted[-1].json()["text"]["content"]


def test_test_message_reports_vendor_error(client, org, dingtalk) -> None:
    channel = create_dingtalk(client, org, dingtalk)
    dingtalk.mode = "error"
    result = client.post(f"/api/v1/notify/channels/{channel['id']}/test", headers=org.headers)
    assert result.status_code == 200
    assert result.json()["outcome"] == "failed"
    assert (result.json()["status_code"], result.json()["vendor_code"]) == (200, "310000")
    log = client.get("/api/v1/notify/messages?status=dead", headers=org.headers).json()
    assert log["total"] == 1 and log["items"][0]["kind"] == "test"
    detail = client.get(f"/api/v1/notify/messages/{result.json()['message_id']}",
                        headers=org.headers).json()
    assert [a["vendor_code"] for a in detail["log"]] == ["310000"]

    dingtalk.mode = "ok"
    retried = client.post(f"/api/v1/notify/messages/{detail['id']}/retry", headers=org.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    again = client.post(f"/api/v1/notify/messages/{detail['id']}/retry", headers=org.headers)
    assert again.status_code == 200  # a pending message is simply made due now


def test_clear_422s(client, org) -> None:
    unknown = client.post("/api/v1/notify/channels", headers=org.headers,
                          json={"kind": "pager", "name": "x", "config": {}})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "kind"]
    bad = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "dingtalk", "name": "x", "config": {"webhook_url": "ftp://x", "extra": 1}})
    assert bad.status_code == 422
    locs = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert locs == {("body", "config", "webhook_url"), ("body", "config", "extra")}
    status_filter = client.get("/api/v1/notify/messages?status=lost", headers=org.headers)
    assert status_filter.status_code == 422
    hook = client.post("/api/v1/webhooks", headers=org.headers,
                       json={"url": "https://x.test/h", "event_types": ["ticket.deleted"]})
    assert hook.status_code == 422 and hook.json()["detail"][0]["loc"] == ["body", "event_types"]


def test_duplicate_name_is_422(client, org, dingtalk) -> None:
    create_dingtalk(client, org, dingtalk)
    again = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "slack", "name": "Ops robot", "config": {"webhook_url": "https://h.test/x"}})
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "name"]


def test_other_org_gets_404_and_roles_are_enforced(client, org, make_org, role_key,
                                                   dingtalk, db) -> None:
    channel = create_dingtalk(client, org, dingtalk)
    other = make_org("Other")
    for method, path in [
        ("get", f"/api/v1/notify/channels/{channel['id']}"),
        ("patch", f"/api/v1/notify/channels/{channel['id']}"),
        ("post", f"/api/v1/notify/channels/{channel['id']}/test"),
        ("delete", f"/api/v1/notify/channels/{channel['id']}"),
    ]:
        kwargs = {"json": {}} if method == "patch" else {}
        assert getattr(client, method)(path, headers=other.headers, **kwargs).status_code == 404
    assert client.get("/api/v1/notify/channels", headers=other.headers).json()["items"] == []
    sent = client.post(f"/api/v1/notify/channels/{channel['id']}/test", headers=org.headers)
    message_id = sent.json()["message_id"]
    assert client.get(f"/api/v1/notify/messages/{message_id}",
                      headers=other.headers).status_code == 404
    assert client.post(f"/api/v1/notify/messages/{message_id}/retry",
                       headers=other.headers).status_code == 404
    assert client.get("/api/v1/notify/messages", headers=other.headers).json()["total"] == 0
    # enqueue refuses another organisation's channel, naming the field
    from npsloop.notify import service
    from npsloop.notify.notices import render_notice

    with pytest.raises(service.NotifyError) as refused:
        service.enqueue(db, org_id=other.org_id, channel_id=channel["id"],
                        message=render_notice("test", "en", {"channel": "x"}))
    assert refused.value.field == "channel_id"
    analyst = role_key(org.org_id, "analyst")
    assert client.get("/api/v1/notify/channels", headers=analyst).status_code == 403
    assert client.get("/api/v1/webhooks", headers=analyst).status_code == 403
    assert client.get("/api/v1/notify/channels").status_code == 401


def test_webhook_endpoints_crud_secret_shown_once(client, org, make_org, db) -> None:
    created = client.post("/api/v1/webhooks", headers=org.headers, json={
        "url": "https://crm.example.test/hooks", "event_types": ["response.created"],
        "description": "CRM"})
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    raw = db.execute(text("SELECT secret_encrypted FROM notify_webhook_endpoints WHERE id=:id"),
                     {"id": endpoint["id"]}).scalar_one()
    assert endpoint["secret"] not in raw
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=org.headers).json()
    assert shown["secret"].startswith("••••••") and shown["secret"] != endpoint["secret"]
    rotated = client.patch(f"/api/v1/webhooks/{endpoint['id']}", headers=org.headers,
                           json={"rotate_secret": True, "event_types": ["ticket.created",
                                                                         "ticket.updated"]})
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != endpoint["secret"]
    assert rotated.json()["event_types"] == ["ticket.created", "ticket.updated"]
    other = make_org("Other")
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}",
                      headers=other.headers).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}",
                         headers=org.headers).status_code == 204
    assert client.get("/api/v1/webhooks", headers=org.headers).json()["items"] == []


def test_response_created_sends_signed_webhook(client, org, survey, db_factory) -> None:
    """An ingested response reaches a Standard Webhooks receiver, which verifies it."""
    from npsloop.core import outbox
    from npsloop.notify import delivery, service

    created = client.post("/api/v1/webhooks", headers=org.headers, json={
        "url": "http://127.0.0.1:1/placeholder", "event_types": ["response.created"]}).json()
    receiver = WebhookReceiver(created["secret"])
    try:
        client.patch(f"/api/v1/webhooks/{created['id']}", headers=org.headers,
                     json={"url": receiver.url})
        answer = client.post(f"/api/v1/surveys/{survey['id']}/responses", headers=org.headers,
                             json={"score": 3, "comment": "slow @all delivery"})
        assert answer.status_code in (200, 201), answer.text
        for _ in range(2):  # an outbox retry must not enqueue the webhook twice
            while outbox.run_once(db_factory):
                pass
        policy = delivery.DeliveryPolicy(base_delay=0.01)
        box = service.secret_box(client.app.state.settings)
        while delivery.run_once(db_factory, "w1", policy, box):
            pass
        assert len(receiver.payloads) == 1
        payload = receiver.payloads[0]
        assert payload["type"] == "response.created"
        assert payload["data"]["id"] == answer.json()["id"]
        assert payload["data"]["score"] == 3
        assert payload["data"]["comment"] == "slow @all delivery"  # data is data, not markup
        log = client.get("/api/v1/notify/messages?status=delivered", headers=org.headers).json()
        assert log["items"][0]["delivery_id"] == receiver.seen_ids[0]
    finally:
        receiver.stop()
