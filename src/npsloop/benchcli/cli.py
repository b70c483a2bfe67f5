"""`npsloop bench [--full] [--only NAME ...] [--out FILE]`.

The benchmarks live in the repository's `bench/` folder (they are not installed with the
package): the command finds it next to `src/` of a source checkout, or under --bench-dir.
They need a PostgreSQL server (NPSLOOP_BENCH_ADMIN_URL, default
postgresql://postgres@127.0.0.1:5432/postgres, a role that may create databases).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

COMMAND = "bench"
NAMES = ("ingest", "dashboard", "widget", "text", "delivery")
app = typer.Typer(help="Benchmarks: run them and write a Markdown report.",
                  invoke_without_command=True)


def _checkout(bench_dir: Path | None) -> Path:
    candidates = [bench_dir] if bench_dir else [
        Path(__file__).resolve().parents[3] / "bench", Path.cwd() / "bench"]
    for folder in candidates:
        if folder is not None and (folder / "run.py").exists():
            return folder.resolve()
    raise typer.BadParameter("no bench/run.py found: run from a source checkout or pass "
                             "--bench-dir", param_hint="--bench-dir")


@app.callback()
def bench(
    full: bool = typer.Option(False, "--full", help="the sizes the targets are stated at "
                              "(1M and 10M responses; about an hour)"),
    only: list[str] = typer.Option([], "--only", help=f"run only these: {', '.join(NAMES)}"),
    out: Path | None = typer.Option(None, "--out", help="report file (default "
                                    "bench/results/<date>-<small|full>.md)"),
    bench_dir: Path | None = typer.Option(None, "--bench-dir", help="the bench/ folder"),
) -> None:
    """Run the benchmarks (small by default) and write the Markdown report."""
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        raise typer.BadParameter(f"unknown: {', '.join(unknown)}; known: {', '.join(NAMES)}",
                                 param_hint="--only")
    folder = _checkout(bench_dir)
    sys.path.insert(0, str(folder.parent))
    from bench.run import run_all  # type: ignore[import-not-found]

    run_all(full=full, only=list(only) or None, out=out)
