"""The same scenarios against the simulator and a real Nova.

Each test runs twice (``[simulator]`` and ``[nova]``) through upgrader's own
openstacksdk driver and upgrader-manage, exactly as an operator would; what
they assert is read back from the cloud's own API.
"""

import json
import os
import threading

from upgrader.common import keys
from upgrader.drivers import compute
from upgrader.workflow import templates

from tests.fixtures.config import run
from tests.fixtures.config import write_config
from tests.fixtures.operator import Operator
from tests.integration.conftest import PACKAGES

# Real Nova answers in tens of milliseconds: no need to poll it faster.
WORKFLOW = {'template_dirs': '', 'poll_interval': '0.5'}


def _inventory(cloud, tmp_path):
    config = write_config(tmp_path / 'upgrader.conf', cloud)
    result = run('upgrader-manage', config, 'cloud', 'inventory',
                 '--instances', '--format', 'json', timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_inventory_matches_what_the_cloud_reports(cloud_factory, tmp_path):
    cloud = cloud_factory(servers=8)
    found = _inventory(cloud, tmp_path)
    servers = cloud.servers()
    assert len(servers) == 8
    on_host = {}
    for server in servers:
        on_host.setdefault(server.compute_host, []).append(server)
    services = {s.host: s for s in
                cloud.conn.compute.services(binary='nova-compute')}
    assert len(services) == 4
    assert sorted(h['name'] for h in found['hosts']) == sorted(services)
    for host in found['hosts']:
        service = services[host['name']]
        assert (host['status'], host['state']) == (service.status,
                                                   service.state)
        mine = on_host.get(host['name'], [])
        assert host['instance_count'] == len(mine)
        # Placement's usage is what the flavors of the servers there add
        # up to; its capacity is what the hypervisor offers.
        assert host['used']['vcpus'] == sum(s.flavor.vcpus for s in mine)
        assert host['used']['memory_mb'] == sum(s.flavor.ram for s in mine)
        assert host['capacity']['vcpus'] >= 4
        assert host['capacity']['memory_mb'] > host['used']['memory_mb']
    assert sorted((i['uuid'], i['host'], i['status'])
                  for i in found['instances']) == sorted(
        (s.id, s.compute_host, s.status) for s in servers)
    assert all(i['live_migration_blockers'] == []
               for i in found['instances'])


def test_disable_and_enable_with_the_rollout_as_reason(cloud_factory,
                                                       conf_for):
    cloud = cloud_factory(servers=0)
    driver = compute.fetch(conf_for(cloud))
    host = cloud.hosts[1]
    reason = keys.disabled_reason('3f6e0c1a-rollout')

    def service():
        return [s for s in cloud.conn.compute.services(
            binary='nova-compute', host=host)][0]
    assert service().status == 'enabled'
    driver.disable_service(host, reason)
    assert (service().status, service().disabled_reason) == ('disabled',
                                                             reason)
    seen = driver.get_host(host)
    assert (seen.status, seen.disabled_reason) == ('disabled', reason)
    others = [h for h in driver.get_inventory().hosts if h.name != host]
    assert [h.status for h in others] == ['enabled'] * 3

    driver.enable_service(host)
    assert (service().status, service().disabled_reason) == ('enabled',
                                                             None)
    assert driver.get_host(host).enabled


class ServerWatch:
    """Polls every server's status while a rollout runs (its own
    connection): what was seen, per server."""

    def __init__(self, cloud, interval=1.0):
        self.conn = cloud.connect()
        self.interval = interval
        self.seen = {}
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                for server in self.conn.compute.servers(details=True,
                                                        all_projects=True):
                    self.seen.setdefault(server.id, set()).add(server.status)
            except Exception as e:  # a slow API is not a failed server
                self.errors.append(str(e))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _live_migrations(cloud):
    """server id -> its completed live migrations."""
    done = {}
    for migration in cloud.conn.compute.migrations():
        if (migration.migration_type == 'live-migration'
                and migration.status == 'completed'):
            done.setdefault(migration.server_id, []).append(migration)
    return done


def _template(tmp_path, old, new):
    """compute-rolling-reboot with one setting changed, as a file."""
    shipped = os.path.join(templates.shipped_dir(),
                           'compute-rolling-reboot.yaml')
    text = open(shipped).read()
    assert old in text
    custom = tmp_path / 'custom-reboot.yaml'
    custom.write_text(text.replace(old, new))
    return str(custom)


def _plan(op, template, *extra):
    """A reboot changes no package: the release is what the hosts run."""
    op.ok('release', 'create', 'current', *[
        a for p, v in sorted(PACKAGES.items())
        for a in ('--component', '%s=%s' % (p, v))])
    result = op.ok('rollout', 'plan', '--template', template, '--to',
                   'current', '--max-parallel', '2', '--name', 'r1',
                   '--format', 'json', *extra)
    return json.loads(result.stdout)['plan']


def test_compute_rolling_reboot(cloud_factory, tmp_path):
    # One host starts empty, as operators keep spare capacity: the planner
    # can then move every server once.
    cloud = cloud_factory(servers=10, spare_hosts=1)
    before = {s.id: s.compute_host for s in cloud.servers()}
    op = Operator(cloud, tmp_path, workflow=WORKFLOW)
    plan = _plan(op, 'compute-rolling-reboot')
    assert not [m for w in plan['waves'] for m in w['moves']
                if m.get('moves_again')]
    assert sorted(h for w in plan['waves'] for h in w['hosts']) == \
        cloud.hosts
    pids = cloud.compute_pids()
    reboots = {h: cloud.agent_host(h)['reboots'] for h in cloud.hosts}
    with ServerWatch(cloud) as watch:
        result = op.manage('rollout', 'start', 'r1', timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    assert op.status()['state'] == 'succeeded'

    servers = cloud.servers()
    assert sorted(s.id for s in servers) == sorted(before)
    assert all(s.status == 'ACTIVE' for s in servers)
    # ACTIVE throughout: live-migrating is the only other status seen.
    assert set(watch.seen) == set(before)
    for server_id, statuses in watch.seen.items():
        assert statuses <= {'ACTIVE', 'MIGRATING'}, (server_id, statuses)
    migrations = _live_migrations(cloud)
    assert all(len(m) <= 1 for m in migrations.values()), migrations
    # Every host was drained before its reboot, so every server moved.
    assert set(migrations) == set(before)
    assert all(migrations[s][0].source_compute == h
               for s, h in before.items())
    for service in cloud.conn.compute.services(binary='nova-compute'):
        assert (service.status, service.state) == ('enabled', 'up')
    for host in cloud.hosts:
        assert cloud.agent_host(host)['reboots'] == reboots[host] + 1
    after = cloud.compute_pids()
    if pids is not None:
        # nova-compute really restarted on every host.
        assert all(after[h] != pids[h] for h in cloud.hosts), (pids, after)
    assert cloud.violations() == []


def test_migration_not_done_in_time_is_aborted_and_host_reverted(
        cloud_factory, tmp_path):
    cloud = cloud_factory(servers=4)
    on_host = {}
    for server in cloud.servers():
        on_host.setdefault(server.compute_host, []).append(server.id)
    bad = sorted(on_host)[0]
    reboots = cloud.agent_host(bad)['reboots']
    op = Operator(cloud, tmp_path, workflow=WORKFLOW)
    _plan(op, _template(tmp_path, 'migration_timeout: 900',
                        'migration_timeout: 8'), '--hosts', bad)
    cloud.slow_migrations(bad)
    result = op.manage('rollout', 'start', 'r1', timeout=900)
    assert result.returncode == 2, result.stdout + result.stderr
    assert op.hosts()[bad]['state'] == 'error'
    assert 'not finished after 8' in op.hosts()[bad]['error']

    service = next(cloud.conn.compute.services(binary='nova-compute',
                                               host=bad))
    assert service.status == 'enabled'
    assert cloud.agent_host(bad)['reboots'] == reboots
    stuck = on_host[bad][0]
    cloud.wait_for(lambda: [
        m.status for m in cloud.conn.compute.migrations(instance_uuid=stuck)
    ] == ['cancelled'], 'the migration of %s cancelled' % stuck)
    cloud.wait_for(lambda: all(
        (s.status, s.task_state) == ('ACTIVE', None)
        for s in cloud.servers()), 'every server ACTIVE')
    server = cloud.conn.compute.get_server(stuck)
    assert server.compute_host == bad
    assert cloud.violations() == []


def test_compute_killed_mid_rollout_fails_its_host(cloud_factory, tmp_path):
    """The reboot step waits for nova-compute up after the boot, as a health
    check: a compute killed then fails its host, and max_failed_hosts=0
    stops the rollout."""
    cloud = cloud_factory(servers=8, spare_hosts=1)
    op = Operator(cloud, tmp_path, workflow=WORKFLOW)
    plan = _plan(op, _template(tmp_path, 'timeout: 900\n  - task: health',
                               'timeout: 60\n  - task: health'))
    assert len(plan['waves']) >= 3
    victim = plan['waves'][1]['hosts'][0]
    later = [h for w in plan['waves'][2:] for h in w['hosts']]
    with cloud.compute_killed_after_reboot(op, victim):
        result = op.manage('rollout', 'start', 'r1', timeout=1500)
    assert result.returncode == 2, result.stdout + result.stderr
    assert op.status()['state'] == 'failed'
    hosts = op.hosts()
    assert hosts[victim]['state'] == 'error'
    assert 'nova-compute on %s up: not done' % victim in hosts[victim][
        'error']
    assert all(hosts[h]['state'] == 'pending' for h in later)
    service = next(cloud.conn.compute.services(binary='nova-compute',
                                               host=victim))
    # Reverted: enabled again, but Nova shows the service down.
    assert (service.status, service.state) == ('enabled', 'down')
    servers = cloud.servers()
    assert all(s.status == 'ACTIVE' for s in servers)
    assert victim not in {s.compute_host for s in servers}
