"""`npsloop targeting ...`: decision-log retention."""

from __future__ import annotations

import typer

from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

app = typer.Typer(help="Triggers, fatigue control and the decision log.", no_args_is_help=True)


@app.command("prune-log")
def prune_log(
    older_than_days: int = typer.Option(180, min=1, help="delete decisions older than this"),
    org: str = typer.Option("", help="only this organisation id (default: all)"),
) -> None:
    """Delete old rows of the decision log (it grows by one row per decision)."""
    from npsloop.targeting.decision_log import prune

    factory = make_session_factory(make_engine(get_settings().database_url))
    with factory() as session:
        count = prune(session, org_id=org or None, older_than_days=older_than_days)
        session.commit()
    typer.echo(f"deleted {count} decision(s) older than {older_than_days} days")
