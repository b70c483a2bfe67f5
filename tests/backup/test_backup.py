"""One organisation backed up, deleted and restored, on SQLite and PostgreSQL and across them:
every row comes back identical; a damaged file restores nothing."""

from __future__ import annotations

import gzip
import io
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from npsloop.backup.service import BackupError, org_tables, restore_backup, write_backup
from npsloop.core.db import make_engine, make_session_factory
from npsloop.core.migrate import upgrade
from npsloop.demo.seed import delete_org, seed_demo
from npsloop.privacy.personal_data import plain

TODAY = date(2026, 11, 26)


def snapshot(session: Session, org_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the organisation, as comparable plain values."""
    from npsloop.backup.service import _where

    result = {}
    for table, tie in org_tables():
        rows = session.execute(select(table).where(_where(table, tie, org_id)))
        result[table.name] = sorted(
            tuple(sorted((k, repr(_normal(plain(v)))) for k, v in r._mapping.items()))
             for r in rows)
    return result


def _normal(value: Any) -> Any:
    # SQLite keeps microseconds and PostgreSQL too; floats may differ in the last bit.
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return value.replace("+00:00", "")
    return value


@pytest.fixture
def demo(db_factory) -> str:
    return seed_demo(db_factory, responses=400, today=TODAY)["org_id"]


def test_backup_delete_restore_gives_back_every_row(db, demo, make_org):
    bystander = make_org("Bystander")
    before = snapshot(db, demo)
    assert sum(len(rows) for rows in before.values()) > 1000
    buffer = io.BytesIO()
    counts = write_backup(db, org_id=demo, out=buffer)
    assert counts["responses"] == 400 and counts["questions"] > 0

    delete_org(db, demo)
    assert all(not rows for rows in snapshot(db, demo).values())
    buffer.seek(0)
    result = restore_backup(db, buffer)
    assert result["counts"] == counts
    assert snapshot(db, demo) == before
    assert snapshot(db, bystander.org_id)["organizations"]  # others untouched


def test_restore_into_another_database_kind(db, demo, tmp_path, backend):
    before = snapshot(db, demo)
    buffer = io.BytesIO()
    write_backup(db, org_id=demo, out=buffer)
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(target_url)
    engine = make_engine(target_url)
    try:
        with make_session_factory(engine)() as target:
            buffer.seek(0)
            restore_backup(target, buffer)
            target.commit()
            assert snapshot(target, demo) == before
            # Restoring the same organisation twice is refused, and nothing changes.
            buffer.seek(0)
            with pytest.raises(BackupError, match="already exists"):
                restore_backup(target, buffer)
    finally:
        engine.dispose()


def test_truncated_or_foreign_files_restore_nothing(db, demo):
    buffer = io.BytesIO()
    write_backup(db, org_id=demo, out=buffer)
    lines = gzip.decompress(buffer.getvalue()).splitlines()
    delete_org(db, demo)
    cut = io.BytesIO(gzip.compress(b"\n".join(lines[: len(lines) // 2])))
    with pytest.raises(BackupError, match="truncated"):
        restore_backup(db, cut)
    db.rollback()
    with pytest.raises(BackupError, match="format"):
        restore_backup(db, io.BytesIO(gzip.compress(b'{"format": "x"}\n')))
    with pytest.raises(BackupError, match="not found"):
        write_backup(db, org_id="nope", out=io.BytesIO())


def test_cli_create_and_restore(tmp_path, monkeypatch):
    from npsloop.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    org_id = seed_demo(factory, responses=50, today=TODAY, analyse_text=False)["org_id"]
    monkeypatch.setenv("NPSLOOP_DATABASE_URL", url)
    from npsloop.core import config

    config.get_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "org.jsonl.gz"
    created = runner.invoke(app, ["backup", "create", "--org", org_id, "--out", str(out)])
    assert created.exit_code == 0, created.output
    again = runner.invoke(app, ["backup", "create", "--org", org_id, "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    refused = runner.invoke(app, ["backup", "restore", str(out)])
    assert refused.exit_code == 2 and "already exists" in refused.output
    with factory() as session:
        delete_org(session, org_id)
        session.commit()
    restored = runner.invoke(app, ["backup", "restore", str(out)])
    assert restored.exit_code == 0, restored.output
    from npsloop.responses.models import Response

    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Response)
                              .where(Response.org_id == org_id)) == 50
    engine.dispose()
    config.get_settings.cache_clear()
