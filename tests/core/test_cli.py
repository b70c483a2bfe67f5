"""The CLI on a fresh SQLite file: migrate, org create prints JSON, errors are clear."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NPSLOOP = [sys.executable, "-m", "npsloop.cli"]


def run(args, db: Path):
    env = {**os.environ, "NPSLOOP_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([*NPSLOOP, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_migrate_and_org_create(tmp_path):
    db = tmp_path / "cli.db"
    assert run(["migrate"], db).returncode == 0
    result = run(["org", "create", "--name", "Acme", "--admin-email", "a@acme.test",
                  "--admin-password", "password-123"], db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"org_id", "api_key"} and data["api_key"].startswith("npl_")

    from fastapi.testclient import TestClient

    from npsloop.app import create_app
    from npsloop.core.config import Settings

    app = create_app(Settings(database_url=f"sqlite:///{db}"), start_worker=False)
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['api_key']}"})
        assert me.json()["org_id"] == data["org_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--admin-email", "nope", "--admin-password", "password-123"], "email"),
     (["--admin-email", "a@b.test", "--admin-password", "short"], "password")],
)
def test_org_create_errors_are_clear(tmp_path, args, message):
    result = run(["org", "create", "--name", "X", *args], tmp_path / "e.db")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
