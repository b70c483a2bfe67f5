"""Publishable site keys for the web widget.

A site key is safe to put in a web page: it only opens the widget endpoints of one
organisation (identify a visitor, record a behaviour event, answer the invitation the server
decided to show) and only from the origins listed on it. It is stored in clear so an admin
can copy the embed snippet again; it is not an admin API key and grants no reads.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime


class SiteKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "widget_site_keys"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # Exact origins ("https://shop.example.com"); the browser's Origin header must be one.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when identity verification is on: identify/track must then carry user_hash =
    # HMAC-SHA256(secret, user_id) computed by the customer's server, so a visitor cannot
    # pose as another user. Never sent to browsers.
    identity_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
