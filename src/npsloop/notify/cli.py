"""`npsloop notify ...`: run the delivery worker, re-encrypt secrets after a key change."""

from __future__ import annotations

import typer

from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

app = typer.Typer(help="Notifications and webhooks.", no_args_is_help=True)


@app.command()
def worker(interval: float = typer.Option(1.0, help="seconds between polls when idle")) -> None:
    """Run a delivery worker (several may run against PostgreSQL)."""
    from npsloop.notify.delivery import DeliveryWorker
    from npsloop.notify.service import secret_box

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    thread = DeliveryWorker(factory, secret_box(settings), interval=interval)
    typer.echo(f"notify worker {thread.worker_id} started")
    thread.run()


@app.command("rotate-secrets")
def rotate_secrets() -> None:
    """Re-encrypt stored channel and webhook secrets with the current NPSLOOP_SECRET_KEY
    (the previous key must be listed in NPSLOOP_OLD_SECRET_KEYS)."""
    from npsloop.notify.service import rotate_secrets as rotate
    from npsloop.notify.service import secret_box

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        count = rotate(session, secret_box(settings))
        session.commit()
    typer.echo(f"re-encrypted {count} secret(s)")
