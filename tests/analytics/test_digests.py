"""Digest reports: the schedule in the organisation's time zone, once per period with two
racing workers and after downtime, the real MIME message from a local SMTP server (HTML
body and PDF attachment, zh text inside the PDF), numbers equal to trends.period_change and
movers computed by the same z-test, and the settings API's input errors."""

from __future__ import annotations

import base64
import re
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, select

from npsloop.accounts.models import Organization
from npsloop.accounts.service import create_organization
from npsloop.analytics import movers, trends
from npsloop.analytics.filters import Filters
from npsloop.analytics.stats import summarize
from npsloop.core.db import make_session_factory
from npsloop.notify import service as notify
from npsloop.notify.crypto import SecretBox
from npsloop.reports import jobs
from npsloop.reports.models import Digest, DigestRun, RunStatus
from npsloop.reports.schedule import due_period
from npsloop.surveys.schemas import SurveyCreate
from npsloop.surveys.service import create_survey
from tests.analytics.helpers import add_scores, counts_scores

BOX = SecretBox("digest-test-secret-key")
TZ = "Asia/Shanghai"
# Monday 30 November 2026, 09:30 in Shanghai: the week of 23-29 November is due at 09:00.
NOW = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
IN_WEEK = datetime(2026, 11, 25, 4, tzinfo=UTC)
WEEK_BEFORE = datetime(2026, 11, 18, 4, tzinfo=UTC)


def test_schedule_in_the_organisation_time_zone():
    weekly = dict(frequency="weekly", weekday=0, day_of_month=1, hour=9, tz=TZ)
    before_nine = due_period(**weekly, now=datetime(2026, 11, 30, 0, 59, tzinfo=UTC))
    after_nine = due_period(**weekly, now=datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
    assert before_nine.key == "2026-W47" and after_nine.key == "2026-W48"
    assert after_nine.start == datetime(2026, 11, 22, 16, tzinfo=UTC)  # Monday 00:00 +08
    assert after_nine.end - after_nine.start == timedelta(days=7)
    monthly = due_period(frequency="monthly", weekday=0, day_of_month=3, hour=8, tz=TZ,
                         now=datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
    assert monthly.key == "2026-11" and monthly.first_day.isoformat() == "2026-11-01"
    earlier = due_period(frequency="monthly", weekday=0, day_of_month=3, hour=8, tz=TZ,
                         now=datetime(2026, 12, 2, 23, 59, tzinfo=UTC))
    assert earlier.key == "2026-10"
    january = due_period(frequency="monthly", weekday=0, day_of_month=1, hour=0, tz=TZ,
                         now=datetime(2027, 1, 5, tzinfo=UTC))
    assert january.key == "2026-12" and january.last_day.isoformat() == "2026-12-31"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(
            envelope.original_content, policy=policy.default)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture
def world(backend, smtp):
    """A committed organisation (workers need their own connections) with an email channel,
    a relationship survey, a delivery touchpoint survey, and two weeks of answers."""
    port, inbox = smtp
    factory = make_session_factory(backend.engine)
    suffix = uuid.uuid4().hex[:8]
    with factory() as session:
        org, _, _ = create_organization(session, name=f"鲜达 {suffix}",
                                        admin_email=f"d-{suffix}@example.test",
                                        admin_password="password-123", timezone=TZ)
        channel = notify.create_channel(
            session, org_id=org.id, kind="email", name="mail", language="zh-CN", box=BOX,
            config={"host": "127.0.0.1", "port": port, "security": "none",
                    "from_address": "nps@example.test"})
        rel = create_survey(session, org_id=org.id, data=SurveyCreate(
            name="Relationship", nps_type="relationship", status="live", drivers=[]))
        courier = create_survey(session, org_id=org.id, data=SurveyCreate(
            name="Courier", nps_type="touchpoint", touchpoint="courier",
            journey_stage="delivery", status="live", drivers=[]))
        session.flush()
        add_scores(session, org.id, rel.id, counts_scores(40, 10, 10), at=WEEK_BEFORE)
        add_scores(session, org.id, rel.id, counts_scores(30, 10, 20), at=IN_WEEK)
        add_scores(session, org.id, courier.id, counts_scores(35, 5, 10), at=WEEK_BEFORE)
        add_scores(session, org.id, courier.id, counts_scores(10, 5, 35), at=IN_WEEK)
        digest = Digest(org_id=org.id, name="Weekly", frequency="weekly", weekday=0, hour=9,
                        day_of_month=1, language="zh-CN", recipients=["boss@example.test"],
                        channel_id=channel.id, filters=[],
                        active_since=datetime(2026, 11, 1, tzinfo=UTC))
        session.add(digest)
        session.commit()
        ids = {"org": org.id, "digest": digest.id, "channel": channel.id}
    yield factory, ids, inbox
    with factory() as session:
        session.execute(delete(Organization).where(Organization.id == ids["org"]))
        session.commit()


def pdf_text(pdf: bytes) -> str:
    """The text drawn by Tj operators, decoded (reportlab writes UTF-16BE literal strings for
    the CID font, in ASCII85 + Flate encoded streams)."""
    out = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            content = zlib.decompress(base64.a85decode(match.group(1).strip(), adobe=True))
        except (ValueError, zlib.error):
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes(
                [int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else {
                b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1)), literal)
            out.append(raw.decode("utf-16-be", errors="replace"))
    return " ".join(out)


def test_two_workers_send_once_and_numbers_match(world):
    factory, ids, inbox = world
    results: list[jobs.JobResult] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        barrier.wait()
        results.append(jobs.run_once(factory, name, BOX, min_n=30, now=NOW))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(r.sent) for r in results) == [0, 1], results
    assert len(inbox.messages) == 1
    # Later polls, and a worker coming back a day later, find the period done.
    assert jobs.run_once(factory, "w3", BOX, min_n=30, now=NOW + timedelta(days=1)).sent == []
    assert len(inbox.messages) == 1
    with factory() as session:
        runs = session.scalars(select(DigestRun).where(
            DigestRun.digest_id == ids["digest"])).all()
        assert [(r.period_key, r.status, r.attempts) for r in runs] == [
            ("2026-W48", RunStatus.sent.value, 1)]

    recipients, mail = inbox.messages[0]
    assert recipients == ["boss@example.test"]
    assert mail["Subject"].startswith("鲜达 ") and "NPS 周报" in mail["Subject"]
    assert mail["Message-ID"] == f"<{runs[0].id}@npsloop>"
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "npsloop-digest-2026-W48.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-")

    # The headline is trends.period_change over the week; movers use the same z-test.
    week = Filters(date_from=datetime(2026, 11, 22, 16, tzinfo=UTC),
                   date_to=datetime(2026, 11, 29, 16, tzinfo=UTC))
    with factory() as session:
        change = trends.period_change(session, org_id=ids["org"], filters=week, min_n=30)
        report = movers.movers(session, org_id=ids["org"], filters=week, tz=TZ, min_n=30,
                               now=NOW)
    assert change is not None
    assert change.current == summarize(40, 15, 55, 30)
    assert change.previous == summarize(75, 15, 20, 30)
    nps = f"{change.current.nps:.1f}"
    assert re.search(rf'data-digest="nps"[^>]*>{re.escape(nps)}<', html)
    assert f"{change.change.difference:+.1f}" in html and "统计显著" in html
    assert f"NPS: {nps}" in text
    courier = next(m for m in report.movers if m.key == "courier")
    assert courier.change.significant and f"{courier.change.difference:+.1f}" in html
    words = pdf_text(pdf)
    assert "鲜达" in words and "周报" in words and nps in words
    assert "courier" in words and f"{courier.change.difference:+.1f}" in words


def test_failed_send_is_retried_and_never_duplicated(world, smtp):
    factory, ids, inbox = world
    port, _ = smtp
    with factory() as session:
        channel = notify.get_channel(session, ids["org"], ids["channel"])
        notify.update_channel(session, channel, config={
            "host": "127.0.0.1", "port": 1, "security": "none",
            "from_address": "nps@example.test"}, box=BOX)
        session.commit()
    first = jobs.run_once(factory, "w1", BOX, min_n=30, now=NOW)
    assert first.failed and not first.sent
    with factory() as session:
        run = session.scalars(select(DigestRun).where(DigestRun.digest_id == ids["digest"])).one()
        assert run.status == RunStatus.sending.value and run.attempts == 1 and run.error
        channel = notify.get_channel(session, ids["org"], ids["channel"])
        notify.update_channel(session, channel, config={
            "host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "nps@example.test"}, box=BOX)
        session.commit()
    # Not before its backoff; then exactly once.
    assert jobs.run_once(factory, "w2", BOX, min_n=30, now=NOW + timedelta(seconds=30)).sent == []
    later = NOW + timedelta(hours=1)
    assert len(jobs.run_once(factory, "w2", BOX, min_n=30, now=later).sent) == 1
    assert jobs.run_once(factory, "w1", BOX, min_n=30, now=later).sent == []
    assert len(inbox.messages) == 1


def test_digest_api_preview_pdf_and_errors(client, org, make_org, role_key, db):
    channel = notify.create_channel(db, org_id=org.org_id, kind="email", name="m", box=BOX,
                                    language="en", config={"host": "127.0.0.1", "port": 25,
                                                           "security": "none",
                                                           "from_address": "a@example.test"})
    db.commit()
    body = {"name": "Monthly", "frequency": "monthly", "day_of_month": 2, "hour": 8,
            "language": "en", "recipients": ["a@example.test", "b@example.test"],
            "channel_id": channel.id, "filters": {"channel": "app"}}
    made = client.post("/api/v1/digests", json=body, headers=org.headers)
    assert made.status_code == 201, made.text
    digest = made.json()
    assert digest["filters"] == {"channel": "app"} and digest["next_send_at"]
    for field, value in (("frequency", "daily"), ("hour", 24), ("day_of_month", 31),
                         ("language", "fr"), ("recipients", ["not-an-address"]),
                         ("channel_id", "nope"), ("filters", {"from": "2026-01-01"})):
        bad = client.post("/api/v1/digests", json={**body, field: value}, headers=org.headers)
        assert bad.status_code == 422, (field, bad.text)
        assert bad.json()["detail"][0]["loc"][1] == field, bad.json()
    path = f"/api/v1/digests/{digest['id']}"
    preview = client.get(f"{path}/preview", headers=org.headers)
    assert preview.status_code == 200 and "monthly NPS report" in preview.text
    assert "<script" not in preview.text
    pdf = client.get(f"{path}/pdf", headers=org.headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"] == "application/pdf"
    viewer = role_key(org.org_id, "viewer")
    assert client.get(path, headers=viewer).status_code == 200
    assert client.put(path, json={"hour": 7}, headers=viewer).status_code == 403
    assert client.put(path, json={"hour": 7}, headers=org.headers).json()["hour"] == 7
    other = make_org("Other")
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.get(f"{path}/pdf", headers=other.headers).status_code == 404
    assert client.delete(path, headers=org.headers).status_code == 204


def test_cli_sends_the_last_period_now(world, backend, monkeypatch):
    from typer.testing import CliRunner

    from npsloop.core.config import get_settings
    from npsloop.reports.cli import app

    factory, ids, inbox = world
    monkeypatch.setenv("NPSLOOP_DATABASE_URL", backend.url)
    monkeypatch.setenv("NPSLOOP_SECRET_KEY", "digest-test-secret-key")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        missing = runner.invoke(app, ["send", "--org", "no-such-org", "--now"])
        assert missing.exit_code == 2 and "--org" in missing.output
        sent = runner.invoke(app, ["send", "--org", ids["org"], "--now"])
    finally:
        get_settings.cache_clear()
    assert sent.exit_code == 0, sent.output
    assert "sent" in sent.output and "boss@example.test" in sent.output
    [(recipients, mail)] = inbox.messages
    assert recipients == ["boss@example.test"] and "NPS 周报" in mail["Subject"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content().startswith(b"%PDF-")
    # Off-schedule: it does not count as the period's scheduled run.
    with factory() as session:
        assert session.scalars(select(DigestRun).where(
            DigestRun.digest_id == ids["digest"])).all() == []
