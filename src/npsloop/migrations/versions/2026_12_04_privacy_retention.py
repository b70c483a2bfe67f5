"""privacy: retention settings per organisation

Revision ID: 9e7c0a5d1f42
Revises: e1f0a2b3c4d5
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db

revision: str = "9e7c0a5d1f42"
down_revision: str | Sequence[str] | None = "e1f0a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_retention",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("anonymise_responses_after_days", sa.Integer(), nullable=True),
        sa.Column("delete_events_after_days", sa.Integer(), nullable=True),
        sa.Column("delete_messages_after_days", sa.Integer(), nullable=True),
        sa.Column("delete_audit_after_days", sa.Integer(), nullable=True),
        sa.Column("last_applied_at", npsloop.core.db.UTCDateTime(), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", npsloop.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", npsloop.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_privacy_retention_org_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_retention")),
        sa.UniqueConstraint("org_id", name=op.f("uq_privacy_retention_org_id")),
    )


def downgrade() -> None:
    op.drop_table("privacy_retention")
