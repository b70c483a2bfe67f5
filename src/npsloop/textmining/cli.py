"""`npsloop text ...`: re-run comment analysis over history."""

from __future__ import annotations

import json

import typer

COMMAND = "text"
app = typer.Typer(help="Text mining of comments: sentiment, keywords, topics.",
                  no_args_is_help=True)


@app.command()
def reprocess(
    org_id: str = typer.Option(None, "--org-id", help="only this organisation (default: all)"),
    batch_size: int = typer.Option(500, min=1, max=10000, help="responses per committed batch"),
    force: bool = typer.Option(False, help="re-analyse even unchanged comments"),
    e5_margin: float = typer.Option(
        None, min=0.0, max=0.5,
        help="sentiment e5 routing margin (0: n-gram model only; "
             "default: NPSLOOP_SENTIMENT_E5_MARGIN, else the shipped one)"),
) -> None:
    """Analyse every response's comment; already-current analyses are left as they are."""
    from npsloop.core.config import get_settings
    from npsloop.core.db import make_engine, make_session_factory
    from npsloop.core.migrate import upgrade
    from npsloop.textmining.service import reprocess as run

    settings = get_settings()
    upgrade(settings.database_url)
    factory = make_session_factory(make_engine(settings.database_url))
    report = run(factory, org_id=org_id, batch_size=batch_size, force=force,
                 margin=e5_margin)
    typer.echo(json.dumps(report.__dict__))
