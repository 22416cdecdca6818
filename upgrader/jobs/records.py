"""Our tables as the record of a rollout: what tasks report, what the
controller reads, and a listener that follows each host's steps.

TaskFlow consumes failed jobs too, so its logbooks alone cannot say what
failed: every host's state, step and error, every instance move and every
event is written here.
"""

import contextlib
import time

from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils
from taskflow.listeners import base as listener_base
from taskflow import states as tf_states

from upgrader.common import events
from upgrader.common import exception
from upgrader.common import states
from upgrader.jobs import dispatcher
from upgrader.jobs import persistence
from upgrader import notify
from upgrader.plan import limits
from upgrader.plan import models as plan_models
from upgrader.tasks import base
from upgrader.tasks import lifecycle

LOG = logging.getLogger(__name__)

MOVE_FINAL = frozenset(['completed', 'failed', 'aborted'])


class DbRecorder(base.Recorder):
    """Writes what tasks report into our tables (and calls ``on_event``);
    a failed host is notified (:mod:`upgrader.notify`).

    Some records are held back and written with the host's next write
    (:meth:`step_done`, and the start of a step whose task writes the
    host itself): a process killed in between loses them, and nothing
    else (the logbook still says which steps succeeded).
    """

    def __init__(self, dbapi, on_event=None, notifier=None):
        self.dbapi = dbapi
        self.on_event = on_event
        self.notifier = notifier or notify.Notifier(dbapi)
        # (rollout id, host) -> (values, events) held back for its next
        # write; a host's flow runs in one thread at a time.
        self._held = {}

    def _record(self, rollout_id, host, values=None, events=(), **kwargs):
        """``host_run_record`` with what is held back for the host."""
        key = (rollout_id, host)
        held = self._held.get(key)
        if held is not None:
            values = dict(held[0], **(values or {}))
            events = held[1] + list(events)
        count = self.dbapi.host_run_record(rollout_id, host, values or None,
                                           events=events, **kwargs)
        if held is not None:
            self._held.pop(key, None)
        return count

    def _hold(self, rollout_id, host, values=None, events=()):
        held_values, held_events = self._held.setdefault((rollout_id, host),
                                                         ({}, []))
        held_values.update(values or {})
        held_events.extend(events)

    def _notify(self, kind, **details):
        if self.on_event is not None:
            try:
                self.on_event(kind, details)
            except Exception:
                LOG.exception('Progress display failed')

    def host_state(self, rollout_id, host, state, step=None, error=None):
        super().host_state(rollout_id, host, state, step, error)
        self._record(rollout_id, host, self._state_values(state, step, error))
        self._notify('host', host=host, state=state, error=error)
        if state == states.HOST_ERROR:
            # Rare: read back the step it failed in (None when not given).
            run = self.dbapi.host_run_get(rollout_id, host)
            self.notifier.host_error(rollout_id, host, run.step, run.error)

    @staticmethod
    def _state_values(state, step, error):
        values = {'state': state}
        now = timeutils.utcnow()
        if state == states.HOST_RUNNING:
            values.update(started_at=now, finished_at=None, error=None)
        elif state in states.HOST_FINAL:
            values['finished_at'] = now
        if step is not None:
            values['step'] = step
        if error is not None:
            values['error'] = strutils.mask_password(error)
        return values

    def wave(self, rollout_id, index, hosts):
        self.dbapi.event_add(events.WAVE_STARTS % (index, ', '.join(hosts)),
                             rollout=rollout_id)
        self._notify('wave', index=index, hosts=hosts)

    def wave_end(self, rollout_id, index):
        super().wave_end(rollout_id, index)
        self.notifier.wave_end(rollout_id, index)

    def step(self, rollout_id, host, step, hold=False):
        """A step starts: the step, and the event that marks when it
        started (reports draw it), in one write, or held back for the
        host's next write if ``hold`` (its task writes the host)."""
        values = {'step': step}
        started = [{'message': events.STEP_STARTED, 'step': step,
                    'created_at': timeutils.utcnow()}]
        if hold:
            self._hold(rollout_id, host, values, started)
        else:
            self._record(rollout_id, host, values, started)
        self._notify('step', host=host, step=step)

    def step_done(self, rollout_id, host, step):
        """A step succeeded: logged and shown now, its event written with
        the host's next write (or :meth:`flush`)."""
        message = events.STEP_DONE
        super().event(rollout_id, host, step, message)
        self._notify('event', host=host, step=step, message=message,
                     level='INFO')
        self._hold(rollout_id, host, events=[{
            'message': message, 'step': step,
            'created_at': timeutils.utcnow()}])

    def flush(self, rollout_id, host):
        """Write what is held back for the host, if anything."""
        if (rollout_id, host) in self._held:
            self._record(rollout_id, host)

    def event(self, rollout_id, host, step, message, level='INFO'):
        super().event(rollout_id, host, step, message, level)
        self._record(rollout_id, host, events=[
            {'message': message, 'level': level.lower(), 'step': step}])
        self._notify('event', host=host, step=step, message=message,
                     level=level)

    def claimed(self, rollout_id, host, conductor, counter):
        """A conductor claimed the host's job: say so, and count the claim
        in the host's fact ``counter`` (one write). Returns the count."""
        super().event(rollout_id, host, None,
                      'running on conductor %s' % conductor)
        return self._record(
            rollout_id, host, count_fact=counter, events=[
                {'message': 'running on conductor %s' % conductor}])

    def move(self, rollout_id, instance, name, source, destination, state,
             error=None):
        super().move(rollout_id, instance, name, source, destination, state,
                     error)
        now = timeutils.utcnow()
        open_moves = [m for m in self.dbapi.instance_move_list(
            rollout_id, instance_uuid=instance, source_host=source)
            if m.state not in MOVE_FINAL]
        if open_moves:
            move = open_moves[-1]
        else:
            move = self.dbapi.instance_move_create(
                rollout_id, instance, source, planned_host=destination,
                instance_name=name, state=state)
        values = {'state': state}
        if state == 'running' and move.started_at is None:
            values['started_at'] = now
        if state in MOVE_FINAL:
            values['finished_at'] = now
        if state == 'completed':
            values['dest_host'] = destination
        if error is not None:
            values['error'] = error
        self.dbapi.instance_move_update(move.id, values)
        self._notify('move', instance=instance, name=name, source=source,
                     destination=destination, state=state)

    def remember(self, rollout_id, host, key, value):
        facts = dict(self.dbapi.host_run_get(rollout_id, host).facts or {})
        facts[key] = value
        self.dbapi.host_run_update(rollout_id, host, {'facts': facts})

    def recall(self, rollout_id, host, key):
        return (self.dbapi.host_run_get(rollout_id, host).facts or {}).get(key)


class DbRollouts:
    """What the rollout controller reads of a stored rollout (and how it
    records its start and end, notified too)."""

    def __init__(self, dbapi, notifier=None, clock=time.monotonic):
        self.dbapi = dbapi
        self.notifier = notifier or notify.Notifier(dbapi)
        self._clock = clock
        self._stops = {}        # rollout id -> (read at, aborting?)
        # rollout id -> its number of hosts (planned once, never changes)
        self._host_counts = {}

    def started(self, rollout_id):
        self.notifier.rollout_start(rollout_id)

    def host_jobs(self, rollout_id, wave_index):
        rollout = self.dbapi.rollout_get(rollout_id)
        # This wave's part of the plan and host runs only: reading the
        # whole plan and every host for each wave grows with the square
        # of the rollout's size.
        wave = plan_models.Wave.from_dict(
            rollout.plan['waves'][wave_index - 1])
        versions = rollout.to_release.versions if rollout.to_release else {}
        runs = self.dbapi.host_run_list(rollout.uuid, wave=wave.index)
        skipped = {r.host for r in runs if r.state == states.HOST_SKIPPED}
        # A rollback's hosts go back to the versions each had before.
        targets = {r.host: r.target_versions for r in runs
                   if r.target_versions}
        jobs = []
        for host in wave.hosts:
            if host in skipped:
                continue
            moves = [{'instance': m.instance, 'name': m.name,
                      'destination': m.destination, 'action': m.action}
                     for m in wave.moves if m.source == host]
            # Instances that stay (stop-start, notify-and-wait): the
            # evacuate step acts on them too.
            moves += [{'instance': s.instance, 'name': s.name,
                       'destination': None, 'action': s.action}
                      for s in wave.stays if s.host == host]
            jobs.append(dispatcher.HostJob(
                rollout_id=rollout.uuid, host=host,
                template_content=rollout.template_content, moves=moves,
                versions=targets.get(host, versions)))
        return jobs

    def finish(self, rollout_id, state, error):
        """Record how the rollout ended; it no longer belongs to a process."""
        LOG.info('Rollout %s %s%s', rollout_id, state,
                 ': %s' % error if error else '')
        values = {'state': state, 'owner': None,
                  'error': strutils.mask_password(error) if error else None}
        if state == states.SUCCEEDED:
            values['finished_at'] = timeutils.utcnow()
        self.dbapi.rollout_update(rollout_id, values)
        if state == states.SUCCEEDED:
            self._deployed(rollout_id)
        self.notifier.rollout_end(rollout_id, state)

    def _deployed(self, rollout_id):
        """The cloud runs the rollout's release now, if every one of its
        hosts got there (a host reverted or skipped did not)."""
        rollout = self.dbapi.rollout_get(rollout_id)
        runs = self.dbapi.host_run_list(rollout_id)
        if rollout.to_release is None or any(
                r.state != states.HOST_DONE for r in runs):
            return
        current = self.dbapi.current_release()
        # Once: the finish of a resumed controller may run again.
        if current is None or current.id != rollout.to_release_id:
            self.dbapi.deployment_add(rollout.to_release_id,
                                      rollout=rollout.uuid)

    def stop_requested(self, rollout_id, max_age=0.0):
        """Whether the rollout is being aborted.

        :param max_age: an answer read this many seconds ago or less will
            do (a conductor asks after every step of every host).
        """
        now = self._clock()
        read_at, aborting = self._stops.get(rollout_id, (None, None))
        if read_at is None or now - read_at > max_age:
            aborting = (self.dbapi.rollout_state(rollout_id)
                        == states.ABORTING)
            self._stops[rollout_id] = (now, aborting)
        return aborting

    def state(self, rollout_id):
        """(state, paused_reason) of the rollout."""
        return self.dbapi.rollout_values(rollout_id, 'state',
                                         'paused_reason')

    def pause(self, rollout_id, reason):
        """Pause a running rollout before its next wave (the policy's
        canary, its maintenance window); an operator's abort or pause
        already recorded wins."""
        self._move(rollout_id, states.RUNNING, states.PAUSED, reason)

    def unpause(self, rollout_id):
        """Let a rollout the policy paused go on (unless the operator
        aborted it meanwhile)."""
        self._move(rollout_id, states.PAUSED, states.RUNNING, None)

    def _move(self, rollout_id, old, new, reason):
        with contextlib.suppress(exception.Conflict):
            self.dbapi.rollout_update(
                rollout_id, {'state': new, 'paused_reason': reason},
                expected_state=old)

    def wave_seconds(self, rollout_id, wave_index):
        """The plan's prediction of a wave's duration."""
        plan = self.dbapi.rollout_get(rollout_id).plan or {}
        return plan['waves'][wave_index - 1]['predicted_seconds']

    def policy(self, rollout_id):
        return self.dbapi.rollout_values(rollout_id, 'policy')[0] or {}

    def wave_count(self, rollout_id):
        plan = self.dbapi.rollout_get(rollout_id).plan or {}
        return len(plan.get('waves', []))

    def suspended_hosts(self, rollout_id):
        return [r.host for r in self.dbapi.host_run_list(
            rollout_id, state=states.HOST_SUSPENDED)]

    def pending_hosts(self, rollout_id):
        return [r.host for r in self.dbapi.host_run_list(
            rollout_id, state=states.HOST_PENDING)]

    def failed_hosts(self, rollout_id):
        return [r.host for r in self.dbapi.host_run_list(
            rollout_id, state=states.HOST_ERROR)]

    def max_failed_hosts(self, rollout_id):
        if rollout_id not in self._host_counts:
            self._host_counts[rollout_id] = len(
                self.dbapi.host_run_list(rollout_id))
        return limits.failure_budget(
            self.policy(rollout_id).get('max_failed_hosts', 0),
            self._host_counts[rollout_id])


class StepListener(listener_base.Listener):
    """Records each host's current step and every step's outcome.

    A step's success is written with the host's next write (the next
    step's start, or when the flow stops): one write per step, not two,
    and the event keeps the time it happened. The lifecycle steps write
    the host's state themselves, and their start goes with that write.
    """

    # Steps whose task writes the host (lifecycle.py).
    SELF_RECORDING = frozenset([lifecycle.MarkHostRunning.step,
                                lifecycle.MarkHostDone.step])

    OUTCOMES = {tf_states.SUCCESS: ('INFO', events.STEP_DONE),
                tf_states.FAILURE: ('ERROR', events.STEP_FAILED),
                tf_states.REVERTED: ('WARNING', events.STEP_REVERTED)}

    def __init__(self, engine, recorder, rollout_id, host):
        super().__init__(
            engine, task_listen_for=(tf_states.RUNNING,) + tuple(
                self.OUTCOMES), flow_listen_for=tuple(persistence.STOPPED_STATES),
            retry_listen_for=())
        self.recorder = recorder
        self.rollout_id = rollout_id
        self.host = host

    def _task_receiver(self, state, details):
        step = details['task_name'].split('.', 1)[-1]
        if state == tf_states.RUNNING:
            self.recorder.step(self.rollout_id, self.host, step,
                               hold=step in self.SELF_RECORDING)
            return
        if state == tf_states.SUCCESS:
            self.recorder.step_done(self.rollout_id, self.host, step)
            return
        level, message = self.OUTCOMES[state]
        result = details.get('result')
        if state == tf_states.FAILURE and result is not None:
            message += ': %s' % result.exception_str
        self.recorder.event(self.rollout_id, self.host, step, message,
                            level=level)

    def _flow_receiver(self, state, details):
        self._flush()

    def deregister(self):
        try:
            self._flush()
        finally:
            super().deregister()

    def _flush(self):
        self.recorder.flush(self.rollout_id, self.host)
