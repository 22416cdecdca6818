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


class Fence:
    """No job board, no rival: the embedded runner's fence never closes."""

    def check(self, what):
        pass


class ConductorFence(Fence):
    """Checks the claim of the job the calling thread runs."""

    def __init__(self, board, client, owner_name, exit=os._exit,
                 patience=0.0, poll=0.1):
        """:param patience: seconds to wait for a suspended connection to
        come back (the session may survive it) before giving up; the
        session timeout is a good value."""
        self.board = board
        self.client = client
        self.owner_name = owner_name
        self.patience = patience
        self.poll = poll
        self._exit = exit
        self._local = threading.local()

    def running(self, job):
        """Mark the calling thread as running ``job`` (None: no job)."""
        self._local.job = job

    def check(self, what):
        job = getattr(self._local, 'job', None)
        if job is None:
            return
        deadline = time.monotonic() + self.patience
        while True:
            problem = self._problem(job)
            if problem is None or time.monotonic() >= deadline or (
                    problem.startswith('the job is now claimed')):
                break
            time.sleep(self.poll)
        if problem is not None:
            LOG.critical('Fenced off before %s of job %s: %s; stopping this '
                         'conductor now, another one resumes the job',
                         what, job.name, problem)
            for handler in py_logging.getLogger().handlers:
                handler.flush()
            self._exit(FENCED_EXIT)

    def _problem(self, job):
        """Why this conductor may not act for ``job`` now (None: it may)."""
        if self.client.state != kazoo_states.KazooState.CONNECTED:
            return 'ZooKeeper connection is %s' % self.client.state
        try:
            owner = self.board.find_owner(job)
        except Exception as e:
            return 'cannot read the claim: %s' % e
        if owner != self.owner_name:
            return 'the job is now claimed by %s' % owner
        return None
