"""Dispatchers: how the rollout controller gets host flows run.

The controller hands a wave's host jobs to a dispatcher and waits for their
outcomes. The embedded dispatcher runs them on a thread pool in this process;
the job-board dispatcher (ZooKeeper) posts them for conductors. Both name a
host's flow deterministically, so a resumed controller finds the flows it
already started instead of starting them again.
"""

import abc
import concurrent.futures
import contextlib
import dataclasses
import functools
import queue
import time
import uuid

from oslo_log import log as logging
from taskflow import exceptions as tf_exc
from taskflow.jobs import base as jobs_base
from taskflow import states as tf_states

from upgrader.jobs import board
from upgrader.jobs import persistence
from upgrader.workflow import flows

LOG = logging.getLogger(__name__)

# uuid5 namespace of the flow details and jobs of upgrader.
NAMESPACE = uuid.UUID('6c1b8a52-3f0e-4d7e-9a51-0f4d9b2a7e11')

# Jobs of a wave the job-board dispatcher posts at once.
POSTERS = 8

# What became of a host job.
DONE = 'done'
FAILED = 'failed'
SUSPENDED = 'suspended'


def host_flow_uuid(rollout_id, host):
    return str(uuid.uuid5(NAMESPACE, 'host/%s/%s' % (rollout_id, host)))


@dataclasses.dataclass
class HostJob:
    """Everything a host flow needs; JSON-friendly."""

    rollout_id: str
    host: str
    template_content: str
    moves: list
    versions: dict


def host_flow_detail(backend, job):
    """The host's flow detail: the saved one, or a new one.

    Its store travels in the flow detail's meta (where taskflow's conductors
    also look), so any process can run it from the detail alone.
    """
    return host_flow_details(backend, [job])[job.host]


def host_flow_details(backend, jobs):
    """{host: its flow detail} for host jobs of one rollout (a wave's):
    the saved ones read and the others created, all in three transactions,
    not up to three per host."""
    if not jobs:
        return {}
    by_uuid = {host_flow_uuid(job.rollout_id, job.host): job for job in jobs}
    found = persistence.find_flow_details(backend, by_uuid)
    new = [(fd_uuid, job) for fd_uuid, job in by_uuid.items()
           if fd_uuid not in found]
    for rollout_id in sorted({job.rollout_id for _uuid, job in new}):
        book = persistence.logbook_for(backend, rollout_id, rollout_id)
        created = persistence.create_flow_details(backend, book, [dict(
            name='host %s' % job.host, flow_factory=flows.host_flow,
            factory_args=[job.host, job.template_content], uuid=fd_uuid,
            meta={'store': flows.host_store(job.rollout_id, job.host,
                                            job.moves, job.versions),
                  'host': job.host})
            for fd_uuid, job in new if job.rollout_id == rollout_id])
        found.update((fd.uuid, fd) for fd in created)
    return {job.host: found[fd_uuid] for fd_uuid, job in by_uuid.items()}


def outcome(flow_state):
    """DONE, FAILED or SUSPENDED for a host flow's state (None: not over)."""
    if flow_state == tf_states.SUCCESS:
        return DONE
    if flow_state in (tf_states.REVERTED, tf_states.FAILURE):
        return FAILED
    if flow_state == tf_states.SUSPENDED:
        return SUSPENDED
    return None


class Dispatcher(abc.ABC):

    @abc.abstractmethod
    def run_hosts(self, jobs, should_stop):
        """Run the host jobs of one wave; wait until each ends.

        :param jobs: list of :class:`HostJob`
        :param should_stop: callable; when it returns True, running flows
            finish their current step and suspend.
        :returns: dict host -> DONE, FAILED or SUSPENDED
        """


class EmbeddedDispatcher(Dispatcher):
    """Runs the host flows of a wave in parallel, in this process."""

    def __init__(self, backend, listeners=None, poll_interval=0.5):
        """:param listeners: callable(engine, job) -> taskflow listeners to
        attach to each host flow's engine."""
        self.backend = backend
        self.listeners = listeners or (lambda engine, job: [])
        self.poll_interval = poll_interval

    def run_hosts(self, jobs, should_stop):
        if not jobs:
            return {}
        engines = {}
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=len(jobs),
                thread_name_prefix='host-flow') as pool:
            futures = {pool.submit(self._run, job, engines): job.host
                       for job in jobs}
            pending = set(futures)
            suspending = False
            while pending:
                _done, pending = concurrent.futures.wait(
                    pending, timeout=self.poll_interval)
                if pending and not suspending and should_stop():
                    suspending = True
                    LOG.info('Suspending %d running host flow(s)',
                             len(pending))
                    for engine in list(engines.values()):
                        engine.suspend()
            return {futures[f]: f.result() for f in futures}

    def _run(self, job, engines):
        flow_detail = host_flow_detail(self.backend, job)
        if outcome(flow_detail.state) in (DONE, FAILED):
            return outcome(flow_detail.state)
        engine = persistence.load_engine(self.backend, flow_detail,
                                         store=flow_detail.meta['store'])
        engines[job.host] = engine
        try:
            with contextlib.ExitStack() as stack:
                for listener in self.listeners(engine, job):
                    stack.enter_context(listener)
                engine.run()
        except Exception as e:
            LOG.warning('Host flow of %s in rollout %s failed: %s',
                        job.host, job.rollout_id, e)
        return outcome(engine.storage.get_flow_state()) or FAILED


class JobboardDispatcher(Dispatcher):
    """Posts a wave's host flows on the ZooKeeper job board; any conductor
    may run them. Waits until each job is consumed, then reads the outcome
    from the host's flow detail."""

    def __init__(self, backend, board, fence=None, poll_interval=0.5):
        """:param fence: asked before posting; a controller that no longer
        owns its job must not post (see upgrader.jobs.fence)."""
        self.backend = backend
        self.board = board
        self.fence = fence
        self.poll_interval = poll_interval
        self._posters = concurrent.futures.ThreadPoolExecutor(
            max_workers=POSTERS, thread_name_prefix='post')

    def _retrying(self, what, call):
        """Ride out a ZooKeeper outage: the board answers again once the
        connection is back (the claim guard and fence handle a lost
        session)."""
        while True:
            try:
                return call()
            except (tf_exc.JobFailure, tf_exc.NotFound) as e:
                LOG.warning('Job board: %s failed (%s); trying again', what,
                            e)
                time.sleep(self.poll_interval)

    def run_hosts(self, jobs, should_stop):
        removed = queue.SimpleQueue()

        def on_removal(_state, details):
            removed.put(details['job'].name)

        # Registered before posting: no job of the wave leaves unseen.
        self.board.notifier.register(jobs_base.REMOVAL, on_removal)
        try:
            outcomes, waiting = self._post(jobs)
            # On abort the conductors suspend the host flows after their
            # step and consume the jobs (upgrader.jobs.conductor).
            while waiting:
                for name in self._left(waiting, self._reported(removed)):
                    job, _posted = waiting.pop(name)
                    flow_detail = persistence.get_flow_detail(
                        self.backend,
                        host_flow_uuid(job.rollout_id, job.host))
                    # Consumed unfinished: suspended by an abort, or given
                    # up after too many claims (failed).
                    done = outcome(flow_detail.state)
                    if done not in (DONE, FAILED):
                        done = SUSPENDED if should_stop() else FAILED
                    outcomes[job.host] = done
        finally:
            self.board.notifier.deregister(jobs_base.REMOVAL, on_removal)
        return outcomes

    def _post(self, jobs):
        """Post the jobs not finished yet: (outcomes of the finished ones,
        {job name: (HostJob, posted job)})."""
        book_cache = {}
        waiting = {}
        outcomes = {}
        todo = []
        details = host_flow_details(self.backend, jobs)
        for job in jobs:
            flow_detail = details[job.host]
            done = outcome(flow_detail.state)
            if done in (DONE, FAILED):
                outcomes[job.host] = done
            else:
                todo.append((job, flow_detail))
        names = [board.host_job_name(job.rollout_id, job.host)
                 for job, _fd in todo]
        # One listing of the board for the wave, not one per job.
        listing = self._retrying('listing the board', lambda: (
            board.find_all(self.board, names))) if names else {}
        posting = {}
        for job, flow_detail in todo:
            book = book_cache.get(job.rollout_id)
            if book is None:
                book = book_cache[job.rollout_id] = persistence.logbook_for(
                    self.backend, job.rollout_id, job.rollout_id)
            name = board.host_job_name(job.rollout_id, job.host)
            if self.fence is not None:
                self.fence.check('posting job %s' % name)
            # Posted side by side: a wave waits for about one ZooKeeper
            # round trip, not one per job (each slowed down by the flows
            # this process runs meanwhile).
            posting[name] = (job, self._posters.submit(
                self._retrying, 'posting %s' % name, functools.partial(
                    board.post_once, self.board, name, book, flow_detail,
                    listing=listing, rollout=job.rollout_id,
                    host=job.host)))
        for name, (job, future) in posting.items():
            waiting[name] = (job, future.result())
        return outcomes, waiting

    def _reported(self, removed):
        """Names of jobs the board's ZooKeeper watch reported removed within
        a poll interval; None if it reported none."""
        try:
            names = {removed.get(timeout=self.poll_interval)}
        except queue.Empty:
            return None
        while not removed.empty():
            names.add(removed.get_nowait())
        return names

    def _left(self, waiting, reported):
        """Names of the ``waiting`` jobs whose node is gone from ZooKeeper.

        Asked only of the jobs reported removed (a wave ends as soon as its
        last job does), or of every waiting job when the watch reported
        none for a poll interval. A board cut off from ZooKeeper reports
        all its jobs removed; asking then waits for the connection.
        """
        return [name for name, (_job, posted) in list(waiting.items())
                if (reported is None or name in reported)
                and self._retrying('reading job %s' % name,
                                   lambda: board.gone(posted))]
