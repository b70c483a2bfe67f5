"""widget: publishable site keys

Revision ID: 3d9e7a1b0003
Revises: 7a6e7f1a0002
Create Date: 2026-12-04 15:20:00

Hand-written: creates only this domain's table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import npsloop.core.db


revision: str = "3d9e7a1b0003"
down_revision: str | None = "7a6e7f1a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('widget_site_keys',
    sa.Column('org_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('allowed_origins', sa.JSON(), nullable=False),
    sa.Column('identity_secret', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('last_used_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', npsloop.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_widget_site_keys_org_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widget_site_keys')),
    sa.UniqueConstraint('key', name=op.f('uq_widget_site_keys_key'))
    )
    op.create_index(op.f('ix_widget_site_keys_org_id'), 'widget_site_keys', ['org_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_widget_site_keys_org_id'), table_name='widget_site_keys')
    op.drop_table('widget_site_keys')
