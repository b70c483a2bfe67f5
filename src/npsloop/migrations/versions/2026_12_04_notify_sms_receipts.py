"""notify: SMS delivery receipts (vendor id and carrier report per recipient)

Revision ID: 4d9a6c2e7b15
Revises: e1f0a2b3c4d5
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db

revision: str = "4d9a6c2e7b15"
down_revision: str | Sequence[str] | None = "e1f0a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = npsloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("notify_channels") as batch:
        batch.add_column(sa.Column("receipt_token_encrypted", sa.Text(), nullable=False,
                                   server_default=sa.text("''")))
    with op.batch_alter_table("notify_messages") as batch:
        batch.add_column(sa.Column("receipt_status", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("receipt_at", UTC, nullable=True))
        batch.add_column(sa.Column("receipt_error", sa.String(length=300), nullable=True))
    op.create_table(
        "notify_sms_receipts",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("vendor_id", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=False),
        sa.Column("error_message", sa.String(length=300), nullable=False),
        sa.Column("sent_at", UTC, nullable=False),
        sa.Column("reported_at", UTC, nullable=True),
        sa.Column("received_at", UTC, nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["notify_messages.id"],
                                name=op.f("fk_notify_sms_receipts_message_id_notify_messages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"],
                                name=op.f("fk_notify_sms_receipts_org_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["notify_channels.id"],
                                name=op.f("fk_notify_sms_receipts_channel_id_notify_channels"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_sms_receipts")),
        sa.UniqueConstraint("channel_id", "vendor_id", "phone",
                            name=op.f("uq_notify_sms_receipts_channel_id_vendor_id_phone")),
    )
    op.create_index("ix_notify_sms_receipts_vendor", "notify_sms_receipts",
                    ["channel_id", "vendor_id"])
    op.create_index(op.f("ix_notify_sms_receipts_message_id"), "notify_sms_receipts",
                    ["message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notify_sms_receipts_message_id"), table_name="notify_sms_receipts")
    op.drop_index("ix_notify_sms_receipts_vendor", table_name="notify_sms_receipts")
    op.drop_table("notify_sms_receipts")
    with op.batch_alter_table("notify_messages") as batch:
        batch.drop_column("receipt_error")
        batch.drop_column("receipt_at")
        batch.drop_column("receipt_status")
    with op.batch_alter_table("notify_channels") as batch:
        batch.drop_column("receipt_token_encrypted")
