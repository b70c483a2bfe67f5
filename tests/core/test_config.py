"""Settings refuse a default secret in production."""

import pytest
from pydantic import ValidationError

from npsloop.core.config import DEFAULT_SECRET, Settings


def test_default_secret_refused_in_production():
    with pytest.raises(ValidationError, match="NPSLOOP_SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_SECRET)
    with pytest.raises(ValidationError):
        Settings(env="production", secret_key="short")


def test_production_with_real_secret_and_env_prefix(monkeypatch):
    monkeypatch.setenv("NPSLOOP_ENV", "production")
    monkeypatch.setenv("NPSLOOP_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("NPSLOOP_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings()
    assert settings.env == "production"
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.sqlite_path is None


def test_development_default_is_sqlite():
    settings = Settings(_env_file=None)
    assert settings.sqlite_path is not None
