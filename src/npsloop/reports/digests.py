"""Digest settings and rendering: validate a digest's settings, and turn a period into the
email (HTML and text) with its PDF."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from npsloop.accounts.service import get_organization
from npsloop.core.db import utcnow
from npsloop.core.i18n import LANGUAGES
from npsloop.notify.channels.email import _address
from npsloop.reports import content as digest_content
from npsloop.reports import pdf, service
from npsloop.reports.digest_view import display
from npsloop.reports.mailer import DigestMail
from npsloop.reports.models import Digest, Frequency
from npsloop.reports.schedule import Period
from npsloop.reports.service import ReportError
from npsloop.web.templating import templates

MAX_RECIPIENTS = 50


def org_tz(session: Session, org_id: str) -> str:
    org = get_organization(session, org_id)
    return org.timezone if org else "UTC"


def list_digests(session: Session, org_id: str) -> list[Digest]:
    return list(session.scalars(select(Digest).where(Digest.org_id == org_id)
                                .order_by(Digest.name, Digest.id)))


def get_digest(session: Session, org_id: str, digest_id: str) -> Digest | None:
    digest = session.get(Digest, digest_id)
    return digest if digest is not None and digest.org_id == org_id else None


def _int(body: Mapping[str, Any], name: str, current: int, low: int, high: int) -> int:
    value = body.get(name, current)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ReportError(name, f"must be a whole number from {low} to {high}")
    return value


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(value, list):
        raise ReportError("recipients", "must be a list of email addresses")
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ReportError(f"recipients.{index}", "must be an email address")
        if not item.strip():
            continue
        try:
            address = _address(item)
        except ValueError as exc:
            raise ReportError(f"recipients.{index}", str(exc)) from exc
        if address.lower() not in {a.lower() for a in out}:
            out.append(address)
    if not out:
        raise ReportError("recipients", "give at least one email address")
    if len(out) > MAX_RECIPIENTS:
        raise ReportError("recipients", f"at most {MAX_RECIPIENTS} addresses")
    return out


def save_digest(session: Session, org_id: str, body: Mapping[str, Any],
                digest: Digest | None = None) -> Digest:
    """Creates (digest None) or updates a digest; ReportError names a bad field."""
    from npsloop.notify import service as notify

    creating = digest is None
    current = digest or Digest(org_id=org_id, name="", recipients=[], filters=[],
                               frequency=Frequency.weekly.value, weekday=0, day_of_month=1,
                               hour=9, language="zh-CN", enabled=True)
    if creating and "name" not in body:
        raise ReportError("name", "is required")
    name = body.get("name", current.name)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise ReportError("name", "must be 1 to 120 characters")
    frequency = body.get("frequency", current.frequency)
    if frequency not in {f.value for f in Frequency}:
        raise ReportError("frequency", "must be weekly or monthly")
    weekday = _int(body, "weekday", current.weekday, 0, 6)
    day_of_month = _int(body, "day_of_month", current.day_of_month, 1, 28)
    hour = _int(body, "hour", current.hour, 0, 23)
    language = body.get("language", current.language)
    if language not in LANGUAGES:
        raise ReportError("language", f"must be one of {', '.join(LANGUAGES)}")
    enabled = body.get("enabled", current.enabled)
    if not isinstance(enabled, bool):
        raise ReportError("enabled", "must be true or false")
    recipients = (_recipients(body["recipients"]) if "recipients" in body or creating
                  else current.recipients)
    # Without a channel the digest can be previewed and downloaded but is not sent.
    channel_id = body.get("channel_id", current.channel_id) or None
    if channel_id is not None:
        channel = notify.get_channel(session, org_id, str(channel_id))
        if channel is None or channel.kind != "email":
            raise ReportError("channel_id", "must be one of this organisation's email channels")
    pairs = (service.validate_filters(session, org_id, org_tz(session, org_id),
                                      body.get("filters"))
             if "filters" in body or creating else current.filters)
    if any(key in ("from", "to", service.PERIOD_PARAM) for key, _ in pairs):
        raise ReportError("filters", "a digest reports its own period: leave out from, to "
                          "and period")
    current.name, current.frequency, current.weekday = name.strip(), frequency, weekday
    current.day_of_month, current.hour, current.language = day_of_month, hour, language
    current.enabled, current.recipients, current.channel_id = enabled, recipients, channel_id
    current.filters = pairs
    if creating:
        current.active_since = utcnow()
        session.add(current)
    session.flush()
    return current


def digest_out(digest: Digest, *, now: datetime | None = None,
               tz: str = "UTC") -> dict[str, Any]:
    from npsloop.reports.schedule import next_send

    return {
        "id": digest.id, "name": digest.name, "enabled": digest.enabled,
        "frequency": digest.frequency, "weekday": digest.weekday,
        "day_of_month": digest.day_of_month, "hour": digest.hour,
        "language": digest.language, "recipients": digest.recipients,
        "channel_id": digest.channel_id, "filters": service.as_object(digest.filters),
        "next_send_at": next_send(frequency=digest.frequency, weekday=digest.weekday,
                                  day_of_month=digest.day_of_month, hour=digest.hour, tz=tz,
                                  now=now or utcnow()).isoformat(),
    }


def render(session: Session, digest: Digest, period: Period, *, min_n: int,
           now: datetime | None = None) -> tuple[digest_content.DigestContent, DigestMail]:
    """The period's content, and the mail (subject, text, HTML, PDF) that says it."""
    tz = org_tz(session, digest.org_id)
    filters = service.effective_filters(session, digest.org_id, tz, digest.filters)
    built = digest_content.build(
        session, org_id=digest.org_id, filters=filters, period=period,
        frequency=digest.frequency, language=digest.language, min_n=min_n,
        now=now or utcnow())
    view = display(built)
    html = templates.env.get_template("reports_digest_email.html").render(**view)
    t = view["t"]
    head = view["headline"]
    significance = t("reports.digest.significant" if head["significant"]
                     else "reports.digest.not_significant")
    lines = [view["title"], t("reports.digest.period", period=view["period"]), "",
             f"{t('reports.digest.nps')}: {head['nps']} (± {head['margin']}, n = {head['n']})",
             f"{t('reports.digest.vs_previous')}: {head['difference']} ({significance})",
             f"{t('reports.digest.volume')}: {view['volume']}", "",
             t("reports.digest.movers") + ":"]
    lines += [f"- {m['label']} ({m['dimension']}): {m['previous']} → {m['current']} "
              f"({m['difference']}, p {m['p']})" for m in view["movers"]] or [
        "- " + t("reports.digest.no_movers")]
    lines += ["", t("reports.digest.pdf_attached")]
    mail = DigestMail(
        subject=f"{view['title']} · {view['period']}", text="\n".join(lines), html=html,
        pdf=pdf.render_pdf(built), pdf_name=f"npsloop-digest-{period.key}.pdf",
        language=digest.language,
    )
    return built, mail
