"""The container files are checked without a container engine: compose.yaml and the Dockerfile
must name commands, options, settings and files that exist, and `pip install .` (what the image
runs) must produce a package that carries every non-Python file npsloop reads at run time.

Why: a typo in a command, an environment variable npsloop ignores or a template left out of
the wheel would only show when a user starts the containers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from npsloop.cli import app
from npsloop.core.config import Settings

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "npsloop"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def npsloop_commands(compose: dict) -> list[list[str]]:
    commands = []
    for service in compose["services"].values():
        command = service.get("command")
        if isinstance(command, list) and command[0] == "npsloop":
            commands.append(command[1:])
    return commands


def test_compose_runs_migrate_serve_and_worker(compose: dict) -> None:
    verbs = {command[0] for command in npsloop_commands(compose)}
    assert {"migrate", "serve", "worker"} <= verbs
    # Web and worker start only after the migrations ran once.
    for name in ("web", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_compose_commands_and_options_exist() -> None:
    compose_text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    commands = npsloop_commands(yaml.safe_load(compose_text))
    runner = CliRunner()
    for command in commands:
        verb, options = command[0], [part for part in command[1:] if part.startswith("--")]
        result = runner.invoke(app, [verb, "--help"])
        assert result.exit_code == 0, (command, result.output)
        for option in options:
            assert option in result.output, f"npsloop {verb} has no option {option}"
    # The documented one-off admin command in the header exists too.
    assert "npsloop org create" in compose_text
    result = runner.invoke(app, ["org", "create", "--help"])
    assert result.exit_code == 0
    for option in ("--name", "--admin-email", "--admin-password"):
        assert option in result.output


def test_compose_environment_names_real_settings(compose: dict) -> None:
    known = {name.upper() for name in Settings.model_fields}
    for service in compose["services"].values():
        for variable in service.get("environment", {}) or {}:
            if variable.startswith("NPSLOOP_"):
                assert variable.removeprefix("NPSLOOP_") in known, variable


def test_dockerfile_copies_files_that_exist() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    for line in dockerfile.splitlines():
        if not line.startswith("COPY "):
            continue
        parts = line.split()[1:]
        if parts[0].startswith("--from="):
            # Files from the npm stage: the package must be a locked dependency.
            source = parts[1]
            package = re.match(r"/src/node_modules/([^/]+)/", source)
            assert package, line
            lock = (REPO / "package-lock.json").read_text(encoding="utf-8")
            assert f'"node_modules/{package.group(1)}"' in lock, line
            continue
        for source in parts[:-1]:
            assert (REPO / source).exists(), line
    assert 'CMD ["npsloop", "serve"' in dockerfile


def test_built_wheel_carries_every_runtime_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        check=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("npsloop-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    suffixes = {".html", ".json", ".js", ".css", ".txt", ".npz", ".svg", ".mako", ".py"}
    expected = {
        "npsloop/" + path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix in suffixes and "__pycache__" not in path.parts
    }
    missing = sorted(expected - shipped)
    assert not missing, missing[:20]
    # The front-end libraries npsloop serves itself (no CDN) are git-ignored: they must ship.
    if (PACKAGE / "web" / "static" / "vendor" / "echarts.min.js").exists():
        assert "npsloop/web/static/vendor/echarts.min.js" in shipped
