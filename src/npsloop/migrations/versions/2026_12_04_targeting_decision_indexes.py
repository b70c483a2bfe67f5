"""targeting: index for the widget decision's per-contact invitation reads

Revision ID: 8b2d4f6a0004
Revises: 3d9e7a1b0003
Create Date: 2026-12-04 19:00:00

The widget decision asks "is an invitation already waiting for this contact on the widget?"
(contact, channel "widget", status "scheduled", due). With only (status, send_at) and
(contact_id, created_at) to choose from, SQLite walks every due scheduled invitation of
every organisation, and PostgreSQL does too, or walks the organisation's invitations of the
survey, when its statistics are behind a bulk load. (contact_id, channel, status, send_at)
answers it from the contact's own few rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8b2d4f6a0004"
down_revision: str | None = "3d9e7a1b0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_invitations_contact_channel_status", "invitations",
                    ["contact_id", "channel", "status", "send_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_invitations_contact_channel_status", table_name="invitations")
