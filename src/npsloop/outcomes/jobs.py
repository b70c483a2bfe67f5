"""Background jobs of the outcomes domain (run by `npsloop worker` and in-process serve)."""

from __future__ import annotations

from npsloop.core.jobs import PeriodicJob
from npsloop.outcomes.clock import CHECK_EVERY_SECONDS, refit

# Refits each organisation's models once they are a day old (see clock.stale_orgs).
JOBS = [PeriodicJob("outcomes-refit", float(CHECK_EVERY_SECONDS), refit)]
