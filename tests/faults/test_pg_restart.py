"""PostgreSQL restarted (immediate shutdown, i.e. crash recovery) in the middle of an
ingest load through HTTP: clients retry on 503 with the same idempotency key, and afterwards
every acknowledged response is stored exactly once.

Runs a private PostgreSQL cluster (initdb in a temporary folder, its own port) so restarting
it disturbs nothing else; skipped where the server binaries or root are missing."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from npsloop.responses.models import Response
from tests.faults.conftest import build_stack

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
CLIENTS, PER_CLIENT = 6, 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, root: Path) -> None:
        self.bin = Path(BINARIES[-1])
        self.data = root / "pgdata"
        self.port = _free_port()
        shutil.chown(root, "postgres")

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, timeout=60)

    def init(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "--no-sync")

    def pg_ctl(self, *args: str) -> None:
        options = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 "
                   "-c fsync=on -c max_connections=60")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.data / "log"), "-w", *args)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    if not BINARIES or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs the PostgreSQL server binaries and root (CI has both)")
    # Not under pytest's tmp folder: its parents are private to root, and the server runs
    # as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="npsloop-pgfault-"))
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.pg_ctl("start")
        yield cluster
        cluster.pg_ctl("stop", "-m", "immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_acknowledged_responses_survive_a_restart(cluster):
    stack = build_stack(cluster.url)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(stack.client.app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert _wait_up(port)
    acked: list[str] = []
    retried = {"n": 0}
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=stack.headers,
                          timeout=10) as http:
            for i in range(PER_CLIENT):
                key = f"c{index}-{i}"
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        answer = http.post(f"/api/v1/surveys/{stack.survey_id}/responses",
                                           json={"score": i % 11, "idempotency_key": key})
                    except httpx.TransportError:
                        answer = None
                    if answer is not None and answer.status_code in (200, 201):
                        with lock:
                            acked.append(key)
                        break
                    assert answer is None or answer.status_code == 503, answer.text
                    with lock:
                        retried["n"] += 1
                    time.sleep(0.2)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for worker in workers:
        worker.start()
    while len(acked) < CLIENTS * PER_CLIENT // 3:
        time.sleep(0.02)
    cluster.pg_ctl("restart", "-m", "immediate")
    for worker in workers:
        worker.join(90)
    server.should_exit = True
    thread.join(10)

    assert len(acked) == CLIENTS * PER_CLIENT  # every client finished after the restart
    assert retried["n"] > 0  # the restart was felt (503s or refused connections)
    stack.engine.dispose()
    with stack.engine.connect() as conn:
        stored = conn.execute(select(Response.idempotency_key, func.count())
                              .group_by(Response.idempotency_key)).all()
    counts = dict(stored)
    assert set(counts) == set(acked)  # nothing lost
    assert max(counts.values()) == 1  # nothing doubled
    print(f"\npg restart: {len(acked)} acknowledged, {retried['n']} retried requests, "
          f"{len(set(acked) - set(counts))} lost, "
          f"{sum(n - 1 for n in counts.values())} doubled")
    stack.engine.dispose()


def _wait_up(port: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False
