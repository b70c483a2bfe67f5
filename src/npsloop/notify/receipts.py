"""SMS delivery receipts: the carrier's report of whether a text reached the phone.

The vendor accepting a message (what the delivery worker records) is not the phone getting
it. Both vendors push the carrier's reports later to a URL set in their console; ours is
`/hooks/sms/<channel id>/<receipt token>`, the token a random secret stored encrypted on
the channel. When the send succeeds the worker stores the vendor's id per recipient
(`record_sent`); a pushed report is matched to it (`apply_reports`): Aliyun by
(biz_id, phone), its BizId being shared by the numbers of one request; Tencent by `sid`,
the SerialNo of one number.

A report only moves a recipient from "awaiting" to its final state once, so a repeated
push changes nothing; the message's `receipt_status` is recomputed from its recipients
(never incremented). Nothing here commits.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from npsloop.core.db import is_postgres, utcnow
from npsloop.notify.crypto import SecretBox, SecretDecryptError
from npsloop.notify.models import (
    NotifyChannel,
    NotifyMessage,
    ReceiptStatus,
    SmsReceipt,
)

log = logging.getLogger(__name__)
KINDS = ("aliyun_sms", "tencent_sms")
# Both vendors write report times as Beijing wall-clock time without an offset.
VENDOR_TZ = ZoneInfo("Asia/Shanghai")
LOOKUP_CHUNK = 500
AWAITING = ReceiptStatus.awaiting.value


def supports_receipts(kind: str) -> bool:
    return kind in KINDS


def receipts_on(channel: NotifyChannel) -> bool:
    return supports_receipts(channel.kind) and bool((channel.config or {}).get("receipts"))


# -- the receipt URL ---------------------------------------------------------------------------

def rotate_token(channel: NotifyChannel, box: SecretBox) -> str:
    """A new receipt token for the channel (the previous URL stops working at once)."""
    token = secrets.token_urlsafe(24)
    channel.receipt_token_encrypted = box.encrypt({"token": token})
    return token


def channel_token(channel: NotifyChannel, box: SecretBox) -> str | None:
    if not channel.receipt_token_encrypted:
        return None
    try:
        return str(box.decrypt(channel.receipt_token_encrypted).get("token") or "") or None
    except SecretDecryptError:
        return None


def receipt_url(channel: NotifyChannel, box: SecretBox, base_url: str) -> str | None:
    token = channel_token(channel, box) if supports_receipts(channel.kind) else None
    if token is None:
        return None
    return f"{base_url.rstrip('/')}/hooks/sms/{channel.id}/{token}"


def token_matches(channel: NotifyChannel, box: SecretBox, given: str) -> bool:
    expected = channel_token(channel, box)
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


# -- the vendors' formats ----------------------------------------------------------------------

class ReceiptFormatError(ValueError):
    """The pushed body is not the vendor's report format; the message names the field."""


@dataclass(frozen=True)
class Report:
    vendor_id: str
    phone: str
    delivered: bool
    code: str
    message: str
    reported_at: datetime | None


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class AliyunReport(_Loose):
    """One entry of Aliyun's SmsReport push (HTTP batch push)."""

    phone_number: str = Field(min_length=1, max_length=32)
    biz_id: str = Field(min_length=1, max_length=100)
    success: bool
    err_code: str = Field("", max_length=100)
    err_msg: str = Field("", max_length=300)
    report_time: str = ""
    send_time: str = ""
    out_id: str = ""


class TencentReport(_Loose):
    """One entry of Tencent's SMS status callback."""

    sid: str = Field(min_length=1, max_length=100)
    mobile: str = Field("", max_length=32)
    nationcode: str = ""
    report_status: str = Field(pattern="^(SUCCESS|FAIL)$")
    errmsg: str = Field("", max_length=100)
    description: str = Field("", max_length=300)
    user_receive_time: str = ""


def _vendor_time(value: str) -> datetime | None:
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=VENDOR_TZ).astimezone(UTC)


def _entries(body: Any, model: type[_Loose]) -> list[Any]:
    if isinstance(body, dict):  # a single report instead of a one-element array
        body = [body]
    if not isinstance(body, list):
        raise ReceiptFormatError("the body must be a JSON array of reports")
    try:
        return TypeAdapter(list[model]).validate_python(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        raise ReceiptFormatError(f"report{where}: {err['msg']}") from exc


def parse(kind: str, body: Any) -> list[Report]:
    """The reports in a pushed body, in the channel's vendor format."""
    if kind == "aliyun_sms":
        return [Report(r.biz_id, r.phone_number, r.success, r.err_code, r.err_msg,
                       _vendor_time(r.report_time)) for r in _entries(body, AliyunReport)]
    if kind == "tencent_sms":
        return [Report(r.sid, f"{r.nationcode}{r.mobile}", r.report_status == "SUCCESS",
                       r.errmsg, r.description, _vendor_time(r.user_receive_time))
                for r in _entries(body, TencentReport)]
    raise ReceiptFormatError(f"channel kind {kind!r} has no delivery receipts")


def acknowledgement(kind: str, error: str = "") -> dict[str, Any]:
    """The answer the vendor expects; anything but success makes it push again."""
    if kind == "tencent_sms":
        return {"result": 1, "errmsg": error} if error else {"result": 0, "errmsg": "OK"}
    return {"code": 1, "msg": error} if error else {"code": 0, "msg": "接收成功"}


# -- sending and receiving ---------------------------------------------------------------------

def record_sent(session: Session, message: NotifyMessage, vendor_ids: Iterable[tuple[str, str]],
                *, awaiting: bool) -> int:
    """Stores the vendor's id per recipient of a message the vendor accepted. With receipts
    on, the message awaits the carrier's report before it counts as delivered."""
    if message.channel_id is None:
        return 0
    now = utcnow()
    rows = [SmsReceipt(message_id=message.id, org_id=message.org_id,
                       channel_id=message.channel_id, vendor_id=vendor_id[:100],
                       phone=phone[:32], status=AWAITING, error_code="", error_message="",
                       sent_at=now)
            for phone, vendor_id in dict.fromkeys(vendor_ids) if vendor_id]
    session.add_all(rows)
    if rows and awaiting:
        message.receipt_status = AWAITING
    return len(rows)


_DIGITS = re.compile(r"\D")


def _same_phone(sent: str, reported: str) -> bool:
    """Vendors report a number without the "+" and often without the country code."""
    a, b = _DIGITS.sub("", sent), _DIGITS.sub("", reported)
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return long.endswith(short) and len(short) >= 6


def _match(kind: str, candidates: Sequence[SmsReceipt], report: Report) -> SmsReceipt | None:
    if kind == "tencent_sms" and len(candidates) == 1:
        return candidates[0]  # the sid names one number
    return next((row for row in candidates if _same_phone(row.phone, report.phone)), None)


@dataclass
class Applied:
    delivered: int = 0
    failed: int = 0
    duplicate: int = 0
    unknown: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _lock_rows(session: Session, channel: NotifyChannel, ids: list[str]
               ) -> dict[str, list[SmsReceipt]]:
    """The channel's recipients with these vendor ids, locked until the commit: two pushes
    of the same report at once apply it once (PostgreSQL locks the rows; SQLite the
    database, taken before the read)."""
    if not is_postgres(session):
        from npsloop.notify.delivery import lock_for_write  # delivery imports this module

        lock_for_write(session)
    rows: dict[str, list[SmsReceipt]] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        query = (select(SmsReceipt)
                 .where(SmsReceipt.channel_id == channel.id,
                        SmsReceipt.vendor_id.in_(ids[start:start + LOOKUP_CHUNK]))
                 .execution_options(populate_existing=True))
        if is_postgres(session):
            query = query.with_for_update()
        for row in session.scalars(query):
            rows.setdefault(row.vendor_id, []).append(row)
    return rows


def apply_reports(session: Session, channel: NotifyChannel, reports: Sequence[Report]
                  ) -> Applied:
    """Records the carrier's reports for this channel's messages only: a token of one
    channel can never reach another channel's (or organisation's) recipients. A recipient
    moves from awaiting to its final state once; a repeated report is a duplicate."""
    result = Applied()
    rows = _lock_rows(session, channel, list(dict.fromkeys(r.vendor_id for r in reports)))
    changes: list[dict[str, Any]] = []
    moved: set[str] = set()
    touched: set[str] = set()
    now = utcnow()
    for report in reports:
        row = _match(channel.kind, rows.get(report.vendor_id, ()), report)
        if row is None:
            result.unknown += 1
            log.info("sms receipt for an unknown id on channel %s: %s", channel.id,
                     report.vendor_id)
            continue
        if row.status != AWAITING or row.id in moved:
            result.duplicate += 1
            continue
        moved.add(row.id)
        status = (ReceiptStatus.delivered.value if report.delivered
                  else ReceiptStatus.failed.value)
        changes.append({"id": row.id, "status": status, "error_code": report.code[:100],
                        "error_message": report.message[:300],
                        "reported_at": report.reported_at or now, "received_at": now})
        touched.add(row.message_id)
        if report.delivered:
            result.delivered += 1
        else:
            result.failed += 1
    if changes:
        # One executemany by primary key, under the lock taken above.
        session.execute(update(SmsReceipt), changes,
                        execution_options={"synchronize_session": False})
    _settle(session, sorted(touched))
    session.flush()
    return result


def _settle(session: Session, message_ids: Sequence[str]) -> None:
    """Each message's receipt status from all its recipients: failed if any failed,
    delivered once all are, awaiting otherwise. Only for messages that await receipts."""
    for start in range(0, len(message_ids), LOOKUP_CHUNK):
        chunk = message_ids[start:start + LOOKUP_CHUNK]
        messages = session.scalars(select(NotifyMessage).where(
            NotifyMessage.id.in_(chunk), NotifyMessage.receipt_status.is_not(None))).all()
        if not messages:
            continue
        recipients: dict[str, list[tuple[str, str, datetime | None]]] = {}
        for message_id, status, error, reported_at in session.execute(
                select(SmsReceipt.message_id, SmsReceipt.status,
                       func.trim(SmsReceipt.error_code + " " + SmsReceipt.error_message),
                       SmsReceipt.reported_at)
                .where(SmsReceipt.message_id.in_([m.id for m in messages]))
                .order_by(SmsReceipt.sent_at, SmsReceipt.id)):
            recipients.setdefault(message_id, []).append((status, error, reported_at))
        for message in messages:
            states = recipients.get(message.id, [])
            failed = [error for status, error, _ in states
                      if status == ReceiptStatus.failed.value]
            if failed:
                message.receipt_status = ReceiptStatus.failed.value
                message.receipt_error = failed[0][:300]
            elif states and all(status != AWAITING for status, _, _ in states):
                message.receipt_status = ReceiptStatus.delivered.value
            else:
                continue
            message.receipt_at = max((at for status, _, at in states
                                      if status != AWAITING and at), default=utcnow())


def receipts_of(session: Session, message_ids: Sequence[str]) -> dict[str, list[SmsReceipt]]:
    """Recipients' receipts per message (for the delivery log)."""
    found: dict[str, list[SmsReceipt]] = {}
    for start in range(0, len(message_ids), LOOKUP_CHUNK):
        for row in session.scalars(select(SmsReceipt).where(
                SmsReceipt.message_id.in_(message_ids[start:start + LOOKUP_CHUNK]))
                .order_by(SmsReceipt.sent_at, SmsReceipt.phone)):
            found.setdefault(row.message_id, []).append(row)
    return found
