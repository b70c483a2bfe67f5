"""accounts: the sites allowed to frame an organisation's survey pages

Revision ID: 6b2d8e4f1a37
Revises: e1f0a2b3c4d5
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6b2d8e4f1a37"
down_revision: str | Sequence[str] | None = "e1f0a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite takes it with a constant default), not batch mode: batch
    # mode rebuilds the table on SQLite and would drop the triggers other domains keep on
    # organizations (the statistics rollup's state row).
    op.add_column("organizations", sa.Column("embed_origins", sa.JSON(), nullable=False,
                                             server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("embed_origins")
