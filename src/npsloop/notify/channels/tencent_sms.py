"""Tencent Cloud SMS (SendSms 2021-01-11) through the official SDK.

Each number gets its own status: success is `Code == "Ok"` for every entry of
SendStatusSet. When some numbers succeeded and others did not, the message is not retried
(that would text the successful ones twice); the failures are reported instead.
`SessionContext` carries the message's stable id; each number's `SerialNo` is the `sid`
of its delivery receipt.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as sms_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from npsloop.notify.base import Notifier, Outcome, Outgoing, SendResult, secret_field
from npsloop.notify.channels._sms import SmsConfig, check_source, recipients, resolve

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"
RETRYABLE_PREFIXES = (
    "InternalError", "RequestLimitExceeded", "ClientNetworkError", "ServerNetworkError",
    "LimitExceeded.PhoneNumberThirtySecondLimit", "LimitExceeded.PhoneNumberOneHourLimit",
    "FailedOperation.FailResolvePacket", "ResourceUnavailable", "RequestTimeout",
)


def _retryable(code: str) -> bool:
    return code.startswith(RETRYABLE_PREFIXES)


class TencentSmsConfig(SmsConfig):
    secret_id: str = Field(min_length=1, max_length=100)
    secret_key: str = secret_field(min_length=1, max_length=200)
    sdk_app_id: str = Field(min_length=1, max_length=40)
    template_id: str = Field(min_length=1, max_length=40)
    region: str = Field("ap-guangzhou", max_length=40)
    # Ordered sources of the template's {1}, {2}, ... variables.
    template_params: list[str] = Field(default_factory=lambda: ["title"], max_length=20)

    @field_validator("template_params")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        return [check_source(source) for source in value]


class TencentSmsNotifier(Notifier):
    kind = "tencent_sms"
    label = "Tencent Cloud SMS"
    Config = TencentSmsConfig
    needs_recipients = True

    config: TencentSmsConfig

    def client(self) -> SmsClient:
        cfg = self.config
        http = HttpProfile(
            protocol=cfg.protocol,
            endpoint=cfg.endpoint or DEFAULT_ENDPOINT,
            reqTimeout=int(cfg.timeout_seconds),
        )
        cred = credential.Credential(cfg.secret_id, cfg.secret_key)
        return SmsClient(cred, cfg.region, ClientProfile(httpProfile=http))

    def request(self, message: Outgoing) -> sms_models.SendSmsRequest:
        if message.notice is None:
            raise ValueError("SMS sends notices, not raw events")
        request = sms_models.SendSmsRequest()
        request.PhoneNumberSet = recipients(message.recipients, self.config)
        request.SmsSdkAppId = self.config.sdk_app_id
        request.TemplateId = self.config.template_id
        request.SignName = self.config.sign_name
        request.TemplateParamSet = [
            resolve(message.notice, source, self.config.param_max_length)
            for source in self.config.template_params
        ]
        request.SessionContext = message.id
        return request

    def send(self, message: Outgoing) -> SendResult:
        request = self.request(message)
        if not request.PhoneNumberSet:
            return SendResult(Outcome.failed, error="no phone numbers")
        try:
            reply = self.client().SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.get_code() or "")
            outcome = Outcome.retry if _retryable(code) else Outcome.failed
            return SendResult(outcome, None, code, f"{code}: {exc.get_message()}"[:1000])
        statuses = reply.SendStatusSet or []
        failed = [s for s in statuses if s.Code != "Ok"]
        if statuses and not failed:
            # A SerialNo per number: the `sid` of its delivery receipt.
            ids = tuple((s.PhoneNumber, s.SerialNo) for s in statuses
                        if s.PhoneNumber and s.SerialNo)
            return SendResult.ok(200, "Ok", ids)
        if not statuses:
            return SendResult(Outcome.retry, 200, None, "empty SendStatusSet")
        error = "; ".join(f"{s.PhoneNumber}: {s.Code} {s.Message}" for s in failed)[:1000]
        partial = len(failed) < len(statuses)
        if not partial and all(_retryable(s.Code or "") for s in failed):
            return SendResult(Outcome.retry, 200, failed[0].Code, error)
        return SendResult(Outcome.failed, 200, "partial" if partial else failed[0].Code, error)
