"""contacts: name column and indexes, attribute definitions, behaviour events, segments,
import runs and their per-row errors

Revision ID: 84e987c4883a
Revises: 74e0643279b1
Create Date: 2026-11-25 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "84e987c4883a"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = npsloop.core.db.UTCDateTime(timezone=True)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=f"fk_{table}_org_id_organizations",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # SQLite cannot ALTER a table in place: batch mode copies it.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_contacts_org_created", ["org_id", "created_at"], unique=False)
        batch_op.create_index("ix_contacts_org_email", ["org_id", "email"], unique=False)

    op.create_table(
        "contact_attribute_definitions",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("show_in_list", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _org_fk("contact_attribute_definitions"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_attribute_definitions"),
        sa.UniqueConstraint("org_id", "key", name="uq_contact_attribute_definitions_org_id_key"),
    )

    op.create_table(
        "contact_events",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_events_contact_id_contacts",
            ondelete="CASCADE",
        ),
        _org_fk("contact_events"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_events"),
        sa.UniqueConstraint("org_id", "event_key", name="uq_contact_events_org_id_event_key"),
    )
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_events_contact_name_time", ["contact_id", "name", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_contact_events_org_name_time", ["org_id", "name", "occurred_at", "contact_id"],
            unique=False,
        )

    op.create_table(
        "contact_segments",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _org_fk("contact_segments"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_segments"),
        sa.UniqueConstraint("org_id", "name", name="uq_contact_segments_org_id_name"),
    )
    with op.batch_alter_table("contact_segments", schema=None) as batch_op:
        batch_op.create_index("ix_contact_segments_org_id", ["org_id"], unique=False)

    op.create_table(
        "contact_imports",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("valid_rows", sa.Integer(), nullable=False),
        sa.Column("error_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        _org_fk("contact_imports"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_imports"),
    )
    with op.batch_alter_table("contact_imports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_imports_org_created", ["org_id", "created_at"], unique=False
        )

    op.create_table(
        "contact_import_errors",
        sa.Column("import_id", sa.String(length=32), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["contact_imports.id"],
            name="fk_contact_import_errors_import_id_contact_imports", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contact_import_errors"),
    )
    with op.batch_alter_table("contact_import_errors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_import_errors_import_row", ["import_id", "row_number"], unique=False
        )


def downgrade() -> None:
    op.drop_table("contact_import_errors")
    op.drop_table("contact_imports")
    op.drop_table("contact_segments")
    op.drop_table("contact_events")
    op.drop_table("contact_attribute_definitions")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_org_email")
        batch_op.drop_index("ix_contacts_org_created")
        batch_op.drop_column("name")
