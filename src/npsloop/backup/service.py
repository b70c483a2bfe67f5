"""Back up and restore one organisation's data, portable between SQLite and PostgreSQL.

A backup is gzipped JSON lines: a header (format, organisation, the schema revision it was
taken at), one line per row (`{"t": table, "r": {column: value}}`) in foreign-key order, and
a footer with the row count per table, which restore checks before it commits. The tables
are found from the schema: the organisation's row, every table with an `org_id`, and the
child tables keyed only by a parent of those (a survey's questions, an import's errors). A
domain added later is covered without editing this module.

Whole-database backups are the database's own job (`pg_dump`, SQLite's online `.backup`);
see docs/operations.md. This module is for one tenant: moving it between servers, keeping
it before a risky change, or restoring it alone without rolling back everyone else.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import (
    Date,
    DateTime,
    LargeBinary,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from npsloop.core.db import Base, utcnow
from npsloop.privacy.personal_data import plain
from npsloop.registry import import_models

FORMAT = "npsloop.org-backup.v1"
# Per-process state, not data: sessions expire, rate buckets refill. The daily rollup and
# its state are derived from the responses: restoring the responses rebuilds them (the
# triggers of analytics.rollup_sql), so restoring them too would count everything twice.
SKIP_TABLES = {"web_sessions", "notify_rate_buckets", "response_daily",
               "analytics_rollup_state"}
BATCH = 1000


class BackupError(ValueError):
    """A backup file that cannot be restored here, with the reason."""


def org_tables() -> list[tuple[Table, Any]]:
    """(table, how its rows are tied to the organisation) in foreign-key order; the second
    item is None for org_id tables, else the (column, parent table) of the tie."""
    import_models()
    metadata = Base.metadata
    scoped: list[tuple[Table, Any]] = []
    names = {"organizations"}
    for table in metadata.sorted_tables:
        if table.name in SKIP_TABLES:
            continue
        if table.name == "organizations" or "org_id" in table.c:
            scoped.append((table, None))
            names.add(table.name)
    for table in metadata.sorted_tables:
        if table.name in names or table.name in SKIP_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name in names and fk.column.name == "id":
                scoped.append((table, (fk.parent.name, fk.column.table)))
                break
    order = {t.name: i for i, t in enumerate(metadata.sorted_tables)}
    return sorted(scoped, key=lambda item: order[item[0].name])


def _where(table: Table, tie: Any, org_id: str) -> Any:
    if table.name == "organizations":
        return table.c.id == org_id
    if tie is None:
        return table.c.org_id == org_id
    column, parent = tie
    return table.c[column].in_(select(parent.c.id).where(parent.c.org_id == org_id))


def schema_revision(session: Session) -> list[str]:
    """The Alembic heads the database is at (empty for a database made by create_all)."""
    if not inspect(session.connection()).has_table("alembic_version"):
        return []
    return sorted(session.scalars(text("SELECT version_num FROM alembic_version")))


def iter_backup(session: Session, *, org_id: str) -> Iterator[dict[str, Any]]:
    """The backup's lines, streamed (rows are read in chunks, never all at once)."""
    organizations = Base.metadata.tables["organizations"]
    if session.scalar(select(func.count()).select_from(organizations)
                      .where(organizations.c.id == org_id)) != 1:
        raise BackupError(f"organisation '{org_id}' not found")
    tables = org_tables()
    yield {"format": FORMAT, "org_id": org_id, "created_at": utcnow().isoformat(),
           "schema": schema_revision(session), "tables": [t.name for t, _ in tables]}
    counts: dict[str, int] = {}
    for table, tie in tables:
        query = select(table).where(_where(table, tie, org_id))
        if "id" in table.c:
            query = query.order_by(table.c.id)
        result = session.execute(query.execution_options(yield_per=BATCH))
        for row in result:
            counts[table.name] = counts.get(table.name, 0) + 1
            yield {"t": table.name, "r": {k: plain(v) for k, v in row._mapping.items()}}
    yield {"counts": counts}


def write_backup(session: Session, *, org_id: str, out: IO[bytes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    with gzip.GzipFile(fileobj=out, mode="wb") as zipped:
        for line in iter_backup(session, org_id=org_id):
            counts = line.get("counts", counts)
            zipped.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode())
            zipped.write(b"\n")
    return counts


def _decoder(table: Table) -> dict[str, Any]:
    decoders: dict[str, Any] = {}
    for column in table.c:
        kind = column.type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl_instance
        if isinstance(kind, DateTime):
            decoders[column.name] = datetime.fromisoformat
        elif isinstance(kind, Date):
            decoders[column.name] = date.fromisoformat
        elif isinstance(kind, LargeBinary):
            decoders[column.name] = base64.b64decode
    return decoders


def _self_referencing(table: Table) -> bool:
    return any(fk.column.table is table for fk in table.foreign_keys)


def _parent_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a self-referencing table (topics and sub-topics) with parents first."""
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    if not self_refs:
        return rows
    column = self_refs[0]
    placed: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    pending = rows
    while pending:
        ready = [r for r in pending if r.get(column) is None or r[column] in placed]
        if not ready:
            raise BackupError(f"{table.name}: rows refer to parents missing from the backup")
        ordered.extend(ready)
        placed.update(r["id"] for r in ready)
        pending = [r for r in pending if r not in ready]
    return ordered


def restore_backup(session: Session, source: IO[bytes]) -> dict[str, Any]:
    """Loads a backup into this database inside the caller's transaction (never commits).

    Refuses when the organisation already exists here (delete it first, or restore into
    another database) and when the file is truncated (its footer is missing or its counts
    disagree): nothing is half-restored, because the caller rolls back on the error."""
    import_models()
    metadata = Base.metadata
    with gzip.GzipFile(fileobj=source, mode="rb") as zipped:
        lines = (json.loads(raw) for raw in zipped if raw.strip())
        try:
            header = next(lines)
        except (StopIteration, OSError, EOFError) as exc:
            raise BackupError("empty or unreadable backup file") from exc
        if header.get("format") != FORMAT:
            raise BackupError(f"not an npsloop organisation backup (format {FORMAT} expected)")
        org_id = header["org_id"]
        organizations = metadata.tables["organizations"]
        if session.scalar(select(func.count()).select_from(organizations)
                          .where(organizations.c.id == org_id)):
            raise BackupError(f"organisation '{org_id}' already exists in this database")
        unknown = [name for name in header["tables"] if name not in metadata.tables]
        if unknown:
            raise BackupError(f"tables unknown to this version: {', '.join(unknown)}")
        counts: dict[str, int] = {}
        footer: dict[str, int] | None = None
        buffer: dict[str, list[dict[str, Any]]] = {}
        try:
            for line in lines:
                if "counts" in line:
                    footer = line["counts"]
                    break
                name = line["t"]
                if buffer and name not in buffer:
                    _flush(session, metadata, buffer)
                buffer.setdefault(name, []).append(line["r"])
                counts[name] = counts.get(name, 0) + 1
                # Bounded memory; a self-referencing table is ordered whole, so it waits.
                if len(buffer[name]) >= BATCH and not _self_referencing(metadata.tables[name]):
                    _flush(session, metadata, buffer)
        except (OSError, EOFError, json.JSONDecodeError) as exc:
            raise BackupError("the backup file is truncated or corrupt") from exc
        _flush(session, metadata, buffer)
    if footer is None:
        raise BackupError("the backup file is truncated (no footer): nothing restored")
    if footer != counts:
        raise BackupError("row counts differ from the backup's footer: nothing restored")
    session.flush()
    return {"org_id": org_id, "counts": counts, "schema": header.get("schema", [])}


def _flush(session: Session, metadata: Any, buffer: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in buffer.items():
        table = metadata.tables[name]
        decoders = _decoder(table)
        columns = set(table.c.keys())
        decoded = []
        for row in rows:
            extra = set(row) - columns
            if extra:
                raise BackupError(f"{name}: columns unknown to this version: {sorted(extra)}")
            decoded.append({k: (decoders[k](v) if v is not None and k in decoders else v)
                            for k, v in row.items()})
        decoded = _parent_first(table, decoded)
        for start in range(0, len(decoded), BATCH):
            session.execute(insert(table), decoded[start:start + BATCH])
    buffer.clear()
