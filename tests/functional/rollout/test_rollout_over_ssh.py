"""A rolling upgrade whose package and reboot steps go over SSH.

Compute is the simulator through openstacksdk, as in test_rollout.py; host
access is the ssh driver, one real OpenSSH server on its own loopback port
per compute host. Their sessions' dpkg-query, apt-get, systemctl and
boot-id act on that host through the simulator's host-agent API
(tests/fixtures/sshd.py SimulatedHost), so the referee sees every reboot.
"""

import json

import yaml

from tests.fixtures import sshd
from tests.fixtures.operator import NEW

CLOUD = dict(hosts=4, instances=6, azs=2, spare_hosts_per_az=1,
             anti_affinity_groups=0)


def _config(inventory):
    return {'host_access': {'driver': 'ssh', 'inventory_file': str(inventory),
                            'boot_id_command': 'boot-id',
                            'boot_poll_interval': '0.05',
                            'connect_timeout': '5',
                            'command_timeout': '30'}}


def _write_inventory(path, servers):
    path.write_text(yaml.safe_dump({'groups': {'computes': {'hosts': {
        name: {'address': '127.0.0.1', 'port': s.port, 'user': s.user,
               'key_file': s.client_key, 'known_hosts_file': s.known_hosts}
        for name, s in servers.items()}}}}))


def test_rolling_upgrade_over_ssh_with_zero_violations(operator, tmp_path):
    sshd.require_sshd()
    inventory = tmp_path / 'host-inventory.yaml'
    op = operator(config=_config(inventory), **CLOUD)
    hosts = sorted(op.sim.report()['hosts'])
    servers = {}
    try:
        for name in hosts:
            servers[name] = sshd.SSHServer(
                tmp_path / ('sshd-' + name),
                host=sshd.SimulatedHost.factory(name, op.sim)).start()
        _write_inventory(inventory, servers)
        op.plan()

        result = op.manage('rollout', 'start', 'r1')

        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        for server in servers.values():
            server.stop()
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['instances_killed'] == 0
    for name, info in report['hosts'].items():
        assert {p: info['packages'][p] for p in NEW} == NEW
        assert info['status'] == 'enabled' and info['reboots'] == 1
        # It all went over that host's own SSH server.
        tools = [c[0] for c in servers[name].host.commands()]
        assert tools.count('apt-get') == 1 and tools.count('systemctl') == 1
        assert 'Accepted publickey' in servers[name].log(tail=1000)
    assert op.status()['state'] == 'succeeded'
    upgraded = [e['message'] for e in op.events()
                if e['step'] == 'upgrade_packages'
                and e['message'].startswith('packages upgraded')]
    assert len(upgraded) == len(hosts)
    assert all('Setting up nova-compute (30.0.0) ...' in m for m in upgraded)


def test_host_missing_from_the_inventory_is_refused_at_plan_time(operator,
                                                                 tmp_path):
    inventory = tmp_path / 'host-inventory.yaml'
    op = operator(config=_config(inventory), **CLOUD)
    hosts = sorted(op.sim.report()['hosts'])
    inventory.write_text(yaml.safe_dump({
        'defaults': {'key_file': 'id_ed25519'},
        'groups': {'computes': {'hosts': {h: None for h in hosts[1:-1]}}}}))

    result = op.manage('rollout', 'plan', '--template',
                       'compute-rolling-upgrade', '--to', 'new', '--name',
                       'r1')

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert ('2 host(s) of the rollout missing from the host inventory of '
            'the ssh host driver: ') in lines[0]
    assert sorted(lines[0].rsplit(': ', 1)[1].split(', ')) == [hosts[0],
                                                              hosts[-1]]
    listed = op.ok('rollout', 'list', '--format', 'json').stdout
    assert json.loads(listed) == []
    # A template whose steps never reach the hosts needs no inventory.
    drain = tmp_path / 'drain.yaml'
    drain.write_text('name: drain\nsteps: [disable_service, evacuate, '
                     'enable_service]\n')
    op.ok('rollout', 'plan', '--template', str(drain), '--name', 'r2')
