"""The rollout controller: a TaskFlow flow that runs the plan's waves in order.

Each wave is one task that waits while the rollout is paused (by the
operator, after a canary, outside the maintenance window) and for the soak
time between waves, hands the wave's host jobs to the dispatcher, waits for
their outcomes, then applies the failure policy (fail, or pause inside the
wave so that retried hosts run again on resume). The tasks are
idempotent: a resumed wave finds the host flows it already started (their
names are deterministic) and waits for them instead of starting them again.
Their reverts do nothing: a failed host reverts itself, and the other hosts
are never touched because one failed.
"""

import uuid

from oslo_log import log as logging
from oslo_utils import timeutils
from taskflow import exceptions as tf_exc
from taskflow.patterns import linear_flow
from taskflow import states as tf_states
from taskflow import task

from upgrader.common import events
from upgrader.common import exception
from upgrader.common import keys
from upgrader.common import states
from upgrader.jobs import dispatcher as dispatcher_mod
from upgrader.jobs import persistence
from upgrader.plan import train
from upgrader.plan import window
from upgrader.tasks import base
from upgrader.tasks import schema as tasks_schema
from upgrader.workflow import templates

LOG = logging.getLogger(__name__)


class RunWave(task.Task):
    """Run one wave's host flows and apply the failure policy."""

    def __init__(self, index):
        self.index = index
        super().__init__(name='wave-%d' % index)

    def execute(self, rollout_id):
        rt = base.get_runtime()
        rollouts = rt.rollouts
        before = 'before wave %d' % self.index
        _wait_while_paused(rt, rollout_id, before)
        policy = rollouts.policy(rollout_id)
        if self.index > 1 and policy.get('pause_between_waves'):
            _soak(rt, rollout_id, policy['pause_between_waves'], before)
        if policy.get('maintenance_window'):
            _wait_for_window(rt, rollout_id,
                             window.parse(policy['maintenance_window']),
                             rollouts.wave_seconds(rollout_id, self.index),
                             before)
        while True:
            outcomes = self._run_hosts(rt, rollout_id)
            failed = set(rollouts.failed_hosts(rollout_id))
            budget = rollouts.max_failed_hosts(rollout_id)
            if len(failed) <= budget:
                break
            reason = ('%d host(s) failed (%s), more than the %d allowed'
                      % (len(failed), ', '.join(sorted(failed)), budget))
            if policy.get('on_failure') != templates.ON_FAILURE_PAUSE:
                raise exception.RolloutFailed(rollout=rollout_id,
                                              reason=reason)
            # Paused inside the wave: on resume its hosts run again (the
            # retried ones from their first step; skipped ones not at all).
            rollouts.pause(rollout_id, reason + ': retry-host or skip-host, '
                           'then rollout resume')
            _wait_while_paused(rt, rollout_id, 'in wave %d' % self.index)
            self._retry_earlier(rt, rollout_id)
        rt.recorder.wave_end(rollout_id, self.index)
        if self.index == 1 and policy.get('canary') and \
                self.index < rollouts.wave_count(rollout_id):
            if policy.get('canary_soak_seconds'):
                _soak(rt, rollout_id, policy['canary_soak_seconds'],
                      'after the canary wave')
            else:
                rollouts.pause(rollout_id, 'the canary wave is done: check '
                               'it, then rollout resume')
        return outcomes

    def _retry_earlier(self, rt, rollout_id):
        """Run the hosts of earlier waves retried during the pause, each
        earlier wave's apart (a part of a planned wave keeps its limits,
        and its moves' room was kept for them)."""
        pending = set(rt.rollouts.pending_hosts(rollout_id))
        for index in range(1, self.index):
            self._run_hosts(rt, rollout_id, index, only=pending)

    def _run_hosts(self, rt, rollout_id, index=None, only=None):
        """Run a wave's host flows (this one's by default; with ``only``,
        those of these hosts); their outcomes, host by host."""
        rollouts = rt.rollouts
        index = index or self.index
        jobs = [j for j in rollouts.host_jobs(rollout_id, index)
                if only is None or j.host in only]
        if only is not None and not jobs:
            return {}
        rt.recorder.wave(rollout_id, index, [j.host for j in jobs])
        for host in rollouts.suspended_hosts(rollout_id):
            rt.recorder.host_state(rollout_id, host, states.HOST_RUNNING)
        outcomes = rt.dispatcher.run_hosts(
            jobs, lambda: rollouts.stop_requested(rollout_id))
        suspended = sorted(h for h, o in outcomes.items()
                           if o == dispatcher_mod.SUSPENDED)
        for host in suspended:
            rt.recorder.host_state(rollout_id, host, states.HOST_SUSPENDED)
        if suspended:
            raise exception.RolloutAborted(
                rollout=rollout_id,
                reason='wave %d suspended on %s' % (index,
                                                   ', '.join(suspended)))
        known = set(rollouts.failed_hosts(rollout_id))
        for host in sorted(h for h, o in outcomes.items()
                           if o == dispatcher_mod.FAILED and h not in known):
            # Its flow ended unfinished without recording why: never leave
            # the host looking as if it still ran.
            rt.recorder.host_state(rollout_id, host, states.HOST_ERROR,
                                   error='its host job ended unfinished')
        return outcomes

    def revert(self, *args, **kwargs):
        # Nothing to undo here: each failed host flow reverted itself.
        pass


def _wait_while_paused(rt, rollout_id, where):
    """Return once the rollout runs; wait while it is paused.

    :raises RolloutAborted: the operator aborted it.
    """
    told = False
    while True:
        state, reason = rt.rollouts.state(rollout_id)
        if state == states.ABORTING:
            raise exception.RolloutAborted(rollout=rollout_id, reason=where)
        if state != states.PAUSED:
            return
        if not told:
            rt.recorder.event(rollout_id, None, None,
                              'paused %s (%s): waiting for rollout resume'
                              % (where, reason))
            told = True
        rt.sleep(rt.poll_interval)


def _soak(rt, rollout_id, seconds, where):
    """Wait ``seconds`` (the policy's soak time); an abort cuts it short."""
    rt.recorder.event(rollout_id, None, None, 'soaking %s s %s'
                      % (seconds, where))
    deadline = rt.clock() + seconds
    while rt.clock() < deadline:
        _wait_while_paused(rt, rollout_id, where)
        rt.sleep(min(rt.poll_interval, max(deadline - rt.clock(), 0)))


def _wait_for_window(rt, rollout_id, win, seconds, where):
    """Pause until the maintenance window lets a wave of ``seconds`` end
    inside it; then go on by itself. The operator's resume goes on at once,
    the operator's abort stops it."""
    start = window.next_start(win, timeutils.utcnow(with_timezone=True),
                              seconds)
    if start <= timeutils.utcnow(with_timezone=True):
        return
    reason = '%s: waiting until %s' % (events.WINDOW_WAIT,
                                       start.isoformat())
    rt.rollouts.pause(rollout_id, reason)
    rt.recorder.event(rollout_id, None, None, 'paused %s (%s)'
                      % (where, reason))
    while True:
        state, _reason = rt.rollouts.state(rollout_id)
        if state == states.ABORTING:
            raise exception.RolloutAborted(rollout=rollout_id, reason=where)
        left = (start - timeutils.utcnow(with_timezone=True)).total_seconds()
        if state == states.RUNNING:
            return              # resumed by the operator: now
        if left <= 0:
            rt.rollouts.unpause(rollout_id)
            rt.recorder.event(rollout_id, None, None,
                              'maintenance window open: going on')
            continue            # unless aborted meanwhile
        rt.sleep(min(rt.poll_interval, left))


class StartRollout(task.Task):
    """First atom: its revert, run last when the rollout stops, records why
    (aborted, or failed with the error) so the outcome is always visible."""

    def __init__(self):
        super().__init__(name='start')

    def execute(self, rollout_id):
        base.get_runtime().rollouts.started(rollout_id)

    def revert(self, rollout_id, flow_failures=None, **kwargs):
        failures = list((flow_failures or {}).values())
        aborted = any(f.check(exception.RolloutAborted) for f in failures)
        error = '; '.join(f.exception_str for f in failures) or None
        try:
            base.get_runtime().rollouts.finish(
                rollout_id, states.ABORTED if aborted else states.FAILED,
                error)
        except Exception:
            LOG.exception('Could not record the end of rollout %s',
                          rollout_id)


class FinishRollout(task.Task):
    """Last atom: every wave ran within the failure budget."""

    def __init__(self):
        super().__init__(name='finish')

    def execute(self, rollout_id):
        base.get_runtime().rollouts.finish(rollout_id, states.SUCCEEDED, None)


def rollout_flow(rollout_id, wave_count):
    """The controller flow of a rollout: one task per wave, in order."""
    return _controller_flow('rollout %s' % rollout_id, [
        RunWave(index) for index in range(1, wave_count + 1)])


def _controller_flow(name, tasks):
    flow = linear_flow.Flow(name)
    flow.add(StartRollout(), *tasks, FinishRollout())
    return flow


class RunStage(task.Task):
    """Run one stage of a release train (see :mod:`upgrader.plan.train`).

    A rolling stage is a rollout of its own, run here to its end by its
    own controller flow (resumed where it stopped after a crash; a stage
    that succeeded is not run again). The other stages are one call to the
    control plane, idempotent. Reverts do nothing: a failed stage's hosts
    reverted themselves, and the stages before it stay done (rollout
    rollback takes them back).
    """

    def __init__(self, index):
        self.index = index
        super().__init__(name='stage-%d' % index)

    def execute(self, rollout_id):
        rt = base.get_runtime()
        where = 'before stage %d' % self.index
        _wait_while_paused(rt, rollout_id, where)
        stage = rt.rollouts.dbapi.rollout_get(rollout_id).plan['stages'][
            self.index - 1]
        rt.recorder.event(rollout_id, None, self.name, 'stage %d: %s'
                          % (self.index, train.describe(stage)))
        kind, cp = stage['kind'], rt.controlplane
        # Each side effect is fenced: a conductor that lost this job's
        # claim stops before it acts (see upgrader.jobs.fence).
        if kind == train.EXPAND:
            for db, (view, gen, _names) in sorted(
                    tasks_schema.databases(cp, stage['versions']).items()):
                if view['expanded'] < gen:
                    rt.fence.check('expanding database %s' % db)
                    cp.migrate(db, 'expand', gen)
                    rt.recorder.event(rollout_id, None, self.name,
                                      'expanded database %s to generation '
                                      '%d' % (db, gen))
        elif kind == train.PIN:
            rt.fence.check('pinning the %s RPC' % stage['service'])
            cp.pin_rpc(stage['service'], stage['version'])
        elif kind == train.UNPIN:
            rt.fence.check('unpinning the %s RPC' % stage['service'])
            cp.unpin_rpc(stage['service'])
        else:
            self._run_rollout(rt, rollout_id, stage['uuid'])

    def _run_rollout(self, rt, rollout_id, stage_uuid):
        dbapi = rt.rollouts.dbapi
        child = dbapi.rollout_get(stage_uuid)
        if child.state == states.SUCCEEDED:
            return
        # The train's owner runs it (no other process may: its state
        # changes only with the train's).
        values = {'state': states.RUNNING, 'error': None,
                  'paused_reason': None,
                  'owner': dbapi.rollout_get(rollout_id).owner}
        if child.started_at is None:
            values['started_at'] = timeutils.utcnow()
        dbapi.rollout_update(child.uuid, values, expected_state=child.state)
        state = run_attempt(rt.rollouts, rt.dispatcher.backend, child)
        if state == states.SUCCEEDED:
            return
        child = dbapi.rollout_get(stage_uuid)
        reason = 'stage %d (rollout %s) %s%s' % (
            self.index, child.name, state,
            ': %s' % child.error if child.error else '')
        if state == states.ABORTED:
            raise exception.RolloutAborted(rollout=rollout_id, reason=reason)
        raise exception.RolloutFailed(rollout=rollout_id, reason=reason)

    def revert(self, *args, **kwargs):
        pass


def train_flow(rollout_id, stage_count):
    """The controller flow of a release train: one task per stage."""
    return _controller_flow('train %s' % rollout_id, [
        RunStage(index) for index in range(1, stage_count + 1)])


def controller_store(rollout_id):
    return {keys.ROLLOUT_ID: rollout_id}


ENDED = frozenset([tf_states.SUCCESS, tf_states.REVERTED,
                   tf_states.FAILURE])


def controller_flow_uuid(rollout_uuid, attempt):
    return str(uuid.uuid5(dispatcher_mod.NAMESPACE,
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
    plan = rollout.plan or {}
    if 'stages' in plan:
        factory, count = train_flow, len(plan['stages'])
    else:
        factory, count = rollout_flow, len(plan.get('waves', []))
    detail = persistence.create_flow_detail(
        backend, book, name='controller attempt %d' % (attempt + 1),
        flow_factory=factory, factory_args=[rollout.uuid, count],
        uuid=controller_flow_uuid(rollout.uuid, attempt + 1),
        meta={'store': controller_store(rollout.uuid)})
    return detail, attempt + 1


def run_attempt(rollouts, backend, rollout):
    """Run (or resume) the rollout's controller flow here, to its end.

    :param rollouts: a :class:`upgrader.jobs.records.DbRollouts`.
    :returns: the rollout's final state.
    """
    detail, _attempt = controller_detail(backend, rollout)
    engine = persistence.load_engine(backend, detail,
                                     store=detail.meta['store'])
    try:
        engine.run()
    except exception.RolloutStopped:
        pass        # the controller flow recorded how it ended
    except Exception as e:
        LOG.exception('Rollout %s failed', rollout.uuid)
        if rollouts.dbapi.rollout_state(rollout.uuid) in \
                states.ROLLOUT_ACTIVE:
            rollouts.finish(rollout.uuid, states.FAILED, str(e))
    return rollouts.dbapi.rollout_state(rollout.uuid)
