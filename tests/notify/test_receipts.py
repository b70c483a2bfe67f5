"""SMS delivery receipts at the notify level: the vendors' ids kept per recipient when a send
succeeds, the two report formats, matching, idempotency and the receipt URL's limits."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from npsloop.notify import receipts
from npsloop.notify.base import Notice, Outcome, Outgoing
from npsloop.notify.models import NotifyMessage, SmsReceipt
from tests.notify.servers import AliyunSmsServer, TencentSmsServer
from tests.notify.test_sms import aliyun_notifier, tencent_notifier

NOTICE = Notice(title="满意度调查", link_url="http://127.0.0.1:8000/i/x")


def test_aliyun_send_answers_one_biz_id_for_the_request() -> None:
    server = AliyunSmsServer()
    try:
        result = aliyun_notifier(server).send(Outgoing(
            id="m-1", notice=NOTICE, recipients=("+8613900000000", "13700000000")))
        assert result.outcome == Outcome.delivered
        biz_id = server.sent[0][0]
        assert result.vendor_ids == (("+8613900000000", biz_id), ("13700000000", biz_id))
        second = aliyun_notifier(server).send(Outgoing(id="m-2", notice=NOTICE))
        assert second.vendor_ids[0][1] != biz_id  # a new request, a new BizId
    finally:
        server.stop()


def test_tencent_send_answers_a_serial_per_number() -> None:
    server = TencentSmsServer()
    try:
        result = tencent_notifier(server).send(Outgoing(
            id="m-1", notice=NOTICE, recipients=("+8613900000000", "+8613700000000")))
        assert result.outcome == Outcome.delivered
        assert result.vendor_ids == tuple((phone, serial) for serial, phone in server.sent)
        assert len({serial for _, serial in result.vendor_ids}) == 2
    finally:
        server.stop()


def test_report_formats_parse_to_the_same_reports() -> None:
    aliyun = receipts.parse("aliyun_sms", [{
        "phone_number": "13800000001", "send_time": "2026-12-04 10:00:00",
        "report_time": "2026-12-04 10:00:08", "success": False, "err_code": "MK:0012",
        "err_msg": "空号", "sms_size": "1", "biz_id": "9006^0", "out_id": "m-1"}])
    tencent = receipts.parse("tencent_sms", {
        "user_receive_time": "2026-12-04 10:00:08", "nationcode": "86",
        "mobile": "13800000001", "report_status": "SUCCESS", "errmsg": "DELIVRD",
        "description": "用户短信送达成功", "sid": "2028:abc"})
    # Beijing time in the body, UTC in the database.
    at = datetime(2026, 12, 4, 2, 0, 8, tzinfo=UTC)
    assert aliyun == [receipts.Report("9006^0", "13800000001", False, "MK:0012", "空号", at)]
    assert tencent == [receipts.Report("2028:abc", "8613800000001", True, "DELIVRD",
                                       "用户短信送达成功", at)]


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("aliyun_sms", [{"phone_number": "1", "success": True}], "[0].biz_id"),
    ("aliyun_sms", [{"phone_number": "138", "biz_id": "x", "success": "perhaps"}],
     "[0].success"),
    ("tencent_sms", [{"sid": "x", "report_status": "DONE"}], "[0].report_status"),
    ("tencent_sms", "SUCCESS", "JSON array"),
])
def test_malformed_reports_name_the_field(kind: str, body: object, field: str) -> None:
    with pytest.raises(receipts.ReceiptFormatError) as info:
        receipts.parse(kind, body)
    assert field in str(info.value)


def test_phone_matching_tolerates_country_code_and_plus() -> None:
    assert receipts._same_phone("+8613800000001", "13800000001")
    assert receipts._same_phone("13800000001", "8613800000001")
    assert not receipts._same_phone("+8613800000001", "13800000002")
    assert not receipts._same_phone("+8613800000001", "")


def _message(db, org_id: str, channel_id: str, ids: list[tuple[str, str]],
             awaiting: bool = True) -> NotifyMessage:
    from npsloop.notify.service import enqueue

    message = enqueue(db, org_id=org_id, channel_id=channel_id, message=NOTICE,
                      recipients=[phone for phone, _ in ids])
    receipts.record_sent(db, message, ids, awaiting=awaiting)
    db.commit()
    return message


def test_reports_apply_once_and_settle_the_message(db, org) -> None:
    from npsloop.notify.service import create_channel, secret_box

    channel = create_channel(db, org_id=org.org_id, kind="aliyun_sms", name="sms", config={
        "access_key_id": "a", "access_key_secret": "b", "sign_name": "s",
        "template_code": "SMS_1", "receipts": True}, box=secret_box())
    message = _message(db, org.org_id, channel.id, [("+8613800000001", "B1^0"),
                                                    ("+8613800000002", "B1^0")])
    assert message.receipt_status == "awaiting"
    first = receipts.Report("B1^0", "13800000001", True, "DELIVERED", "", None)
    applied = receipts.apply_reports(db, channel, [first, first])
    db.commit()
    assert applied.as_dict() == {"delivered": 1, "failed": 0, "duplicate": 1, "unknown": 0}
    db.refresh(message)
    assert message.receipt_status == "awaiting"  # one of two numbers reported
    second = receipts.Report("B1^0", "13800000002", False, "MK:0012", "空号", None)
    wrong_phone = receipts.Report("B1^0", "13900000000", True, "DELIVERED", "", None)
    applied = receipts.apply_reports(db, channel, [second, wrong_phone, first])
    db.commit()
    assert applied.as_dict() == {"delivered": 0, "failed": 1, "duplicate": 1, "unknown": 1}
    db.refresh(message)
    assert (message.receipt_status, message.receipt_error) == ("failed", "MK:0012 空号")
    assert message.receipt_at is not None


def test_rotate_secrets_keeps_the_receipt_url(db, org) -> None:
    from npsloop.notify.crypto import SecretBox
    from npsloop.notify.service import create_channel, rotate_secrets

    old = SecretBox("old-key-" + "x" * 30)
    channel = create_channel(db, org_id=org.org_id, kind="tencent_sms", name="sms", config={
        "secret_id": "a", "secret_key": "b", "sdk_app_id": "1", "template_id": "2",
        "sign_name": "s"}, box=old)
    url = receipts.receipt_url(channel, old, "https://cx.example.test")
    assert url and url.startswith(f"https://cx.example.test/hooks/sms/{channel.id}/")
    new = SecretBox("new-key-" + "y" * 30, ["old-key-" + "x" * 30])
    rotate_secrets(db, new)
    assert receipts.receipt_url(channel, SecretBox("new-key-" + "y" * 30),
                                "https://cx.example.test") == url


def test_receipt_url_is_rate_limited_per_address(app, client, org) -> None:
    app.state.settings = app.state.settings.model_copy(update={"sms_receipts_per_minute": 3})
    channel = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "tencent_sms", "name": "SMS", "config": {
            "secret_id": "a", "secret_key": "b", "sdk_app_id": "1", "template_id": "2",
            "sign_name": "s"}}).json()
    url = urlsplit(channel["receipt_url"]).path
    codes = [client.post(url, json=[]).status_code for _ in range(3)]
    codes.append(client.post(url.rsplit("/", 1)[0] + "/guess", json=[]).status_code)
    assert codes == [200, 200, 200, 429]


def test_only_sms_channels_have_a_receipt_url(client, org, db) -> None:
    hook = client.post("/api/v1/notify/channels", headers=org.headers, json={
        "kind": "webhook", "name": "hook", "config": {"url": "http://127.0.0.1:9/x"}}).json()
    assert hook["receipt_url"] is None
    refused = client.post(f"/api/v1/notify/channels/{hook['id']}/receipt-token",
                          headers=org.headers)
    assert refused.status_code == 422 and "SMS" in refused.text
    assert client.post(f"/hooks/sms/{hook['id']}/anything", json=[]).status_code == 404
    assert not db.scalars(select(SmsReceipt).where(SmsReceipt.org_id == org.org_id)).all()


def test_two_pushes_at_once_apply_each_report_once(live) -> None:
    """The vendor may push the same batch twice in parallel (a retry after a timeout)."""
    import threading

    from npsloop.notify.models import NotifyChannel
    from npsloop.notify.service import enqueue

    channel_id = live.channel("tencent_sms", {
        "secret_id": "a", "secret_key": "b", "sdk_app_id": "1", "template_id": "2",
        "sign_name": "s", "receipts": True})
    reports = []
    with live.factory() as session:
        for n in range(40):
            phone = f"+86139{n:08d}"
            message = enqueue(session, org_id=live.org_id, channel_id=channel_id,
                              message=NOTICE, recipients=[phone])
            receipts.record_sent(session, message, [(phone, f"2028:s{n}")], awaiting=True)
            reports.append(receipts.Report(f"2028:s{n}", phone, n % 4 != 0, "x", "", None))
        session.commit()
    results: list[receipts.Applied] = []
    barrier = threading.Barrier(2)

    def push() -> None:
        with live.factory() as session:
            channel = session.get(NotifyChannel, channel_id)
            barrier.wait()
            results.append(receipts.apply_reports(session, channel, reports))
            session.commit()

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.delivered for r in results) == 30 and sum(r.failed for r in results) == 10
    assert sum(r.duplicate for r in results) == 40
    with live.factory() as session:
        states = session.scalars(select(NotifyMessage.receipt_status).where(
            NotifyMessage.channel_id == channel_id)).all()
    assert sorted(states).count("failed") == 10 and sorted(states).count("delivered") == 30


def test_erasing_a_contact_erases_the_receipts_phone(db, org) -> None:
    from npsloop.contacts.models import Contact
    from npsloop.notify.service import create_channel, secret_box
    from npsloop.privacy import personal_data

    contact = Contact(org_id=org.org_id, external_id="E-1", phone="+8613800000009")
    db.add(contact)
    channel = create_channel(db, org_id=org.org_id, kind="aliyun_sms", name="sms", config={
        "access_key_id": "a", "access_key_secret": "b", "sign_name": "s",
        "template_code": "SMS_1"}, box=secret_box())
    db.flush()
    message = _message(db, org.org_id, channel.id, [("+8613800000009", "B9^0")],
                       awaiting=False)
    counts = personal_data.erase_contact(db, org_id=org.org_id, contact=contact)
    db.commit()
    assert counts["notify_messages"] == 1
    assert db.scalar(select(SmsReceipt.phone).where(
        SmsReceipt.message_id == message.id)) == "[erased]"
