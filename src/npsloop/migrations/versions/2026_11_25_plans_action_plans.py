"""plans: action plans and their tasks

Revision ID: c4a7e2b91d05
Revises: 74e0643279b1
Create Date: 2026-11-25 23:00:00

Hand-written (rendered from this domain's tables only): creates only this domain's tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "c4a7e2b91d05"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('action_plans',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('target_nps', sa.Float(), nullable=True),
    sa.Column('link_kind', sa.String(length=16), nullable=False),
    sa.Column('link_value', sa.String(length=200), nullable=False),
    sa.Column('window_before_days', sa.Integer(), nullable=False),
    sa.Column('window_after_days', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_action_plans_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_plans'))
    )
    op.create_index('ix_action_plans_org_start', 'action_plans', ['org_id', 'start_date'], unique=False)
    op.create_table('action_plan_tasks',
    sa.Column('plan_id', sa.String(length=32), nullable=False),
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_action_plan_tasks_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['action_plans.id'], name=op.f('fk_action_plan_tasks_plan_id_action_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_plan_tasks'))
    )
    op.create_index(op.f('ix_action_plan_tasks_plan_id'), 'action_plan_tasks', ['plan_id'], unique=False)


def downgrade() -> None:
    op.drop_table('action_plan_tasks')
    op.drop_table('action_plans')
