"""Alibaba Cloud SMS (dysmsapi 2017-05-25 SendSms) through the official SDK.

Success is `Code == "OK"` in the reply body; errors come either as a body code (HTTP 200)
or as an SDK exception for HTTP 4xx/5xx (e.g. SignatureDoesNotMatch). `OutId` carries the
message's stable id; the reply's `BizId` (one per request) and the phone number match
the carrier's delivery receipts.
"""

from __future__ import annotations

import json

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from pydantic import Field, field_validator

from npsloop.notify.base import Notifier, Outcome, Outgoing, SendResult, secret_field
from npsloop.notify.channels._sms import SmsConfig, check_source, recipients, resolve

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
PERMANENT = frozenset({
    "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.TEMPLATE_MISSING_PARAMETERS", "isv.TEMPLATE_PARAMS_ILLEGAL",
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.INVALID_PARAMETERS",
    "isv.INVALID_JSON_PARAM", "isv.PARAM_LENGTH_LIMIT", "isv.ACCOUNT_NOT_EXISTS",
    "isv.ACCOUNT_ABNORMAL", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
    "isv.BLACK_KEY_CONTROL_LIMIT", "isv.DAY_LIMIT_CONTROL", "isv.DENY_IP_RANGE",
    "SignatureDoesNotMatch", "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId",
    "Forbidden.RAM", "MissingPhoneNumbers", "MissingSignName", "MissingTemplateCode",
})
RATE_LIMITED = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User"})


class AliyunSmsConfig(SmsConfig):
    access_key_id: str = Field(min_length=1, max_length=100)
    access_key_secret: str = secret_field(min_length=1, max_length=200)
    template_code: str = Field(min_length=1, max_length=50)
    # Template variable name -> notice source, e.g. {"title": "title", "link": "link"}.
    template_params: dict[str, str] = Field(default_factory=lambda: {"title": "title"})

    @field_validator("template_params")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: check_source(source) for name, source in value.items()}


def _classify(code: str, message: str, status: int | None = None) -> SendResult:
    error = f"{code}: {message}"[:1000]
    if code in RATE_LIMITED:
        return SendResult(Outcome.retry, status, code, error, retry_after=60.0)
    if code in PERMANENT:
        return SendResult(Outcome.failed, status, code, error)
    return SendResult(Outcome.retry, status, code, error)


class AliyunSmsNotifier(Notifier):
    kind = "aliyun_sms"
    label = "Alibaba Cloud SMS"
    Config = AliyunSmsConfig
    needs_recipients = True

    config: AliyunSmsConfig

    def client(self) -> Client:
        cfg = self.config
        timeout_ms = int(cfg.timeout_seconds * 1000)
        return Client(open_api_models.Config(
            access_key_id=cfg.access_key_id,
            access_key_secret=cfg.access_key_secret,
            endpoint=cfg.endpoint or DEFAULT_ENDPOINT,
            protocol=cfg.protocol,
            connect_timeout=timeout_ms,
            read_timeout=timeout_ms,
        ))

    def request(self, message: Outgoing) -> sms_models.SendSmsRequest:
        if message.notice is None:
            raise ValueError("SMS sends notices, not raw events")
        params = {name: resolve(message.notice, source, self.config.param_max_length)
                  for name, source in self.config.template_params.items()}
        return sms_models.SendSmsRequest(
            phone_numbers=",".join(recipients(message.recipients, self.config)),
            sign_name=self.config.sign_name,
            template_code=self.config.template_code,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=message.id,
        )

    def send(self, message: Outgoing) -> SendResult:
        request = self.request(message)
        if not request.phone_numbers:
            return SendResult(Outcome.failed, error="no phone numbers")
        try:
            reply = self.client().send_sms(request)
        except ThrottlingException as exc:
            return SendResult(Outcome.retry, exc.status_code, exc.code, str(exc.message)[:1000],
                              retry_after=float(exc.retry_after or 60) )
        except (ClientException, ServerException) as exc:
            return _classify(str(exc.code), str(exc.message), exc.status_code)
        body = reply.body
        if body is not None and body.code == "OK":
            # One BizId per request, shared by its numbers: receipts name (biz_id, phone).
            ids = tuple((phone, body.biz_id) for phone in request.phone_numbers.split(",")
                        if body.biz_id)
            return SendResult.ok(reply.status_code, "OK", ids)
        code = body.code if body is not None else "no body"
        return _classify(str(code), str(body.message if body else ""), reply.status_code)
