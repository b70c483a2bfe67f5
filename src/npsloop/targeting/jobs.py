"""Background jobs of the targeting domain (run by `npsloop worker` and in-process serve)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from npsloop.core.jobs import PeriodicJob
from npsloop.targeting.decision_log import prune

# The log grows by one row per decision; the page and the per-rule counts look back weeks,
# not years. `npsloop targeting prune-log` does the same by hand with another horizon.
KEEP_DAYS = 180


def prune_old_decisions(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        prune(session, older_than_days=KEEP_DAYS)
        session.commit()


JOBS = [PeriodicJob("decision-log-prune", 24 * 3600.0, prune_old_decisions)]
