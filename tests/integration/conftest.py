"""The same scenarios on two clouds: upgrader's simulator and a real Nova.

``cloud_factory(servers=N)`` gives a :class:`Cloud` of 4 compute hosts with N
servers ACTIVE, on the backend the test is parametrized with (``simulator``
or ``nova``). The ``nova`` backend is the lab of tests/integration/lab,
brought up once per session from the virtual environment that
``make test-nova`` builds (``NOVA_LAB_VENV``, default .work/nova-venv) and
torn down at the end. Without it the nova tests skip, and fail when
``CI=true``.

Only ``make test-nova`` runs this folder (``make test`` ignores it).
"""

import contextlib
import os
import signal
import threading
import time

import pytest

from tests.fixtures import databases
from tests.fixtures import simulator as sim_fixture
from tests.integration.lab import lab as lab_mod

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
VENV = os.environ.get('NOVA_LAB_VENV', os.path.join(ROOT, '.work',
                                                    'nova-venv'))
WORKDIR = os.environ.get('NOVA_LAB_DIR', os.path.join(ROOT, '.work',
                                                      'nova-lab'))
BACKENDS = ('simulator', 'nova')
HOSTS = 4
# The simulator's packages, so both backends start from the same versions.
PACKAGES = {'nova-compute': '29.0.0', 'qemu': '8.0.0'}
# A simulated cloud as plain as the lab: one zone, no aggregates or groups.
SIMULATED = dict(hosts=HOSTS, azs=1, aggregates=0, anti_affinity_groups=0,
                 non_live_migratable_fraction=0.0,
                 max_hosts_out_of_service=2, packages=PACKAGES)


def _unavailable(message):
    if databases.in_ci():
        pytest.fail(message + ' (CI=true: the nova lab is required)',
                    pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope='session')
def nova_lab():
    """The real Nova, up for the whole session, everything killed after."""
    if not os.path.exists(os.path.join(VENV, 'bin', 'nova-compute')):
        _unavailable('no nova lab virtual environment at %s (make test-nova '
                     'builds it)' % VENV)
    databases.require_server('mysql')
    # pytest killed by SIGTERM still tears the lab down.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    lab = lab_mod.NovaLab(WORKDIR, VENV, computes=HOSTS, packages=PACKAGES)
    try:
        try:
            lab.start()
        except lab_mod.LabError as e:
            _unavailable('nova lab did not start: %s' % e)
        print('\nnova lab up in %ss %s, %d MiB' % (
            lab.timings['total'], lab.timings, lab.memory_mb()))
        yield lab
    finally:
        lab.stop()
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum, frame):
    raise SystemExit('SIGTERM')


class Cloud:
    """What a scenario needs of a cloud, whichever backend serves it.

    ``cloud_name`` and ``clouds_yaml`` are what upgrader's config names
    (tests.fixtures.config.write_config takes a Cloud), ``hosts`` the compute
    host names, ``connect()`` an admin openstacksdk connection.
    """

    backend = None

    def __init__(self, cloud_name, clouds_yaml, connect):
        self.cloud_name = cloud_name
        self.clouds_yaml = clouds_yaml
        self.connect = connect
        self.conn = connect()

    @property
    def hosts(self):
        return sorted(s.host for s in
                      self.conn.compute.services(binary='nova-compute'))

    def servers(self):
        return list(self.conn.compute.servers(details=True,
                                              all_projects=True))

    def wait_for(self, predicate, what, timeout=120):
        return lab_mod.wait_until(predicate, timeout, what)

    def compute_pids(self):
        """host -> pid of its nova-compute process, where there is one."""
        return None

    def agent_host(self, host):
        """The host-agent's view of host (reboots, packages)."""
        resp = self.conn.session.get(
            '/hosts/%s' % host,
            endpoint_filter={'service_type': 'host-agent',
                             'interface': 'public'})
        return resp.json()['host']


class SimulatorCloud(Cloud):
    backend = 'simulator'

    def __init__(self, sim):
        super().__init__(sim.cloud_name, sim.clouds_yaml, sim.connect)
        self.sim = sim

    @contextlib.contextmanager
    def compute_killed_after_reboot(self, op, host):
        """host comes back from its reboot with nova-compute down."""
        self.sim.api(self.conn, 'POST', 'simulator-admin', '/faults',
                     json={'fault': {'kind': 'service_no_start',
                                     'host': host}})
        yield

    def violations(self):
        """What the simulator's referee saw go wrong."""
        return self.sim.report()['violations']['details']

    def slow_migrations(self, host):
        """Migrations from host never finish (until aborted)."""
        self.sim.api(self.conn, 'POST', 'simulator-admin', '/faults',
                     json={'fault': {'kind': 'migration_stuck',
                                     'host': host}})


class NovaCloud(Cloud):
    backend = 'nova'

    def __init__(self, lab):
        super().__init__(lab.cloud_name, lab.clouds_yaml, lab.connect)
        self.lab = lab

    def boot(self, count, spare_hosts=0, timeout=600):
        """Boot count servers, none on the first spare_hosts hosts (kept
        disabled meanwhile, so the scheduler passes them by)."""
        spare = [s for s in self.conn.compute.services(binary='nova-compute')
                 if s.host in self.hosts[:spare_hosts]]
        for service in spare:
            self.conn.compute.disable_service(
                service, disabled_reason='lab: kept empty')
        try:
            created = [self.conn.compute.create_server(
                name='lab-vm-%02d' % i, image_id=self.lab.image_id,
                flavor_id=self.lab.flavor_id, networks='none')
                for i in range(count)]
            for server in created:
                self.conn.compute.wait_for_server(server, wait=timeout)
        finally:
            for service in spare:
                self.conn.compute.enable_service(service)

    def slow_migrations(self, host, seconds=600):
        self.lab.set_migration_seconds(seconds)

    @contextlib.contextmanager
    def compute_killed_after_reboot(self, op, host):
        """SIGKILL host's nova-compute as soon as the host is back from its
        reboot (the new process is starting, Nova still shows it down)."""
        stop = threading.Event()
        reboots = self.agent_host(host)['reboots']
        agent = self.lab.agent

        def kill_when_back():
            while not stop.wait(0.1):
                if agent.view(host)['reboots'] > reboots:
                    self.lab.kill_compute(host)
                    return
        killer = threading.Thread(target=kill_when_back, daemon=True)
        killer.start()
        try:
            yield
        finally:
            stop.set()
            killer.join()

    def compute_pids(self):
        return {h: self.lab.procs[h].pid for h in self.lab.hosts
                if h in self.lab.procs}

    def violations(self):
        """What Nova itself shows wrong at the end (it has no referee):
        services left disabled or down, servers not ACTIVE."""
        found = ['%s is %s/%s' % (s.host, s.status, s.state) for s in
                 self.conn.compute.services(binary='nova-compute')
                 if (s.status, s.state) != ('enabled', 'up')]
        return found + ['server %s is %s' % (s.id, s.status)
                        for s in self.servers() if s.status != 'ACTIVE']

    def reset(self):
        """Back to an empty, enabled, all-up lab for the next test."""
        self.lab.set_migration_seconds(lab_mod.DEFAULT_MIGRATION_SECONDS)
        for server in self.servers():
            self.conn.compute.delete_server(server, force=True)
        lab_mod.wait_until(lambda: not self.servers(), 300,
                            'servers deleted')
        for host in self.lab.hosts:
            if host not in self.lab.procs:
                self.lab.start_compute(host)
        for svc in self.conn.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.conn.compute.enable_service(svc)
        self.lab.wait_for_services(self.conn, 'up', timeout=300)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def cloud_factory(backend, request, tmp_path):
    """cloud_factory(servers=N, spare_hosts=S): 4 hosts, N servers ACTIVE
    on them, none on the first S hosts."""
    with contextlib.ExitStack() as stack:
        def make(servers=10, spare_hosts=0, time_scale=1000.0):
            if backend == 'simulator':
                sim = stack.enter_context(sim_fixture.running_simulator(
                    str(tmp_path), instances=servers, time_scale=time_scale,
                    spare_hosts_per_az=spare_hosts, **SIMULATED))
                return SimulatorCloud(sim)
            cloud = NovaCloud(request.getfixturevalue('nova_lab'))
            stack.callback(cloud.reset)
            started = time.monotonic()
            cloud.boot(servers, spare_hosts)
            print('\n%d servers ACTIVE in %.1fs' % (
                servers, time.monotonic() - started))
            return cloud
        yield make
