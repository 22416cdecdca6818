"""Exceptions raised by upgrader.

Every error an operator can see derives from :class:`UpgraderException`, which
formats ``_msg_fmt`` with keyword arguments and carries the exit code the
command line returns for it::

    UpgraderException (exit 2)
    ├── ConfigInvalid             bad configuration or command-line input
    ├── NotFound                  (exit 2) a named thing does not exist
    │   ├── ReleaseNotFound
    │   ├── HostNotFound
    │   └── CloudNotFound         no such cloud in clouds.yaml
    ├── Conflict                  the request contradicts the current state
    │   └── ReleaseExists
    ├── DatabaseNotSynced         schema missing or behind: run db sync
    ├── DatabaseUnavailable       the database cannot be reached
    └── CloudError                the cloud answered badly or not at all
        ├── CloudUnreachable
        └── CloudAuthFailed
"""


class UpgraderException(Exception):
    """Base of all upgrader errors.

    Subclasses set ``_msg_fmt``; the keyword arguments fill it in.
    """

    _msg_fmt = "An unknown error occurred."
    exit_code = 2

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self._msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self._msg_fmt
        super().__init__(message)


class ConfigInvalid(UpgraderException):
    _msg_fmt = "Invalid configuration: %(reason)s"


class InvalidInput(UpgraderException):
    _msg_fmt = "Invalid input: %(reason)s"


class NotFound(UpgraderException):
    _msg_fmt = "Not found: %(what)s"


class ReleaseNotFound(NotFound):
    _msg_fmt = "Release %(release)s does not exist."


class HostNotFound(NotFound):
    _msg_fmt = "Host %(host)s is not a compute host of this cloud."


class CloudNotFound(NotFound):
    _msg_fmt = "Cloud %(cloud)s is not defined in clouds.yaml."


class Conflict(UpgraderException):
    _msg_fmt = "Conflict: %(reason)s"


class ReleaseExists(Conflict):
    _msg_fmt = "Release %(release)s already exists."


class DatabaseNotSynced(UpgraderException):
    _msg_fmt = ("Database schema is not current (%(current)s, expected "
                "%(expected)s): run 'upgrader-manage db sync'.")


class DatabaseUnavailable(UpgraderException):
    _msg_fmt = "Database unavailable: %(reason)s"


class CloudError(UpgraderException):
    _msg_fmt = "Cloud error: %(reason)s"


class CloudUnreachable(CloudError):
    _msg_fmt = "Cloud unreachable at %(url)s: %(reason)s"


class CloudAuthFailed(CloudError):
    _msg_fmt = "Authentication to the cloud failed: %(reason)s"


class PlanError(UpgraderException):
    _msg_fmt = "Cannot plan this rollout: %(reason)s"


class HostActionFailed(UpgraderException):
    _msg_fmt = "Host %(host)s: %(action)s failed: %(reason)s"


class TemplateInvalid(UpgraderException):
    _msg_fmt = "%(source)s: %(reason)s"


class TemplateNotFound(NotFound):
    _msg_fmt = "Workflow template %(name)s not found (looked in %(where)s)."


class MigrationFailed(UpgraderException):
    _msg_fmt = "Live migration of %(instance)s to %(destination)s: %(reason)s"


class HostNotReady(UpgraderException):
    _msg_fmt = "Host %(host)s is not healthy: %(reason)s"


class RolloutNotFound(NotFound):
    _msg_fmt = "Rollout %(rollout)s does not exist."


class RolloutExists(Conflict):
    _msg_fmt = "Rollout %(rollout)s already exists."


class ScheduleNotFound(NotFound):
    _msg_fmt = "Schedule %(schedule)s does not exist."


class ScheduleExists(Conflict):
    _msg_fmt = "Schedule %(schedule)s already exists."


class HostRunNotFound(NotFound):
    _msg_fmt = "Host %(host)s is not part of rollout %(rollout)s."


class HostRunExists(Conflict):
    _msg_fmt = "Host %(host)s is already part of rollout %(rollout)s."


class InstanceMoveNotFound(NotFound):
    _msg_fmt = "Instance move %(move)s does not exist."


class StateConflict(Conflict):
    _msg_fmt = "%(what)s is %(actual)s, expected %(expected)s."


class RolloutStopped(UpgraderException):
    """The controller stopped before the end; the rollout can be resumed."""
    _msg_fmt = "Rollout %(rollout)s stopped: %(reason)s"


class RolloutAborted(RolloutStopped):
    _msg_fmt = "Rollout %(rollout)s aborted: %(reason)s"


class RolloutFailed(RolloutStopped):
    _msg_fmt = "Rollout %(rollout)s failed: %(reason)s"


class JobBoardUnavailable(UpgraderException):
    _msg_fmt = "ZooKeeper job board at %(hosts)s unavailable: %(reason)s"
