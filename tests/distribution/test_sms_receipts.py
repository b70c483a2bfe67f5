"""Carrier delivery receipts for an SMS campaign, through both vendors' SDKs against the local
fake servers: the vendors answer realistic ids (Aliyun a BizId per request, Tencent a
SerialNo per number), the receipts are pushed in the vendors' own formats to the channel's
receipt URL, and the funnel counts an invitation delivered only on the carrier's word."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from npsloop.distribution import dispatch
from npsloop.distribution.models import Invitation
from npsloop.notify.models import NotifyMessage, SmsReceipt
from tests.distribution.helpers import deliver_all
from tests.distribution.test_campaign_sms import sms_vendor

PHONES = ["+8613800000001", "+8613800000002", "+8613800000003"]


def _vendor(vendor: str, *, receipts: bool = True):
    server, config = sms_vendor(vendor)
    return server, {**config, "receipts": receipts}


def _campaign(client, org, survey, vendor_config: dict, kind: str) -> tuple[dict, dict]:
    channel = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": kind, "name": "SMS", "config": vendor_config})
    assert channel.status_code == 201, channel.text
    people = [{"external_id": f"M-{i}", "phone": phone, "attributes": {"plan": "gold"}}
              for i, phone in enumerate(PHONES)]
    assert client.post("/api/v1/contacts/batch", json={"contacts": people},
                       headers=org.headers).status_code == 200
    segment = client.post("/api/v1/segments", headers=org.headers, json={
        "name": "Gold", "rules": {"match": "all", "conditions": [
            {"field": "attribute", "key": "plan", "operator": "equals", "value": "gold"}]}})
    campaign = client.post("/api/v1/campaigns", headers=org.headers, json={
        "survey_id": survey["id"], "segment_id": segment.json()["id"], "channel": "sms",
        "notify_channel_id": channel.json()["id"], "send_now": True})
    assert campaign.status_code == 201, campaign.text
    return channel.json(), campaign.json()


def _send_all(db_factory, settings) -> None:
    dispatch.tick(db_factory)
    deliver_all(db_factory, settings)
    dispatch.tick(db_factory)


def _statuses(db, campaign_id: str) -> dict[str, str]:
    """Invitation status per phone number."""
    rows = db.execute(select(NotifyMessage.recipients, Invitation.status, Invitation.error)
                      .join(NotifyMessage, NotifyMessage.id == Invitation.message_id)
                      .where(Invitation.campaign_id == campaign_id)).all()
    db.expire_all()
    return {recipients[0]: (status, error) for recipients, status, error in rows}


def _funnel(client, org, campaign_id: str) -> dict:
    detail = client.get(f"/api/v1/campaigns/{campaign_id}", headers=org.headers).json()
    return {**detail["funnel"], "detail_failed": detail["failed"],
            "detail_bounced": detail["bounced"]}


@pytest.mark.parametrize("vendor", ["aliyun_sms", "tencent_sms"])
def test_receipts_decide_delivered_and_bounced(vendor, client, db, db_factory, org, survey,
                                               settings):
    server, config = _vendor(vendor)
    try:
        channel, campaign = _campaign(client, org, survey, config, vendor)
        _send_all(db_factory, settings)
        assert len(server.sent) == 3
        # The vendor accepted all three; the carrier has not reported: nothing delivered.
        assert {s for s, _ in _statuses(db, campaign["id"]).values()} == {"sent"}
        funnel = _funnel(client, org, campaign["id"])
        assert (funnel["invited"], funnel["delivered"], funnel["failed"]) == (3, 0, 0)
        stored = db.scalars(select(SmsReceipt).where(SmsReceipt.org_id == org.org_id)).all()
        assert sorted(r.phone for r in stored) == PHONES
        assert {r.status for r in stored} == {"awaiting"}
        if vendor == "aliyun_sms":  # one request per invitation: a BizId each
            assert len({r.vendor_id for r in stored}) == 3

        url = urlsplit(channel["receipt_url"]).path
        assert url.startswith(f"/hooks/sms/{channel['id']}/")
        reports = server.receipts({PHONES[0]: True, PHONES[1]: False})
        unknown = dict(reports[0])
        if vendor == "aliyun_sms":
            unknown["biz_id"] = "111111111111111111^0"
            ok = {"code": 0, "msg": "接收成功"}
        else:
            unknown["sid"] = "2028:unknown-serial"
            ok = {"result": 0, "errmsg": "OK"}
        # Mixed success and failure, the success repeated inside the push, an unknown id.
        pushed = client.post(url, json=[*reports, reports[0], unknown])
        assert pushed.status_code == 200 and pushed.json() == ok
        again = client.post(url, json=reports)  # the vendor pushes the same reports again
        assert again.status_code == 200 and again.json() == ok

        dispatch.tick(db_factory)
        statuses = _statuses(db, campaign["id"])
        assert statuses[PHONES[0]][0] == "delivered"
        assert statuses[PHONES[1]][0] == "failed"
        assert statuses[PHONES[1]][1].startswith("MK:00")  # the carrier's code
        assert statuses[PHONES[2]][0] == "sent"  # still awaiting its report
        funnel = _funnel(client, org, campaign["id"])
        assert (funnel["invited"], funnel["delivered"], funnel["failed"],
                funnel["bounced"]) == (3, 1, 1, 1)
        assert (funnel["detail_failed"], funnel["detail_bounced"]) == (1, 1)
        stats = client.get("/api/v1/stats/funnel", headers=org.headers,
                           params={"channel": "sms"}).json()
        row = next(r for r in stats["rows"] if r["survey_id"] == survey["id"])
        assert (row["delivered"], row["failed"], row["bounced"]) == (1, 1, 1)

        messages = client.get("/api/v1/notify/messages", headers=org.headers,
                              params={"channel_id": channel["id"]}).json()["items"]
        by_state = sorted(m["receipt_status"] for m in messages)
        assert by_state == ["awaiting", "delivered", "failed"]
        failed = next(m for m in messages if m["receipt_status"] == "failed")
        one = client.get(f"/api/v1/notify/messages/{failed['id']}", headers=org.headers).json()
        assert one["receipts"][0]["status"] == "failed"
        assert one["receipts"][0]["phone"] == PHONES[1]
        assert one["receipt_error"].startswith("MK:00")

        # The last report arrives late; the funnel follows.
        assert client.post(url, json=server.receipts({PHONES[2]: True})).status_code == 200
        dispatch.tick(db_factory)
        assert _funnel(client, org, campaign["id"])["delivered"] == 2

        page = client.get(f"/campaigns/{campaign['id']}", headers=org.headers)
        assert page.status_code == 200 and 'data-testid="bounced"' in page.text
        assert 'data-testid="awaiting-receipts"' not in page.text  # all three reported
        funnel_page = client.get("/campaigns/funnel", headers=org.headers)
        assert 'data-testid="funnel-failed"' in funnel_page.text
        log = client.get("/notify/messages", headers=org.headers)
        assert log.status_code == 200 and 'data-testid="receipt"' in log.text
    finally:
        server.stop()


def test_bad_pushes_are_refused(client, db, db_factory, org, survey, settings):
    server, config = _vendor("tencent_sms")
    try:
        channel, campaign = _campaign(client, org, survey, config, "tencent_sms")
        _send_all(db_factory, settings)
        url = urlsplit(channel["receipt_url"]).path
        wrong = url.rsplit("/", 1)[0] + "/not-the-token"
        assert client.post(wrong, json=server.receipts({PHONES[0]: True})).status_code == 404
        assert client.post(f"/hooks/sms/nochannel/{url.rsplit('/', 1)[1]}",
                           json=[]).status_code == 404
        not_json = client.post(url, content=b"{oops", headers={"content-type": "application/json"})
        assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
        assert not_json.json()["result"] != 0  # the vendor's own "not received"
        missing = server.receipts({PHONES[0]: True})
        del missing[0]["sid"]
        refused = client.post(url, json=missing)
        assert refused.status_code == 400 and "[0].sid" in refused.json()["detail"]
        wrong_shape = client.post(url, json={"report_status": "MAYBE", "sid": "x"})
        assert wrong_shape.status_code == 400 and "report_status" in wrong_shape.json()["detail"]
        too_big = client.post(url, content=b"[" + b" " * 1_100_000 + b"]",
                              headers={"content-type": "application/json"})
        assert too_big.status_code == 413
        # Nothing was recorded by any of them.
        assert {r.status for r in db.scalars(select(SmsReceipt).where(
            SmsReceipt.org_id == org.org_id))} == {"awaiting"}

        # Rotating the token retires the old URL.
        rotated = client.post(f"/api/v1/notify/channels/{channel['id']}/receipt-token",
                              headers=org.headers)
        assert rotated.status_code == 200
        new_url = urlsplit(rotated.json()["receipt_url"]).path
        assert new_url != url
        assert client.post(url, json=[]).status_code == 404
        assert client.post(new_url, json=[]).status_code == 200
        shown = client.get(f"/api/v1/notify/channels/{channel['id']}", headers=org.headers)
        assert urlsplit(shown.json()["receipt_url"]).path == new_url
        page = client.get(f"/notify/channels/{channel['id']}", headers=org.headers)
        assert new_url in page.text and 'name="config.receipts"' in page.text
        waiting = client.get(f"/campaigns/{campaign['id']}", headers=org.headers)
        assert 'data-testid="awaiting-receipts"' in waiting.text
    finally:
        server.stop()


def test_without_receipts_on_nothing_changes(client, db, db_factory, org, survey, settings):
    """A channel that did not turn receipts on keeps today's behaviour: delivered when the
    vendor accepted it. Receipts pushed anyway are recorded for the log only."""
    server, config = _vendor("aliyun_sms", receipts=False)
    try:
        channel, campaign = _campaign(client, org, survey, config, "aliyun_sms")
        _send_all(db_factory, settings)
        assert {s for s, _ in _statuses(db, campaign["id"]).values()} == {"delivered"}
        url = urlsplit(channel["receipt_url"]).path
        assert client.post(url, json=server.receipts({PHONES[0]: False})).status_code == 200
        dispatch.tick(db_factory)
        assert {s for s, _ in _statuses(db, campaign["id"]).values()} == {"delivered"}
        funnel = _funnel(client, org, campaign["id"])
        assert (funnel["delivered"], funnel["failed"], funnel["bounced"]) == (3, 0, 0)
        assert db.scalar(select(SmsReceipt.status).where(
            SmsReceipt.phone == PHONES[0], SmsReceipt.org_id == org.org_id)) == "failed"
    finally:
        server.stop()
