"""`npsloop analytics rebuild-rollup`: recompute the daily rollup (analytics.rollup)."""

from __future__ import annotations

import json

import typer
from sqlalchemy import select

from npsloop.accounts.models import Organization
from npsloop.analytics.rollup import rebuild
from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

app = typer.Typer(help="Statistics maintenance.", no_args_is_help=True)


@app.command("rebuild-rollup")
def rebuild_rollup(
    org: str | None = typer.Option(None, "--org", help="organisation id (default: all)"),
) -> None:
    """Recompute the daily rollup from the responses, in each organisation's time zone
    (run after changing an organisation's time zone; the `rollup` job also does it)."""
    factory = make_session_factory(make_engine(get_settings().database_url))
    with factory() as session:
        ids = [org] if org else list(session.scalars(select(Organization.id)))
    written: dict[str, int] = {}
    for org_id in ids:
        with factory() as session:
            try:
                written[org_id] = rebuild(session, org_id=org_id)
            except LookupError as exc:
                typer.echo(f"error: --org: {exc}", err=True)
                raise typer.Exit(2) from exc
            except ValueError as exc:
                typer.echo(f"skipped {org_id}: {exc}", err=True)
                continue
            session.commit()
    typer.echo(json.dumps({"rebuilt": written}))
