"""Aliyun and Tencent SMS through the official SDKs, against local servers that recompute
ACS3-HMAC-SHA256 and TC3-HMAC-SHA256 from the request they received."""

from __future__ import annotations

import json

import pytest

from npsloop.notify.base import Fact, Notice, Outcome, Outgoing
from npsloop.notify.channels.aliyun_sms import AliyunSmsNotifier
from npsloop.notify.channels.tencent_sms import TencentSmsNotifier
from tests.notify.servers import AliyunSmsServer, TencentSmsServer

NOTICE = Notice(title="[P1] 新工单：物流太慢", facts=(Fact("priority", "优先级", "P1"),),
                link_url="http://127.0.0.1:8000/t/1", language="zh-CN")


@pytest.fixture
def aliyun():
    server = AliyunSmsServer()
    yield server
    server.stop()


def aliyun_notifier(server: AliyunSmsServer, **overrides: object) -> AliyunSmsNotifier:
    config = {
        "access_key_id": server.key_id, "access_key_secret": server.key_secret,
        "sign_name": "npsloop", "template_code": "SMS_123", "endpoint": server.endpoint,
        "protocol": "http", "phone_numbers": ["13800000000"], "timeout_seconds": 5,
        "template_params": {"title": "title", "priority": "fact:priority", "link": "link"},
        **overrides,
    }
    return AliyunSmsNotifier(AliyunSmsNotifier.parse_config(config))


def test_aliyun_send_sms_signed_and_accepted(aliyun: AliyunSmsServer) -> None:
    result = aliyun_notifier(aliyun).send(Outgoing(id="m-1", notice=NOTICE,
                                                  recipients=("13900000000", "13700000000")))
    assert (result.outcome, result.vendor_code) == (Outcome.delivered, "OK")
    query = aliyun.accepted[-1].query
    assert query["PhoneNumbers"] == "13900000000,13700000000"
    assert query["TemplateCode"] == "SMS_123" and query["OutId"] == "m-1"
    assert json.loads(query["TemplateParam"]) == {
        "title": NOTICE.title, "priority": "P1", "link": NOTICE.link_url}


def test_aliyun_wrong_secret_is_permanent(aliyun: AliyunSmsServer) -> None:
    result = aliyun_notifier(aliyun, access_key_secret="wrong").send(
        Outgoing(id="m-2", notice=NOTICE))
    assert (result.outcome, result.vendor_code, result.status_code) == (
        Outcome.failed, "SignatureDoesNotMatch", 400)
    assert not aliyun.accepted


def test_aliyun_errors_inside_200(aliyun: AliyunSmsServer) -> None:
    notifier = aliyun_notifier(aliyun)
    aliyun.mode = "error"
    bad_number = notifier.send(Outgoing(id="m-3", notice=NOTICE))
    assert (bad_number.outcome, bad_number.vendor_code) == (
        Outcome.failed, "isv.MOBILE_NUMBER_ILLEGAL")
    aliyun.mode = "rate_limited"
    limited = notifier.send(Outgoing(id="m-4", notice=NOTICE))
    assert (limited.outcome, limited.vendor_code) == (Outcome.retry, "isv.BUSINESS_LIMIT_CONTROL")


@pytest.fixture
def tencent():
    server = TencentSmsServer()
    yield server
    server.stop()


def tencent_notifier(server: TencentSmsServer, **overrides: object) -> TencentSmsNotifier:
    config = {
        "secret_id": server.secret_id, "secret_key": server.secret_key, "sdk_app_id": "1400000",
        "template_id": "449739", "sign_name": "npsloop", "endpoint": server.endpoint,
        "protocol": "http", "phone_numbers": ["+8613800000000"], "timeout_seconds": 5,
        "template_params": ["fact:priority", "title"], **overrides,
    }
    return TencentSmsNotifier(TencentSmsNotifier.parse_config(config))


def test_tencent_send_sms_signed_and_accepted(tencent: TencentSmsServer) -> None:
    result = tencent_notifier(tencent).send(Outgoing(id="m-5", notice=NOTICE))
    assert (result.outcome, result.vendor_code) == (Outcome.delivered, "Ok")
    body = tencent.accepted[-1].json()
    assert body["PhoneNumberSet"] == ["+8613800000000"]
    assert body["TemplateParamSet"] == ["P1", NOTICE.title]
    assert body["SmsSdkAppId"] == "1400000" and body["SessionContext"] == "m-5"


def test_tencent_wrong_key_is_permanent(tencent: TencentSmsServer) -> None:
    result = tencent_notifier(tencent, secret_key="wrong").send(Outgoing(id="m", notice=NOTICE))
    assert (result.outcome, result.vendor_code) == (Outcome.failed, "AuthFailure.SignatureFailure")


def test_tencent_per_number_error_inside_200(tencent: TencentSmsServer) -> None:
    notifier = tencent_notifier(tencent)
    tencent.mode = "error"
    failed = notifier.send(Outgoing(id="m", notice=NOTICE))
    assert (failed.outcome, failed.vendor_code) == (
        Outcome.failed, "FailedOperation.SignatureIncorrectOrUnapproved")
    tencent.mode = "rate_limited"
    limited = notifier.send(Outgoing(id="m", notice=NOTICE))
    assert (limited.outcome, limited.vendor_code) == (Outcome.retry, "RequestLimitExceeded")


def test_sms_config_errors_name_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        TencentSmsNotifier.parse_config({"secret_id": "a", "secret_key": "b", "sdk_app_id": "1",
                                         "template_id": "2", "sign_name": "s",
                                         "phone_numbers": ["call me"],
                                         "template_params": ["nonsense"]})
    fields = {err["loc"][0] for err in info.value.errors()}
    assert fields == {"phone_numbers", "template_params"}
