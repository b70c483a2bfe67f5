"""Imports every domain's tables so Alembic and create_all see the whole schema."""

from npsloop.core import outbox  # noqa: F401
from npsloop.core.db import Base
from npsloop.registry import import_models

import_models()
metadata = Base.metadata
