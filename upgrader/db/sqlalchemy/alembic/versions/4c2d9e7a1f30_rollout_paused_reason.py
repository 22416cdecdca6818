"""Rollouts say why they are paused.

Revision ID: 4c2d9e7a1f30
Revises: 1a7e6f0c2b9d
Create Date: 2026-11-22 00:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '4c2d9e7a1f30'
down_revision = '1a7e6f0c2b9d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rollouts') as batch:
        batch.add_column(sa.Column('paused_reason', sa.String(255),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('rollouts') as batch:
        batch.drop_column('paused_reason')
