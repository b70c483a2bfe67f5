"""Demo workspace (stub: replaced by the full generator)."""

from __future__ import annotations

from typing import Any

DEMO_EMAIL = "demo@npsloop.local"
DEMO_PASSWORD = "npsloop-demo"


def seed_demo(factory: Any, responses: int = 24000, reset: bool = False) -> dict[str, Any]:
    return {"created": False}
