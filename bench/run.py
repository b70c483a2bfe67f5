"""Runs every benchmark and writes one Markdown report (what `npsloop bench` calls).

Small by default (minutes); `full=True` runs the sizes the targets are stated at (1M and
10M responses, 20,000 ingest requests, ...). A benchmark that fails is reported as failed
with its error, and the others still run. The widget decision benchmark
(bench/bench_trigger_decision.py) is picked up when the file exists: imported by path at
run time; its printed medians and p99s are parsed into the table.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO, Result, machine

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DECISION_TARGET_MS = 10.0
DECISION_LINE = re.compile(r"^\s*(?P<label>\S.*?)\s+median\s+(?P<p50>[\d.]+) ms\s+p99\s+"
                           r"(?P<p99>[\d.]+) ms")


def _ingest(full: bool) -> list[Result]:
    from bench import bench_ingest

    return bench_ingest.run(10_000 if full else 3_000, 180.0 if full else 60.0)


def _dashboard(full: bool) -> list[Result]:
    from bench import bench_dashboard

    return bench_dashboard.run(full)


def _text(full: bool) -> list[Result]:
    from bench import bench_text_throughput

    return bench_text_throughput.run(3.0 if full else 1.0)


def _delivery(full: bool) -> list[Result]:
    from bench import bench_delivery

    return bench_delivery.run(1_000 if full else 300)


def _decision(full: bool, path: Path = BENCH_DIR / "bench_trigger_decision.py"
              ) -> tuple[list[Result], str]:
    """The widget-decision benchmark, if present: its main() with sizes for the run."""
    if not path.exists():
        return [], "bench/bench_trigger_decision.py is not in this tree: skipped."
    spec = importlib.util.spec_from_file_location("bench.bench_trigger_decision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = path.read_text(encoding="utf-8")
    args: list[str] = []
    if not full and "--contacts" in source:
        args = ["--contacts", "20000", "--events", "200000", "--calls", "300"]
    output = io.StringIO()
    saved = sys.argv
    sys.argv = [str(path), *args]
    try:
        with contextlib.redirect_stdout(output):
            module.main()
    finally:
        sys.argv = saved
    text = output.getvalue()
    results, backend = [], ""
    for line in text.splitlines():
        if re.match(r"^\w+:\s*$", line):
            backend = line.strip().rstrip(":")
            continue
        match = DECISION_LINE.match(line)
        if not match:
            continue
        label = match["label"].strip()
        p50, p99 = float(match["p50"]), float(match["p99"])
        is_decision = "baseline" not in label.lower()
        results.append(Result(
            "widget", f"{label} ({backend}; p99 {p99:.2f} ms)", p50, "ms", None, "",
            f"p50 < {DECISION_TARGET_MS:g} ms" if is_decision else "",
            p50 < DECISION_TARGET_MS if is_decision else None))
    return results, text


BENCHES: dict[str, Callable[[bool], list[Result]]] = {
    "ingest": _ingest,
    "dashboard": _dashboard,
    "text": _text,
    "delivery": _delivery,
}
ORDER = ("ingest", "widget", "text", "delivery", "dashboard")  # the longest last


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def render(results: list[Result], failures: dict[str, str], notes: dict[str, str],
           info: dict[str, str], full: bool, elapsed: float) -> str:
    lines = [
        f"# npsloop benchmarks ({'full size' if full else 'small size'})", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min with "
        f"`npsloop bench{' --full' if full else ''}`.", "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if v) + ".", "",
        "Every figure has a baseline measured in the same run on the same machine; the ratio "
        "is figure / baseline (for times, lower is better; for rates, higher).", "",
        "| bench | measure | value | unit | baseline | baseline is | ratio | target | met |",
        "|---|---|---:|---|---:|---|---:|---|---|",
    ]
    for result in results:
        met = "" if result.met is None else ("yes" if result.met else "**no**")
        lines.append(
            f"| {result.bench} | {result.measure} | {_fmt(result.value)} | {result.unit} | "
            f"{_fmt(result.baseline)} | {result.baseline_name} | {_fmt(result.ratio)} | "
            f"{result.target} | {met} |")
    notes_in_rows = [r for r in results if r.note]
    if notes_in_rows:
        lines += ["", "Notes:", ""]
        lines += [f"- {r.bench} / {r.measure}: {r.note}" for r in notes_in_rows]
    for name, error in failures.items():
        lines += ["", f"**{name} failed:**", "", "```", error.strip()[-3000:], "```"]
    for name, text in notes.items():
        lines += ["", f"Output of {name}:", "", "```", text.strip()[-6000:], "```"]
    return "\n".join(lines) + "\n"


def run_all(full: bool = False, only: list[str] | None = None, out: Path | None = None
            ) -> Path:
    """Runs the benchmarks (all, or those in `only`) and writes the report; returns its
    path. Each benchmark's lines are printed as they come."""
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    info = machine()
    info["shared"] = "yes: other work ran on the machine during the run" if full else ""
    RESULTS_DIR.mkdir(exist_ok=True)
    target = out or RESULTS_DIR / (
        f"{datetime.now(UTC):%Y-%m-%d}-{'full' if full else 'small'}.md")
    results: list[Result] = []
    failures: dict[str, str] = {}
    notes: dict[str, str] = {}
    for name in ORDER:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        try:
            if name == "widget":
                found, text = _decision(full)
                notes["widget decision benchmark"] = text
            else:
                found = BENCHES[name](full)
        except Exception:  # noqa: BLE001 - one failed bench must not lose the others
            failures[name] = traceback.format_exc()
            print(failures[name], flush=True)
            continue
        for result in found:
            print(result.line(), flush=True)
        results += found
        # Written after every benchmark, so a run stopped part-way keeps what it measured.
        target.write_text(render(results, failures, notes, info, full,
                                 time.perf_counter() - started), encoding="utf-8")
    target.write_text(render(results, failures, notes, info, full,
                             time.perf_counter() - started), encoding="utf-8")
    print(f"report written to {target}")
    return target


if __name__ == "__main__":
    run_all(full="--full" in sys.argv)
