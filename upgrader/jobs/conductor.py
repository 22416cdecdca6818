"""upgrader's TaskFlow conductor: claims rollout controller and host jobs
from the ZooKeeper job board and runs them.

A conductor that dies loses its claims when its ZooKeeper session expires;
another conductor claims the job and resumes it from the logbook (finished
steps are not run again). SIGTERM is a graceful hand-off: engines suspend
after their current step and the jobs are abandoned for another conductor.
"""

import contextlib
import os
import threading

from kazoo.protocol import states as kazoo_states
from oslo_log import log as logging
from taskflow.conductors.backends import impl_nonblocking
from taskflow import states as tf_states

from upgrader.common import states
from upgrader.jobs import persistence
from upgrader.jobs import records
from upgrader.tasks import base

LOG = logging.getLogger(__name__)

JOB_ROLLOUT = 'rollout'
JOB_HOST = 'host'
# Host run fact: how many times a conductor claimed the host's job.
CLAIMS = 'claims'


class ClaimListener(records.StepListener):
    """Records which conductor runs a host's flow, then follows its steps.

    When the rollout is being aborted, the engine suspends after the step
    that just succeeded (a failed step still reverts to the end).
    """

    def __init__(self, engine, recorder, rollout_id, host, conductor_name):
        super().__init__(engine, recorder, rollout_id, host)
        recorder.event(rollout_id, host, None,
                       'running on conductor %s' % conductor_name)

    def _task_receiver(self, state, details):
        super()._task_receiver(state, details)
        if (state == tf_states.SUCCESS
                and base.get_runtime().rollouts.stop_requested(
                    self.rollout_id)):
            LOG.info('Rollout %s is being aborted: suspending %s',
                     self.rollout_id, self.host)
            self._engine.suspend()


class Conductor(impl_nonblocking.NonBlockingConductor):
    """A non-blocking conductor that records host progress in our tables,
    suspends its engines when its ZooKeeper session wavers (claim guard) and
    tells the fence which job each thread runs."""

    def __init__(self, name, jobboard, client, fence, max_claims,
                 **kwargs):
        super().__init__(name, jobboard, **kwargs)
        self.fence = fence
        self.max_claims = max_claims
        self._engines = {}
        self._engines_lock = threading.Lock()
        client.add_listener(self._on_session_state)

    def _on_session_state(self, state):
        # Called on kazoo's thread: only ask, never wait.
        if state in (kazoo_states.KazooState.SUSPENDED,
                     kazoo_states.KazooState.LOST):
            with self._engines_lock:
                engines = list(self._engines.values())
            if engines:
                LOG.warning('ZooKeeper session %s: suspending %d engine(s)',
                            state, len(engines))
            for engine in engines:
                engine.suspend()

    def _claimed_too_often(self, job):
        """Count this claim of a job; past max_claims, give up on it.

        A host job given up leaves its host in error (the failure policy
        applies); a controller job given up fails its rollout, and its
        attempt ends, so that ``rollout resume`` starts a new one.
        """
        details = job.details or {}
        rollout, host = details.get(JOB_ROLLOUT), details.get(JOB_HOST)
        if not rollout:
            return False
        rt = base.get_runtime()
        if host:
            claims = (rt.recorder.recall(rollout, host, CLAIMS) or 0) + 1
            rt.recorder.remember(rollout, host, CLAIMS, claims)
        else:
            # Each claim of a controller job is an event named after it.
            rt.recorder.event(rollout, None, job.name,
                              'controller running on conductor %s'
                              % self._name)
            claims = len([e for e in rt.recorder.dbapi.event_list(
                rollout=rollout) if e.host is None and e.step == job.name])
        if claims <= self.max_claims:
            return False
        LOG.error('Job %s claimed %d times without finishing: giving up',
                  job.name, claims)
        error = ('claimed %d times without finishing (conductors keep '
                 'dying or handing it over)' % claims)
        if host:
            rt.recorder.host_state(rollout, host, states.HOST_ERROR,
                                   error=error + '; left as it is for the '
                                   'operator')
        else:
            self._end_attempt(job)
            rt.rollouts.finish(rollout, states.FAILED,
                               'rollout controller ' + error +
                               '; rollout resume starts it again')
        return True

    def _end_attempt(self, job):
        flow_detail = persistence.get_flow_detail(self._persistence,
                                                  job.details['flow_uuid'])
        flow_detail.state = tf_states.FAILURE
        with contextlib.closing(self._persistence.get_connection()) as conn:
            conn.update_flow_details(flow_detail)

    def _job_aborted(self, job):
        """Whether the job is a host job of a rollout being aborted."""
        details = job.details or {}
        return bool(details.get(JOB_HOST)) and \
            base.get_runtime().rollouts.stop_requested(details[JOB_ROLLOUT])

    def _engine_from_job(self, job):
        engine = super()._engine_from_job(job)
        with self._engines_lock:
            self._engines[job.uuid] = engine
        return engine

    def _dispatch_job(self, job):
        """Run the job; True consumes it, False abandons it.

        A host job of a rollout being aborted is consumed, run or not, once
        its engine suspended: the waiting controller reads its flow's state
        (see JobboardDispatcher), and ``rollout resume`` posts it again.
        """
        if self._claimed_too_often(job):
            return True         # consumed: visibly in error or failed
        if self._job_aborted(job):
            LOG.info('Rollout of job %s is being aborted: not running it',
                     job.name)
            return True
        self.fence.running(job)
        try:
            return super()._dispatch_job(job) or self._job_aborted(job)
        finally:
            self.fence.running(None)
            with self._engines_lock:
                self._engines.pop(job.uuid, None)

    def _listeners_from_job(self, job, engine):
        listeners = super()._listeners_from_job(job, engine)
        details = job.details or {}
        recorder = base.get_runtime().recorder
        if details.get(JOB_HOST):
            listeners.append(ClaimListener(
                engine, recorder, details[JOB_ROLLOUT], details[JOB_HOST],
                self._name))
        return listeners


def conductor_name(conf):
    return '%s-%d' % (conf.jobboard.conductor_name, os.getpid())


def make(conf, board, client, fence, backend):
    return Conductor(conductor_name(conf), board, client, fence,
                     conf.jobboard.max_claims, persistence=backend,
                     engine='serial',
                     max_simultaneous_jobs=conf.jobboard.max_simultaneous_jobs,
                     wait_timeout=0.5)
