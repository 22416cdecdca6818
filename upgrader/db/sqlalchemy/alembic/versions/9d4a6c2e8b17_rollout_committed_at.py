"""Rollouts say when their contract migrations ran (``rollout commit``).

Revision ID: 9d4a6c2e8b17
Revises: 7b3f5e2a9c41
Create Date: 2026-12-02 10:40:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '9d4a6c2e8b17'
down_revision = '7b3f5e2a9c41'
branch_labels = None
depends_on = None

DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')


def upgrade():
    with op.batch_alter_table('rollouts') as batch:
        batch.add_column(sa.Column('committed_at', DateTime, nullable=True))


def downgrade():
    with op.batch_alter_table('rollouts') as batch:
        batch.drop_column('committed_at')
