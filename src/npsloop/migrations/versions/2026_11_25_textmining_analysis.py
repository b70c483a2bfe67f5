"""textmining: vocabulary settings, topics, per-response analysis and topic links

Revision ID: 5b7d1e0c9a26
Revises: 74e0643279b1
Create Date: 2026-11-25 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "5b7d1e0c9a26"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = npsloop.core.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "text_settings",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("custom_words", sa.JSON(), nullable=False),
        sa.Column("stop_words", sa.JSON(), nullable=False),
        sa.Column("taxonomy_seeded", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("text_settings", "org_id", "organizations"),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_text_settings")),
    )
    op.create_table(
        "text_topics",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("synonyms", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("text_topics", "org_id", "organizations"),
        _fk("text_topics", "parent_id", "text_topics"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_topics")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_text_topics_org_id_key")),
    )
    op.create_index("ix_text_topics_org_id", "text_topics", ["org_id"], unique=False)
    op.create_table(
        "response_text_analysis",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("sentiment_label", sa.String(length=16), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("topic_hits", sa.JSON(), nullable=False),
        sa.Column("comment_hash", sa.String(length=40), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("analysed_at", UTC, nullable=False),
        _fk("response_text_analysis", "response_id", "responses"),
        _fk("response_text_analysis", "org_id", "organizations"),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_response_text_analysis")),
    )
    op.create_index("ix_response_text_analysis_org_label", "response_text_analysis",
                    ["org_id", "sentiment_label"], unique=False)
    op.create_table(
        "response_text_topics",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("topic_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        _fk("response_text_topics", "response_id", "responses"),
        _fk("response_text_topics", "topic_id", "text_topics"),
        _fk("response_text_topics", "org_id", "organizations"),
        sa.PrimaryKeyConstraint("response_id", "topic_id", name=op.f("pk_response_text_topics")),
    )
    op.create_index("ix_response_text_topics_org_topic", "response_text_topics",
                    ["org_id", "topic_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_response_text_topics_org_topic", table_name="response_text_topics")
    op.drop_table("response_text_topics")
    op.drop_index("ix_response_text_analysis_org_label", table_name="response_text_analysis")
    op.drop_table("response_text_analysis")
    op.drop_index("ix_text_topics_org_id", table_name="text_topics")
    op.drop_table("text_topics")
    op.drop_table("text_settings")
