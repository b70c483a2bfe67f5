"""targeting: fatigue policy, per-survey overrides, triggers, decision log

Revision ID: 7a6e7f1a0002
Revises: b1e5c0d10001
Create Date: 2026-12-04 15:30:00

Hand-written from this domain's tables only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db

revision: str = "7a6e7f1a0002"
down_revision: str | None = "b1e5c0d10001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DT = npsloop.core.db.UTCDateTime(timezone=True)


def _stamps() -> list[sa.Column]:
    return [sa.Column("created_at", DT, nullable=False), sa.Column("updated_at", DT, nullable=False),
            sa.Column("id", sa.String(length=32), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "targeting_fatigue_policies",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("recontact_days", sa.Integer(), nullable=False),
        sa.Column("sampling_percent", sa.Float(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("cap_count", sa.Integer(), nullable=True),
        sa.Column("cap_days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_targeting_fatigue_policies_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targeting_fatigue_policies")),
        sa.UniqueConstraint("org_id", name=op.f("uq_targeting_fatigue_policies_org_id")),
    )
    op.create_table(
        "targeting_survey_overrides",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.String(length=32), nullable=False),
        sa.Column("recontact_days", sa.Integer(), nullable=True),
        sa.Column("sampling_percent", sa.Float(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_targeting_survey_overrides_org_id_organizations")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE",
                                name=op.f("fk_targeting_survey_overrides_survey_id_surveys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targeting_survey_overrides")),
        sa.UniqueConstraint("org_id", "survey_id",
                            name=op.f("uq_targeting_survey_overrides_org_id_survey_id")),
    )
    op.create_table(
        "targeting_triggers",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("segment_id", sa.String(length=32), nullable=True),
        sa.Column("survey_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_targeting_triggers_org_id_organizations")),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE",
                                name=op.f("fk_targeting_triggers_survey_id_surveys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targeting_triggers")),
    )
    op.create_index("ix_targeting_triggers_org_event", "targeting_triggers",
                    ["org_id", "event_name"], unique=False)
    op.create_table(
        "targeting_decisions",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("survey_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("invitation_id", sa.String(length=32), nullable=True),
        sa.Column("trigger_id", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targeting_decisions")),
    )
    op.create_index("ix_targeting_decisions_org_created", "targeting_decisions",
                    ["org_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_targeting_decisions_org_created", table_name="targeting_decisions")
    op.drop_table("targeting_decisions")
    op.drop_index("ix_targeting_triggers_org_event", table_name="targeting_triggers")
    op.drop_table("targeting_triggers")
    op.drop_table("targeting_survey_overrides")
    op.drop_table("targeting_fatigue_policies")
