"""The ansible host-access driver: ansible-runner running real playbooks
against the local connection (ansible_connection=local).

The status playbook is the shipped one (etc/upgrader/playbooks/status.yml);
the upgrade and reboot playbooks of these tests (playbooks/ beside this
file) act on a fake host of tests/fixtures/sshd.py, whose dpkg-query,
apt-get and systemctl stand-ins keep versions and a boot id in files.
"""

import logging
import os
import shutil
import socket
import subprocess
import sys

import pytest
import yaml

from tests.fixtures import sshd
from upgrader.common import exception
from upgrader.drivers import host as host_drivers
from upgrader.drivers.host import impl_ansible
from upgrader.tasks import base as tasks_base
from upgrader.tasks import host as host_tasks

HOST = 'cmp001'
OLD = {'nova-compute': '29.0.0', 'qemu': '8.1.0'}
NEW = {'nova-compute': '30.0.0', 'qemu': '8.2.0'}
SECRET = 's3cret-Passphrase'
HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, '..', '..', '..', '..', 'etc', 'upgrader',
                       'playbooks')


class Events(tasks_base.Recorder):
    def __init__(self):
        self.events = []

    def event(self, rollout_id, host, step, message, level='INFO'):
        self.events.append((host, step, message))


@pytest.fixture
def fake(tmp_path):
    host = sshd.FakeHost(tmp_path / 'host')
    host.packages = dict(OLD, unrelated='1.0')
    host.available = {p: [OLD[p], NEW[p]] for p in OLD}
    return host


def _local(fake=None):
    """Inventory variables of a host reached by the local connection."""
    hostvars = {'ansible_connection': 'local',
                'ansible_python_interpreter': sys.executable}
    if fake is not None:
        hostvars.update(
            upgrader_boot_id_file=fake.boot_id_file,
            upgrader_environment={
                'PATH': '%s:%s' % (fake.bin, os.environ['PATH']),
                'FAKE_HOST': fake.directory})
    return hostvars


@pytest.fixture
def make_driver(tmp_path, conf_for):
    """make_driver({host: hostvars}, **host_access options)."""
    def make(hosts, **options):
        inventory = tmp_path / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
        values = {
            'driver': 'ansible', 'ansible_inventory': str(inventory),
            'ansible_status_playbook': os.path.join(SHIPPED, 'status.yml'),
            'ansible_upgrade_playbook': os.path.join(HERE, 'playbooks',
                                                     'fake-upgrade.yml'),
            'ansible_reboot_playbook': os.path.join(HERE, 'playbooks',
                                                    'fake-reboot.yml'),
            'boot_poll_interval': '0.05', 'command_timeout': '60'}
        values.update(options)
        driver = host_drivers.fetch(conf_for(None, host_access=values))
        assert isinstance(driver, impl_ansible.AnsibleHostDriver)
        return driver
    return make


def test_shipped_status_playbook_reads_this_machine(make_driver):
    # The real dpkg database and boot id of the machine the tests run on.
    driver = make_driver({HOST: _local()})
    status = driver.status(HOST, packages=['bash', 'no-such-package'])
    dpkg = subprocess.run(['dpkg-query', '--show', '--showformat',
                           '${Version}', 'bash'], capture_output=True,
                          text=True, check=True).stdout
    with open('/proc/sys/kernel/random/boot_id') as f:
        boot_id = f.read().strip()
    assert status.reachable
    assert (status.boot_id, status.packages) == (boot_id, {'bash': dpkg})


def test_upgrade_and_revert_through_the_task(fake, make_driver, tmp_path,
                                             monkeypatch, caplog):
    downgrade = tmp_path / 'fake-downgrade.yml'
    shutil.copy(os.path.join(HERE, 'playbooks', 'fake-upgrade.yml'),
                downgrade)
    driver = make_driver({HOST: _local(fake)},
                         ansible_downgrade_playbook=str(downgrade))
    events = Events()
    monkeypatch.setattr(tasks_base, '_runtime', tasks_base.Runtime(
        compute=None, hosts=driver, recorder=events))
    caplog.set_level(logging.INFO, logger=impl_ansible.__name__)
    task = host_tasks.UpgradePackages(HOST)

    result = task.execute('r1', HOST, dict(NEW, keystone='27.0.0'))

    assert result == {'versions': OLD, 'boot_id': 'boot-0'}
    assert fake.packages == dict(NEW, unrelated='1.0')
    (_, step, message), = events.events
    assert step == 'upgrade_packages'
    assert message.startswith('packages upgraded: nova-compute=30.0.0, '
                              'qemu=8.2.0 (output: ')
    # ansible's output, the stand-in's lines in it.
    assert 'Setting up nova-compute (30.0.0)' in message
    assert 'fake-upgrade.yml' in caplog.text

    task.revert('r1', HOST, result)

    assert fake.packages == dict(OLD, unrelated='1.0')
    assert events.events[-1][2].startswith(
        'packages restored: nova-compute=29.0.0, qemu=8.1.0 (output: ')
    assert 'fake-downgrade.yml' in caplog.text


def test_failed_playbook_quotes_the_last_lines(fake, make_driver, caplog):
    driver = make_driver({HOST: dict(_local(fake), admin_password=SECRET)})
    caplog.set_level(logging.DEBUG, logger=impl_ansible.__name__)

    with pytest.raises(exception.HostActionFailed) as info:
        driver.install_packages(HOST, {'nova-compute': '31.0.0'})

    message = str(info.value)
    assert message.startswith('Host cmp001: install packages (playbook '
                              'fake-upgrade.yml) failed: exited 2: ')
    assert "E: Version '31.0.0' for 'nova-compute' was not found" in message
    assert fake.packages == dict(OLD, unrelated='1.0')


def test_output_and_logs_mask_secrets(fake, make_driver, tmp_path, caplog):
    leaky = tmp_path / 'leaky.yml'
    leaky.write_text(yaml.safe_dump([{
        'hosts': '{{ upgrader_host }}', 'gather_facts': False,
        'tasks': [{'ansible.builtin.fail': {
            'msg': 'cannot log in with admin_password=%s' % SECRET}}]}]))
    driver = make_driver({HOST: _local(fake)},
                         ansible_reboot_playbook=str(leaky))
    caplog.set_level(logging.DEBUG, logger=impl_ansible.__name__)

    with pytest.raises(exception.HostActionFailed) as info:
        driver.reboot(HOST)

    assert 'cannot log in with admin_password' in str(info.value)
    assert SECRET not in str(info.value)
    assert 'cannot log in' in caplog.text and SECRET not in caplog.text


def test_reboot_and_back(fake, make_driver):
    driver = make_driver({HOST: _local(fake)})
    out = driver.reboot(HOST)
    assert out == 'Reboot: ok'
    new = driver.wait_for_boot(HOST, 'boot-0', timeout=30)
    assert new == fake.boot_id != 'boot-0'


def test_reboot_that_never_comes_back(fake, make_driver):
    driver = make_driver({HOST: dict(_local(fake), upgrader_never_back=True)})
    driver.reboot(HOST)
    with pytest.raises(exception.HostActionFailed) as info:
        driver.wait_for_boot(HOST, 'boot-0', timeout=0.5)
    assert 'wait for boot failed: not back with a new boot id after 0.5s ' \
           '(last seen: boot id still boot-0)' in str(info.value)


def test_unreachable_host(make_driver):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    # Nothing listens on port: ssh is refused at once.
    driver = make_driver({HOST: {'ansible_host': '127.0.0.1',
                                 'ansible_port': port,
                                 'ansible_connection': 'ssh'}})
    status = driver.status(HOST, packages=['nova-compute'])
    assert not status.reachable
    assert 'Connection refused' in status.activity


def test_hosts_missing_from_the_ansible_inventory(fake, make_driver):
    driver = make_driver({HOST: _local(fake), 'cmp002': None})
    assert driver.unknown_hosts(['cmp404', HOST, 'cmp002', 'cmp405']) == [
        'cmp404', 'cmp405']
    with pytest.raises(exception.HostActionFailed) as info:
        driver.status('cmp404')
    assert 'it did not run on the host (is cmp404 in the Ansible ' \
           'inventory' in str(info.value)


def test_missing_playbook_is_a_config_error(make_driver, tmp_path):
    with pytest.raises(exception.ConfigInvalid) as info:
        make_driver({HOST: _local()},
                    ansible_reboot_playbook=str(tmp_path / 'nope.yml'))
    assert 'ansible_reboot_playbook' in str(info.value)


@pytest.mark.parametrize('playbook', ['upgrade.yml', 'reboot.yml'])
def test_shipped_playbooks_parse(playbook, tmp_path):
    # They change real hosts: here, ansible only reads them.
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {HOST: None}}}))
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
         '--syntax-check', '-i', str(inventory), '-e',
         'upgrader_host=%s' % HOST, os.path.join(SHIPPED, playbook)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
