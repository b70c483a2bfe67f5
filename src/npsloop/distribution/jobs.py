"""Background jobs of the distribution domain (run by `npsloop worker` and in-process serve):
due schedules, scheduled campaigns, planning, handing invitations to notify, and copying
delivery outcomes back. Every step claims its rows, so several workers never double-send."""

from __future__ import annotations

import socket

from sqlalchemy.orm import Session, sessionmaker

from npsloop.core.db import new_id
from npsloop.core.jobs import PeriodicJob
from npsloop.distribution.dispatch import tick

WORKER_ID = f"{socket.gethostname()}-distribution-{new_id()[:6]}"


def run_tick(factory: sessionmaker[Session]) -> None:
    tick(factory, worker_id=WORKER_ID)


JOBS = [PeriodicJob("distribution", 5.0, run_tick)]
