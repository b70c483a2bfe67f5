"""analytics: covering index on responses (org_id, submitted_at, score) for date-ranged
NPS counts

Revision ID: 5a1c7e3d9b20
Revises: 74e0643279b1
Create Date: 2026-11-25 21:50:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = "5a1c7e3d9b20"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_responses_org_submitted_score", ["org_id", "submitted_at", "score"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index("ix_responses_org_submitted_score")
