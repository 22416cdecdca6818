"""upgrader's TaskFlow conductor: claims rollout controller and host jobs
from the ZooKeeper job board and runs them.

A conductor that dies loses its claims when its ZooKeeper session expires;
another conductor claims the job and resumes it from the logbook (finished
steps are not run again). SIGTERM is a graceful hand-off: engines suspend
after their current step and the jobs are abandoned for another conductor.
"""

import contextlib
import os
import random
import threading
import time

from kazoo.protocol import states as kazoo_states
from oslo_log import log as logging
from taskflow.conductors.backends import impl_nonblocking
from taskflow import exceptions as tf_exc
from taskflow.jobs import base as jobs_base
from taskflow import states as tf_states
from taskflow.types import timing as tt

from upgrader.common import states
from upgrader.jobs import persistence
from upgrader.jobs import records
from upgrader.tasks import base

LOG = logging.getLogger(__name__)

JOB_ROLLOUT = 'rollout'
JOB_HOST = 'host'
# Host run fact: how many times a conductor claimed the host's job.
CLAIMS = 'claims'
# Seconds an abort may go unnoticed between the steps of a host flow: the
# rollout's state is read once in that time, not after every step.
ABORT_CHECK_INTERVAL = 0.5


class AbortListener(records.StepListener):
    """Follows a host flow's steps; when the rollout is being aborted, the
    engine suspends after the step that just succeeded (a failed step still
    reverts to the end)."""

    def _task_receiver(self, state, details):
        super()._task_receiver(state, details)
        if (state == tf_states.SUCCESS
                and base.get_runtime().rollouts.stop_requested(
                    self.rollout_id, max_age=ABORT_CHECK_INTERVAL)):
            LOG.info('Rollout %s is being aborted: suspending %s',
                     self.rollout_id, self.host)
            self._engine.suspend()


class _WakeableTimeout(tt.Timeout):
    """taskflow's wait between two looks at the board, cut short by
    :meth:`wake` (its ``interrupt`` stops the conductor for good)."""

    def __init__(self, value):
        super().__init__(value)
        self._wake = threading.Event()

    def wake(self):
        self._wake.set()

    def interrupt(self):
        super().interrupt()
        self._wake.set()

    def wait(self):
        # A wake that comes after this clear wakes the next wait: the board
        # lists a job before it tells about it.
        self._wake.wait(self._value)
        self._wake.clear()


class _LookingForWork:
    """The board as taskflow's conductor loop sees it: what it lists to
    claim is what the board's watch says is unclaimed
    (:meth:`upgrader.jobs.board.Board.unclaimed_jobs`), not every job read
    from ZooKeeper at each look. Its periodic fresh look
    (``REFRESH_PERIODICITY``) is taskflow's own, and so is all the rest.

    Conductors race for each job they see, and a lost race costs a claim
    (a ZooKeeper round trip, see Board.claim) as a won one does: each
    conductor tries the jobs in an order of its own, and looks again
    before each claim, so that a job the watch saw claimed meanwhile is
    not tried.
    """

    def __init__(self, board):
        self._board = board

    def __getattr__(self, name):
        return getattr(self._board, name)

    def iterjobs(self, only_unclaimed=False, ensure_fresh=False):
        if ensure_fresh:
            return self._board.iterjobs(only_unclaimed=True,
                                        ensure_fresh=True)
        return self._unclaimed()

    def _unclaimed(self):
        jobs = self._board.unclaimed_jobs()
        random.shuffle(jobs)
        for job in jobs:
            if self._board.unclaimed(job):
                yield job


class Conductor(impl_nonblocking.NonBlockingConductor):
    """A non-blocking conductor that records host progress in our tables,
    suspends its engines when its ZooKeeper session wavers (claim guard) and
    tells the fence which job each thread runs.

    taskflow's conductor looks at the board every ``wait_timeout`` seconds
    when it claimed nothing; ours also looks as soon as a job is posted or
    one of its jobs ends (a slot is free), so a wave's jobs start at once.
    """

    def __init__(self, name, jobboard, client, fence, max_claims,
                 wait_timeout=0.5, **kwargs):
        super().__init__(name, _LookingForWork(jobboard), **kwargs)
        self._wait_timeout = _WakeableTimeout(wait_timeout)
        self.fence = fence
        self.max_claims = max_claims
        self._engines = {}
        self._engines_lock = threading.Lock()
        client.add_listener(self._on_session_state)
        jobboard.notifier.register(jobs_base.POSTED, self._on_posted)

    def _on_posted(self, _event, details):
        self._wait_timeout.wake()

    def _on_job_done(self, job, fut):
        try:
            super()._on_job_done(job, fut)
        finally:
            self._wait_timeout.wake()

    def _on_session_state(self, state):
        # Called on kazoo's thread, which must stay free to reconnect:
        # engine.suspend() waits for the running step to end, and that step
        # may itself wait for ZooKeeper (the fence). Suspend from a thread.
        if state not in (kazoo_states.KazooState.SUSPENDED,
                         kazoo_states.KazooState.LOST):
            return
        with self._engines_lock:
            engines = list(self._engines.values())
        if not engines:
            return
        LOG.warning('ZooKeeper session %s: suspending %d engine(s)', state,
                    len(engines))
        threading.Thread(target=lambda: [e.suspend() for e in engines],
                         name='claim-guard', daemon=True).start()

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
            # Which conductor runs the host's flow, and its claim count.
            claims = rt.recorder.claimed(rollout, host, self._name, CLAIMS)
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

    def _try_finish_job(self, job, consume, trash=False):
        """Consume, trash or abandon the job, riding out a ZooKeeper outage.

        taskflow tries once: a job it fails to abandon while ZooKeeper is
        down stays claimed by this conductor's session, which survives a
        server restart, so no conductor would ever run it again. Try until
        the board answers, the claim is no longer ours (session expired:
        another conductor may take the job) or this conductor stops.
        """
        what = 'consume' if consume else 'trash' if trash else 'abandon'
        action = getattr(self._jobboard, what)
        while True:
            try:
                action(job, self._name)
            except tf_exc.NotFound:
                return          # consumed already, or gone with the board
            except tf_exc.JobFailure as e:
                if self._wait_timeout.is_stopped() or not self._ours(job):
                    LOG.warning('Could not %s job %s (%s); leaving it',
                                what, job.name, e)
                    return
                LOG.warning('Could not %s job %s (%s); trying again',
                            what, job.name, e)
                time.sleep(1.0)
                continue
            self._notifier.notify('job_%s' % ('consumed' if consume else
                                              'trashed' if trash else
                                              'abandoned'),
                                  {'job': job, 'conductor': self,
                                   'persistence': self._persistence})
            return

    def _ours(self, job):
        """Whether this conductor still holds the job (True if the board
        cannot say)."""
        try:
            return self._jobboard.find_owner(job) == self._name
        except tf_exc.JobFailure:
            return True

    def _flow_detail_from_job(self, job):
        """The job's own flow detail, read by its uuid (taskflow would load
        the rollout's whole logbook for every claim)."""
        return persistence.get_flow_detail(self._persistence,
                                           job.details['flow_uuid'])

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
        try:
            if self._claimed_too_often(job):
                return True     # consumed: visibly in error or failed
            if self._job_aborted(job):
                LOG.info('Rollout of job %s is being aborted: not running '
                         'it', job.name)
                return True
        except Exception:
            # taskflow would trash a job whose dispatch raised: hand it
            # back instead (our database may be back in a moment).
            LOG.exception('Could not check job %s: handing it back',
                          job.name)
            return False
        self.fence.running(job)
        try:
            consumed = super()._dispatch_job(job)
            return consumed or self._job_aborted(job)
        except Exception:
            LOG.exception('Could not finish job %s: handing it back',
                          job.name)
            return False
        finally:
            self.fence.running(None)
            with self._engines_lock:
                self._engines.pop(job.uuid, None)

    def _listeners_from_job(self, job, engine):
        listeners = super()._listeners_from_job(job, engine)
        details = job.details or {}
        recorder = base.get_runtime().recorder
        if details.get(JOB_HOST):
            listeners.append(AbortListener(
                engine, recorder, details[JOB_ROLLOUT], details[JOB_HOST]))
        return listeners


def conductor_name(conf):
    return '%s-%d' % (conf.jobboard.conductor_name, os.getpid())


def make(conf, board, client, fence, backend):
    return Conductor(conductor_name(conf), board, client, fence,
                     conf.jobboard.max_claims, persistence=backend,
                     engine='serial',
                     max_simultaneous_jobs=conf.jobboard.max_simultaneous_jobs,
                     wait_timeout=0.5)
