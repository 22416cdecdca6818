"""What every host task shares: its name, its runtime, and safe reverts.

Tasks are built by flow factories in whatever process runs them, so they hold
no clients. They reach the drivers and the recorder through the process's
:class:`Runtime`, set once by the runner (embedded or conductor).
"""

import functools
import logging as py_logging
import time

from oslo_log import log as logging
from taskflow import task
from taskflow.types import failure

LOG = logging.getLogger(__name__)


class Recorder:
    """Where tasks report what they do; this one only logs.

    The database recorder (upgrader.jobs) writes our tables; tests may use
    this one or keep what they are told.
    """

    def host_state(self, rollout_id, host, state, step=None, error=None):
        LOG.info('Rollout %s host %s: %s%s%s', rollout_id, host, state,
                 ' at %s' % step if step else '',
                 ': %s' % error if error else '')

    def wave(self, rollout_id, index, hosts):
        LOG.info('Rollout %s: wave %d starts on %s', rollout_id, index,
                 ', '.join(hosts))

    def wave_end(self, rollout_id, index):
        LOG.info('Rollout %s: wave %d ended', rollout_id, index)

    def event(self, rollout_id, host, step, message, level='INFO'):
        LOG.log(py_logging.getLevelName(level), 'Rollout %s host %s %s: %s',
                rollout_id, host, step, message)

    def move(self, rollout_id, instance, name, source, destination, state,
             error=None):
        LOG.info('Rollout %s: instance %s (%s) %s -> %s: %s', rollout_id,
                 instance, name, source, destination, state)

    def remember(self, rollout_id, host, key, value):
        """Keep a fact about a host (e.g. its versions before the upgrade)
        where a resumed task finds it again: before acting, not after."""
        self._facts = getattr(self, '_facts', {})
        self._facts[(rollout_id, host, key)] = value

    def recall(self, rollout_id, host, key):
        return getattr(self, '_facts', {}).get((rollout_id, host, key))


class Runtime:
    """The drivers and settings the tasks of this process use.

    ``rollouts`` (the stored rollouts) and ``dispatcher`` (how host flows
    run) serve the rollout controller's tasks; host tasks need neither.
    """

    def __init__(self, compute, hosts, recorder=None, rollouts=None,
                 dispatcher=None, fence=None, poll_interval=2.0,
                 sleep=time.sleep, clock=time.monotonic, controlplane=None):
        self.compute = compute
        self.hosts = hosts
        # Services of controller hosts and their load balancer.
        self.controlplane = controlplane
        self.recorder = recorder or Recorder()
        self.rollouts = rollouts
        self.dispatcher = dispatcher
        # Asked just before every side effect (see upgrader.jobs.fence).
        self.fence = fence or _NO_FENCE
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.clock = clock

    def wait_for(self, what, check, timeout):
        """Poll check() until it returns a true value or timeout expires.

        :returns: check()'s value.
        :raises: TimeoutError naming ``what``.
        """
        deadline = self.clock() + timeout
        while True:
            value = check()
            if value:
                return value
            if self.clock() >= deadline:
                raise TimeoutError('%s: not done after %ss' % (what, timeout))
            self.sleep(self.poll_interval)


class _NoFence:
    def check(self, what):
        pass


_NO_FENCE = _NoFence()
_runtime = None


def set_runtime(runtime):
    global _runtime
    _runtime = runtime


def get_runtime():
    if _runtime is None:
        raise RuntimeError('no task runtime set in this process')
    return _runtime


def never_raises(revert):
    """Reverts log and leave a visible state; they never raise."""
    @functools.wraps(revert)
    def wrapper(self, *args, **kwargs):
        try:
            return revert(self, *args, **kwargs)
        except Exception as e:
            LOG.exception('Revert of %s failed', self.name)
            try:
                self.runtime.recorder.event(
                    kwargs.get('rollout_id'), self.host, self.step,
                    'revert failed: %s' % e, level='ERROR')
            except Exception:
                LOG.exception('Could not record the failed revert')
    return wrapper


class HostTask(task.Task):
    """A step on one host, named ``<host>.<step>`` (unique and stable)."""

    #: The step name, as templates and the task library know it.
    step = None
    #: Template arguments this task accepts: name -> type.
    parameters = {}

    def __init__(self, host, **args):
        unknown = set(args) - set(self.parameters)
        if unknown:
            raise TypeError('%s: unknown argument(s) %s'
                            % (self.step, ', '.join(sorted(unknown))))
        self.host = host
        self.args = args
        super().__init__(name='%s.%s' % (host, self.step))

    @property
    def runtime(self):
        return get_runtime()

    def act(self, what):
        """Say a side effect is next: the fence stops a conductor that no
        longer owns this job before it acts."""
        self.runtime.fence.check('%s on %s' % (what, self.host))

    def arg(self, name, default):
        return self.args.get(name, default)

    def event(self, rollout_id, message, level='INFO'):
        self.runtime.recorder.event(rollout_id, self.host, self.step,
                                    message, level=level)


def is_failure(result):
    return isinstance(result, failure.Failure)
