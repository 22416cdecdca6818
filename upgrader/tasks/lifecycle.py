"""The first step of every host flow: make the host's outcome visible.

Its revert runs last when a host fails, after every other step has undone
itself, and marks the host ERROR with the failure: a failed host never ends
silent (octavia's lifecycle tasks do the same).
"""

from upgrader.common import states
from upgrader.tasks import base


class MarkHostRunning(base.HostTask):

    step = 'start'

    def execute(self, rollout_id, host):
        self.runtime.recorder.host_state(rollout_id, host, states.HOST_RUNNING)

    @base.never_raises
    def revert(self, rollout_id, host, flow_failures=None, **kwargs):
        errors = '; '.join(str(f.exception_str)
                           for f in (flow_failures or {}).values())
        self.runtime.recorder.host_state(rollout_id, host, states.HOST_ERROR,
                                         error=errors or 'reverted')


class MarkHostDone(base.HostTask):
    """The last step: the host is upgraded, checked and enabled."""

    step = 'done'

    def execute(self, rollout_id, host):
        self.runtime.recorder.host_state(rollout_id, host, states.HOST_DONE)
