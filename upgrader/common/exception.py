"""Exceptions raised by upgrader.

Every error an operator can see derives from :class:`UpgraderException`, which
formats ``_msg_fmt`` with keyword arguments and carries the exit code the
command line returns for it (2 for every class today). Each class's
docstring says what the error means and what to do: the troubleshooting
page of the documentation is generated from them::

    UpgraderException
    ├── ConfigInvalid             bad configuration
    ├── InvalidInput              bad command-line or API input
    │   └── ConfirmationRequired  data would be lost: --yes or a terminal
    ├── NotFound                  a named thing does not exist
    │   ├── ReleaseNotFound
    │   ├── HostNotFound
    │   ├── CloudNotFound         no such cloud in clouds.yaml
    │   ├── TemplateNotFound
    │   ├── RolloutNotFound
    │   ├── ScheduleNotFound
    │   ├── HostRunNotFound
    │   └── InstanceMoveNotFound
    ├── Conflict                  the request contradicts the current state
    │   ├── ReleaseExists
    │   ├── RolloutExists
    │   ├── ScheduleExists
    │   ├── HostRunExists
    │   └── StateConflict
    ├── DatabaseNotSynced         schema missing or behind: run db sync
    ├── DatabaseUnavailable       the database cannot be reached
    ├── CloudError                the cloud answered badly or not at all
    │   ├── CloudUnreachable
    │   └── CloudAuthFailed
    ├── PlanError                 no plan keeps the policy
    ├── HostActionFailed          a package install, reboot... failed on a host
    ├── TemplateInvalid
    ├── MigrationFailed
    ├── HostNotReady              a host not healthy after its upgrade
    ├── RolloutStopped            the controller stopped before the end
    │   ├── RolloutAborted
    │   └── RolloutFailed
    └── JobBoardUnavailable       ZooKeeper cannot be reached
"""


class UpgraderException(Exception):
    """Base of all upgrader errors.

    Subclasses set ``_msg_fmt``; the keyword arguments fill it in. Raised
    as such only with a message of its own, for example when a simulator
    started by a test or a tool does not come up.

    What to do: read the message; ``--debug`` shows the logs around it.
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
    """A configuration option, a clouds.yaml entry, the host inventory file or a
    database URL cannot be used as it is; the reason names the option or the
    file.

    What to do: correct the named option in the configuration file (see
    :doc:`/configuration/config`) or the named file, then run the command
    again. Nothing was changed.
    """
    _msg_fmt = "Invalid configuration: %(reason)s"


class InvalidInput(UpgraderException):
    """A command-line argument or an API argument is wrong: a malformed
    ``--component NAME=VERSION``, a negative number, a policy value of the
    wrong type, a maintenance window that does not parse, a template that
    upgrades packages planned without ``--to``, a file that cannot be
    written.

    What to do: fix the argument the reason names; ``upgrader-manage
    CATEGORY ACTION --help`` lists what each action takes. Nothing was
    changed.
    """
    _msg_fmt = "Invalid input: %(reason)s"


class ConfirmationRequired(InvalidInput):
    """A command that loses data (a rollback after ``rollout commit``
    restores a database from backup) asks first, and there is no terminal
    to ask on.

    What to do: read what the command says will be lost (run it on a
    terminal), then run it again with ``--yes``. Nothing was changed.
    """
    _msg_fmt = "%(what)s: confirm with --yes (no terminal to ask on)"


class NotFound(UpgraderException):
    """Something named on the command line does not exist (for example a
    simulator fault id, or a simulator state file).

    What to do: check the name; the ``list`` action of the category shows
    what exists.
    """
    _msg_fmt = "Not found: %(what)s"


class ReleaseNotFound(NotFound):
    """No release has this name or UUID.

    What to do: ``upgrader-manage release list`` shows the releases;
    create the missing one with ``upgrader-manage release create``.
    """
    _msg_fmt = "Release %(release)s does not exist."


class HostNotFound(NotFound):
    """The compute driver (or the simulator's host agent) knows no compute
    service of this host name: usually a host of a stored plan that was
    removed from the cloud or renamed since.

    What to do: ``upgrader-manage cloud inventory`` lists the compute
    hosts by the names Nova gives them; plan the rollout again.
    """
    _msg_fmt = "Host %(host)s is not a compute host of this cloud."


class CloudNotFound(NotFound):
    """``[cloud] cloud`` names an entry that the clouds.yaml file (``[cloud]
    clouds_file``, or openstacksdk's search path) does not have.

    What to do: fix ``[cloud] cloud``, point ``[cloud] clouds_file`` at the
    right file, or leave ``cloud`` unset and give the keystoneauth options
    of ``[cloud]`` instead.
    """
    _msg_fmt = "Cloud %(cloud)s is not defined in clouds.yaml."


class Conflict(UpgraderException):
    """The request contradicts the current state of a rollout, a host or the
    cloud: for example aborting a rollout that already ended, pausing one
    that is not running, ``--max-failed-hosts`` on a rollout that already
    started, nova-compute disabled by someone else, instances the plan does
    not know on a host being drained, or a host still holding instances when
    it would reboot (then the host's flow stops and reverts).

    What to do: read the reason; ``upgrader-manage rollout status`` shows
    the states. A conflict with the cloud usually means the cloud changed
    since the plan: plan the rollout again.
    """
    _msg_fmt = "Conflict: %(reason)s"


class ReleaseExists(Conflict):
    """A release of this name already exists, and releases never change.

    What to do: choose another name, for example a new release with
    ``--parent`` and the components that differ.
    """
    _msg_fmt = "Release %(release)s already exists."


class DatabaseNotSynced(UpgraderException):
    """upgrader's tables, or TaskFlow's logbook tables, are missing or at an
    older revision than this version of upgrader needs.

    What to do: run ``upgrader-manage db sync`` (our tables) or
    ``upgrader-manage persistence sync`` (the logbooks), as the message
    says. ``upgrader-manage db version`` prints the current revision.
    """
    _msg_fmt = ("Database schema is not current (%(current)s, expected "
                "%(expected)s): run 'upgrader-manage db sync'.")


class DatabaseUnavailable(UpgraderException):
    """The database of ``[database] connection`` or ``[persistence]
    connection`` cannot be reached or refuses the login, or a SQLite file
    cannot be opened.

    What to do: check that the server runs and that the URL, user and
    password are right (``upgrader-status upgrade check`` tries both
    databases). oslo.db retries ``[database] max_retries`` times first.
    """
    _msg_fmt = "Database unavailable: %(reason)s"


class CloudError(UpgraderException):
    """The cloud's API answered with an error, or the simulator's host agent
    did.

    What to do: the reason carries the API's answer; check the cloud's
    services (``upgrader-status upgrade check`` tries the compute API) and
    run the command again.
    """
    _msg_fmt = "Cloud error: %(reason)s"


class CloudUnreachable(CloudError):
    """No connection to the cloud's endpoint (Keystone or Nova): refused, timed
    out, or a TLS failure.

    What to do: check the ``auth_url`` of the clouds.yaml entry or of
    ``[cloud]``, the network path, and ``[cloud] api_timeout``.
    """
    _msg_fmt = "Cloud unreachable at %(url)s: %(reason)s"


class CloudAuthFailed(CloudError):
    """Keystone refused the credentials of the clouds.yaml entry or of
    ``[cloud]``.

    What to do: check the user, password, project and domain; the user
    needs the admin role to disable compute services and live-migrate.
    """
    _msg_fmt = "Authentication to the cloud failed: %(reason)s"


class PlanError(UpgraderException):
    """The planner cannot make a plan that keeps the policy: the cloud has no
    compute hosts, no host matches the selection, a pinned host is unknown
    or pinned twice, a host holds instances that cannot be live-migrated
    while ``unmovable`` is ``fail``, there is not enough capacity to drain a
    host within the limits, or a wave is predicted to last longer than the
    maintenance window. Nothing was stored.

    What to do: read the reason; relax the policy (``--max-parallel``, the
    per-zone and per-aggregate limits, ``--max-group-disruption``), add
    spare capacity, or narrow the selection with ``--hosts`` or ``--az``.
    See :doc:`/admin/planning`.
    """
    _msg_fmt = "Cannot plan this rollout: %(reason)s"


class HostActionFailed(UpgraderException):
    """A host-access action (status query, package install, reboot, waiting for
    the boot) failed on a host: the command exited non-zero, timed out, or
    the host could not be reached over SSH. Seen in a host's error (``rollout
    status``); the host's flow reverts.

    What to do: look at the host (the reason carries the command's error),
    fix it, then ``rollout retry-host`` or ``rollout skip-host`` and
    ``rollout resume``. See :doc:`/admin/host-access`.
    """
    _msg_fmt = "Host %(host)s: %(action)s failed: %(reason)s"


class TemplateInvalid(UpgraderException):
    """A workflow template is not valid: not YAML, an unknown key, a step naming
    a task that is not in the task library, an unknown or mistyped argument,
    a task twice, or a bad policy value. The message names the file and the
    step.

    What to do: fix the template; :doc:`/admin/templates` lists the keys,
    the tasks and their arguments.
    """
    _msg_fmt = "%(source)s: %(reason)s"


class TemplateNotFound(NotFound):
    """No workflow template of this name is in ``[workflow] template_dirs``
    nor among the shipped ones, or the path given does not exist. The
    message lists where upgrader looked.

    What to do: give the name of a shipped template (see
    :doc:`/admin/templates`) or the path of your YAML file.
    """
    _msg_fmt = "Workflow template %(name)s not found (looked in %(where)s)."


class MigrationFailed(UpgraderException):
    """Nova reported a live or cold migration as failed, or it did not
    finish within the step's ``migration_timeout`` (then upgrader aborted
    it). Seen in a
    host's error; the host is re-enabled, its other instances stay where
    they are.

    What to do: look at the instance and the migration in Nova
    (``openstack server migration list``), fix the cause, then ``rollout
    retry-host`` and ``rollout resume``.
    """
    _msg_fmt = "Migration of %(instance)s to %(destination)s: %(reason)s"


class HostNotReady(UpgraderException):
    """After the reboot or in the health check, the host did not become healthy
    in time: unreachable, nova-compute not up, or packages not at the
    release's versions. Seen in a host's error; the host reverts to its old
    packages.

    What to do: look at the host and nova-compute's log; then ``rollout
    retry-host`` or ``rollout skip-host`` and ``rollout resume``.
    """
    _msg_fmt = "Host %(host)s is not healthy: %(reason)s"


class RolloutNotFound(NotFound):
    """No rollout has this name or UUID.

    What to do: ``upgrader-manage rollout list`` shows every rollout.
    """
    _msg_fmt = "Rollout %(rollout)s does not exist."


class RolloutExists(Conflict):
    """A rollout of this ``--name`` already exists.

    What to do: choose another name, or leave ``--name`` out to get a
    generated one.
    """
    _msg_fmt = "Rollout %(rollout)s already exists."


class ScheduleNotFound(NotFound):
    """No schedule has this name or UUID.

    What to do: ``upgrader-manage rollout schedule-list`` shows every
    schedule.
    """
    _msg_fmt = "Schedule %(schedule)s does not exist."


class ScheduleExists(Conflict):
    """A schedule of this ``--name`` already exists.

    What to do: choose another name, or ``rollout unschedule`` the old one
    first.
    """
    _msg_fmt = "Schedule %(schedule)s already exists."


class HostRunNotFound(NotFound):
    """The host is not part of this rollout: it was not planned in it (out of
    the selection, or skipped by the planner).

    What to do: ``upgrader-manage rollout status ROLLOUT`` lists the
    rollout's hosts; plan a new rollout for the others.
    """
    _msg_fmt = "Host %(host)s is not part of rollout %(rollout)s."


class HostRunExists(Conflict):
    """The host is already part of this rollout. Seen only through the Python
    API or a damaged database.

    What to do: plan the rollout again.
    """
    _msg_fmt = "Host %(host)s is already part of rollout %(rollout)s."


class InstanceMoveNotFound(NotFound):
    """An instance move of a rollout's record does not exist. Seen only through
    the Python API or a damaged database.

    What to do: check the move id against ``rollout status --format
    json``.
    """
    _msg_fmt = "Instance move %(move)s does not exist."


class StateConflict(Conflict):
    """Another command or process changed a rollout or a host between reading
    and writing it (for example two operators acting on the same rollout at
    once); nothing was written.

    What to do: look at ``upgrader-manage rollout status`` and run the
    command again if it still applies.
    """
    _msg_fmt = "%(what)s is %(actual)s, expected %(expected)s."


class RolloutStopped(UpgraderException):
    """The rollout controller stopped before the end. Its subclasses say why.

    What to do: ``upgrader-manage rollout status`` shows where it stopped;
    ``rollout resume`` goes on.
    """
    _msg_fmt = "Rollout %(rollout)s stopped: %(reason)s"


class RolloutAborted(RolloutStopped):
    """An operator aborted the rollout (``rollout abort``): in-flight steps
    finished and nothing new started. The rollout is ``aborted`` and
    ``rollout start`` or ``rollout resume`` exit with 1. Hosts caught in the
    middle stay disabled and drained.

    What to do: ``upgrader-manage rollout resume ROLLOUT`` when you want it
    to go on.
    """
    _msg_fmt = "Rollout %(rollout)s aborted: %(reason)s"


class RolloutFailed(RolloutStopped):
    """More hosts failed than the failure budget (``max_failed_hosts``) allows,
    so the failure policy stopped the rollout. Every failed host reverted
    itself and is enabled again, on its old packages.

    What to do: ``rollout status`` shows each failed host's error; fix the
    cause, then ``rollout retry-host`` or ``rollout skip-host`` for each,
    and ``rollout resume``.
    """
    _msg_fmt = "Rollout %(rollout)s failed: %(reason)s"


class JobBoardUnavailable(UpgraderException):
    """``[jobboard] enabled`` is true but ZooKeeper at ``[jobboard] hosts``
    cannot be reached (or refuses the credentials) within the session
    timeout.

    What to do: check that ZooKeeper runs and answers (``echo srvr | nc
    HOST 2181``), and the ``[jobboard]`` options; ``upgrader-status upgrade
    check`` tries it. With no ZooKeeper, set ``[jobboard] enabled = false``
    to run rollouts embedded.
    """
    _msg_fmt = "ZooKeeper job board at %(hosts)s unavailable: %(reason)s"
