"""`npsloop digest ...`: send digest reports by hand (operations) or run the job once (cron).

  npsloop digest send --org ORG            # send what is due now (as the worker would)
  npsloop digest send --org ORG --now      # send the last complete period now, off-schedule
  npsloop digest send --org ORG --digest ID --now
  npsloop digest pdf --org ORG --digest ID --out report.pdf
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import or_, select

from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

COMMAND = "digest"
app = typer.Typer(help="Digest reports: send now, or render a PDF.")


def _org_id(session, org: str) -> str:  # type: ignore[no-untyped-def]
    from npsloop.accounts.models import Organization

    found = session.scalars(select(Organization.id).where(
        or_(Organization.id == org, Organization.name == org))).all()
    if len(found) != 1:
        typer.echo(f"error: --org: no single organisation with id or name '{org}'", err=True)
        raise typer.Exit(2)
    return found[0]


def _digests(session, org_id: str, digest_id: str | None):  # type: ignore[no-untyped-def]
    from npsloop.reports import digests

    rows = digests.list_digests(session, org_id)
    if digest_id:
        rows = [d for d in rows if d.id == digest_id]
        if not rows:
            typer.echo(f"error: --digest: '{digest_id}' is not a digest of this organisation",
                       err=True)
            raise typer.Exit(2)
    return rows


@app.command("send")
def send(org: str = typer.Option(..., help="organisation id or exact name"),
         digest: str = typer.Option(None, help="one digest id (default: all of the org's)"),
         now: bool = typer.Option(False, "--now",
                                  help="send the last complete period now, off-schedule")
         ) -> None:
    """Send digest reports of one organisation."""
    from npsloop.notify.base import Outcome
    from npsloop.notify.service import secret_box
    from npsloop.registry import import_models
    from npsloop.reports import digests, jobs, mailer
    from npsloop.reports.digest_api import latest_period
    from npsloop.reports.service import ReportError

    import_models()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    box = secret_box(settings)
    with factory() as session:
        org_id = _org_id(session, org)
        rows = _digests(session, org_id, digest)
        if not now:
            result = jobs.run_once(factory, "cli", box, org_id=org_id)
            typer.echo(f"sent={len(result.sent)} failed={len(result.failed)}")
            return
        failures = 0
        for item in rows:
            period = latest_period(item, digests.org_tz(session, org_id))
            try:
                sender = mailer.channel_mailer(session, org_id, item.channel_id, box)
                _, mail = digests.render(session, item, period,
                                         min_n=settings.min_responses_for_stats)
            except (mailer.DigestMailError, ReportError) as exc:
                typer.echo(f"{item.name}: error: {exc.field}: {exc.message}", err=True)
                failures += 1
                continue
            result = mailer.send(sender, mail, message_id=f"cli-{item.id}-{period.key}",
                                 recipients=item.recipients)
            ok = result.outcome == Outcome.delivered
            failures += 0 if ok else 1
            typer.echo(f"{item.name}: {period.key} -> {', '.join(item.recipients)}: "
                       f"{'sent' if ok else 'failed: ' + (result.error or '')}")
        if failures:
            raise typer.Exit(1)


@app.command("pdf")
def pdf(org: str = typer.Option(..., help="organisation id or exact name"),
        digest: str = typer.Option(..., help="digest id"),
        out: Path = typer.Option(..., help="where to write the PDF")) -> None:
    """Render the last complete period's PDF of one digest to a file."""
    from npsloop.registry import import_models
    from npsloop.reports import digests
    from npsloop.reports.digest_api import latest_period

    import_models()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        org_id = _org_id(session, org)
        [item] = _digests(session, org_id, digest)
        _, mail = digests.render(session, item,
                                 latest_period(item, digests.org_tz(session, org_id)),
                                 min_n=settings.min_responses_for_stats)
    out.write_bytes(mail.pdf)
    typer.echo(f"wrote {out} ({len(mail.pdf):,} bytes)")
