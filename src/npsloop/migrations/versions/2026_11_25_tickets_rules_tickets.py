"""tickets: settings, teams, rules and their matches, response tags, tickets, history,
comments and follow-ups

Revision ID: 9c41e7d2b8a3
Revises: 74e0643279b1
Create Date: 2026-11-25 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db

revision: str = "9c41e7d2b8a3"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = npsloop.core.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE"
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _id() -> sa.Column:
    return sa.Column("id", sa.String(length=32), nullable=False)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=f"pk_{table}")


def upgrade() -> None:
    op.create_table(
        "ticket_settings",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("escalation_channel_ids", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("ticket_settings", "org_id", "organizations"),
        _pk("ticket_settings", "org_id"),
    )
    op.create_table(
        "ticket_teams",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("notify_channel_ids", sa.JSON(), nullable=False),
        sa.Column("escalation_user_id", sa.String(length=32), nullable=True),
        sa.Column("escalation_channel_ids", sa.JSON(), nullable=False),
        sa.Column("rr_counter", sa.Integer(), nullable=False),
        _id(),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("ticket_teams", "org_id", "organizations"),
        _fk("ticket_teams", "escalation_user_id", "users", "SET NULL"),
        _pk("ticket_teams"),
        sa.UniqueConstraint("org_id", "key", name="uq_ticket_teams_org_id_key"),
    )
    op.create_index("ix_ticket_teams_org_id", "ticket_teams", ["org_id"])
    op.create_table(
        "ticket_rules",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("match", sa.String(length=8), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("stop_processing", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _id(),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("ticket_rules", "org_id", "organizations"),
        _pk("ticket_rules"),
    )
    op.create_index("ix_ticket_rules_org_position", "ticket_rules", ["org_id", "position"])
    op.create_table(
        "ticket_rule_matches",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("matched_at", UTC, nullable=False),
        _id(),
        _fk("ticket_rule_matches", "org_id", "organizations"),
        _fk("ticket_rule_matches", "rule_id", "ticket_rules"),
        _fk("ticket_rule_matches", "response_id", "responses"),
        _pk("ticket_rule_matches"),
        sa.UniqueConstraint("rule_id", "response_id",
                            name="uq_ticket_rule_matches_rule_id_response_id"),
    )
    op.create_index("ix_ticket_rule_matches_response_id", "ticket_rule_matches",
                    ["response_id"])
    op.create_table(
        "ticket_response_tags",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _fk("ticket_response_tags", "response_id", "responses"),
        _fk("ticket_response_tags", "org_id", "organizations"),
        _fk("ticket_response_tags", "rule_id", "ticket_rules", "SET NULL"),
        _pk("ticket_response_tags", "response_id", "tag"),
    )
    op.create_index("ix_ticket_response_tags_org_id", "ticket_response_tags", ["org_id"])
    op.create_table(
        "tickets",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("response_id", sa.String(length=32), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("survey_id", sa.String(length=32), nullable=True),
        sa.Column("rule_id", sa.String(length=32), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("original_score", sa.Integer(), nullable=True),
        sa.Column("original_category", sa.String(length=16), nullable=True),
        sa.Column("sla_first_response_hours", sa.Float(), nullable=False),
        sa.Column("sla_resolution_hours", sa.Float(), nullable=False),
        sa.Column("first_response_due_at", UTC, nullable=False),
        sa.Column("resolution_due_at", UTC, nullable=False),
        sa.Column("first_responded_at", UTC, nullable=True),
        sa.Column("sla_due_at", UTC, nullable=True),
        sa.Column("sla_warn_at", UTC, nullable=True),
        sa.Column("sla_paused_at", UTC, nullable=True),
        sa.Column("first_response_escalated_at", UTC, nullable=True),
        sa.Column("resolution_escalated_at", UTC, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("resolution_category", sa.String(length=40), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=False),
        sa.Column("followup_days", sa.Integer(), nullable=False),
        sa.Column("followup_survey_id", sa.String(length=32), nullable=True),
        sa.Column("followup_channel_id", sa.String(length=32), nullable=True),
        sa.Column("followup_score", sa.Integer(), nullable=True),
        sa.Column("recovered", sa.Boolean(), nullable=True),
        _id(),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _fk("tickets", "org_id", "organizations"),
        _fk("tickets", "response_id", "responses", "SET NULL"),
        _fk("tickets", "contact_id", "contacts", "SET NULL"),
        _fk("tickets", "survey_id", "surveys", "SET NULL"),
        _fk("tickets", "rule_id", "ticket_rules", "SET NULL"),
        _fk("tickets", "team_id", "ticket_teams", "SET NULL"),
        _fk("tickets", "owner_id", "users", "SET NULL"),
        _fk("tickets", "followup_survey_id", "surveys", "SET NULL"),
        _pk("tickets"),
        sa.UniqueConstraint("org_id", "number", name="uq_tickets_org_id_number"),
    )
    op.create_index("ix_tickets_org_status", "tickets", ["org_id", "status"])
    op.create_index("ix_tickets_org_created", "tickets", ["org_id", "created_at"])
    op.create_index("ix_tickets_org_owner", "tickets", ["org_id", "owner_id"])
    op.create_index("ix_tickets_sla_due", "tickets", ["org_id", "sla_due_at"])
    op.create_index("ix_tickets_response_id", "tickets", ["response_id"])
    op.create_index("ix_tickets_contact_id", "tickets", ["contact_id"])
    op.create_index("ix_tickets_team_id", "tickets", ["team_id"])
    op.create_table(
        "ticket_events",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_user_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("old_value", sa.String(length=300), nullable=True),
        sa.Column("new_value", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        _id(),
        _fk("ticket_events", "org_id", "organizations"),
        _fk("ticket_events", "ticket_id", "tickets"),
        _pk("ticket_events"),
    )
    op.create_index("ix_ticket_events_ticket_at", "ticket_events", ["ticket_id", "at"])
    op.create_table(
        "ticket_comments",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_user_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _id(),
        _fk("ticket_comments", "org_id", "organizations"),
        _fk("ticket_comments", "ticket_id", "tickets"),
        _pk("ticket_comments"),
    )
    op.create_index("ix_ticket_comments_ticket_created", "ticket_comments",
                    ["ticket_id", "created_at"])
    op.create_table(
        "ticket_followups",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("invited_at", UTC, nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("response_id", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _id(),
        _fk("ticket_followups", "org_id", "organizations"),
        _fk("ticket_followups", "ticket_id", "tickets"),
        _fk("ticket_followups", "contact_id", "contacts"),
        _fk("ticket_followups", "survey_id", "surveys"),
        _fk("ticket_followups", "response_id", "responses", "SET NULL"),
        _pk("ticket_followups"),
    )
    op.create_index("ix_ticket_followups_status_due", "ticket_followups", ["status", "due_at"])
    op.create_index("ix_ticket_followups_contact_survey", "ticket_followups",
                    ["contact_id", "survey_id"])


def downgrade() -> None:
    for table in ("ticket_followups", "ticket_comments", "ticket_events", "tickets",
                  "ticket_response_tags", "ticket_rule_matches", "ticket_rules",
                  "ticket_teams", "ticket_settings"):
        op.drop_table(table)
