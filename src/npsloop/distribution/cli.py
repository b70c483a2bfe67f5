"""`npsloop distribution tick`: one pass of the distribution jobs (due schedules, campaign
planning, invitation sends, delivery status), for cron or a one-off catch-up. `npsloop
worker` and `npsloop serve` run the same job every few seconds."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Campaigns, schedules and invitations.", no_args_is_help=True)


@app.command()
def tick() -> None:
    """Run every due distribution job once and print what was done."""
    from npsloop.core.config import get_settings
    from npsloop.core.db import make_engine, make_session_factory
    from npsloop.distribution.dispatch import tick as run_tick

    factory = make_session_factory(make_engine(get_settings().database_url))
    typer.echo(json.dumps(run_tick(factory)))
