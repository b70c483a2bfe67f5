"""`npsloop outcomes ...`: refit the churn and repurchase models."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="NPS to outcomes: repurchase/churn models and win-back.",
                  no_args_is_help=True)


@app.command()
def fit(
    org_id: str = typer.Option(None, "--org-id", help="only this organisation (default: all)"),
    window_days: int = typer.Option(None, min=1, max=365,
                                    help="outcome window (default: each org's setting)"),
) -> None:
    """Fit both models (time-based holdout validation) and re-score every contact; prints
    each organisation's holdout AUCs as JSON lines."""
    from npsloop.core.config import get_settings
    from npsloop.core.db import make_engine, make_session_factory
    from npsloop.core.migrate import upgrade
    from npsloop.outcomes.clock import refit

    settings = get_settings()
    upgrade(settings.database_url)
    factory = make_session_factory(make_engine(settings.database_url))
    results = refit(factory, org_id=org_id, window_days=window_days, only_stale=False)
    if org_id and results and "error" in results[0]:
        typer.echo(f"error: {results[0]['error']}", err=True)
        raise typer.Exit(2)
    for line in results:
        typer.echo(json.dumps(line, ensure_ascii=False))
