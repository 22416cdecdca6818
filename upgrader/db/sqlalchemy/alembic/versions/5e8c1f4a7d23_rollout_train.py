"""Rollouts that are stages of a release train (``rollout plan-release``).

Revision ID: 5e8c1f4a7d23
Revises: 9d4a6c2e8b17
Create Date: 2026-12-02 18:20:00
"""

from alembic import op
import sqlalchemy as sa

revision = '5e8c1f4a7d23'
down_revision = '9d4a6c2e8b17'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rollouts') as batch:
        batch.add_column(sa.Column('train_id', sa.Integer, nullable=True))
        batch.create_foreign_key('fk_rollouts_train_id', 'rollouts',
                                 ['train_id'], ['id'], ondelete='CASCADE')
        batch.create_index('rollouts_train_id_idx', ['train_id'])


def downgrade():
    with op.batch_alter_table('rollouts') as batch:
        # The foreign key first: MySQL will not drop the index it uses.
        batch.drop_constraint('fk_rollouts_train_id', type_='foreignkey')
        batch.drop_index('rollouts_train_id_idx')
        batch.drop_column('train_id')
