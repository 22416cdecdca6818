"""The embedded runner: a rollout's controller flow run in this process.

The controller and host flows are persisted in TaskFlow's logbook (one per
rollout), so a process killed in the middle costs nothing but a resume: the
resumed controller re-runs the wave it was in, which finds its host flows by
name and resumes them; finished steps are not run again.

A controller flow that ended (failed or aborted, so reverted) is not resumed
but replaced by a new attempt: its tasks are idempotent and host flows that
already finished are only read.
"""

import os
import socket
import uuid

from oslo_log import log as logging
from oslo_utils import timeutils
from taskflow import exceptions as tf_exc
from taskflow import states as tf_states

from upgrader.common import exception
from upgrader.common import states
from upgrader.drivers import compute
from upgrader.drivers import controlplane
from upgrader.drivers import host as host_drivers
from upgrader.jobs import controller
from upgrader.jobs import dispatcher
from upgrader.jobs import persistence
from upgrader.jobs import records
from upgrader import notify
from upgrader.tasks import base

LOG = logging.getLogger(__name__)

ENDED = frozenset([tf_states.SUCCESS, tf_states.REVERTED,
                   tf_states.FAILURE])


def this_process():
    return '%s:%d' % (socket.gethostname(), os.getpid())


def owner_alive(owner):
    """Whether the process named by ``owner`` still runs (this host only)."""
    if not owner:
        return False
    hostname, _, pid = owner.rpartition(':')
    if hostname != socket.gethostname():
        return True       # cannot tell: assume it does
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def controller_flow_uuid(rollout_uuid, attempt):
    return str(uuid.uuid5(dispatcher.NAMESPACE,
                          'controller/%s/%d' % (rollout_uuid, attempt)))


def controller_detail(backend, rollout):
    """The controller flow detail to run, and its attempt number: the
    unfinished one, or a new one (its store in its meta)."""
    attempt, latest = 0, None
    while True:
        try:
            found = persistence.get_flow_detail(
                backend, controller_flow_uuid(rollout.uuid, attempt + 1))
        except tf_exc.NotFound:
            break
        attempt, latest = attempt + 1, found
    if latest is not None and latest.state not in ENDED:
        return latest, attempt
    book = persistence.logbook_for(backend, rollout.name, rollout.uuid)
    wave_count = len((rollout.plan or {}).get('waves', []))
    detail = persistence.create_flow_detail(
        backend, book, name='controller attempt %d' % (attempt + 1),
        flow_factory=controller.rollout_flow,
        factory_args=[rollout.uuid, wave_count],
        uuid=controller_flow_uuid(rollout.uuid, attempt + 1),
        meta={'store': controller.controller_store(rollout.uuid)})
    return detail, attempt + 1


def build_runtime(conf, dbapi, backend, on_event=None, board=None,
                  fence=None):
    """The task runtime of this process: host flows run here (embedded) or,
    given a job board (and the conductor's fence), are posted for
    conductors."""
    notifier = notify.get_notifier(conf, dbapi)
    recorder = records.DbRecorder(dbapi, on_event=on_event,
                                  notifier=notifier)

    def listeners(engine, job):
        return [records.StepListener(engine, recorder, job.rollout_id,
                                     job.host)]

    if board is None:
        host_dispatcher = dispatcher.EmbeddedDispatcher(backend, listeners)
    else:
        host_dispatcher = dispatcher.JobboardDispatcher(backend, board,
                                                        fence)
    return base.Runtime(
        compute=compute.fetch(conf), hosts=host_drivers.fetch(conf),
        controlplane=controlplane.fetch(conf),
        recorder=recorder, rollouts=records.DbRollouts(dbapi, notifier),
        dispatcher=host_dispatcher, fence=fence,
        poll_interval=conf.workflow.poll_interval)


def run(conf, dbapi, rollout_ref, resume=False, on_event=None):
    """Start (or resume) a rollout here and run it to its end.

    :returns: the rollout's final state.
    """
    rollout = dbapi.rollout_get(rollout_ref)
    take(dbapi, rollout, resume)
    backend = persistence.get_backend(conf)
    try:
        base.set_runtime(build_runtime(conf, dbapi, backend, on_event))
        detail, _attempt = controller_detail(backend, rollout)
        engine = persistence.load_engine(backend, detail,
                                         store=detail.meta['store'])
        try:
            engine.run()
        except exception.RolloutStopped:
            pass        # the controller flow recorded how it ended
        except Exception as e:
            LOG.exception('Rollout %s failed', rollout.uuid)
            if dbapi.rollout_get(rollout.uuid).state in states.ROLLOUT_ACTIVE:
                records.DbRollouts(dbapi).finish(rollout.uuid, states.FAILED,
                                                 str(e))
        return dbapi.rollout_get(rollout.uuid).state
    finally:
        base.set_runtime(None)
        backend.close()


def take(dbapi, rollout, resume, owner=None):
    """Mark the rollout RUNNING in this process, or say why not."""
    state = rollout.state
    if not resume:
        if state != states.PLANNED:
            raise exception.Conflict(
                reason='rollout %s is %s, not planned%s' % (
                    rollout.name, state,
                    '; use rollout resume' if state != states.SUCCEEDED
                    else ''))
    elif state in (states.PLANNED, states.SUCCEEDED):
        raise exception.Conflict(
            reason='rollout %s is %s: nothing to resume%s' % (
                rollout.name, state,
                ' (use rollout start)' if state == states.PLANNED else ''))
    elif state in states.ROLLOUT_ACTIVE and owner_alive(rollout.owner):
        raise exception.Conflict(
            reason='rollout %s is still running in %s'
            % (rollout.name, rollout.owner))
    values = {'state': states.RUNNING, 'owner': owner or this_process(),
              'error': None, 'paused_reason': None}
    if rollout.started_at is None:
        values['started_at'] = timeutils.utcnow()
    # Compare-and-swap: two processes cannot both take it.
    dbapi.rollout_update(rollout.uuid, values, expected_state=state)
