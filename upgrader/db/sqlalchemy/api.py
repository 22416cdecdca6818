"""The SQLAlchemy implementation of :class:`upgrader.db.api.Connection`."""

import functools
import hashlib
import re
import threading

from oslo_db import exception as db_exc
from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from upgrader.common import exception
from upgrader.common import states
from upgrader.db import api
from upgrader.db import migration
from upgrader.db.sqlalchemy import engine
from upgrader.db.sqlalchemy import models

LOG = logging.getLogger(__name__)

_CONTEXT = threading.local()

NAME_RE = re.compile(r'^[^\s\x00-\x1f\x7f]{1,%d}$' % models.NAME_LENGTH)
COMPONENT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]{0,%d}$'
                          % (models.NAME_LENGTH - 1))
VERSION_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+:~-]{0,%d}$'
                        % (models.NAME_LENGTH - 1))
EVENT_LEVELS = ('debug', 'info', 'warning', 'error')

ROLLOUT_UPDATABLE = frozenset([
    'state', 'plan', 'policy', 'error', 'paused_reason', 'owner',
    'started_at', 'finished_at', 'committed_at',
    'template_name', 'template_content', 'template_digest', 'train_id'])
HOST_RUN_UPDATABLE = frozenset([
    'state', 'step', 'error', 'wave', 'facts', 'started_at',
    'finished_at'])
SCHEDULE_UPDATABLE = frozenset(['state', 'next_run_at', 'last_rollout',
                                'error'])
INSTANCE_MOVE_UPDATABLE = frozenset([
    'state', 'dest_host', 'planned_host', 'migration_id', 'error',
    'started_at', 'finished_at'])


def _ensure_schema():
    # Once per process (per engine): an un-synced database gives
    # DatabaseNotSynced rather than "no such table" from the first query.
    if not engine.schema_checked():
        migration.check_current()
        engine.set_schema_checked()


def _session(writer=False):
    _ensure_schema()
    context_manager = engine.get_context_manager()
    mode = context_manager.writer if writer else context_manager.reader
    return mode.using(_CONTEXT)


def _writer_connection():
    """A writer transaction on a Core connection (no ORM session)."""
    _ensure_schema()
    return engine.get_context_manager().writer.connection.using(_CONTEXT)


_EVENT_INSERT = sa.insert(models.Event.__table__)
# Columns -> the UPDATE of a host run setting them, built once: a host
# flow writes its host run at every step (see host_run_record).
_HOST_RUN_UPDATES = {}


def _host_run_update(columns):
    statement = _HOST_RUN_UPDATES.get(columns)
    if statement is None:
        host_runs = models.HostRun.__table__
        statement = (
            sa.update(host_runs)
            .where(host_runs.c.rollout_id == sa.bindparam('_rollout_id'),
                   host_runs.c.host == sa.bindparam('_host'))
            .values({name: sa.bindparam(name, type_=host_runs.c[name].type)
                     for name in columns}))
        _HOST_RUN_UPDATES[columns] = statement
    return statement


def _db_call(fn):
    """Translate database errors; a call whose connection the server
    dropped (a restart, a failover, a killed backend) is made once more on
    a new connection: the transaction it was in was rolled back."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with engine.translate_errors():
            try:
                return fn(*args, **kwargs)
            except db_exc.DBConnectionError as e:
                LOG.warning('Database connection lost (%s); trying %s '
                            'again', engine.unavailable_reason(e),
                            fn.__name__)
                return fn(*args, **kwargs)
    return wrapper


def _mask(text):
    return None if text is None else strutils.mask_password(str(text))


def validate_name(name, what='name'):
    if (not isinstance(name, str) or not NAME_RE.match(name)
            or uuidutils.is_uuid_like(name)):
        raise exception.InvalidInput(
            reason='%s %r: 1 to %d characters, no spaces, not a UUID'
                   % (what, name, models.NAME_LENGTH))


def validate_components(components):
    """Check a {component: version} dict; raise InvalidInput."""
    if not isinstance(components, dict):
        raise exception.InvalidInput(reason='components must be a dict')
    for component, version in components.items():
        if not isinstance(component, str) or not COMPONENT_RE.match(
                component):
            raise exception.InvalidInput(
                reason='component name %r: letters, digits and ._+- only'
                       % (component,))
        if not isinstance(version, str) or not VERSION_RE.match(version):
            raise exception.InvalidInput(
                reason='version %r of %s: letters, digits and ._+:~- only'
                       % (version, component))


def _release_query(ident):
    query = sa.select(models.Release)
    if isinstance(ident, int):
        return query.where(models.Release.id == ident)
    if uuidutils.is_uuid_like(ident):
        return query.where(models.Release.uuid == ident)
    return query.where(models.Release.name == ident)


def _get_release(session, ident):
    release = session.scalars(_release_query(ident)).first()
    if release is None:
        raise exception.ReleaseNotFound(release=ident)
    return release


def _rollout_query(ident, *entities):
    query = sa.select(*(entities or (models.Rollout,)))
    if isinstance(ident, int):
        return query.where(models.Rollout.id == ident)
    if uuidutils.is_uuid_like(ident):
        return query.where(models.Rollout.uuid == ident)
    return query.where(models.Rollout.name == ident)


def _rollout_id(session, ident):
    """The id of a rollout given by id, uuid or name.

    A uuid's id never changes (rollouts are not deleted): it is looked up
    once per process (conductors name the rollout by uuid in every write).
    """
    cache = engine.rollout_ids()
    rollout_id = cache.get(ident)
    if rollout_id is not None:
        return rollout_id
    rollout_id = session.scalars(
        _rollout_query(ident, models.Rollout.id)).first()
    if rollout_id is None:
        raise exception.RolloutNotFound(rollout=ident)
    if isinstance(ident, str) and uuidutils.is_uuid_like(ident):
        cache[ident] = rollout_id
    return rollout_id


def _event_row(rollout_id, host, message, level='info', step=None,
               created_at=None):
    """The columns of a new event (its level checked, its message
    masked); ``created_at`` defaults to now."""
    if level not in EVENT_LEVELS:
        raise exception.InvalidInput(
            reason='event level %r: one of %s'
                   % (level, ', '.join(EVENT_LEVELS)))
    return {'rollout_id': rollout_id, 'host': host, 'level': level,
            'step': step, 'message': _mask(message),
            'created_at': created_at or timeutils.utcnow()}


def _check_values(values, allowed, what):
    unknown = set(values) - allowed
    if unknown:
        raise exception.InvalidInput(
            reason='cannot update %s of a %s' % (', '.join(sorted(unknown)),
                                                 what))
    values = dict(values)
    if 'error' in values:
        values['error'] = _mask(values['error'])
    return values


def _update(session, model, where, values, expected_state, describe):
    """UPDATE one row (compare-and-swap on state); False if no such row."""
    stmt = sa.update(model).where(*where).values(**values)
    if expected_state is not None:
        stmt = stmt.where(model.state == expected_state)
    if session.execute(stmt).rowcount:
        return True
    actual = session.scalars(sa.select(model.state).where(*where)).first()
    if actual is None:
        return False
    raise exception.StateConflict(what=describe, actual=actual,
                                  expected=expected_state)


class Connection(api.Connection):
    """SQLAlchemy connection: see :class:`upgrader.db.api.Connection`."""

    # Releases.

    @_db_call
    def release_create(self, name, components, description=None,
                       parent=None):
        uuid = uuidutils.generate_uuid()
        if name is None:
            name = 'release-%s' % uuid[:8]
        validate_name(name, 'release name')
        validate_components(components)
        if not components and parent is None:
            raise exception.InvalidInput(
                reason='a release needs at least one component')
        with _session(writer=True) as session:
            versions = {}
            parent_release = None
            if parent is not None:
                parent_release = _get_release(session, parent)
                versions.update(parent_release.versions)
            versions.update(components)
            release = models.Release(uuid=uuid, name=name,
                                     description=description,
                                     parent=parent_release)
            release.components = [
                models.ReleaseComponent(component=c, version=v)
                for c, v in sorted(versions.items())]
            session.add(release)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise exception.ReleaseExists(release=name) from e
        return release

    @_db_call
    def release_get(self, name_or_uuid):
        with _session() as session:
            return _get_release(session, name_or_uuid)

    @_db_call
    def release_list(self):
        with _session() as session:
            return list(session.scalars(
                sa.select(models.Release).order_by(models.Release.id)))

    # Deployments.

    @_db_call
    def deployment_add(self, release, rollout=None, note=None):
        with _session(writer=True) as session:
            deployment = models.Deployment(
                release=_get_release(session, release), note=_mask(note),
                created_at=timeutils.utcnow())
            if rollout is not None:
                deployment.rollout_id = _rollout_id(session, rollout)
            session.add(deployment)
            session.flush()
            session.refresh(deployment)
            return deployment

    @_db_call
    def deployment_list(self):
        with _session() as session:
            return list(session.scalars(
                sa.select(models.Deployment).order_by(models.Deployment.id)))

    @_db_call
    def current_release(self):
        with _session() as session:
            latest = session.scalars(
                sa.select(models.Deployment)
                .order_by(models.Deployment.id.desc()).limit(1)).first()
            return latest.release if latest is not None else None

    # Rollouts.

    @_db_call
    def rollout_create(self, name=None, from_release=None, to_release=None,
                       template_name=None, template_content=None,
                       template_digest=None, policy=None, plan=None,
                       state=None, rollback_of=None, train=None):
        uuid = uuidutils.generate_uuid()
        if name is None:
            name = 'rollout-%s' % uuid[:8]
        validate_name(name, 'rollout name')
        if template_content is not None and template_digest is None:
            template_digest = hashlib.sha256(
                template_content.encode('utf-8')).hexdigest()
        with _session(writer=True) as session:
            rollout = models.Rollout(
                uuid=uuid, name=name, state=state or states.PLANNED,
                template_name=template_name,
                template_content=template_content,
                template_digest=template_digest, policy=policy, plan=plan)
            if from_release is not None:
                rollout.from_release = _get_release(session, from_release)
            if to_release is not None:
                rollout.to_release = _get_release(session, to_release)
            if rollback_of is not None:
                rollout.rollback_of_id = _rollout_id(session, rollback_of)
            if train is not None:
                rollout.train_id = _rollout_id(session, train)
            session.add(rollout)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise exception.RolloutExists(rollout=name) from e
        return rollout

    @_db_call
    def rollout_get(self, rollout):
        with _session() as session:
            found = session.scalars(_rollout_query(rollout)).first()
            if found is None:
                raise exception.RolloutNotFound(rollout=rollout)
            return found

    def rollout_state(self, rollout):
        return self.rollout_values(rollout, 'state')[0]

    @_db_call
    def rollout_values(self, rollout, *names):
        with _session() as session:
            row = session.execute(_rollout_query(
                rollout, *(getattr(models.Rollout, n) for n in names))
            ).first()
            if row is None:
                raise exception.RolloutNotFound(rollout=rollout)
            return tuple(row)

    @_db_call
    def rollout_list(self, state=None):
        query = sa.select(models.Rollout).order_by(models.Rollout.id)
        if state is not None:
            query = query.where(models.Rollout.state.in_(_as_list(state)))
        with _session() as session:
            return list(session.scalars(query))

    @_db_call
    def rollout_update(self, rollout, values, expected_state=None):
        values = _check_values(values, ROLLOUT_UPDATABLE, 'rollout')
        with _session(writer=True) as session:
            rollout_id = _rollout_id(session, rollout)
            where = [models.Rollout.id == rollout_id]
            _update(session, models.Rollout, where, values, expected_state,
                    'Rollout %s' % rollout)
            return session.scalars(
                sa.select(models.Rollout).where(*where)
                .execution_options(populate_existing=True)).one()

    # Host runs.

    @_db_call
    def host_run_create(self, rollout, host, wave, state=None,
                        facts=None, target_versions=None):
        with _session(writer=True) as session:
            run = models.HostRun(
                rollout_id=_rollout_id(session, rollout), host=host,
                wave=wave, state=state or states.HOST_PENDING,
                facts=facts, target_versions=target_versions)
            session.add(run)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise exception.HostRunExists(host=host,
                                              rollout=rollout) from e
        return run

    @_db_call
    def host_run_get(self, rollout, host):
        with _session() as session:
            return self._host_run_get(session, rollout, host)

    @staticmethod
    def _host_run_get(session, rollout, host):
        run = session.scalars(
            sa.select(models.HostRun)
            .where(models.HostRun.rollout_id == _rollout_id(session, rollout),
                   models.HostRun.host == host)
            .execution_options(populate_existing=True)).first()
        if run is None:
            raise exception.HostRunNotFound(host=host, rollout=rollout)
        return run

    @_db_call
    def host_run_list(self, rollout, wave=None, state=None):
        with _session() as session:
            query = (sa.select(models.HostRun)
                     .where(models.HostRun.rollout_id
                            == _rollout_id(session, rollout))
                     .order_by(models.HostRun.wave, models.HostRun.host))
            if wave is not None:
                query = query.where(models.HostRun.wave == wave)
            if state is not None:
                query = query.where(models.HostRun.state.in_(_as_list(state)))
            return list(session.scalars(query))

    @_db_call
    def host_run_update(self, rollout, host, values, expected_state=None):
        values = _check_values(values, HOST_RUN_UPDATABLE, 'host run')
        with _session(writer=True) as session:
            rollout_id = _rollout_id(session, rollout)
            where = [models.HostRun.rollout_id == rollout_id,
                     models.HostRun.host == host]
            if not _update(session, models.HostRun, where, values,
                           expected_state,
                           'Host %s in rollout %s' % (host, rollout)):
                raise exception.HostRunNotFound(host=host, rollout=rollout)
            return self._host_run_get(session, rollout_id, host)

    @_db_call
    def host_run_record(self, rollout, host, values=None, events=(),
                        count_fact=None):
        values = _check_values(values or {}, HOST_RUN_UPDATABLE,
                               'host run')
        # SQLAlchemy Core, statements built once, on a connection: the ORM
        # session and building the statements cost more than running them.
        host_runs = models.HostRun.__table__
        with _writer_connection() as conn:
            rollout_id = _rollout_id(conn, rollout)
            rows = [_event_row(rollout_id, host, **event)
                    for event in events]
            count = None
            if count_fact is not None:
                found = conn.execute(
                    sa.select(host_runs.c.facts).where(
                        host_runs.c.rollout_id == rollout_id,
                        host_runs.c.host == host)).first()
                if found is None:
                    raise exception.HostRunNotFound(host=host,
                                                    rollout=rollout)
                facts = dict(found.facts or {})
                count = facts[count_fact] = (facts.get(count_fact) or 0) + 1
                values['facts'] = facts
            if values and not conn.execute(
                    _host_run_update(tuple(sorted(values))),
                    dict(values, _rollout_id=rollout_id, _host=host)
            ).rowcount:
                raise exception.HostRunNotFound(host=host, rollout=rollout)
            if rows:
                conn.execute(_EVENT_INSERT, rows)
        return count

    # Instance moves.

    @_db_call
    def instance_move_create(self, rollout, instance_uuid, source_host,
                             planned_host=None, instance_name=None,
                             state='pending'):
        with _session(writer=True) as session:
            move = models.InstanceMove(
                rollout_id=_rollout_id(session, rollout),
                instance_uuid=instance_uuid, instance_name=instance_name,
                source_host=source_host, planned_host=planned_host,
                state=state)
            session.add(move)
            session.flush()
        return move

    @_db_call
    def instance_move_list(self, rollout, instance_uuid=None,
                           source_host=None, state=None):
        with _session() as session:
            query = (sa.select(models.InstanceMove)
                     .where(models.InstanceMove.rollout_id
                            == _rollout_id(session, rollout))
                     .order_by(models.InstanceMove.id))
            if instance_uuid is not None:
                query = query.where(
                    models.InstanceMove.instance_uuid == instance_uuid)
            if source_host is not None:
                query = query.where(
                    models.InstanceMove.source_host == source_host)
            if state is not None:
                query = query.where(
                    models.InstanceMove.state.in_(_as_list(state)))
            return list(session.scalars(query))

    @_db_call
    def instance_move_update(self, move_id, values, expected_state=None):
        values = _check_values(values, INSTANCE_MOVE_UPDATABLE,
                               'instance move')
        with _session(writer=True) as session:
            where = [models.InstanceMove.id == move_id]
            if not _update(session, models.InstanceMove, where, values,
                           expected_state, 'Instance move %s' % move_id):
                raise exception.InstanceMoveNotFound(move=move_id)
            return session.scalars(
                sa.select(models.InstanceMove).where(*where)
                .execution_options(populate_existing=True)).one()

    # Events.

    @_db_call
    def event_add(self, message, level='info', rollout=None, host=None,
                  step=None):
        _event_row(None, host, message, level)      # checks the level
        with _session(writer=True) as session:
            event = models.Event(**_event_row(
                None if rollout is None else _rollout_id(session, rollout),
                host, message, level, step))
            session.add(event)
            session.flush()
        return event

    @_db_call
    def event_list(self, rollout=None, host=None, after_id=None, limit=None):
        with _session() as session:
            query = sa.select(models.Event).order_by(models.Event.id)
            if rollout is not None:
                query = query.where(models.Event.rollout_id.in_(
                    [_rollout_id(session, r) for r in _as_list(rollout)]))
            if host is not None:
                query = query.where(models.Event.host == host)
            if after_id is not None:
                query = query.where(models.Event.id > after_id)
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    # Schedules.

    @_db_call
    def schedule_create(self, next_run_at, name=None, rollout=None,
                        spec=None, every=None):
        uuid = uuidutils.generate_uuid()
        if name is None:
            name = 'schedule-%s' % uuid[:8]
        validate_name(name, 'schedule name')
        with _session(writer=True) as session:
            schedule = models.Schedule(
                uuid=uuid, name=name, state=states.SCHEDULED, spec=spec,
                every=every, next_run_at=next_run_at,
                rollout_id=(None if rollout is None
                            else _rollout_id(session, rollout)))
            session.add(schedule)
            try:
                session.flush()
            except db_exc.DBDuplicateEntry as e:
                raise exception.ScheduleExists(schedule=name) from e
            return self._schedule_get(session, schedule.id)

    @staticmethod
    def _schedule_get(session, ident):
        query = sa.select(models.Schedule).execution_options(
            populate_existing=True)
        if isinstance(ident, int):
            query = query.where(models.Schedule.id == ident)
        elif uuidutils.is_uuid_like(ident):
            query = query.where(models.Schedule.uuid == ident)
        else:
            query = query.where(models.Schedule.name == ident)
        found = session.scalars(query).first()
        if found is None:
            raise exception.ScheduleNotFound(schedule=ident)
        return found

    @_db_call
    def schedule_get(self, schedule):
        with _session() as session:
            return self._schedule_get(session, schedule)

    @_db_call
    def schedule_list(self, state=None, due_before=None, rollout=None):
        query = sa.select(models.Schedule).order_by(
            models.Schedule.next_run_at, models.Schedule.id)
        if state is not None:
            query = query.where(models.Schedule.state.in_(_as_list(state)))
        if due_before is not None:
            query = query.where(models.Schedule.next_run_at <= due_before)
        with _session() as session:
            if rollout is not None:
                query = query.where(models.Schedule.rollout_id
                                    == _rollout_id(session, rollout))
            return list(session.scalars(query))

    @_db_call
    def schedule_update(self, schedule, values, expected_state=None,
                        expected_next_run_at=None):
        values = _check_values(values, SCHEDULE_UPDATABLE, 'schedule')
        with _session(writer=True) as session:
            found = self._schedule_get(session, schedule)
            where = [models.Schedule.id == found.id]
            if expected_next_run_at is not None:
                where.append(models.Schedule.next_run_at
                             == expected_next_run_at)
            if not _update(session, models.Schedule, where, values,
                           expected_state, 'Schedule %s' % schedule):
                raise exception.StateConflict(
                    what='Schedule %s' % schedule, actual='moved on',
                    expected='due at %s' % expected_next_run_at)
            return self._schedule_get(session, found.id)


def _as_list(value):
    return [value] if isinstance(value, (str, int)) else list(value)
