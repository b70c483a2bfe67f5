"""Text-mining tables: per-organisation vocabulary and topics, per-response analysis.

Topic membership is a link table (not a JSON list on the analysis row) so that per-topic
volume, NPS and sentiment are plain SQL joins on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from npsloop.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class TextSettings(Base):
    """An organisation's vocabulary additions; also records that defaults were seeded."""

    __tablename__ = "text_settings"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    custom_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    stop_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    taxonomy_seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TextTopic(IdMixin, TimestampMixin, Base):
    __tablename__ = "text_topics"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("text_topics.id", ondelete="CASCADE"), nullable=True
    )
    key: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # {"zh": [...], "en": [...]}; synonyms: {keyword: [variants]}
    keywords: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    synonyms: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # default|manual|discovered
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ResponseTextAnalysis(Base):
    __tablename__ = "response_text_analysis"
    __table_args__ = (
        Index("ix_response_text_analysis_org_label", "org_id", "sentiment_label"),
    )

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))  # zh | en | mixed | other
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    sentiment_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    topic_hits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # key -> keywords
    comment_hash: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[str] = mapped_column(String(40))
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResponseTextTopic(Base):
    __tablename__ = "response_text_topics"
    __table_args__ = (Index("ix_response_text_topics_org_topic", "org_id", "topic_id"),)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[str] = mapped_column(
        ForeignKey("text_topics.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
