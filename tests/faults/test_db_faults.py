"""A full disk or a read-only database: a clear 503 that names the cause, nothing half
written, the data that was acknowledged still there and the file intact."""

from __future__ import annotations

from sqlalchemy import func, select

from npsloop.core import dbfaults
from npsloop.responses.models import Response
from tests.faults.conftest import build_stack, pg_admin_execute


def _count(stack) -> int:
    with stack.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Response.__table__))


def test_full_sqlite_disk_is_a_503_and_loses_nothing_acknowledged(sqlite_url):
    limit: dict[str, int] = {}

    def cap(conn) -> None:
        if limit:
            conn.execute(f"PRAGMA max_page_count = {limit['pages']}")

    stack = build_stack(sqlite_url, on_connect=cap)
    with stack.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    limit["pages"] = pages + 40
    stack.engine.dispose()  # new connections get the cap

    acked, answer = [], None
    for i in range(400):
        answer = stack.post(f"k{i}", comment="满" * 4000)
        if answer.status_code != 201:
            break
        acked.append(f"k{i}")
    assert answer is not None and answer.status_code == 503, answer.text
    assert answer.json()["reason"] == "disk_full"
    assert "disk is full" in answer.json()["detail"] and answer.headers["Retry-After"]
    assert 0 < len(acked) < 400
    limit.clear()
    stack.engine.dispose()
    assert _count(stack) == len(acked)  # every acknowledged answer, nothing partial
    with stack.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    # Space freed: the same key goes through once.
    assert stack.post(f"k{len(acked)}").status_code == 201
    assert stack.post(f"k{len(acked)}").status_code in (200, 201)
    assert _count(stack) == len(acked) + 1


def test_read_only_sqlite_is_a_503_and_reads_still_work(sqlite_url):
    read_only: dict[str, bool] = {}

    def guard(conn) -> None:
        if read_only:
            conn.execute("PRAGMA query_only = ON")

    stack = build_stack(sqlite_url, on_connect=guard)
    assert stack.post("before").status_code == 201
    read_only["on"] = True
    stack.engine.dispose()
    answer = stack.post("during")
    assert answer.status_code == 503 and answer.json()["reason"] == "read_only"
    stats = stack.client.get(f"/api/v1/stats/nps?survey_id={stack.survey_id}",
                             headers=stack.headers)
    assert stats.status_code == 200 and stats.json()["n"] == 1


def test_read_only_postgresql_is_a_503(pg_url):
    stack = build_stack(pg_url)
    assert stack.post("before").status_code == 201
    name = pg_url.rsplit("/", 1)[1]
    pg_admin_execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    stack.engine.dispose()
    answer = stack.post("during")
    assert answer.status_code == 503 and answer.json()["reason"] == "read_only", answer.text
    pg_admin_execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
    stack.engine.dispose()
    assert stack.post("during").status_code == 201
    assert _count(stack) == 2
    stack.engine.dispose()


def test_a_bug_is_still_a_500_not_a_fault():
    from sqlalchemy.exc import ProgrammingError

    class Broken(Exception):
        sqlstate = "42P01"  # undefined table: a bug, not something to wait out

    assert dbfaults.classify(ProgrammingError("select", {}, Broken("no table"))) is None
    assert dbfaults.classify(ValueError("x")) is None
