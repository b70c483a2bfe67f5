"""Merge the domain branches (developed side by side) into one history.

Revision ID: e1f0a2b3c4d5
Revises: 3f6e2a9c41d7, 5a1c7e3d9b20, 5b7d1e0c9a26, 5c1f0e7a9b32, 9c41e7d2b8a3, c4a7e2b91d05, d83f1a6c2e47
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "e1f0a2b3c4d5"
down_revision: str | Sequence[str] | None = ('3f6e2a9c41d7', '5a1c7e3d9b20', '5b7d1e0c9a26', '5c1f0e7a9b32', '9c41e7d2b8a3', 'c4a7e2b91d05', 'd83f1a6c2e47')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
