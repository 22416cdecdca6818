"""What the cloud looks like: value objects read by the compute driver.

The planner consumes these without I/O, so they round-trip through JSON
(``Inventory.to_dict`` / ``Inventory.from_dict``) and carry no client objects.
"""

import dataclasses


@dataclasses.dataclass
class Resources:
    """An amount of the three resources the planner counts."""

    vcpus: float = 0
    memory_mb: float = 0
    disk_gb: float = 0

    def __add__(self, other):
        return Resources(self.vcpus + other.vcpus,
                         self.memory_mb + other.memory_mb,
                         self.disk_gb + other.disk_gb)

    def __sub__(self, other):
        return Resources(self.vcpus - other.vcpus,
                         self.memory_mb - other.memory_mb,
                         self.disk_gb - other.disk_gb)

    def fits_in(self, other):
        return (self.vcpus <= other.vcpus and self.memory_mb <= other.memory_mb
                and self.disk_gb <= other.disk_gb)


@dataclasses.dataclass
class Host:
    """A compute host: its nova-compute service and its capacity."""

    name: str
    service_id: str
    status: str                 # 'enabled' or 'disabled'
    state: str                  # 'up' or 'down'
    availability_zone: str | None = None
    disabled_reason: str | None = None
    aggregates: list[str] = dataclasses.field(default_factory=list)
    # Usable capacity: (total - reserved) * allocation_ratio, per resource.
    capacity: Resources = dataclasses.field(default_factory=Resources)
    used: Resources = dataclasses.field(default_factory=Resources)
    instance_count: int = 0

    @property
    def free(self):
        return self.capacity - self.used

    @property
    def enabled(self):
        return self.status == 'enabled'


@dataclasses.dataclass
class Instance:
    """A server, with what the planner needs to place it."""

    uuid: str
    name: str
    host: str | None
    status: str
    flavor: Resources = dataclasses.field(default_factory=Resources)
    flavor_name: str | None = None
    server_groups: list[str] = dataclasses.field(default_factory=list)
    # Why this instance cannot be live-migrated; empty when it can.
    live_migration_blockers: list[str] = dataclasses.field(
        default_factory=list)
    # Server metadata and tags: the planner reads the instance's requested
    # rollout action from them (``upgrader:action``).
    metadata: dict = dataclasses.field(default_factory=dict)
    tags: list[str] = dataclasses.field(default_factory=list)
    # The owner's project (named when the owner is asked to act).
    project_id: str | None = None

    @property
    def live_migratable(self):
        return not self.live_migration_blockers


@dataclasses.dataclass
class ServerGroup:
    uuid: str
    name: str
    policy: str                 # affinity, anti-affinity, soft-*
    members: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Inventory:
    """Every compute host, instance and server group of a cloud."""

    hosts: list[Host] = dataclasses.field(default_factory=list)
    instances: list[Instance] = dataclasses.field(default_factory=list)
    server_groups: list[ServerGroup] = dataclasses.field(default_factory=list)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        def host(d):
            d = dict(d, capacity=Resources(**d['capacity']),
                     used=Resources(**d['used']))
            return Host(**d)

        def instance(d):
            return Instance(**dict(d, flavor=Resources(**d['flavor'])))

        return cls(hosts=[host(h) for h in data.get('hosts', [])],
                   instances=[instance(i) for i in data.get('instances', [])],
                   server_groups=[ServerGroup(**g)
                                  for g in data.get('server_groups', [])])

    def instances_on(self, host):
        return [i for i in self.instances if i.host == host]
