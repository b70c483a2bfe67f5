"""Shared pieces of the benchmarks: throw-away PostgreSQL databases, child server processes
on 127.0.0.1, percentiles, and a result row the `npsloop bench` report is built from."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from npsloop.core.db import make_engine

ADMIN_URL = os.environ.get("NPSLOOP_BENCH_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One line of the report: a figure, its same-run baseline and the target."""

    bench: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline  # type: ignore[operator]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    def line(self) -> str:
        base = f"  baseline {self.baseline:,.1f} ({self.baseline_name}), ratio {self.ratio:.2f}" \
            if self.baseline else ""
        verdict = "" if self.met is None else ("  MET" if self.met else "  MISSED")
        return (f"{self.bench:10} {self.measure:42} {self.value:12,.1f} {self.unit:6}{base}"
                f"{'  target ' + self.target if self.target else ''}{verdict}")


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def create_database(prefix: str = "npsloop_bench") -> tuple[str, str]:
    """A fresh, empty PostgreSQL database; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, database_url(name)


def drop_database(name: str) -> None:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None
              ) -> None:
    """Waits until `url` answers (any status); fails early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def wait_log(log: Path, needle: str, timeout: float = 60.0,
             process: subprocess.Popen[Any] | None = None) -> None:
    """Waits until a process's log holds `needle` (start it with PYTHONUNBUFFERED=1 so its
    lines reach the file at once); fails early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}; see {log}")
        if log.exists() and needle in log.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{log} did not show {needle!r} within {timeout:.0f} s")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this tree's sources first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[Any]:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process by stop_process
    process = subprocess.Popen([sys.executable, *args], env=env, stdout=handle,
                               stderr=subprocess.STDOUT, start_new_session=True)
    process._bench_log = handle  # type: ignore[attr-defined]
    return process


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    handle = getattr(process, "_bench_log", None)
    if handle is not None:
        handle.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_processes(processes: list[subprocess.Popen[Any]], timeout: float = 10.0) -> None:
    """Stops several at once: all are signalled first, so their shutdowns overlap."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        stop_process(process, timeout)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(share * 1000) - 1]


def machine() -> dict[str, str]:
    """What the figures were measured on, for the report."""
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            total_kb = int(handle.readline().split()[1])
        memory = f"{total_kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pg = ""
    try:
        engine = make_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            pg = str(conn.execute(text("SHOW server_version")).scalar_one())
            settings = {name: conn.execute(text("SELECT current_setting(:n)"), {"n": name})
                        .scalar_one() for name in ("shared_buffers", "work_mem",
                                                   "max_parallel_workers_per_gather",
                                                   "synchronous_commit", "max_connections")}
        engine.dispose()
        pg += " (" + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) + ")"
    except Exception as exc:  # noqa: BLE001 - the report says it could not tell
        pg = f"unreachable ({type(exc).__name__})"
    return {"cpus": str(os.cpu_count()), "cpu": cpu, "memory": memory,
            "python": sys.version.split()[0], "os": platform.platform(), "postgresql": pg}
