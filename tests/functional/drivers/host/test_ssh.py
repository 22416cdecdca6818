"""The ssh host-access driver against a real OpenSSH server on 127.0.0.1.

The server's sessions act on a fake host (tests/fixtures/sshd.py): stand-ins
for dpkg-query, apt-get, systemctl and sudo keep versions and a boot id in
files, so the driver runs its real default apt commands.
"""

import logging
import threading
import time

import pytest
import yaml

from upgrader.common import exception
from upgrader.drivers import host as host_drivers
from upgrader.drivers.host import impl_ssh
from upgrader.tasks import base as tasks_base
from upgrader.tasks import host as host_tasks

HOST = 'cmp001'
OLD = {'nova-compute': '29.0.0', 'qemu': '8.1.0'}
NEW = {'nova-compute': '30.0.0', 'qemu': '8.2.0'}
SECRET = 's3cret-Passphrase'


@pytest.fixture
def server(ssh_server):
    """The fake host runs the OLD versions and can install OLD or NEW."""
    ssh_server.host.packages = dict(OLD, unrelated='1.0')
    ssh_server.host.available = {p: [OLD[p], NEW[p]] for p in OLD}
    return ssh_server


@pytest.fixture
def make_driver(tmp_path, conf_for):
    """make_driver(server, **group_defaults, host_access={...})."""
    drivers = []

    def make(server, host_access=None, **group_defaults):
        inventory = tmp_path / 'host-inventory.yaml'
        inventory.write_text(yaml.safe_dump({
            'defaults': {'user': server.user, 'key_file': server.client_key,
                         'known_hosts_file': server.known_hosts},
            'groups': {'test': {
                'defaults': group_defaults,
                'hosts': {HOST: {'address': '127.0.0.1',
                                 'port': server.port}}}}}))
        options = {'driver': 'ssh', 'inventory_file': str(inventory),
                   'boot_id_command': 'cat %s' % server.host.boot_id_file,
                   'boot_poll_interval': '0.05', 'connect_timeout': '2',
                   'command_timeout': '10'}
        options.update(host_access or {})
        driver = host_drivers.fetch(conf_for(None, host_access=options))
        assert isinstance(driver, impl_ssh.SSHHostDriver)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()


def _accepted(server):
    return server.log(tail=1000).count('Accepted publickey')


def test_status_reads_boot_id_and_versions(server, make_driver):
    driver = make_driver(server)
    status = driver.status(HOST, packages=['nova-compute', 'qemu', 'absent'])
    assert status.reachable and status.boot_id == 'boot-0'
    assert status.packages == OLD
    assert driver.status(HOST).packages == {}
    # Three commands, one connection.
    assert _accepted(server) == 1


def test_upgrade_and_revert_through_the_task(server, make_driver,
                                             monkeypatch):
    driver = make_driver(server, sudo=True)
    monkeypatch.setattr(tasks_base, '_runtime',
                        tasks_base.Runtime(compute=None, hosts=driver))
    task = host_tasks.UpgradePackages(HOST)

    result = task.execute('r1', HOST, dict(NEW, keystone='27.0.0'))

    assert result == {'versions': OLD, 'boot_id': 'boot-0'}
    assert server.host.packages == dict(NEW, unrelated='1.0')
    installs = [c for c in server.host.commands() if c[0] == 'apt-get']
    assert len(installs) == 1
    assert 'nova-compute=30.0.0' in installs[0]
    assert 'qemu=8.2.0' in installs[0] and '--allow-downgrades' in installs[0]
    assert ['sudo'] in server.host.commands()

    task.revert('r1', HOST, result)

    assert server.host.packages == dict(OLD, unrelated='1.0')
    assert server.host.boot_id == 'boot-0'


def test_installed_versions_are_not_installed_again(server, make_driver):
    driver = make_driver(server)
    driver.install_packages(HOST, OLD)
    assert [c[0] for c in server.host.commands()] == ['dpkg-query']


def test_failed_install_quotes_the_last_lines(server, make_driver, caplog):
    # The install command carries a password: it never reaches the logs.
    driver = make_driver(server, host_access={
        'apt_install_command': 'env admin_password=%s apt-get install -y '
                               '{packages}' % SECRET})
    caplog.set_level(logging.DEBUG, logger=impl_ssh.__name__)

    with pytest.raises(exception.HostActionFailed) as info:
        driver.install_packages(HOST, {'nova-compute': '31.0.0'})

    message = str(info.value)
    assert message.startswith('Host cmp001: install packages failed: '
                              'exited 100: ')
    assert 'Building dependency tree...' in message
    assert message.endswith(
        "E: Version '31.0.0' for 'nova-compute' was not found")
    assert server.host.packages == dict(OLD, unrelated='1.0')
    assert "E: Version '31.0.0'" in caplog.text
    assert 'admin_password=***' in caplog.text
    assert SECRET not in caplog.text


def test_connection_refused(server, make_driver):
    driver = make_driver(server)
    server.stop()

    status = driver.status(HOST)
    assert not status.reachable and status.boot_id is None
    assert 'Connection refused' in status.activity

    with pytest.raises(exception.HostActionFailed) as info:
        driver.install_packages(HOST, NEW)
    assert str(info.value) == (
        'Host cmp001: install packages failed: cannot connect to '
        '%s@127.0.0.1:%d: Connection refused' % (server.user, server.port))


def test_host_key_mismatch_is_refused(server, make_driver):
    _, other = server.new_key('other_host_key')
    with open(server.known_hosts, 'w') as f:
        f.write(server.known_hosts_line(other))
    driver = make_driver(server)

    for action in (lambda: driver.status(HOST),
                   lambda: driver.install_packages(HOST, NEW)):
        with pytest.raises(exception.HostActionFailed) as info:
            action()
        assert ('host key of %s@127.0.0.1:%d does not match %s'
                % (server.user, server.port, server.known_hosts)
                in str(info.value))
        assert 'refusing to connect' in str(info.value)
    assert server.host.commands() == []
    assert _accepted(server) == 0


def test_unknown_host_key_is_refused_unless_accept_new(server, make_driver):
    open(server.known_hosts, 'w').close()
    with pytest.raises(exception.HostActionFailed) as info:
        make_driver(server).status(HOST)
    assert 'unknown host key ssh-ed25519 SHA256:' in str(info.value)
    assert 'host_key_policy: accept-new' in str(info.value)

    assert make_driver(server, host_key_policy='accept-new').status(
        HOST).reachable
    with open(server.known_hosts) as f:
        assert f.read() == server.known_hosts_line()
    # Known now: the default policy accepts it.
    assert make_driver(server).status(HOST).reachable


def test_reboot_and_back(server, make_driver):
    driver = make_driver(server)
    old = driver.status(HOST).boot_id

    driver.reboot(HOST)
    # The host goes down, and comes back a moment later.
    server.stop()
    threading.Timer(0.5, server.start).start()
    new = driver.wait_for_boot(HOST, old, timeout=15)

    assert new != old and new == server.host.boot_id
    assert ['systemctl', 'reboot'] in server.host.commands()
    assert driver.status(HOST).boot_id == new


def test_reboot_that_never_comes_back(server, make_driver):
    driver = make_driver(server)
    old = driver.status(HOST).boot_id
    with pytest.raises(exception.HostActionFailed) as info:
        driver.wait_for_boot(HOST, old, timeout=0.3)
    assert str(info.value) == (
        'Host cmp001: wait for boot failed: not back with a new boot id after '
        '0.3s (last seen: boot id still boot-0)')

    driver.reboot(HOST)
    server.stop()
    started = time.monotonic()
    with pytest.raises(exception.HostActionFailed) as info:
        driver.wait_for_boot(HOST, old, timeout=1)
    assert time.monotonic() - started < 5
    assert 'not back with a new boot id after 1s (last seen: unreachable: ' \
           'cannot connect to' in str(info.value)
    assert str(info.value).endswith('Connection refused)')


def test_failed_reboot_command(server, make_driver):
    driver = make_driver(server, host_access={
        'reboot_command': 'echo "Failed to reboot: access denied" >&2; '
                          'exit 1'})
    with pytest.raises(exception.HostActionFailed) as info:
        driver.reboot(HOST)
    assert str(info.value) == ('Host cmp001: reboot failed: exited 1: '
                               'Failed to reboot: access denied')


def test_a_command_that_hangs_times_out(server, make_driver):
    driver = make_driver(server, host_access={
        'reboot_command': 'echo going down; sleep 30',
        'command_timeout': '1'})
    started = time.monotonic()
    with pytest.raises(exception.HostActionFailed) as info:
        driver.reboot(HOST)
    assert time.monotonic() - started < 5
    assert str(info.value) == ('Host cmp001: reboot failed: still running '
                               'after 1.0s: going down')


def test_dead_connection_is_replaced(server, make_driver):
    driver = make_driver(server)
    assert driver.status(HOST).reachable
    # Down and up again behind the driver's back: its connection is dead.
    server.stop()
    server.start()
    assert driver.status(HOST, packages=['qemu']).packages == {
        'qemu': OLD['qemu']}
    assert _accepted(server) == 2


def test_commands_are_bounded_and_share_one_connection(server, make_driver):
    # A query that fails if another one runs at the same time.
    query = ('mkdir "$$FAKE_HOST/busy" || exit 99; sleep 0.2; '
             'rmdir "$$FAKE_HOST/busy"; dpkg-query '
             "--showformat='$${Package} $${Version} $${db:Status-Status}\\n' "
             '{packages}')
    driver = make_driver(server, host_access={'apt_query_command': query,
                                              'max_sessions': '1'})
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        driver.status(HOST, packages=['qemu']).packages)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{'qemu': OLD['qemu']}] * 3
    assert _accepted(server) == 1


def test_jump_host(server, make_driver):
    driver = make_driver(server, jump_host='127.0.0.1:%d' % server.port)
    assert driver.status(HOST, packages=['qemu']).packages == {
        'qemu': OLD['qemu']}
    # The jump host's connection, and the host's inside it.
    assert _accepted(server) == 2


def test_encrypted_key(server, make_driver, caplog):
    server.client_key, key_line = server.new_key('id_encrypted',
                                                 passphrase=SECRET)
    server.authorize(key_line)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(exception.ConfigInvalid) as info:
        make_driver(server).status(HOST)
    assert 'private key %s' % server.client_key in str(info.value)

    driver = make_driver(server, host_access={'key_passphrase': SECRET})
    assert driver.status(HOST).reachable
    assert SECRET not in caplog.text


@pytest.mark.parametrize('installed, host_access', [
    ({'unrelated': '1.0'}, None),
    # A query template that reads nothing must not pass for "up to date".
    (dict(OLD), {'apt_query_command': 'true {packages}'}),
])
def test_no_release_package_on_the_host_fails(server, make_driver,
                                              monkeypatch, installed,
                                              host_access):
    server.host.packages = installed
    driver = make_driver(server, host_access=host_access)
    monkeypatch.setattr(tasks_base, '_runtime',
                        tasks_base.Runtime(compute=None, hosts=driver))

    with pytest.raises(exception.HostActionFailed) as info:
        host_tasks.UpgradePackages(HOST).execute('r1', HOST, NEW)

    assert str(info.value) == (
        "Host cmp001: package query failed: none of the release's packages "
        "(nova-compute, qemu) is installed there")
    assert 'apt-get' not in [c[0] for c in server.host.commands()]
    assert server.host.packages == installed
