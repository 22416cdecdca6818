"""SQLAlchemy models of upgrader's tables.

Changing a model needs a new alembic migration: a test compares the models
with the migrated schema on SQLite, PostgreSQL and MariaDB.
"""

import datetime
import json

from oslo_db.sqlalchemy import models as oslo_models
from oslo_utils import timeutils
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm

# Microseconds everywhere: MySQL's DATETIME drops them unless fsp is given,
# and events are ordered and shown with them.
DateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
# A plan describes every instance of the cloud: more than TEXT's 64 KiB on
# MySQL. Other databases' TEXT has no such limit.
MediumText = sa.Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb')
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# InnoDB for the foreign keys, utf8mb4 whatever the server's default.
MYSQL_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}
NAME_LENGTH = 255
STATE_LENGTH = 32


class JSONText(sa.types.TypeDecorator):
    """A JSON document stored as text; None stays NULL.

    Not mutation-tracked: assign a new value to change it.
    """

    impl = sa.Text
    cache_ok = True

    def __init__(self, medium=False):
        super().__init__()
        if medium:
            self.impl = MediumText

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return json.dumps(value, sort_keys=True)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(value)


def _utcnow():
    return timeutils.utcnow()


class Base(oslo_models.ModelBase, orm.DeclarativeBase):
    """Base of the models: ``to_dict()`` gives a JSON-friendly dict."""

    _dict_fields = ()

    def to_dict(self):
        data = {}
        for field in self._dict_fields:
            value = getattr(self, field)
            if isinstance(value, datetime.datetime):
                value = value.isoformat()
            data[field] = value
        return data

    def __repr__(self):
        ident = getattr(self, 'uuid', None) or getattr(self, 'id', None)
        return '<%s %s>' % (type(self).__name__, ident)


def _created_at():
    return orm.mapped_column(DateTime, nullable=False, default=_utcnow)


def _updated_at():
    return orm.mapped_column(DateTime, nullable=True, onupdate=_utcnow)



class Release(Base):
    """A named, immutable set of component versions."""

    __tablename__ = 'releases'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_releases0uuid'),
        sa.UniqueConstraint('name', name='uniq_releases0name'),
        sa.Index('releases_parent_id_idx', 'parent_id'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('uuid', 'name', 'description', 'created_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                              nullable=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # The release this one was derived from, if any (informative only).
    parent_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('releases.id', ondelete='SET NULL',
                      name='fk_releases_parent_id'))
    created_at: orm.Mapped[datetime.datetime] = _created_at()

    components: orm.Mapped[list['ReleaseComponent']] = orm.relationship(
        back_populates='release', lazy='selectin',
        order_by='ReleaseComponent.component',
        cascade='all, delete-orphan', passive_deletes=True)
    parent: orm.Mapped['Release | None'] = orm.relationship(
        remote_side=[id], lazy='joined', join_depth=1)

    @property
    def versions(self):
        """The components as a dict: ``{'nova': '29.1.0', ...}``."""
        return {c.component: c.version for c in self.components}

    @property
    def parent_name(self):
        if 'parent' in sa.inspect(self).unloaded or self.parent is None:
            return None
        return self.parent.name

    def to_dict(self):
        data = super().to_dict()
        data['components'] = self.versions
        data['parent'] = self.parent_name
        return data


class ReleaseComponent(Base):
    """One component version of a release (``nova`` = ``29.1.0``)."""

    __tablename__ = 'release_components'
    __table_args__ = (
        sa.UniqueConstraint('release_id', 'component',
                            name='uniq_release_components0release_id0'
                                 'component'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('component', 'version')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    release_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey('releases.id', ondelete='CASCADE',
                      name='fk_release_components_release_id'),
        nullable=False)
    component: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                                   nullable=False)
    version: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                                 nullable=False)

    release: orm.Mapped[Release] = orm.relationship(
        back_populates='components')


class Rollout(Base):
    """One upgrade of the cloud from a release to another, and its plan."""

    __tablename__ = 'rollouts'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_rollouts0uuid'),
        sa.UniqueConstraint('name', name='uniq_rollouts0name'),
        sa.Index('rollouts_state_idx', 'state'),
        # Foreign keys are indexed explicitly: MySQL would add its own.
        sa.Index('rollouts_from_release_id_idx', 'from_release_id'),
        sa.Index('rollouts_to_release_id_idx', 'to_release_id'),
        sa.Index('rollouts_rollback_of_id_idx', 'rollback_of_id'),
        sa.Index('rollouts_train_id_idx', 'train_id'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('uuid', 'name', 'state', 'template_name',
                    'template_digest', 'policy', 'plan', 'error',
                    'paused_reason', 'owner', 'created_at', 'updated_at',
                    'started_at', 'finished_at', 'committed_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                              nullable=False)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(STATE_LENGTH),
                                               nullable=False)
    from_release_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('releases.id', name='fk_rollouts_from_release_id'))
    to_release_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('releases.id', name='fk_rollouts_to_release_id'))
    # The rollout this one takes back (``rollout rollback``).
    rollback_of_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='SET NULL',
                      name='fk_rollouts_rollback_of_id'))
    # The release train this rollout is a stage of (``rollout
    # plan-release``): the train runs it, never the operator alone.
    train_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                      name='fk_rollouts_train_id'))
    template_name: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(NAME_LENGTH))
    # The template as it was when the rollout was created, so that a resumed
    # job rebuilds the same graph even if the file changed since.
    template_content: orm.Mapped[str | None] = orm.mapped_column(MediumText)
    template_digest: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(128))
    policy: orm.Mapped[dict | None] = orm.mapped_column(JSONText())
    plan: orm.Mapped[dict | None] = orm.mapped_column(JSONText(medium=True))
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # Why a paused rollout waits (the operator, a canary to approve).
    paused_reason: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(255))
    # The process running the rollout ('<hostname>:<pid>'), so that resume
    # does not take over a rollout that is still running.
    owner: orm.Mapped[str | None] = orm.mapped_column(sa.String(NAME_LENGTH))
    created_at: orm.Mapped[datetime.datetime] = _created_at()
    updated_at: orm.Mapped[datetime.datetime | None] = _updated_at()
    started_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)
    finished_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)
    # When ``rollout commit`` ran the contract migrations: a rollback
    # after it restores the database from the rollout's backup.
    committed_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)

    from_release: orm.Mapped[Release | None] = orm.relationship(
        foreign_keys=[from_release_id], lazy='joined')
    to_release: orm.Mapped[Release | None] = orm.relationship(
        foreign_keys=[to_release_id], lazy='joined')
    rollback_of: orm.Mapped['Rollout | None'] = orm.relationship(
        remote_side=[id], lazy='joined', join_depth=1,
        foreign_keys=[rollback_of_id])
    train: orm.Mapped['Rollout | None'] = orm.relationship(
        remote_side=[id], lazy='joined', join_depth=1,
        foreign_keys=[train_id])

    def to_dict(self):
        data = super().to_dict()
        data['from_release'] = (self.from_release.name
                                if self.from_release else None)
        data['to_release'] = (self.to_release.name
                              if self.to_release else None)
        rollback_of = None
        if 'rollback_of' not in sa.inspect(self).unloaded:
            rollback_of = self.rollback_of.name if self.rollback_of else None
        data['rollback_of'] = rollback_of
        train = None
        if 'train' not in sa.inspect(self).unloaded:
            train = self.train.name if self.train else None
        data['train'] = train
        return data


class HostRun(Base):
    """The progress of one host in a rollout."""

    __tablename__ = 'host_runs'
    __table_args__ = (
        sa.UniqueConstraint('rollout_id', 'host',
                            name='uniq_host_runs0rollout_id0host'),
        sa.Index('host_runs_host_idx', 'host'),
        sa.Index('host_runs_rollout_id_state_idx', 'rollout_id', 'state'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('id', 'rollout_id', 'host', 'wave', 'state', 'step',
                    'error', 'facts', 'target_versions', 'created_at',
                    'updated_at', 'started_at', 'finished_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    rollout_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                      name='fk_host_runs_rollout_id'),
        nullable=False)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                              nullable=False)
    wave: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(STATE_LENGTH),
                                               nullable=False)
    # The step (task name) the host is at or failed in.
    step: orm.Mapped[str | None] = orm.mapped_column(sa.String(NAME_LENGTH))
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    # What the host's tasks must find again after a crash, remembered before
    # they act: the package versions before the upgrade (what a revert goes
    # back to), the boot id before a reboot.
    facts: orm.Mapped[dict | None] = orm.mapped_column(
        JSONText())
    # The versions this host goes to when they are not its rollout's
    # release's: a rollback's are the versions each host had before.
    target_versions: orm.Mapped[dict | None] = orm.mapped_column(
        JSONText())
    created_at: orm.Mapped[datetime.datetime] = _created_at()
    updated_at: orm.Mapped[datetime.datetime | None] = _updated_at()
    started_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)
    finished_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)


class InstanceMove(Base):
    """One live migration of an instance, planned and actual."""

    __tablename__ = 'instance_moves'
    __table_args__ = (
        sa.Index('instance_moves_rollout_id_instance_uuid_idx',
                 'rollout_id', 'instance_uuid'),
        sa.Index('instance_moves_rollout_id_source_host_idx',
                 'rollout_id', 'source_host'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('id', 'rollout_id', 'instance_uuid', 'instance_name',
                    'source_host', 'planned_host', 'dest_host',
                    'migration_id', 'state', 'error', 'created_at',
                    'updated_at', 'started_at', 'finished_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    rollout_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                      name='fk_instance_moves_rollout_id'),
        nullable=False)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36),
                                                       nullable=False)
    instance_name: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(NAME_LENGTH))
    source_host: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                                     nullable=False)
    # Where the plan sends it, and where Nova actually put it.
    planned_host: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(NAME_LENGTH))
    dest_host: orm.Mapped[str | None] = orm.mapped_column(
        sa.String(NAME_LENGTH))
    # Nova's migration id or uuid.
    migration_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    state: orm.Mapped[str] = orm.mapped_column(sa.String(STATE_LENGTH),
                                               nullable=False)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    created_at: orm.Mapped[datetime.datetime] = _created_at()
    updated_at: orm.Mapped[datetime.datetime | None] = _updated_at()
    started_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)
    finished_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)


class Deployment(Base):
    """The cloud moved to a release: by a rollout that succeeded, or as the
    operator said (``release set-current``). The latest one is the cloud's
    current release."""

    __tablename__ = 'deployments'
    __table_args__ = (
        sa.Index('deployments_release_id_idx', 'release_id'),
        sa.Index('deployments_rollout_id_idx', 'rollout_id'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('id', 'note', 'created_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    release_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey('releases.id', name='fk_deployments_release_id'),
        nullable=False)
    rollout_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='SET NULL',
                      name='fk_deployments_rollout_id'))
    note: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = _created_at()

    release: orm.Mapped[Release] = orm.relationship(lazy='joined')
    rollout: orm.Mapped[Rollout | None] = orm.relationship(lazy='joined')

    def to_dict(self):
        data = super().to_dict()
        data['release'] = self.release.name
        data['rollout'] = self.rollout.name if self.rollout else None
        return data


class Event(Base):
    """A line of a rollout's history: what happened, where, when."""

    __tablename__ = 'events'
    __table_args__ = (
        sa.Index('events_rollout_id_idx', 'rollout_id', 'id'),
        sa.Index('events_host_idx', 'host', 'id'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('id', 'rollout_id', 'host', 'created_at', 'level',
                    'step', 'message')

    id: orm.Mapped[int] = orm.mapped_column(BigIntId, primary_key=True)
    rollout_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                      name='fk_events_rollout_id'))
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(NAME_LENGTH))
    created_at: orm.Mapped[datetime.datetime] = _created_at()
    level: orm.Mapped[str] = orm.mapped_column(sa.String(16),
                                               nullable=False)
    step: orm.Mapped[str | None] = orm.mapped_column(sa.String(NAME_LENGTH))
    message: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class Schedule(Base):
    """When to start a rollout: once (a planned rollout, at a time) or
    again and again (re-planned from ``spec`` each time).

    Whichever process starts a due occurrence first moves ``next_run_at``
    on (compare and swap): no occurrence starts twice.
    """

    __tablename__ = 'schedules'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_schedules0uuid'),
        sa.UniqueConstraint('name', name='uniq_schedules0name'),
        sa.Index('schedules_state_next_run_at_idx', 'state', 'next_run_at'),
        sa.Index('schedules_rollout_id_idx', 'rollout_id'),
        MYSQL_TABLE_ARGS,
    )
    _dict_fields = ('uuid', 'name', 'state', 'every', 'spec', 'next_run_at',
                    'last_rollout', 'error', 'created_at', 'updated_at')

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(NAME_LENGTH),
                                              nullable=False)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(STATE_LENGTH),
                                               nullable=False)
    # Once: the planned rollout to start.
    rollout_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey('rollouts.id', ondelete='CASCADE',
                      name='fk_schedules_rollout_id'))
    # Recurring: how often ('month', '2 weeks'), and what to plan each time
    # (the arguments of upgrader.api.plan_rollout).
    every: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    spec: orm.Mapped[dict | None] = orm.mapped_column(JSONText())
    next_run_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        DateTime)
    # The uuid of the rollout it started last.
    last_rollout: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    created_at: orm.Mapped[datetime.datetime] = _created_at()
    updated_at: orm.Mapped[datetime.datetime | None] = _updated_at()

    rollout: orm.Mapped[Rollout | None] = orm.relationship(lazy='joined')

    def to_dict(self):
        data = super().to_dict()
        data['rollout'] = self.rollout.name if self.rollout else None
        return data
