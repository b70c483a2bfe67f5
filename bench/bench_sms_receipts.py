"""Benchmark: SMS delivery receipts applied per second, on SQLite and (when it answers)
PostgreSQL. N messages are queued on a Tencent SMS channel with receipts on and their
SerialNos stored as a successful send stores them; the carrier's reports (mixed success
and failure) are then parsed and applied in pushes of 100, a commit per push, as the
receipt URL does; then the same pushes again (all duplicates).

Baseline, same run: a bare UPDATE of the same number of receipt rows by primary key in
batches of 100 (no parsing, no matching, no message settling): what writing the outcome
costs at the least.

    .venv/bin/python -m bench.bench_sms_receipts                  # 5,000 receipts
    .venv/bin/python -m bench.bench_sms_receipts --receipts 1000 --backend sqlite
"""

from __future__ import annotations

import argparse
import time
import uuid

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from bench.bench_segments import on_each_backend
from npsloop.accounts.service import create_organization
from npsloop.notify import receipts
from npsloop.notify import service as notify
from npsloop.notify.base import Notice
from npsloop.notify.crypto import SecretBox
from npsloop.notify.models import NotifyChannel, NotifyMessage, SmsReceipt

PUSH = 100  # reports per push (the vendors batch theirs)


def setup(factory: sessionmaker[Session], count: int) -> tuple[str, list[dict]]:
    """A channel with `count` sent messages awaiting receipts; returns the channel id and
    the carrier's reports for them in Tencent's format."""
    box = SecretBox("bench-secret-key-" + "x" * 20)
    with factory() as session:
        org, _, _ = create_organization(session, name=f"Bench {uuid.uuid4().hex[:6]}",
                                        admin_email=f"b-{uuid.uuid4().hex[:6]}@example.test",
                                        admin_password="password-123")
        channel = notify.create_channel(session, org_id=org.id, kind="tencent_sms", name="SMS",
                                        config={"secret_id": "a", "secret_key": "b",
                                                "sdk_app_id": "1", "template_id": "2",
                                                "sign_name": "s", "receipts": True}, box=box)
        phones = [f"+86138{n:08d}" for n in range(count)]
        ids = notify.enqueue_many(session, org_id=org.id, channel_id=channel.id, items=[
            (Notice(title="NPS"), [phone], None, None) for phone in phones])
        reports = []
        for n, (message_id, phone) in enumerate(zip(ids, phones, strict=True)):
            serial = f"2028:{uuid.uuid4().hex[:20]}"
            session.add(SmsReceipt(message_id=message_id, org_id=org.id, channel_id=channel.id,
                                   vendor_id=serial, phone=phone, status="awaiting",
                                   error_code="", error_message=""))
            ok = n % 10 != 0  # one in ten bounces
            reports.append({"user_receive_time": "2026-12-04 10:00:08", "nationcode": "86",
                            "mobile": phone[3:], "report_status": "SUCCESS" if ok else "FAIL",
                            "errmsg": "DELIVRD" if ok else "MK:0001",
                            "description": "", "sid": serial})
        session.execute(update(NotifyMessage).where(NotifyMessage.id.in_(ids))
                        .values(status="delivered", receipt_status="awaiting"))
        session.commit()
        return channel.id, reports


def apply_all(factory: sessionmaker[Session], channel_id: str, reports: list[dict]
              ) -> tuple[float, receipts.Applied]:
    total = receipts.Applied()
    started = time.perf_counter()
    for start in range(0, len(reports), PUSH):
        with factory() as session:
            channel = session.get(NotifyChannel, channel_id)
            applied = receipts.apply_reports(
                session, channel, receipts.parse("tencent_sms", reports[start:start + PUSH]))
            session.commit()
        for key, value in applied.as_dict().items():
            setattr(total, key, getattr(total, key) + value)
    return time.perf_counter() - started, total


def baseline(factory: sessionmaker[Session], channel_id: str) -> float:
    with factory() as session:
        ids = list(session.scalars(select(SmsReceipt.id).where(
            SmsReceipt.channel_id == channel_id)))
    started = time.perf_counter()
    for start in range(0, len(ids), PUSH):
        with factory() as session:
            session.execute(update(SmsReceipt), [
                {"id": row_id, "status": "delivered"} for row_id in ids[start:start + PUSH]])
            session.commit()
    return time.perf_counter() - started


def run(engine: Engine, name: str, count: int) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    floor_channel, _ = setup(factory, count)
    floor = baseline(factory, floor_channel)
    channel_id, reports = setup(factory, count)
    first_s, first = apply_all(factory, channel_id, reports)
    again_s, again = apply_all(factory, channel_id, reports)
    assert first.delivered + first.failed == count and again.duplicate == count
    print(f"{name:10s} {count:>6,} receipts applied in {first_s:5.2f} s "
          f"({count / first_s:,.0f}/s; bare update {floor:.2f} s, ratio "
          f"{first_s / floor:.1f}x); pushed again (all duplicates) in {again_s:5.2f} s "
          f"({count / again_s:,.0f}/s); delivered {first.delivered:,}, bounced "
          f"{first.failed:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receipts", type=int, default=5_000)
    parser.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    args = parser.parse_args()
    backends = argparse.Namespace(no_sqlite=args.backend == "postgresql",
                                  no_postgres=args.backend == "sqlite")
    on_each_backend(backends, lambda engine, name: run(engine, name, args.receipts))


if __name__ == "__main__":
    main()
