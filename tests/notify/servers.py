"""Local stand-ins for the vendors, on 127.0.0.1, that check the real wire format.

Each server recomputes the vendor's signature from what it received (never from what the
client meant to send) and answers with the vendor's own success and error bodies, including
errors inside HTTP 200. `mode` switches the answer: "ok", "rate_limited", "error" (a
vendor error in a 200), "http_500". `stop()`/`start()` simulate an outage on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    raw_query: str = ""

    def json(self) -> Any:
        return json.loads(self.raw or b"null")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server; subclasses implement `handle`."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.accepted: list[Received] = []  # requests answered with success
        self.mode = "ok"
        self.delay = 0.0
        self.fail_next = 0  # answer the next N requests with HTTP 503
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                received = Received(
                    self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()}, raw, parts.query,
                )
                if owner.delay:
                    time.sleep(owner.delay)
                with owner.lock:
                    owner.requests.append(received)
                with owner.lock:
                    failing = owner.fail_next > 0
                    owner.fail_next -= 1 if failing else 0
                reply = Reply(503, "unavailable") if failing else owner.handle(received)
                if 200 <= reply.status < 300 and owner.is_success(reply):
                    with owner.lock:
                        owner.accepted.append(received)
                data = reply.body if isinstance(reply.body, bytes) else (
                    reply.body.encode() if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                content_type = "text/plain" if isinstance(reply.body, str) else "application/json"
                self.send_header("Content-Type", content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                # No keep-alive: a stopped server must refuse every later request.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            do_POST = _serve
            do_GET = _serve

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_success(self, reply: Reply) -> bool:
        return True

    def handle(self, req: Received) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError


# -- chat robots ---------------------------------------------------------------------------

class DingTalkServer(FakeServer):
    def __init__(self, token: str = "dt-token", secret: str = "SECdingtalk-secret") -> None:
        self.token, self.secret = token, secret
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base}/robot/send?access_token={self.token}"

    def is_success(self, reply: Reply) -> bool:
        return reply.body.get("errcode") == 0

    def handle(self, req: Received) -> Reply:
        if req.path != "/robot/send" or req.query.get("access_token") != self.token:
            return Reply(200, {"errcode": 300001, "errmsg": "token is not exist"})
        timestamp, signature = req.query.get("timestamp", ""), req.query.get("sign", "")
        string_to_sign = f"{timestamp}\n{self.secret}".encode()
        expected = base64.b64encode(
            hmac.new(self.secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()
        # parse_qsl already URL-decoded the query: compare with the raw base64 digest, and
        # insist the raw query carried it URL-encoded.
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
        encoded_ok = f"sign={quote(expected, safe='')}" in req.raw_query
        if not (fresh and hmac.compare_digest(signature, expected) and encoded_ok):
            return Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
        body = req.json()
        kind = body.get("msgtype")
        if kind == "markdown" and not body.get("markdown", {}).get("title"):
            return Reply(200, {"errcode": 400402, "errmsg": "markdown title is empty"})
        if kind == "actionCard" and not body["actionCard"].get("singleURL"):
            return Reply(200, {"errcode": 400402, "errmsg": "actionCard url is empty"})
        if kind not in ("text", "markdown", "actionCard", "link", "feedCard"):
            return Reply(200, {"errcode": 400105, "errmsg": "unsupported msgtype"})
        if self.mode == "rate_limited":
            return Reply(200, {"errcode": 130101, "errmsg": "send too fast"})
        if self.mode == "error":
            return Reply(200, {"errcode": 310000, "errmsg": "keywords not in content"})
        if self.mode == "http_500":
            return Reply(500, {"errcode": -1, "errmsg": "system busy"})
        return Reply(200, {"errcode": 0, "errmsg": "ok"})


class FeishuServer(FakeServer):
    def __init__(self, token: str = "fs-token", secret: str = "feishu-secret") -> None:
        self.token, self.secret = token, secret
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{self.token}"

    def is_success(self, reply: Reply) -> bool:
        return reply.body.get("code") == 0

    def handle(self, req: Received) -> Reply:
        if req.path != f"/open-apis/bot/v2/hook/{self.token}":
            return Reply(404, {"code": 19001, "msg": "param invalid: incoming webhook access "
                                                     "token invalid"})
        if len(req.raw) > 20_000:
            return Reply(400, {"code": 9499, "msg": "request body too large"})
        body = req.json()
        timestamp = str(body.get("timestamp", ""))
        key = f"{timestamp}\n{self.secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 3600
        if not (fresh and hmac.compare_digest(str(body.get("sign", "")), expected)):
            return Reply(200, {"code": 19021, "msg": "sign match fail or timestamp is not "
                                                     "within one hour from current time"})
        kind = body.get("msg_type")
        shape_ok = (
            (kind == "text" and isinstance(body.get("content", {}).get("text"), str))
            or (kind == "post" and "post" in body.get("content", {}))
            or (kind == "interactive" and isinstance(body.get("card"), dict))
        )
        if not shape_ok:
            return Reply(200, {"code": 9499, "msg": "Bad Request"})
        if self.mode == "rate_limited":
            return Reply(200, {"code": 11232, "msg": "frequency limited"})
        if self.mode == "error":
            return Reply(200, {"code": 19024, "msg": "Key Words Not Found"})
        if self.mode == "http_500":
            return Reply(500, {"code": 500, "msg": "internal error"})
        return Reply(200, {"code": 0, "msg": "success", "data": {}})


class WeComServer(FakeServer):
    def __init__(self, key: str = "wc-key") -> None:
        self.key = key
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={self.key}"

    def is_success(self, reply: Reply) -> bool:
        return reply.body.get("errcode") == 0

    def handle(self, req: Received) -> Reply:
        if req.path != "/cgi-bin/webhook/send" or req.query.get("key") != self.key:
            return Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        body = req.json()
        kind = body.get("msgtype")
        if kind == "text" and len(body["text"]["content"].encode()) > 2048:
            return Reply(200, {"errcode": 40058, "errmsg": "content exceed max length 2048"})
        if kind == "markdown" and len(body["markdown"]["content"].encode()) > 4096:
            return Reply(200, {"errcode": 40058, "errmsg": "content exceed max length 4096"})
        if kind == "template_card":
            card = body["template_card"]
            if card.get("card_type") != "text_notice" or "card_action" not in card:
                return Reply(200, {"errcode": 40058, "errmsg": "invalid template_card"})
        if kind not in ("text", "markdown", "template_card", "image", "news", "file"):
            return Reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
        if self.mode == "rate_limited":
            return Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
        if self.mode == "error":
            return Reply(200, {"errcode": 93004, "errmsg": "webhook disabled"})
        if self.mode == "http_500":
            return Reply(502, "bad gateway")
        return Reply(200, {"errcode": 0, "errmsg": "ok"})


class SlackServer(FakeServer):
    @property
    def url(self) -> str:
        return f"{self.base}/services/T000/B000/XXXX"

    def handle(self, req: Received) -> Reply:
        if req.path != "/services/T000/B000/XXXX":
            return Reply(404, "no_service")
        try:
            body = req.json()
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Reply(400, "no_text")
        if self.mode == "archived":
            return Reply(410, "channel_is_archived")
        if self.mode == "rate_limited":
            return Reply(429, "rate_limited", {"Retry-After": "1"})
        if self.mode == "http_500":
            return Reply(500, "internal_error")
        return Reply(200, "ok")


class WebhookReceiver(FakeServer):
    """A Standard Webhooks receiver: verifies with the reference library, dedupes on id."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen_ids: list[str] = []
        self.payloads: list[dict[str, Any]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/npsloop"

    def handle(self, req: Received) -> Reply:
        try:
            payload = Webhook(self.secret).verify(req.raw.decode(), req.headers)
        except WebhookVerificationError as exc:
            return Reply(401, {"error": str(exc)})
        if self.mode == "gone":
            return Reply(410, {"error": "gone"})
        if self.mode == "http_500":
            return Reply(500, {"error": "down"})
        with self.lock:
            self.seen_ids.append(req.headers["webhook-id"])
            self.payloads.append(payload)
        return Reply(204, b"")


# -- SMS APIs ------------------------------------------------------------------------------

def _aliyun_expected_auth(req: Received, secret: str) -> tuple[str, str]:
    """Recomputes ACS3-HMAC-SHA256 from the request as received."""
    auth = req.headers.get("authorization", "")
    algo, _, rest = auth.partition(" ")
    fields = dict(part.split("=", 1) for part in rest.split(","))
    signed = fields.get("SignedHeaders", "").split(";")
    query = sorted((unquote_plus(k), unquote_plus(v)) for k, v in
                   (p.split("=", 1) if "=" in p else (p, "") for p in req.raw_query.split("&")
                    if p))
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in query)
    canonical_headers = "".join(f"{name}:{req.headers.get(name, '').strip()}\n"
                                for name in signed)
    payload_hash = hashlib.sha256(req.raw).hexdigest()
    canonical = "\n".join([req.method, req.path or "/", canonical_query, canonical_headers,
                           ";".join(signed), payload_hash])
    to_sign = f"{algo}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return fields.get("Signature", ""), expected


class AliyunSmsServer(FakeServer):
    def __init__(self, key_id: str = "LTAI-test", key_secret: str = "aliyun-secret") -> None:
        self.key_id, self.key_secret = key_id, key_secret
        # (biz_id, phone number as the carrier reports it: national, no "+86") per number.
        self.sent: list[tuple[str, str, str]] = []  # (biz_id, phone, out_id)
        super().__init__()

    def receipts(self, outcomes: dict[str, bool]) -> list[dict[str, Any]]:
        """The SmsReport push body (HTTP batch push) for the numbers sent: `outcomes` maps a
        phone number (as sent) to success."""
        reports = []
        for biz_id, phone, out_id in self.sent:
            if phone not in outcomes:
                continue
            ok = outcomes[phone]
            reports.append({
                "phone_number": phone.removeprefix("+86"), "send_time": "2026-12-04 10:00:00",
                "report_time": "2026-12-04 10:00:08", "success": ok,
                "err_code": "DELIVERED" if ok else "MK:0012", "err_msg": "用户接收成功" if ok
                else "空号", "sms_size": "1", "biz_id": biz_id, "out_id": out_id})
        return reports

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def is_success(self, reply: Reply) -> bool:
        return reply.body.get("Code") == "OK"

    def handle(self, req: Received) -> Reply:
        request_id = "A1B2C3D4-0000-0000-0000-000000000000"
        auth = req.headers.get("authorization", "")
        given, expected = _aliyun_expected_auth(req, self.key_secret)
        if (not auth.startswith(f"ACS3-HMAC-SHA256 Credential={self.key_id},")
                or not hmac.compare_digest(given, expected)
                or "host" not in auth or "x-acs-date" not in auth):
            return Reply(400, {"RequestId": request_id, "Code": "SignatureDoesNotMatch",
                               "Message": "Specified signature is not matched with our "
                                          "calculation."})
        if req.headers.get("x-acs-action") != "SendSms" or \
                req.headers.get("x-acs-version") != "2017-05-25":
            return Reply(400, {"RequestId": request_id, "Code": "InvalidAction",
                               "Message": "unknown action"})
        q = req.query
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not q.get(name):
                return Reply(200, {"RequestId": request_id, "Code": f"Missing{name}",
                                   "Message": f"{name} is mandatory for this action."})
        try:
            json.loads(q.get("TemplateParam") or "{}")
        except ValueError:
            return Reply(200, {"RequestId": request_id, "Code": "isv.INVALID_JSON_PARAM",
                               "Message": "JSON参数不合法"})
        if self.mode == "error":
            return Reply(200, {"RequestId": request_id, "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                               "Message": "非法手机号"})
        if self.mode == "rate_limited":
            return Reply(200, {"RequestId": request_id, "Code": "isv.BUSINESS_LIMIT_CONTROL",
                               "Message": "触发分钟级流控Permits:1"})
        with self.lock:
            biz_id = f"{900619746936498440 + len(self.sent)}^0"
            self.sent += [(biz_id, phone, q.get("OutId", ""))
                          for phone in q["PhoneNumbers"].split(",")]
        return Reply(200, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                           "BizId": biz_id})


class TencentSmsServer(FakeServer):
    def __init__(self, secret_id: str = "AKID-test", secret_key: str = "tencent-key") -> None:
        self.secret_id, self.secret_key = secret_id, secret_key
        self.sent: list[tuple[str, str]] = []  # (SerialNo, phone) of each accepted number
        super().__init__()

    def receipts(self, outcomes: dict[str, bool]) -> list[dict[str, Any]]:
        """The status callback body for the numbers sent (`outcomes`: phone -> success)."""
        reports = []
        for serial, phone in self.sent:
            if phone not in outcomes:
                continue
            ok = outcomes[phone]
            national = phone.removeprefix("+86")
            reports.append({
                "user_receive_time": "2026-12-04 10:00:08", "nationcode": "86",
                "mobile": national, "report_status": "SUCCESS" if ok else "FAIL",
                "errmsg": "DELIVRD" if ok else "MK:0001",
                "description": "用户短信送达成功" if ok else "空号", "sid": serial})
        return reports

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def is_success(self, reply: Reply) -> bool:
        statuses = reply.body.get("Response", {}).get("SendStatusSet") or []
        return bool(statuses) and all(s["Code"] == "Ok" for s in statuses)

    def _expected(self, req: Received, date: str, service: str) -> str:
        canonical = "\n".join([
            req.method, "/", "",
            f"content-type:{req.headers.get('content-type')}\nhost:{req.headers.get('host')}\n",
            "content-type;host", hashlib.sha256(req.raw).hexdigest()])
        timestamp = req.headers.get("x-tc-timestamp", "")
        scope = f"{date}/{service}/tc3_request"
        to_sign = (f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n"
                   f"{hashlib.sha256(canonical.encode()).hexdigest()}")

        def sign(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        secret_date = sign(f"TC3{self.secret_key}".encode(), date)
        secret_signing = sign(sign(secret_date, service), "tc3_request")
        return hmac.new(secret_signing, to_sign.encode(), hashlib.sha256).hexdigest()

    def handle(self, req: Received) -> Reply:
        request_id = "b2c5d6e7-0000-0000-0000-000000000000"
        auth = req.headers.get("authorization", "")
        try:
            credential = auth.split("Credential=")[1].split(",")[0]
            secret_id, date, service, _ = credential.split("/")
            given = auth.split("Signature=")[1]
        except (IndexError, ValueError):
            secret_id, date, service, given = "", "", "", ""
        if secret_id != self.secret_id or service != "sms" or not hmac.compare_digest(
                given, self._expected(req, date, service)):
            return Reply(200, {"Response": {"Error": {
                "Code": "AuthFailure.SignatureFailure",
                "Message": "The provided credentials could not be validated."},
                "RequestId": request_id}})
        if req.headers.get("x-tc-action") != "SendSms" or \
                req.headers.get("x-tc-version") != "2021-01-11":
            return Reply(200, {"Response": {"Error": {"Code": "InvalidAction",
                                                      "Message": "bad action"},
                                            "RequestId": request_id}})
        body = req.json()
        if self.mode == "rate_limited":
            return Reply(200, {"Response": {"Error": {"Code": "RequestLimitExceeded",
                                                      "Message": "too many requests"},
                                            "RequestId": request_id}})
        code, message = "Ok", "send success"
        if self.mode == "error":
            code, message = "FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批"
        statuses = [
            {"SerialNo": f"2028:{uuid.uuid4().hex[:20]}", "PhoneNumber": number, "Fee": 1,
             "SessionContext": body.get("SessionContext", ""), "Code": code,
             "Message": message, "IsoCode": "CN"}
            for number in body.get("PhoneNumberSet", [])
        ]
        if code == "Ok":
            with self.lock:
                self.sent += [(s["SerialNo"], s["PhoneNumber"]) for s in statuses]
        return Reply(200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}})
