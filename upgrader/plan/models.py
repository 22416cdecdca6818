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

UNMOVABLE_SKIP_HOST = 'skip-host'
UNMOVABLE_FAIL = 'fail'


@dataclasses.dataclass
class Policy:
    """How a rollout may disturb the cloud."""

    max_parallel: int = 1
    # What to do with a host holding an instance that cannot live-migrate.
    unmovable: str = UNMOVABLE_SKIP_HOST
    # Live migration time: a fixed cost plus a cost per GiB of guest RAM.
    migration_base_seconds: float = 10.0
    migration_seconds_per_gib: float = 4.0
    step_seconds: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_STEP_SECONDS))

    def migration_seconds(self, resources):
        return (self.migration_base_seconds
                + self.migration_seconds_per_gib * resources.memory_mb / 1024)


@dataclasses.dataclass
class Move:
    """One planned live migration."""

    instance: str               # uuid
    name: str
    source: str
    destination: str
    resources: inv.Resources
    # True when the destination will itself be drained later in this rollout,
    # so this instance moves again; ``reason`` says why no better host existed.
    moves_again: bool = False
    reason: str | None = None


@dataclasses.dataclass
class HostLoad:
    """A destination's planned load once a wave's moves have landed."""

    host: str
    used: inv.Resources
    capacity: inv.Resources


@dataclasses.dataclass
class Wave:
    index: int
    hosts: list[str]
    moves: list[Move] = dataclasses.field(default_factory=list)
    # The capacity proof: every destination of this wave, after its moves.
    loads: list[HostLoad] = dataclasses.field(default_factory=list)
    predicted_seconds: float = 0.0


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
        def move(d):
            return Move(**dict(d, resources=inv.Resources(**d['resources'])))

        def load(d):
            return HostLoad(host=d['host'], used=inv.Resources(**d['used']),
                            capacity=inv.Resources(**d['capacity']))

        def wave(d):
            return Wave(index=d['index'], hosts=list(d['hosts']),
                        moves=[move(m) for m in d['moves']],
                        loads=[load(x) for x in d['loads']],
                        predicted_seconds=d['predicted_seconds'])

        return cls(policy=Policy(**data['policy']),
                   waves=[wave(w) for w in data['waves']],
                   skipped_hosts=dict(data['skipped_hosts']),
                   warnings=list(data['warnings']),
                   lower_bound_migrations=data['lower_bound_migrations'],
                   predicted_seconds=data['predicted_seconds'])
