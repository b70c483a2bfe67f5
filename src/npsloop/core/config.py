"""Settings from the environment (prefix NPSLOOP_), validated once at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-in-production"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NPSLOOP_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///var/npsloop.db"
    secret_key: str = DEFAULT_SECRET
    # Previous secret keys (comma-separated), still accepted to decrypt stored secrets after
    # NPSLOOP_SECRET_KEY is rotated; see `npsloop notify rotate-secrets`.
    old_secret_keys: str = ""
    base_url: str = "http://127.0.0.1:8000"
    default_language: Literal["zh-CN", "en"] = "zh-CN"
    session_max_age_hours: int = 24 * 7
    # The in-process worker keeps `npsloop serve` self-sufficient on one machine;
    # switch it off when separate `npsloop worker` processes run against PostgreSQL.
    inprocess_worker: bool = True
    min_responses_for_stats: int = 30
    # Abuse limits on public endpoints (0 switches one off); counted in the database, so
    # every web process shares them. See accounts/throttle.py.
    login_attempts_per_minute: int = 20  # per address
    login_lockout_failures: int = 5  # failed sign-ins per account and address ...
    login_lockout_minutes: int = 15  # ... within this window lock that pair for the window
    survey_submits_per_minute: int = 60  # per address, all surveys (partial + final posts)
    survey_token_submits_per_minute: int = 600  # per survey link, all addresses
    survey_ballots_per_hour: int = 20  # new responses per survey and address
    survey_one_ballot_per_browser: bool = True  # a browser's re-submit returns its answer
    widget_decides_per_minute: int = 120  # per address, for the widget's decide endpoint
    sms_receipts_per_minute: int = 1200  # per address, SMS vendors pushing delivery receipts
    # API-key response posts without a contact are validated ahead of the framework and
    # committed in batches (responses/fast_ingest.py); off: every post takes the plain route.
    ingest_group_commit: bool = True
    # Comment sentiment: a comment whose fast n-gram probability is within this margin of
    # 0.5 is also scored with e5 embeddings (more accurate, ~12 comments/s instead of
    # thousands); 0 keeps the n-gram model alone, unset uses the margin shipped with the
    # model (chosen on validation). See textmining/sentiment.py.
    sentiment_e5_margin: float | None = Field(default=None, ge=0.0, le=0.5)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "production" and (
            self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "NPSLOOP_SECRET_KEY must be set to a random value of at least 32 characters "
                "when NPSLOOP_ENV=production"
            )
        return self

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix):])
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
