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

from oslo_utils import timeutils

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
        runtime = build_runtime(conf, dbapi, backend, on_event)
        base.set_runtime(runtime)
        return controller.run_attempt(runtime.rollouts, backend, rollout)
    finally:
        base.set_runtime(None)
        backend.close()


def take(dbapi, rollout, resume, owner=None):
    """Mark the rollout RUNNING in this process, or say why not."""
    state = rollout.state
    if rollout.train is not None:
        raise exception.Conflict(
            reason='rollout %s is a stage of release train %s: start, '
                   'resume or abort that' % (rollout.name,
                                             rollout.train.name))
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
