"""`npsloop backup create|restore`: one organisation's data to a file and back."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from npsloop.backup.service import BackupError, restore_backup, write_backup
from npsloop.core.config import get_settings
from npsloop.core.db import make_engine, make_session_factory

app = typer.Typer(help="Back up and restore one organisation's data (SQLite or PostgreSQL).",
                  no_args_is_help=True)


def _factory():
    return make_session_factory(make_engine(get_settings().database_url))


@app.command("create")
def create(
    org: str = typer.Option(..., "--org", help="organisation id"),
    out: Path = typer.Option(..., "--out", help="file to write (gzipped JSON lines)"),
) -> None:
    """Write the organisation's rows to a file; prints the row count per table."""
    if out.exists():
        typer.echo(f"error: --out: {out} exists; choose a new file", err=True)
        raise typer.Exit(2)
    partial = out.with_name(out.name + ".partial")
    try:
        with _factory()() as session, partial.open("wb") as handle:
            # One read transaction: a consistent snapshot on PostgreSQL (repeatable read).
            if session.get_bind().dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            counts = write_backup(session, org_id=org, out=handle)
    except BackupError as exc:
        partial.unlink(missing_ok=True)
        typer.echo(f"error: --org: {exc}", err=True)
        raise typer.Exit(2) from exc
    partial.rename(out)  # a file named --out is always complete
    typer.echo(json.dumps({"file": str(out), "rows": sum(counts.values()), "tables": counts}))


@app.command("restore")
def restore(file: Path = typer.Argument(..., help="a file made by `npsloop backup create`")
            ) -> None:
    """Load a backup into this database (the organisation must not exist here)."""
    if not file.exists():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(2)
    with _factory()() as session, file.open("rb") as handle:
        try:
            result = restore_backup(session, handle)
        except BackupError as exc:
            session.rollback()
            typer.echo(f"error: {file}: {exc}", err=True)
            raise typer.Exit(2) from exc
        session.commit()
    json.dump({"org_id": result["org_id"], "rows": sum(result["counts"].values())}, sys.stdout)
    sys.stdout.write("\n")
