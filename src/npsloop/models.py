"""Imports every domain's tables so Alembic and create_all see the whole schema."""

from npsloop.accounts import models as accounts  # noqa: F401
from npsloop.contacts import models as contacts  # noqa: F401
from npsloop.core import outbox  # noqa: F401
from npsloop.core.db import Base
from npsloop.responses import models as responses  # noqa: F401
from npsloop.surveys import models as surveys  # noqa: F401

metadata = Base.metadata
