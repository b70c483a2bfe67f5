"""Background jobs of the privacy domain (run by `npsloop worker` and in-process serve)."""

from __future__ import annotations

from npsloop.core.jobs import PeriodicJob
from npsloop.privacy.retention import run_due

# Hourly check; each organisation is applied at most once a day (last_applied_at).
JOBS = [PeriodicJob("retention", 3600.0, run_due)]
