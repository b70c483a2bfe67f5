"""`npsloop bench`: the widget-decision benchmark is picked up by path and its printed
medians become report rows judged against the 10 ms target; the report is a Markdown table
that names the machine."""

from __future__ import annotations

from pathlib import Path

from bench.common import Result
from bench.run import _decision, render
from typer.testing import CliRunner

from npsloop.cli import app

FAKE_DECISION_BENCH = '''
import argparse

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    print(f"sqlite: {args.contacts} contacts")
    print("sqlite:")
    print("  baseline: contact by primary key    median    0.20 ms  p99    0.90 ms  ratio 1.0")
    print("  eligible (asked)                    median    4.50 ms  p99   12.00 ms  ratio 22.5")
    print("postgresql:")
    print("  widget track                        median   14.00 ms  p99   30.00 ms  ratio 9.0")
'''


def test_decision_benchmark_is_imported_by_path_and_parsed(tmp_path: Path) -> None:
    path = tmp_path / "bench_trigger_decision.py"
    path.write_text(FAKE_DECISION_BENCH, encoding="utf-8")
    results, output = _decision(False, path)
    assert "20000 contacts" in output  # the small size was passed to its argument parser
    by_label = {r.measure.rsplit(" (", 1)[0]: r for r in results}
    assert set(by_label) == {"baseline: contact by primary key", "eligible (asked)",
                             "widget track"}
    assert by_label["eligible (asked)"].value == 4.5
    assert by_label["eligible (asked)"].met is True
    assert "(postgresql; p99 30.00 ms)" in by_label["widget track"].measure
    assert by_label["widget track"].met is False  # 14 ms misses the 10 ms target
    assert by_label["baseline: contact by primary key"].met is None


def test_missing_decision_benchmark_is_reported_not_failed(tmp_path: Path) -> None:
    results, output = _decision(False, tmp_path / "bench_trigger_decision.py")
    assert results == [] and "skipped" in output


def test_report_is_a_markdown_table_naming_the_machine() -> None:
    rows = [Result("ingest", "responses/s", 600.0, "/s", 1200.0, "minimal ASGI insert",
                   ">= 0.5 x baseline", True)]
    report = render(rows, {"delivery": "Traceback: boom"}, {}, {"cpus": "2"}, True, 90.0)
    assert "| ingest | responses/s | 600 | /s | 1,200 | minimal ASGI insert | 0.50 |" in report
    assert "cpus 2" in report and "full size" in report and "delivery failed" in report


def test_cli_refuses_an_unknown_benchmark_name() -> None:
    outcome = CliRunner().invoke(app, ["bench", "--only", "nope"])
    assert outcome.exit_code == 2
    assert "unknown: nope" in outcome.output


def test_the_real_decision_benchmark_lines_parse() -> None:
    """bench_trigger_decision.report prints what _decision parses (label, median, p99)."""
    import contextlib
    import io

    from bench import bench_trigger_decision
    from bench.run import DECISION_LINE

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        bench_trigger_decision.report("widget track (event + decide)",
                                      [(1.5, 1.0), (2.5, 1.25), (9.0, 2.0)], (0.25, 0.2))
    match = DECISION_LINE.match(printed.getvalue().splitlines()[0])
    assert match is not None
    assert match["label"].strip() == "widget track (event + decide)"
    assert float(match["p50"]) == 2.5 and float(match["p99"]) == 9.0
