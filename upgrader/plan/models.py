"""The plan of a rollout: policy in, waves of hosts and instance moves out.

Everything here round-trips through JSON (``to_dict`` / ``from_dict``): a plan
is stored with its rollout and shown to the operator before anything moves.
"""

import dataclasses

from upgrader.common import inventory as inv

# Seconds each host step is predicted to take when the template says nothing.
DEFAULT_STEP_SECONDS = {
    'disable_service': 2,
    'upgrade_packages': 120,
    'reboot': 300,
    'health_check': 30,
    'enable_service': 2,
}

# Server group policies whose members must not share a host; by default a
# wave disrupts at most one member of such a group.
ANTI_AFFINITY = frozenset(['anti-affinity', 'soft-anti-affinity'])

# What happens to one instance of a host the rollout upgrades. It moves:
LIVE_MIGRATE = 'live-migrate'
COLD_MIGRATE = 'cold-migrate'
# or it stays on its host: stopped before the host goes down and started
# after it is back, or its owner is notified and the host job waits for them.
STOP_START = 'stop-start'
NOTIFY_AND_WAIT = 'notify-and-wait'
MOVE_ACTIONS = (LIVE_MIGRATE, COLD_MIGRATE)
STAY_ACTIONS = (STOP_START, NOTIFY_AND_WAIT)
# What an instance may ask for (see upgrader.plan.actions).
INSTANCE_ACTIONS = MOVE_ACTIONS + STAY_ACTIONS
# Host-wide outcomes only the policy may choose for an unmovable instance.
UNMOVABLE_SKIP_HOST = 'skip-host'
UNMOVABLE_FAIL = 'fail'
UNMOVABLE_ACTIONS = ((UNMOVABLE_SKIP_HOST, UNMOVABLE_FAIL, COLD_MIGRATE)
                     + STAY_ACTIONS)


@dataclasses.dataclass
class Policy:
    """How a rollout may disturb the cloud.

    ``max_parallel``: hosts per wave (at least 1).

    ``max_unavailable_per_az``, ``max_unavailable_per_aggregate``: at most
    this many hosts of one availability zone (hosts without a zone form one)
    or of one host aggregate (``Host.aggregates``) in a wave. An int of at
    least 1, or a share of all the zone's or aggregate's compute hosts as a
    string such as ``'25%'`` (whole percent, rounded down, at least 1 host).
    Only hosts this rollout takes out count. None: no limit but
    ``max_parallel``.

    ``canary``: the first wave holds one host, the planner's best first host
    (the first of ``first_hosts`` if set), and is marked ``Wave.canary`` so
    the controller can pause after it.

    ``first_hosts``, ``last_hosts``: host names the rollout takes before /
    after every other host, in this order as far as the limits allow (a
    pinned host waits for the next wave rather than let a later one pass).

    ``max_group_disruption``: at most this many members of one server group
    on the hosts of one wave (moving or down at once): an int of at least 1
    or a share of the group's members as a string such as ``'50%'``. None:
    1 for anti-affinity groups (hard and soft), no limit for the others. A
    host holding more members than the budget goes with no other member of
    that group, and the plan warns.

    ``unmovable``: what happens to an instance that cannot be live-migrated
    (``Instance.live_migration_blockers``), unless it asks for an action
    itself: ``skip-host`` (its host is left alone), ``fail`` (no plan),
    ``cold-migrate``, ``stop-start`` or ``notify-and-wait``.

    ``migration_base_seconds``, ``migration_seconds_per_gib``: predicted
    time of a migration (live or cold), a fixed cost plus a cost per GiB of
    guest RAM. ``step_seconds``: predicted seconds per host step. Stopping,
    starting and waiting for owners are not predicted.
    """

    max_parallel: int = 1
    max_unavailable_per_az: int | str | None = None
    max_unavailable_per_aggregate: int | str | None = None
    canary: bool = False
    first_hosts: list[str] = dataclasses.field(default_factory=list)
    last_hosts: list[str] = dataclasses.field(default_factory=list)
    max_group_disruption: int | str | None = None
    unmovable: str = UNMOVABLE_SKIP_HOST
    migration_base_seconds: float = 10.0
    migration_seconds_per_gib: float = 4.0
    step_seconds: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_STEP_SECONDS))

    def migration_seconds(self, resources):
        return (self.migration_base_seconds
                + self.migration_seconds_per_gib * resources.memory_mb / 1024)


@dataclasses.dataclass
class Move:
    """One planned migration (``action``: live-migrate or cold-migrate)."""

    instance: str               # uuid
    name: str
    source: str
    destination: str
    resources: inv.Resources
    # True when the destination will itself be drained later in this rollout,
    # so this instance moves again; ``reason`` says why no better host existed.
    moves_again: bool = False
    reason: str | None = None
    action: str = LIVE_MIGRATE


@dataclasses.dataclass
class Stay:
    """An instance that stays on its host while the host is upgraded.

    ``action`` is stop-start or notify-and-wait; ``reason`` says why it
    does not migrate.
    """

    instance: str               # uuid
    name: str
    host: str
    action: str
    reason: str


@dataclasses.dataclass
class HostLoad:
    """A destination's planned load once a wave's moves have landed."""

    host: str
    used: inv.Resources
    capacity: inv.Resources


@dataclasses.dataclass
class Wave:
    """Hosts upgraded at once, and what happens to their instances.

    ``canary``: the policy's canary wave (a single host), after which the
    controller may pause.
    """

    index: int
    hosts: list[str]
    moves: list[Move] = dataclasses.field(default_factory=list)
    # The capacity proof: every destination of this wave, after its moves.
    loads: list[HostLoad] = dataclasses.field(default_factory=list)
    predicted_seconds: float = 0.0
    canary: bool = False
    stays: list[Stay] = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, d):
        # Plans stored before canaries and stays lack those keys.
        return cls(index=d['index'], hosts=list(d['hosts']),
                   moves=[Move(**dict(m, resources=inv.Resources(
                       **m['resources']))) for m in d['moves']],
                   loads=[HostLoad(host=x['host'],
                                   used=inv.Resources(**x['used']),
                                   capacity=inv.Resources(**x['capacity']))
                          for x in d['loads']],
                   predicted_seconds=d['predicted_seconds'],
                   canary=d.get('canary', False),
                   stays=[Stay(**x) for x in d.get('stays', [])])

    def actions_on(self, host):
        """{instance uuid: action} for every instance ``host`` holds when
        its upgrade starts."""
        actions = {m.instance: m.action for m in self.moves
                   if m.source == host}
        actions.update((s.instance, s.action) for s in self.stays
                       if s.host == host)
        return actions


@dataclasses.dataclass
class Plan:
    policy: Policy
    waves: list[Wave] = dataclasses.field(default_factory=list)
    # Hosts in scope that this rollout leaves alone, with the reason.
    skipped_hosts: dict = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    # The fewest migrations any plan for this cloud and scope can make.
    lower_bound_migrations: int = 0
    predicted_seconds: float = 0.0

    @property
    def moves(self):
        return [m for w in self.waves for m in w.moves]

    @property
    def migrations(self):
        return len(self.moves)

    @property
    def hosts(self):
        return [h for w in self.waves for h in w.hosts]

    def migrations_per_instance(self):
        counts = {}
        for move in self.moves:
            counts[move.instance] = counts.get(move.instance, 0) + 1
        return counts

    def wave_of(self, host):
        for wave in self.waves:
            if host in wave.hosts:
                return wave
        return None

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['migrations'] = self.migrations
        return data

    @classmethod
    def from_dict(cls, data):
        return cls(policy=Policy(**data['policy']),
                   waves=[Wave.from_dict(w) for w in data['waves']],
                   skipped_hosts=dict(data['skipped_hosts']),
                   warnings=list(data['warnings']),
                   lower_bound_migrations=data['lower_bound_migrations'],
                   predicted_seconds=data['predicted_seconds'])
