"""Background jobs of the analytics domain (run by `npsloop worker` and in-process serve)."""

from __future__ import annotations

from npsloop.analytics.rollup import rebuild_stale
from npsloop.core.jobs import PeriodicJob

# Re-keys the daily rollup of an organisation whose time zone (or, on SQLite, whose
# zone's UTC offset) changed; until then its time-bucketed reads use raw rows.
JOBS = [PeriodicJob("rollup", 300.0, rebuild_stale)]
