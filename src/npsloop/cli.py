"""The `npsloop` command: serve, worker, migrate, demo, org."""

from __future__ import annotations

import json
import time

import typer

from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

app = typer.Typer(help="npsloop: NPS and customer-experience platform.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
app.add_typer(org_app, name="org")


def _factory():  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(get_settings().database_url))


@app.command()
def migrate() -> None:
    """Apply database migrations up to the latest version."""
    from npsloop.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo("migrations applied")


@app.command()
def demo(
    responses: int = typer.Option(24000, help="how many responses to generate"),
    reset: bool = typer.Option(False, help="delete and re-create the demo workspace"),
) -> None:
    """Seed the demo workspace (an e-commerce company with a year of responses)."""
    from npsloop.demo.seed import seed_demo

    settings = get_settings()
    from npsloop.core.migrate import upgrade

    upgrade(settings.database_url)
    info = seed_demo(_factory(), responses=responses, reset=reset)
    typer.echo(json.dumps(info, ensure_ascii=False))


def _analyse_in_background(factory, org_id: str) -> None:  # type: ignore[no-untyped-def]
    import threading

    from npsloop.demo.seed import analyse_demo_text

    threading.Thread(target=analyse_demo_text, args=(factory, org_id), daemon=True,
                     name="npsloop-demo-text").start()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8000, help="port to bind"),
    no_demo: bool = typer.Option(False, "--no-demo", help="do not seed the demo workspace"),
) -> None:
    """Migrate, seed the demo workspace on first start, and serve the web app and API."""
    import uvicorn

    from npsloop.app import create_app
    from npsloop.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    factory = _factory()
    login = None
    if not no_demo:
        from npsloop.demo.seed import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

        started = time.monotonic()
        info = seed_demo(factory, analyse_text=False)
        if info.get("created"):
            typer.echo(f"demo workspace seeded in {time.monotonic() - started:.0f}s; "
                       "comments are being analysed in the background")
            _analyse_in_background(factory, info["org_id"])
        login = (DEMO_EMAIL, DEMO_PASSWORD)
    url = f"http://{host}:{port}"
    typer.echo(f"npsloop is running at {url}")
    if login:
        typer.echo(f"demo login: {login[0]} / {login[1]}")
    uvicorn.run(create_app(settings, factory), host=host, port=port, log_level="info")


@app.command()
def worker(interval: float = typer.Option(1.0, help="seconds between polls when idle")) -> None:
    """Run every background job of one worker process: the outbox (text analysis, rules,
    webhooks), notification delivery and the ticket SLA/follow-up clock. Several may run
    against PostgreSQL; each claims its work, so nothing is done twice."""
    import threading

    from npsloop.core.db import utcnow
    from npsloop.core.outbox import WorkerThread
    from npsloop.notify.delivery import DeliveryWorker
    from npsloop.notify.service import secret_box
    from npsloop.registry import import_handlers
    from npsloop.tickets import sla

    import_handlers()
    settings = get_settings()
    factory = _factory()
    delivery = DeliveryWorker(factory, secret_box(settings), interval=interval)
    delivery.daemon = True
    delivery.start()

    def ticket_clock() -> None:
        while True:
            with factory() as session:
                sla.tick(session, utcnow())
                session.commit()
            time.sleep(60)

    threading.Thread(target=ticket_clock, name="npsloop-ticket-clock", daemon=True).start()
    from npsloop.distribution.dispatch import DistributionJob

    DistributionJob(factory).start()  # schedules, campaign sends, invitation delivery status
    thread = WorkerThread(factory, interval=interval)
    typer.echo(f"worker {thread.worker_id} started (outbox, delivery, ticket clock, "
               "distribution)")
    thread.run()


@org_app.command("create")
def org_create(
    name: str = typer.Option(..., help="organisation name"),
    admin_email: str = typer.Option(..., help="email of its owner"),
    admin_password: str = typer.Option(..., help="password of its owner (8+ characters)"),
    timezone: str = typer.Option("Asia/Shanghai", help="IANA time zone"),
) -> None:
    """Create an organisation with its owner; prints {"org_id", "api_key"} as JSON."""
    from npsloop.accounts.service import AccountError, create_organization
    from npsloop.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    with _factory()() as session:
        try:
            org, _, key = create_organization(
                session, name=name, admin_email=admin_email, admin_password=admin_password,
                timezone=timezone,
            )
        except AccountError as exc:
            typer.echo(f"error: {exc.field}: {exc.message}", err=True)
            raise typer.Exit(2) from exc
        session.commit()
    typer.echo(json.dumps({"org_id": org.id, "api_key": key}))


def _mount_domain_clis() -> None:
    from npsloop.registry import cli_apps

    for name, sub_app in cli_apps():
        app.add_typer(sub_app, name=name)  # type: ignore[arg-type]


_mount_domain_clis()

if __name__ == "__main__":
    app()
