"""referrals: settings, codes, events, visits, conversions, campaigns, lifecycle moves

Revision ID: d83f1a6c2e47
Revises: 74e0643279b1
Create Date: 2026-11-25 23:00:00

Hand-written (rendered from this domain's tables only): creates only this domain's tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "d83f1a6c2e47"
down_revision: str | None = "74e0643279b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('referral_campaigns',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('lookback_days', sa.Integer(), nullable=False),
    sa.Column('channel_ids', sa.JSON(), nullable=False),
    sa.Column('asked_count', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_campaigns_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_campaigns'))
    )
    op.create_index('ix_referral_campaigns_org_created', 'referral_campaigns', ['org_id', 'created_at'], unique=False)
    op.create_table('referral_settings',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('landing_url', sa.String(length=500), nullable=False),
    sa.Column('code_param', sa.String(length=32), nullable=False),
    sa.Column('review_url', sa.String(length=500), nullable=False),
    sa.Column('share_text_zh', sa.Text(), nullable=False),
    sa.Column('share_text_en', sa.Text(), nullable=False),
    sa.Column('incentive_zh', sa.Text(), nullable=False),
    sa.Column('incentive_en', sa.Text(), nullable=False),
    sa.Column('burst_max_visits', sa.Integer(), nullable=False),
    sa.Column('burst_window_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_settings_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_referral_settings'))
    )
    op.create_table('lifecycle_moves',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=False),
    sa.Column('from_stage', sa.String(length=16), nullable=True),
    sa.Column('to_stage', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('moved_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_lifecycle_moves_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_lifecycle_moves_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lifecycle_moves'))
    )
    op.create_index('ix_lifecycle_moves_org_time', 'lifecycle_moves', ['org_id', 'moved_at'], unique=False)
    op.create_index('ix_lifecycle_moves_contact', 'lifecycle_moves', ['contact_id'], unique=False)
    op.create_table('referral_codes',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('contact_id', sa.String(length=32), nullable=True),
    sa.Column('response_id', sa.String(length=32), nullable=True),
    sa.Column('referrer_external_id', sa.String(length=200), nullable=True),
    sa.Column('survey_id', sa.String(length=32), nullable=True),
    sa.Column('touchpoint', sa.String(length=100), nullable=False),
    sa.Column('lifecycle_stage', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_referral_codes_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_codes_org_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_referral_codes_response_id_responses'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_referral_codes_code')),
    sa.UniqueConstraint('org_id', 'contact_id', name=op.f('uq_referral_codes_org_id_contact_id')),
    sa.UniqueConstraint('response_id', name=op.f('uq_referral_codes_response_id'))
    )
    op.create_index('ix_referral_codes_org_created', 'referral_codes', ['org_id', 'created_at'], unique=False)
    op.create_table('referral_conversions',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('code_id', sa.String(length=32), nullable=False),
    sa.Column('customer_external_id', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('converted_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['referral_codes.id'], name=op.f('fk_referral_conversions_code_id_referral_codes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_conversions_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_conversions')),
    sa.UniqueConstraint('org_id', 'customer_external_id', name=op.f('uq_referral_conversions_org_id_customer_external_id'))
    )
    op.create_index('ix_referral_conversions_code', 'referral_conversions', ['code_id'], unique=False)
    op.create_index('ix_referral_conversions_org_time', 'referral_conversions', ['org_id', 'converted_at'], unique=False)
    op.create_table('referral_events',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('code_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('response_id', sa.String(length=32), nullable=True),
    sa.Column('occurred_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['referral_codes.id'], name=op.f('fk_referral_events_code_id_referral_codes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_events_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_events'))
    )
    op.create_index('ix_referral_events_code_kind', 'referral_events', ['code_id', 'kind'], unique=False)
    op.create_index('ix_referral_events_org_kind_time', 'referral_events', ['org_id', 'kind', 'occurred_at'], unique=False)
    op.create_table('referral_visits',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('code_id', sa.String(length=32), nullable=False),
    sa.Column('ip_hash', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('flag_reason', sa.String(length=32), nullable=False),
    sa.Column('visited_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['referral_codes.id'], name=op.f('fk_referral_visits_code_id_referral_codes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_referral_visits_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral_visits'))
    )
    op.create_index('ix_referral_visits_code_time', 'referral_visits', ['code_id', 'visited_at'], unique=False)
    op.create_index('ix_referral_visits_org_ip_time', 'referral_visits', ['org_id', 'ip_hash', 'visited_at'], unique=False)


def downgrade() -> None:
    op.drop_table('lifecycle_moves')
    op.drop_table('referral_campaigns')
    op.drop_table('referral_conversions')
    op.drop_table('referral_visits')
    op.drop_table('referral_events')
    op.drop_table('referral_codes')
    op.drop_table('referral_settings')
