"""`npsloop tickets ...`: run the SLA/follow-up job once (cron) or in a loop."""

from __future__ import annotations

import time
from datetime import datetime

import typer

from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory, utcnow

COMMAND = "tickets"
app = typer.Typer(help="Tickets: the SLA escalation and follow-up survey job.")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"'{value}' is not an ISO datetime") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("include a time zone offset, e.g. +08:00")
    return moment


@app.command("tick")
def tick(now: str = typer.Option(None, help="the clock to use (ISO datetime); default: now"),
         loop: bool = typer.Option(False, help="keep running, once every --interval seconds"),
         interval: float = typer.Option(60.0, help="seconds between runs with --loop")) -> None:
    """Escalate SLA breaches and send due follow-up surveys."""
    from npsloop.registry import import_models
    from npsloop.tickets import sla

    import_models()
    factory = make_session_factory(make_engine(get_settings().database_url))
    while True:
        with factory() as session:
            report = sla.tick(session, _parse_now(now))
            session.commit()
        typer.echo(f"escalated={len(report.escalated)} followups_invited="
                   f"{report.followups_invited}")
        if not loop:
            return
        time.sleep(interval)
