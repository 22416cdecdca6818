"""The database API: an abstract Connection whose docstrings are the contract.

Get one with :func:`get_instance`. Every method runs in its own transaction
and returns detached model objects of :mod:`upgrader.db.sqlalchemy.models`
(their columns and loaded relationships can be read after the call;
``to_dict()`` gives a JSON-friendly copy) or lists of them, oldest first.

Wherever a ``rollout`` argument is taken, it is a rollout's integer ``id``,
its ``uuid`` or its name. Timestamps are naive UTC datetimes.

Every method raises :class:`~upgrader.common.exception.DatabaseNotSynced`
when the schema is not at head (checked once per process) and
:class:`~upgrader.common.exception.DatabaseUnavailable` when the database
cannot be reached. Nothing here stores a secret: error and event texts are
passed through ``oslo_utils.strutils.mask_password``.
"""

import abc


def get_instance():
    """Return a Connection of the configured backend."""
    from upgrader.db.sqlalchemy import api as sqlalchemy_api
    return sqlalchemy_api.Connection()


class Connection(metaclass=abc.ABCMeta):
    """The operations on upgrader's tables."""

    # Releases: immutable once created.

    @abc.abstractmethod
    def release_create(self, name, components, description=None,
                       parent=None):
        """Create a release.

        :param name: unique name; None generates ``release-<uuid prefix>``.
            A name must not look like a UUID.
        :param components: dict of component name to version, not empty;
            with ``parent``, overrides the parent's components.
        :param description: free text.
        :param parent: name or uuid of the release this one derives from:
            its components are inherited unless overridden.
        :returns: the Release, with ``components`` and ``versions`` loaded.
        :raises ReleaseExists: the name is taken.
        :raises ReleaseNotFound: the parent does not exist.
        :raises InvalidInput: a bad name, component or version.
        """

    @abc.abstractmethod
    def release_get(self, name_or_uuid):
        """Return the Release of this name or uuid.

        :raises ReleaseNotFound:
        """

    @abc.abstractmethod
    def release_list(self):
        """Return every Release, oldest first."""

    # Deployments: the releases the cloud moved to, in order.

    @abc.abstractmethod
    def deployment_add(self, release, rollout=None, note=None):
        """Record that the cloud now runs this release; return the
        Deployment (``release`` and ``rollout`` loaded).

        :param release: name, uuid or id of a release.
        :param rollout: the rollout that moved it there, or None (the
            operator says so).
        :raises ReleaseNotFound:
        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def deployment_list(self):
        """Return every Deployment, oldest first."""

    @abc.abstractmethod
    def current_release(self):
        """Return the Release of the latest Deployment, or None."""

    # Rollouts.

    @abc.abstractmethod
    def rollout_create(self, name=None, from_release=None, to_release=None,
                       template_name=None, template_content=None,
                       template_digest=None, policy=None, plan=None,
                       state=None, rollback_of=None, train=None):
        """Create a rollout.

        :param name: unique name; None generates ``rollout-<uuid prefix>``.
        :param from_release: name, uuid or id of a release, or None.
        :param to_release: name, uuid or id of a release, or None.
        :param template_content: the workflow template's text; its sha256
            is the ``template_digest`` unless one is given.
        :param policy: JSON-serialisable dict.
        :param plan: JSON-serialisable dict (the planner's ``to_dict()``).
        :param state: default ``states.PLANNED``.
        :param rollback_of: id, uuid or name of the rollout this one takes
            back, or None.
        :param train: id, uuid or name of the release train this rollout
            is a stage of, or None.
        :returns: the Rollout (``from_release``/``to_release`` loaded).
        :raises RolloutExists: the name is taken.
        :raises ReleaseNotFound: a release does not exist.
        """

    @abc.abstractmethod
    def rollout_get(self, rollout):
        """Return the Rollout of this id, uuid or name.

        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def rollout_state(self, rollout):
        """Return the rollout's state alone (cheaper than rollout_get: a
        conductor asks it after every step).

        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def rollout_values(self, rollout, *names):
        """Return a tuple of these columns of the rollout alone (without
        its plan, which grows with the cloud: the controller reads its
        policy and state for every wave).

        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def rollout_list(self, state=None):
        """Return the Rollouts (of this state or states), oldest first."""

    @abc.abstractmethod
    def rollout_update(self, rollout, values, expected_state=None):
        """Update columns of a rollout and return it.

        :param values: dict of column to value among ``state``, ``plan``,
            ``policy``, ``error``, ``started_at``, ``finished_at``,
            ``committed_at``, ``template_name``, ``template_content``,
            ``template_digest``, ``train_id`` (the id of a release train
            the rollout becomes a stage of).
            Legal state transitions are the caller's business
            (:mod:`upgrader.common.states`).
        :param expected_state: if given, update only if the rollout is in
            this state (compare and swap).
        :raises RolloutNotFound:
        :raises StateConflict: the rollout is not in ``expected_state``.
        :raises InvalidInput: an unknown or read-only column.
        """

    # Host runs: one per host of a rollout.

    @abc.abstractmethod
    def host_run_create(self, rollout, host, wave, state=None,
                        facts=None, target_versions=None):
        """Add a host to a rollout, in this wave (default state pending).

        :param target_versions: the versions this host goes to, if not the
            rollout's release's (dict of package to version).

        :raises RolloutNotFound:
        :raises HostRunExists: the host is already in this rollout.
        """

    @abc.abstractmethod
    def host_run_get(self, rollout, host):
        """Return the HostRun of this host in this rollout.

        :raises HostRunNotFound:
        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def host_run_list(self, rollout, wave=None, state=None):
        """Return a rollout's HostRuns by wave then host.

        :param state: a state or a list of states.
        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def host_run_update(self, rollout, host, values, expected_state=None):
        """Update columns of a host run and return it.

        :param values: among ``state``, ``step``, ``error``, ``wave``,
            ``facts``, ``started_at``, ``finished_at``.
        :param expected_state: compare and swap, as for rollout_update.
        :raises HostRunNotFound:
        :raises StateConflict:
        :raises InvalidInput:
        """

    @abc.abstractmethod
    def host_run_record(self, rollout, host, values=None, events=(),
                        count_fact=None):
        """What a host's flow reports, in one transaction, returning nothing
        (the conductors' hot path: a step's start is one write).

        :param values: columns to update, as for host_run_update.
        :param events: dicts of ``event_add`` arguments (``message``,
            ``level``, ``step``; ``created_at`` for one recorded earlier),
            added for this host.
        :param count_fact: a fact (in ``facts``) counting something: it is
            incremented; the new count is returned.
        :raises HostRunNotFound:
        :raises RolloutNotFound:
        :raises InvalidInput:
        """

    # Instance moves: live migrations, planned and actual.

    @abc.abstractmethod
    def instance_move_create(self, rollout, instance_uuid, source_host,
                             planned_host=None, instance_name=None,
                             state='pending'):
        """Record a (planned) move of an instance; return the InstanceMove.

        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def instance_move_list(self, rollout, instance_uuid=None,
                           source_host=None, state=None):
        """Return a rollout's InstanceMoves, oldest first.

        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def instance_move_update(self, move_id, values, expected_state=None):
        """Update columns of an instance move (by its id) and return it.

        :param values: among ``state``, ``dest_host``, ``planned_host``,
            ``migration_id``, ``error``, ``started_at``, ``finished_at``.
        :raises InstanceMoveNotFound:
        :raises StateConflict:
        :raises InvalidInput:
        """

    # Events: the history of rollouts and hosts.

    @abc.abstractmethod
    def event_add(self, message, level='info', rollout=None, host=None,
                  step=None):
        """Append an event and return it.

        :param level: debug, info, warning or error.
        :raises RolloutNotFound:
        :raises InvalidInput: an unknown level.
        """

    @abc.abstractmethod
    def event_list(self, rollout=None, host=None, after_id=None, limit=None):
        """Return events in the order they were added.

        :param rollout: only this rollout's events, or these rollouts'
            (a list); None: all.
        :param host: only this host's events.
        :param after_id: only events added after this one (for following).
        :param limit: at most this many (the first ones).
        :raises RolloutNotFound:
        """

    # Schedules: rollouts started at a time (once, or recurring).

    @abc.abstractmethod
    def schedule_create(self, next_run_at, name=None, rollout=None,
                        spec=None, every=None):
        """Schedule a rollout (state ``scheduled``) and return the Schedule.

        :param next_run_at: when (naive UTC).
        :param rollout: once: the planned rollout to start.
        :param spec: recurring: JSON-serialisable arguments of the plan made
            for each occurrence; with ``every`` (e.g. ``month``).
        :raises ScheduleExists: the name is taken.
        :raises RolloutNotFound:
        """

    @abc.abstractmethod
    def schedule_get(self, schedule):
        """Return the Schedule of this id, uuid or name.

        :raises ScheduleNotFound:
        """

    @abc.abstractmethod
    def schedule_list(self, state=None, due_before=None, rollout=None):
        """Return Schedules by next run: of this state or states, due at
        or before ``due_before``, of this rollout."""

    @abc.abstractmethod
    def schedule_update(self, schedule, values, expected_state=None,
                        expected_next_run_at=None):
        """Update columns of a schedule (compare and swap on its state and
        next run) and return it.

        Starting an occurrence moves ``next_run_at`` on with
        ``expected_next_run_at`` set to the due time: of two processes
        doing it at once, only one succeeds.

        :param values: among ``state``, ``next_run_at``, ``last_rollout``,
            ``error``.
        :raises ScheduleNotFound:
        :raises StateConflict: not in the expected state or next run.
        """
