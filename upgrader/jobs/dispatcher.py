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
import uuid

from oslo_log import log as logging
from taskflow import exceptions as tf_exc
from taskflow import states as tf_states

from upgrader.jobs import persistence
from upgrader.workflow import flows

LOG = logging.getLogger(__name__)

# uuid5 namespace of the flow details and jobs of upgrader.
NAMESPACE = uuid.UUID('6c1b8a52-3f0e-4d7e-9a51-0f4d9b2a7e11')

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
        flow_detail, store = self._flow_detail(job)
        if flow_detail.state == tf_states.SUCCESS:
            return DONE
        if flow_detail.state in (tf_states.REVERTED, tf_states.FAILURE):
            return FAILED
        engine = persistence.load_engine(self.backend, flow_detail,
                                         store=store)
        engines[job.host] = engine
        try:
            with contextlib.ExitStack() as stack:
                for listener in self.listeners(engine, job):
                    stack.enter_context(listener)
                engine.run()
        except Exception as e:
            LOG.warning('Host flow of %s in rollout %s failed: %s',
                        job.host, job.rollout_id, e)
        state = engine.storage.get_flow_state()
        if state == tf_states.SUCCESS:
            return DONE
        if state == tf_states.SUSPENDED:
            return SUSPENDED
        return FAILED

    def _flow_detail(self, job):
        """The host's flow detail: the saved one, or a new one and its store."""
        fd_uuid = host_flow_uuid(job.rollout_id, job.host)
        try:
            return persistence.get_flow_detail(self.backend, fd_uuid), None
        except tf_exc.NotFound:
            pass
        book = persistence.logbook_for(self.backend, job.rollout_id,
                                       job.rollout_id)
        flow_detail = persistence.create_flow_detail(
            self.backend, book, name='host %s' % job.host,
            flow_factory=flows.host_flow,
            factory_args=[job.host, job.template_content], uuid=fd_uuid)
        store = flows.host_store(job.rollout_id, job.host, job.moves,
                                 job.versions)
        return flow_detail, store
