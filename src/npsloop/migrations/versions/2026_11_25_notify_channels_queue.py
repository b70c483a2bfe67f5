"""notify: channels, webhook endpoints, message queue, delivery log, rate buckets

Revision ID: 3f6e2a9c41d7
Revises: 74e0643279b1
Create Date: 2026-11-25 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "3f6e2a9c41d7"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = npsloop.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_channels",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets_encrypted", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_notify_channels_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_channels")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_notify_channels_org_id_name")),
    )
    op.create_index(op.f("ix_notify_channels_org_id"), "notify_channels", ["org_id"], unique=False)

    op.create_table(
        "notify_webhook_endpoints",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=False),
        sa.Column("disabled_at", UTC, nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_notify_webhook_endpoints_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_webhook_endpoints")),
    )
    op.create_index(op.f("ix_notify_webhook_endpoints_org_id"), "notify_webhook_endpoints", ["org_id"], unique=False)

    op.create_table(
        "notify_messages",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("endpoint_id", sa.String(length=32), nullable=True),
        sa.Column("target", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("ordering_key", sa.String(length=128), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("delivered_at", UTC, nullable=True),
        sa.Column("dead_at", UTC, nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_notify_messages_org_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["notify_channels.id"], name=op.f("fk_notify_messages_channel_id_notify_channels"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["notify_webhook_endpoints.id"], name=op.f("fk_notify_messages_endpoint_id_notify_webhook_endpoints"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_messages")),
        sa.UniqueConstraint("target", "dedupe_key", name=op.f("uq_notify_messages_target_dedupe_key")),
    )
    op.create_index("ix_notify_messages_due", "notify_messages", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_notify_messages_order", "notify_messages", ["target", "ordering_key", "created_at"], unique=False)
    op.create_index("ix_notify_messages_org_created", "notify_messages", ["org_id", "created_at"], unique=False)
    op.create_index(op.f("ix_notify_messages_channel_id"), "notify_messages", ["channel_id"], unique=False)
    op.create_index(op.f("ix_notify_messages_endpoint_id"), "notify_messages", ["endpoint_id"], unique=False)

    op.create_table(
        "notify_delivery_attempts",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("vendor_code", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["notify_messages.id"], name=op.f("fk_notify_delivery_attempts_message_id_notify_messages"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_delivery_attempts")),
    )
    op.create_index(op.f("ix_notify_delivery_attempts_message_id"), "notify_delivery_attempts", ["message_id"], unique=False)
    op.create_index(op.f("ix_notify_delivery_attempts_org_id"), "notify_delivery_attempts", ["org_id"], unique=False)

    op.create_table(
        "notify_rate_buckets",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("sent_at", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_notify_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("notify_rate_buckets")
    op.drop_table("notify_delivery_attempts")
    op.drop_table("notify_messages")
    op.drop_table("notify_webhook_endpoints")
    op.drop_table("notify_channels")
