"""Schedules: rollouts started at a time, once or again and again.

Revision ID: 7b3f5e2a9c41
Revises: 7b3e5d91c4a2
Create Date: 2026-12-02 00:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '7b3f5e2a9c41'
down_revision = '7b3e5d91c4a2'
branch_labels = None
depends_on = None

DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')


def upgrade():
    op.create_table(
        'schedules',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('rollout_id', sa.Integer,
                  sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                                name='fk_schedules_rollout_id')),
        sa.Column('every', sa.String(32)),
        sa.Column('spec', sa.Text),
        sa.Column('next_run_at', DateTime),
        sa.Column('last_rollout', sa.String(36)),
        sa.Column('error', sa.Text),
        sa.Column('created_at', DateTime, nullable=False),
        sa.Column('updated_at', DateTime),
        sa.UniqueConstraint('uuid', name='uniq_schedules0uuid'),
        sa.UniqueConstraint('name', name='uniq_schedules0name'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
    op.create_index('schedules_state_next_run_at_idx', 'schedules',
                    ['state', 'next_run_at'])
    op.create_index('schedules_rollout_id_idx', 'schedules', ['rollout_id'])


def downgrade():
    op.drop_table('schedules')
