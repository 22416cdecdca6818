"""Fencing: a side effect never runs on two conductors at once.

TaskFlow alone does not promise it: a conductor frozen past its ZooKeeper
session keeps running its engine after another conductor has claimed its job,
so a reboot or an enable could run on both. Two guards close that gap:

* the claim guard: when the conductor's ZooKeeper connection is suspended
  or lost, every engine it runs is asked to suspend at once;
* the fence: just before a side effect, a task asks :meth:`Fence.check`
  whether this conductor still owns the job. If it does not, the conductor
  stops dead (``os._exit``): exactly what a SIGKILL does, which the job
  board already recovers from (another conductor resumes the job from its
  logbook, and tasks are idempotent). Going on, or reverting, would act on a
  host that another conductor now drives.
"""

import logging as py_logging
import os
import threading
import time

from kazoo.protocol import states as kazoo_states
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# Exit status of a conductor that fenced itself off (EX_TEMPFAIL): the
# service manager restarts it, and it claims jobs afresh.
FENCED_EXIT = 75


def _uptime():
    """Seconds on a clock that neither a frozen process nor a suspended
    machine stops (the session's expiry does not wait for either)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class Fence:
    """No job board, no rival: the embedded runner's fence never closes."""

    def check(self, what):
        pass


class ConductorFence(Fence):
    """Checks the claim of the job the calling thread runs."""

    def __init__(self, board, client, owner_name, exit=os._exit,
                 patience=0.0, poll=0.1, lease=0.0):
        """:param patience: seconds to go on trying to read the claim when
        ZooKeeper is connected but does not answer (the session timeout is
        a good value).
        :param lease: seconds a claim read as ours is taken as still ours
        without reading it again (0: read it at every check). Less than
        the session timeout: see :meth:`check`."""
        self.board = board
        self.client = client
        self.owner_name = owner_name
        self.patience = patience
        self.lease = lease
        self.poll = poll
        self._exit = exit
        self._local = threading.local()
        self._stopping = threading.Event()

    def running(self, job):
        """Mark the calling thread as running ``job`` (None: no job)."""
        self._local.job = job
        self._local.confirmed = (None, 0.0)     # a new claim: read it

    def stop(self):
        """The conductor is stopping: a check that waits for ZooKeeper to
        come back gives up (and stops the process) at once, and so does the
        process if ZooKeeper stays out of reach (see _stop_if_cut_off)."""
        self._stopping.set()
        threading.Thread(target=self._stop_if_cut_off, name='fence-stop',
                         daemon=True).start()

    def _stop_if_cut_off(self):
        """A stopping conductor hands its jobs over through ZooKeeper, and
        its engines may wait for it (the controller waits for its wave's
        jobs). Cut off from ZooKeeper for the patience (the session
        timeout), it cannot: its claims end with its session, as if it were
        killed, so it stops dead instead of hanging until it is killed."""
        since = None
        while True:
            if self.client.state == kazoo_states.KazooState.CONNECTED:
                since = None
            elif since is None:
                since = time.monotonic()
            elif time.monotonic() - since >= self.patience:
                self._die('stopping with ZooKeeper out of reach for %.0f s: '
                          'the jobs cannot be handed over; another conductor '
                          'resumes them once the session expires'
                          % self.patience)
                return
            time.sleep(self.poll)

    def check(self, what):
        """Return if this conductor still owns the calling thread's job;
        otherwise stop the process.

        While the connection is suspended, the check waits: the session,
        and the claim with it, may survive the outage (a ZooKeeper server
        that restarts keeps its sessions), and no other conductor can claim
        the job before the session expires, which kazoo reports as LOST
        once it reconnects. Giving up sooner would strand the job: every
        conductor cut off by the same outage would stop.

        A claim read as ours at time T stays ours until T plus the session
        timeout at least: ZooKeeper heard from this session at T, and only
        its expiry frees the claim. So within the lease (a fraction of the
        session timeout, counted from before the read, on a clock that a
        frozen process or machine does not stop) the check reads nothing,
        as long as the connection is up: a controller posting a wave reads
        its claim once, not once per job.
        """
        job = getattr(self._local, 'job', None)
        if job is None:
            return
        if self._leased(job):
            return
        deadline = time.monotonic() + self.patience
        while True:
            asked = _uptime()
            problem, final = self._problem(job)
            if problem is None:
                self._local.confirmed = (job, asked)
                return
            if final or self._stopping.is_set() or (
                    self.client.state == kazoo_states.KazooState.CONNECTED
                    and time.monotonic() >= deadline):
                break
            time.sleep(self.poll)
        self._die('Fenced off before %s of job %s: %s; stopping this '
                  'conductor now, another one resumes the job'
                  % (what, job.name, problem))

    def _die(self, message):
        LOG.critical(message)
        for handler in py_logging.getLogger().handlers:
            handler.flush()
        self._exit(FENCED_EXIT)

    def _leased(self, job):
        confirmed, at = self._local.confirmed
        return (confirmed is job and _uptime() - at < self.lease
                and self.client.state == kazoo_states.KazooState.CONNECTED)

    def _problem(self, job):
        """Why this conductor may not act for ``job`` now (None: it may),
        and whether that is final (waiting will not change it)."""
        state = self.client.state
        if state == kazoo_states.KazooState.LOST:
            return 'ZooKeeper session lost', True
        if state != kazoo_states.KazooState.CONNECTED:
            return 'ZooKeeper connection is %s' % state, False
        try:
            owner = self.board.find_owner(job)
        except Exception as e:
            return 'cannot read the claim: %s' % e, False
        if owner != self.owner_name:
            return ('the job is now claimed by %s' % owner if owner else
                    'the job is no longer claimed (the session that held '
                    'it expired)'), True
        return None, False
