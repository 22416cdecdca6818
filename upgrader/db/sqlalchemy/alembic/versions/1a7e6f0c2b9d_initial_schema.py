"""Initial schema: releases, rollouts, host runs, instance moves, events.

Revision ID: 1a7e6f0c2b9d
Revises:
Create Date: 2025-01-01 00:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '1a7e6f0c2b9d'
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the models' types: a migration must not change when the
# models do.
DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
MediumText = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')
BigIntId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
MYSQL_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _timestamps(*names):
    return [sa.Column(name, DateTime, nullable=(name != 'created_at'))
            for name in names]


def upgrade():
    op.create_table(
        'releases',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('description', sa.Text),
        sa.Column('parent_id', sa.Integer,
                  sa.ForeignKey('releases.id', ondelete='SET NULL',
                                name='fk_releases_parent_id')),
        *_timestamps('created_at'),
        sa.UniqueConstraint('uuid', name='uniq_releases0uuid'),
        sa.UniqueConstraint('name', name='uniq_releases0name'),
        **MYSQL_TABLE_ARGS)
    op.create_index('releases_parent_id_idx', 'releases', ['parent_id'])

    op.create_table(
        'release_components',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('release_id', sa.Integer,
                  sa.ForeignKey('releases.id', ondelete='CASCADE',
                                name='fk_release_components_release_id'),
                  nullable=False),
        sa.Column('component', sa.String(255), nullable=False),
        sa.Column('version', sa.String(255), nullable=False),
        sa.UniqueConstraint('release_id', 'component',
                            name='uniq_release_components0release_id0'
                                 'component'),
        **MYSQL_TABLE_ARGS)

    op.create_table(
        'rollouts',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('from_release_id', sa.Integer,
                  sa.ForeignKey('releases.id',
                                name='fk_rollouts_from_release_id')),
        sa.Column('to_release_id', sa.Integer,
                  sa.ForeignKey('releases.id',
                                name='fk_rollouts_to_release_id')),
        sa.Column('template_name', sa.String(255)),
        sa.Column('template_content', MediumText),
        sa.Column('template_digest', sa.String(128)),
        sa.Column('policy', sa.Text),
        sa.Column('plan', MediumText),
        sa.Column('error', sa.Text),
        sa.Column('owner', sa.String(255)),
        *_timestamps('created_at', 'updated_at', 'started_at',
                     'finished_at'),
        sa.UniqueConstraint('uuid', name='uniq_rollouts0uuid'),
        sa.UniqueConstraint('name', name='uniq_rollouts0name'),
        **MYSQL_TABLE_ARGS)
    op.create_index('rollouts_state_idx', 'rollouts', ['state'])
    op.create_index('rollouts_from_release_id_idx', 'rollouts',
                    ['from_release_id'])
    op.create_index('rollouts_to_release_id_idx', 'rollouts',
                    ['to_release_id'])

    op.create_table(
        'host_runs',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('rollout_id', sa.Integer,
                  sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                                name='fk_host_runs_rollout_id'),
                  nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('wave', sa.Integer, nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('step', sa.String(255)),
        sa.Column('error', sa.Text),
        sa.Column('facts', sa.Text),
        *_timestamps('created_at', 'updated_at', 'started_at',
                     'finished_at'),
        sa.UniqueConstraint('rollout_id', 'host',
                            name='uniq_host_runs0rollout_id0host'),
        **MYSQL_TABLE_ARGS)
    op.create_index('host_runs_host_idx', 'host_runs', ['host'])
    op.create_index('host_runs_rollout_id_state_idx', 'host_runs',
                    ['rollout_id', 'state'])

    op.create_table(
        'instance_moves',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('rollout_id', sa.Integer,
                  sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                                name='fk_instance_moves_rollout_id'),
                  nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('instance_name', sa.String(255)),
        sa.Column('source_host', sa.String(255), nullable=False),
        sa.Column('planned_host', sa.String(255)),
        sa.Column('dest_host', sa.String(255)),
        sa.Column('migration_id', sa.String(36)),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('error', sa.Text),
        *_timestamps('created_at', 'updated_at', 'started_at',
                     'finished_at'),
        **MYSQL_TABLE_ARGS)
    op.create_index('instance_moves_rollout_id_instance_uuid_idx',
                    'instance_moves', ['rollout_id', 'instance_uuid'])
    op.create_index('instance_moves_rollout_id_source_host_idx',
                    'instance_moves', ['rollout_id', 'source_host'])

    op.create_table(
        'events',
        sa.Column('id', BigIntId, primary_key=True),
        sa.Column('rollout_id', sa.Integer,
                  sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                                name='fk_events_rollout_id')),
        sa.Column('host', sa.String(255)),
        *_timestamps('created_at'),
        sa.Column('level', sa.String(16), nullable=False),
        sa.Column('step', sa.String(255)),
        sa.Column('message', sa.Text, nullable=False),
        **MYSQL_TABLE_ARGS)
    op.create_index('events_rollout_id_idx', 'events', ['rollout_id', 'id'])
    op.create_index('events_host_idx', 'events', ['host', 'id'])


def downgrade():
    for table in ('events', 'instance_moves', 'host_runs', 'rollouts',
                  'release_components', 'releases'):
        op.drop_table(table)
