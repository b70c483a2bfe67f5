"""Request bodies of /api/v1/outcomes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repurchase_event: str | None = Field(None, max_length=100,
                                         description="the event that means a repurchase")
    churn_event: str | None = Field(None, max_length=100, description=(
        "the event that means churn; empty: churned = no repurchase event in the window"))
    window_days: int | None = Field(None, ge=1, le=365, description="default N days")


class FitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int | None = Field(None, ge=1, le=365,
                                    description="outcome window; the settings' by default")


class WinbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field("", max_length=200)
    min_risk: float | None = Field(None, ge=0, le=1,
                                   description="minimum model churn risk (0-1)")
    segment_id: str | None = Field(None, max_length=32,
                                   description="only contacts in this segment")
    holdout_share: float = Field(0.15, ge=0.05, le=0.5,
                                 description="share kept back as a randomised control")
    window_days: int | None = Field(None, ge=1, le=365,
                                    description="days after the send the effect is measured")
    offer_zh: str = Field("", max_length=500)
    offer_en: str = Field("", max_length=500)
    channel_ids: list[str] = Field(default_factory=list, max_length=10)
    dry_run: bool = False
