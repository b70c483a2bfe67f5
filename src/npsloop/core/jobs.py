"""Periodic background jobs that domains declare in their `jobs.py` (`JOBS = [...]`).

`npsloop worker` runs every declared job next to the outbox; `npsloop serve` runs them
in-process when it runs the worker (SQLite, one machine). Each job must be safe to run in
several processes at once (claim its work, or be idempotent): scale-out runs one loop per
worker process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_s: float
    # Takes the session factory; does one pass (opening and committing its own sessions).
    run: Callable[[sessionmaker[Session]], object]


class JobThread(threading.Thread):
    """Runs one job every `interval_s` until stopped; an error is logged, never fatal."""

    def __init__(self, job: PeriodicJob, factory: sessionmaker[Session]) -> None:
        super().__init__(name=f"npsloop-job-{job.name}", daemon=True)
        self.job = job
        self.factory = factory
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.job.run(self.factory)
            except Exception:  # noqa: BLE001 - the loop must survive a DB hiccup
                log.exception("job %s failed", self.job.name)
            self.stopping.wait(self.job.interval_s)

    def stop(self) -> None:
        self.stopping.set()


def domain_jobs() -> list[PeriodicJob]:
    from npsloop.registry import domain_modules

    return [job for module in domain_modules("jobs") for job in getattr(module, "JOBS", [])]


def start_jobs(factory: sessionmaker[Session]) -> list[JobThread]:
    threads = [JobThread(job, factory) for job in domain_jobs()]
    for thread in threads:
        thread.start()
    return threads
