"""Domains declare periodic jobs in jobs.py; the runner finds them and survives failures."""

from __future__ import annotations

import threading

from npsloop.core.jobs import JobThread, PeriodicJob, domain_jobs


def test_domain_jobs_are_found_by_file_name():
    names = {job.name for job in domain_jobs()}
    assert {"retention", "digests", "distribution", "outcomes-refit", "decision-log-prune"} <= names


def test_a_failing_pass_does_not_stop_the_loop():
    calls: list[int] = []
    done = threading.Event()

    def flaky(_factory) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        done.set()

    thread = JobThread(PeriodicJob("flaky", 0.01, flaky), factory=None)  # type: ignore[arg-type]
    thread.start()
    assert done.wait(5)
    thread.stop()
    thread.join(2)
    assert len(calls) >= 2 and not thread.is_alive()
