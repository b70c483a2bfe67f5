"""A campaign by SMS through Aliyun and Tencent Cloud (their official SDKs, pointed at local
servers that check the signature and the request): each contact gets their own personal
link in the template variables, and the invitation becomes delivered."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from npsloop.distribution import dispatch
from npsloop.distribution.models import Invitation
from tests.distribution.helpers import LINK, deliver_all
from tests.notify.servers import AliyunSmsServer, TencentSmsServer


def sms_vendor(vendor: str, *, aliyun_params: dict[str, str] | None = None
               ) -> tuple[AliyunSmsServer | TencentSmsServer, dict]:
    """A local fake of the vendor's SMS API and the channel config that sends through it."""
    if vendor == "aliyun_sms":
        aliyun = AliyunSmsServer()
        return aliyun, {"access_key_id": aliyun.key_id, "access_key_secret": aliyun.key_secret,
                        "sign_name": "鲜达", "template_code": "SMS_NPS1", "protocol": "http",
                        "endpoint": aliyun.endpoint, "timeout_seconds": 5,
                        "template_params": aliyun_params or {"link": "link"}}
    tencent = TencentSmsServer()
    return tencent, {"secret_id": tencent.secret_id, "secret_key": tencent.secret_key,
                     "sdk_app_id": "1400000", "template_id": "449739", "sign_name": "鲜达",
                     "endpoint": tencent.endpoint, "protocol": "http", "timeout_seconds": 5,
                     "template_params": ["link"]}


def _contacts(client, org, phones: list[str]) -> str:
    people = [{"external_id": f"M-{i}", "phone": phone, "name": f"客户{i}",
               "attributes": {"plan": "gold"}} for i, phone in enumerate(phones)]
    people.append({"external_id": "M-nophone", "attributes": {"plan": "gold"}})
    assert client.post("/api/v1/contacts/batch", json={"contacts": people},
                       headers=org.headers).status_code == 200
    return client.post("/api/v1/segments", headers=org.headers, json={
        "name": "Gold", "rules": {"match": "all", "conditions": [
            {"field": "attribute", "key": "plan", "operator": "equals", "value": "gold"}]}}
    ).json()["id"]


def _send(client, org, survey, segment_id: str, channel_id: str) -> dict:
    response = client.post("/api/v1/campaigns", headers=org.headers, json={
        "survey_id": survey["id"], "segment_id": segment_id, "channel": "sms",
        "notify_channel_id": channel_id, "send_now": True})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("vendor", ["aliyun_sms", "tencent_sms"])
def test_sms_campaign_through_vendor_sdk(vendor, client, db, db_factory, org, survey,
                                         settings):
    server, config = sms_vendor(vendor, aliyun_params={"org": "text:鲜达", "link": "link"})
    if vendor == "aliyun_sms":
        phones = ["13800000001", "13800000002"]  # contacts store them as +86 (E.164)
    else:
        phones = ["+8613800000001", "+8613800000002"]
    try:
        channel = client.post("/api/v1/notify/channels", headers=org.headers, json={
            "kind": vendor, "name": "SMS", "config": config})
        assert channel.status_code == 201, channel.text
        campaign = _send(client, org, survey, _contacts(client, org, phones),
                         channel.json()["id"])
        assert campaign["invited_count"] == 2
        assert campaign["skipped"] == {"no_address": 1}
        assert dispatch.tick(db_factory)["sent"] == 2
        deliver_all(db_factory, settings)
        dispatch.tick(db_factory)
        links = set()
        if vendor == "aliyun_sms":
            assert sorted(r.query["PhoneNumbers"] for r in server.accepted) == [
                "+86" + p for p in phones]
            for request in server.accepted:
                params = json.loads(request.query["TemplateParam"])
                assert params["org"] == "鲜达"
                links.add(LINK.search(params["link"]).group(1))
        else:
            sent = [r.json() for r in server.accepted]
            assert sorted(b["PhoneNumberSet"][0] for b in sent) == phones
            links = {LINK.search(b["TemplateParamSet"][0]).group(1) for b in sent}
        assert len(links) == 2  # a personal link per contact
        statuses = db.scalars(select(Invitation.status).where(
            Invitation.campaign_id == campaign["id"])).all()
        assert sorted(statuses) == ["delivered", "delivered"]
        opened = client.get(links.pop(), follow_redirects=False)
        assert opened.status_code == 303 and "inv=" in opened.headers["location"]
    finally:
        server.stop()
