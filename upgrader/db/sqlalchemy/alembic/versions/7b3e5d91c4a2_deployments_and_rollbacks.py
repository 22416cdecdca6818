"""The cloud's release history (deployments), rollbacks and per-host target
versions.

Revision ID: 7b3e5d91c4a2
Revises: 4c2d9e7a1f30
Create Date: 2026-12-02 04:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '7b3e5d91c4a2'
down_revision = '4c2d9e7a1f30'
branch_labels = None
depends_on = None

DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')


def upgrade():
    op.create_table(
        'deployments',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('release_id', sa.Integer,
                  sa.ForeignKey('releases.id',
                                name='fk_deployments_release_id'),
                  nullable=False),
        sa.Column('rollout_id', sa.Integer,
                  sa.ForeignKey('rollouts.id', ondelete='SET NULL',
                                name='fk_deployments_rollout_id'),
                  nullable=True),
        sa.Column('note', sa.String(255), nullable=True),
        sa.Column('created_at', DateTime, nullable=False),
        sa.Index('deployments_release_id_idx', 'release_id'),
        sa.Index('deployments_rollout_id_idx', 'rollout_id'),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
    with op.batch_alter_table('rollouts') as batch:
        batch.add_column(sa.Column('rollback_of_id', sa.Integer,
                                   nullable=True))
        batch.create_foreign_key('fk_rollouts_rollback_of_id', 'rollouts',
                                 ['rollback_of_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_index('rollouts_rollback_of_id_idx',
                           ['rollback_of_id'])
    with op.batch_alter_table('host_runs') as batch:
        batch.add_column(sa.Column('target_versions', sa.Text,
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('host_runs') as batch:
        batch.drop_column('target_versions')
    with op.batch_alter_table('rollouts') as batch:
        # The foreign key first: MySQL will not drop the index it uses.
        batch.drop_constraint('fk_rollouts_rollback_of_id',
                              type_='foreignkey')
        batch.drop_index('rollouts_rollback_of_id_idx')
        batch.drop_column('rollback_of_id')
    op.drop_table('deployments')
