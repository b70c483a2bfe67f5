"""The public SMS receipt URL is per channel: organisation A's token cannot touch B's
messages, whether it names B's vendor ids or B's channel."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from npsloop.notify.base import Notice
from npsloop.notify.models import NotifyMessage, SmsReceipt
from npsloop.notify.service import enqueue
from tests.distribution.helpers import deliver_all
from tests.notify.servers import TencentSmsServer


def _sms_channel(client, org, server: TencentSmsServer) -> dict:
    response = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "tencent_sms", "name": "SMS", "config": {
            "secret_id": server.secret_id, "secret_key": server.secret_key,
            "sdk_app_id": "1400000", "template_id": "449739", "sign_name": "npsloop",
            "endpoint": server.endpoint, "protocol": "http", "timeout_seconds": 5,
            "receipts": True}})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_receipt_token_reaches_only_its_own_channel(client, db, db_factory, make_org,
                                                      settings):
    org_a, org_b = make_org("A"), make_org("B")
    server = TencentSmsServer()
    try:
        channel_a, channel_b = _sms_channel(client, org_a, server), _sms_channel(
            client, org_b, server)
        for org, channel, phone in ((org_a, channel_a, "+8613800000001"),
                                    (org_b, channel_b, "+8613800000002")):
            enqueue(db, org_id=org.org_id, channel_id=channel["id"],
                    message=Notice(title="hello"), recipients=[phone])
        db.commit()
        deliver_all(db_factory, settings)
        url_a = urlsplit(channel_a["receipt_url"]).path
        token_a = url_a.rsplit("/", 1)[1]
        b_reports = server.receipts({"+8613800000002": False})
        assert len(b_reports) == 1
        # B's serial number pushed to A's URL: unknown there, answered OK, B untouched.
        pushed = client.post(url_a, json=b_reports)
        assert pushed.status_code == 200 and pushed.json()["result"] == 0
        # A's token on B's channel: no such URL.
        assert client.post(f"/hooks/sms/{channel_b['id']}/{token_a}",
                           json=b_reports).status_code == 404
        db.expire_all()
        b_rows = db.scalars(select(SmsReceipt).where(SmsReceipt.org_id == org_b.org_id)).all()
        assert [r.status for r in b_rows] == ["awaiting"]
        assert db.scalar(select(NotifyMessage.receipt_status).where(
            NotifyMessage.org_id == org_b.org_id)) == "awaiting"
        # B's own URL does record it.
        assert client.post(urlsplit(channel_b["receipt_url"]).path,
                           json=b_reports).status_code == 200
        db.expire_all()
        assert db.scalar(select(SmsReceipt.status).where(
            SmsReceipt.org_id == org_b.org_id)) == "failed"
        # B's credentials cannot read or rotate A's receipt URL.
        assert client.get(f"/api/v1/notify/channels/{channel_a['id']}",
                          headers=org_b.headers).status_code == 404
        assert client.post(f"/api/v1/notify/channels/{channel_a['id']}/receipt-token",
                           headers=org_b.headers).status_code == 404
        assert client.post(url_a, json=[]).status_code == 200  # A's URL still works
    finally:
        server.stop()
