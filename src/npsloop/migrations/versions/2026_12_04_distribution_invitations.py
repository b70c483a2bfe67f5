"""distribution: invitations, campaigns, schedules and their runs, unsubscribes

Revision ID: b1e5c0d10001
Revises: e1f0a2b3c4d5
Create Date: 2026-12-04 15:30:00

Hand-written (rendered from this domain's tables only): creates only this domain's tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "b1e5c0d10001"
down_revision: str | None = "e1f0a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('distribution_schedules',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('survey_id', sa.String(length=32), nullable=False),
    sa.Column('segment_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notify_channel_id', sa.String(length=32), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('expires_days', sa.Integer(), nullable=False),
    sa.Column('every_unit', sa.String(length=8), nullable=False),
    sa.Column('every_count', sa.Integer(), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('starts_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_run_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['notify_channel_id'], ['notify_channels.id'], name=op.f('fk_distribution_schedules_notify_channel_id_notify_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_distribution_schedules_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['contact_segments.id'], name=op.f('fk_distribution_schedules_segment_id_contact_segments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_distribution_schedules_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_schedules'))
    )
    op.create_index('ix_distribution_schedules_due', 'distribution_schedules', ['enabled', 'next_run_at'], unique=False)
    op.create_index(op.f('ix_distribution_schedules_org_id'), 'distribution_schedules', ['org_id'], unique=False)
    op.create_table('distribution_unsubscribes',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('invitation_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_distribution_unsubscribes_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_distribution_unsubscribes_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_unsubscribes')),
    sa.UniqueConstraint('org_id', 'contact_id', 'channel', name=op.f('uq_distribution_unsubscribes_org_id_contact_id_channel'))
    )
    op.create_index(op.f('ix_distribution_unsubscribes_contact_id'), 'distribution_unsubscribes', ['contact_id'], unique=False)
    op.create_table('distribution_campaigns',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('survey_id', sa.String(length=32), nullable=False),
    sa.Column('segment_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notify_channel_id', sa.String(length=32), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('expires_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('send_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('schedule_id', sa.String(length=32), nullable=True),
    sa.Column('schedule_run_id', sa.String(length=32), nullable=True),
    sa.Column('cursor', sa.String(length=32), nullable=True),
    sa.Column('planned_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('invited_count', sa.Integer(), nullable=False),
    sa.Column('deferred_count', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['notify_channel_id'], ['notify_channels.id'], name=op.f('fk_distribution_campaigns_notify_channel_id_notify_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_distribution_campaigns_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['distribution_schedules.id'], name=op.f('fk_distribution_campaigns_schedule_id_distribution_schedules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['segment_id'], ['contact_segments.id'], name=op.f('fk_distribution_campaigns_segment_id_contact_segments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_distribution_campaigns_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_campaigns'))
    )
    op.create_index('ix_distribution_campaigns_due', 'distribution_campaigns', ['status', 'send_at'], unique=False)
    op.create_index('ix_distribution_campaigns_org_created', 'distribution_campaigns', ['org_id', 'created_at'], unique=False)
    op.create_table('distribution_schedule_runs',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('schedule_id', sa.String(length=32), nullable=False),
    sa.Column('due_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ran_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('worker_id', sa.String(length=100), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_distribution_schedule_runs_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['distribution_schedules.id'], name=op.f('fk_distribution_schedule_runs_schedule_id_distribution_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_schedule_runs')),
    sa.UniqueConstraint('schedule_id', 'due_at', name=op.f('uq_distribution_schedule_runs_schedule_id_due_at'))
    )
    op.create_table('invitations',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('survey_id', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('trigger_id', sa.String(length=32), nullable=True),
    sa.Column('schedule_run_id', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('send_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismissed_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['distribution_campaigns.id'], name=op.f('fk_invitations_campaign_id_distribution_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_invitations_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_invitations_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_invitations_survey_id_surveys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('campaign_id', 'contact_id', name=op.f('uq_invitations_campaign_id_contact_id'))
    )
    op.create_index(op.f('ix_invitations_campaign_id'), 'invitations', ['campaign_id'], unique=False)
    op.create_index('ix_invitations_contact', 'invitations', ['contact_id', 'created_at'], unique=False)
    op.create_index('ix_invitations_due', 'invitations', ['status', 'send_at'], unique=False)
    op.create_index('ix_invitations_message', 'invitations', ['message_id'], unique=False)
    op.create_index('ix_invitations_org_survey_created', 'invitations', ['org_id', 'survey_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_invitations_org_survey_created', table_name='invitations')
    op.drop_index('ix_invitations_message', table_name='invitations')
    op.drop_index('ix_invitations_due', table_name='invitations')
    op.drop_index('ix_invitations_contact', table_name='invitations')
    op.drop_index(op.f('ix_invitations_campaign_id'), table_name='invitations')
    op.drop_table('invitations')
    op.drop_table('distribution_schedule_runs')
    op.drop_index('ix_distribution_campaigns_org_created', table_name='distribution_campaigns')
    op.drop_index('ix_distribution_campaigns_due', table_name='distribution_campaigns')
    op.drop_table('distribution_campaigns')
    op.drop_index(op.f('ix_distribution_unsubscribes_contact_id'), table_name='distribution_unsubscribes')
    op.drop_table('distribution_unsubscribes')
    op.drop_index(op.f('ix_distribution_schedules_org_id'), table_name='distribution_schedules')
    op.drop_index('ix_distribution_schedules_due', table_name='distribution_schedules')
    op.drop_table('distribution_schedules')
