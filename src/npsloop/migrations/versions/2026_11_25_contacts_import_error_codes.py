"""contacts: import errors keep their column position and a translatable code

Revision ID: 5c1f0e7a9b32
Revises: 84e987c4883a
Create Date: 2026-11-25 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "5c1f0e7a9b32"
down_revision: str | None = "84e987c4883a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_import_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("column_index", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("code", sa.String(length=40), nullable=False,
                                      server_default="invalid"))
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=False,
                                      server_default="{}"))
    # The defaults only fill existing rows; new rows get theirs from the application.
    with op.batch_alter_table("contact_import_errors", schema=None) as batch_op:
        batch_op.alter_column("column_index", server_default=None)
        batch_op.alter_column("code", server_default=None)
        batch_op.alter_column("params", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("contact_import_errors", schema=None) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("code")
        batch_op.drop_column("column_index")
