"""The ssh host driver without a server: settings, commands and parsing.

Its conversations with a real OpenSSH server are tested in
tests/functional/drivers/host/test_ssh.py.
"""

from oslo_config import cfg
import pytest

from upgrader.common import exception
from upgrader.conf import host_access
from upgrader.drivers.host import impl_ssh

INVENTORY = """\
defaults: {key_file: id_ed25519}
groups:
  debian: {hosts: {cmp001: }}
  rhel:
    defaults: {package_manager: dnf, sudo: true}
    hosts: {cmp101: }
"""


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'inventory.yaml'
    path.write_text(INVENTORY)
    conf = cfg.ConfigOpts()
    host_access.register_opts(conf)
    conf([])
    conf.set_override('driver', 'ssh', group='host_access')
    conf.set_override('inventory_file', str(path), group='host_access')
    return conf


class Replies:
    """Stands for _run: the commands asked, and a canned result for each."""

    def __init__(self, *results):
        self.results = list(results)
        self.commands = []

    def __call__(self, entry, command, timeout, merge_stderr=False):
        self.commands.append(command)
        return self.results.pop(0)


def _driver(conf, *results):
    driver = impl_ssh.SSHHostDriver(conf)
    driver._run = Replies(*results)
    return driver


def _result(status, stdout='', stderr=''):
    return impl_ssh._Result(status, stdout, stderr)


def test_an_inventory_is_required(conf):
    conf.clear_override('inventory_file', group='host_access')
    with pytest.raises(exception.ConfigInvalid) as info:
        impl_ssh.SSHHostDriver(conf)
    assert 'inventory_file is not set; the ssh driver needs' in str(
        info.value)


def test_templates_need_their_packages(conf):
    conf.set_override('dnf_install_command', 'dnf install -y',
                      group='host_access')
    with pytest.raises(exception.ConfigInvalid) as info:
        impl_ssh.SSHHostDriver(conf)
    assert 'dnf_install_command has no {packages}' in str(info.value)


def test_default_templates_have_their_dollars():
    conf = cfg.ConfigOpts()
    host_access.register_opts(conf)
    conf([])
    assert "--showformat='${Package} ${Version} ${db:Status-Status}\\n'" in (
        conf.host_access.apt_query_command)


def test_dnf_host_install_through_sudo(conf):
    rpm = ('nova-compute 1:30.0.0-1.el9 installed\n'
           'package qemu-kvm is not installed\n')
    driver = _driver(conf, _result(1, rpm), _result(0, 'Complete!\n'),
                     _result(0, 'nova-compute 1:31.0.0-1.el9 installed\n'
                                'qemu-kvm 8.2.0-1 installed\n'))
    driver.install_packages('cmp101', {'nova-compute': '1:31.0.0-1.el9',
                                       'qemu-kvm': '8.2.0-1'})
    query, install, _ = driver._run.commands
    assert query.startswith('rpm -q --queryformat ')
    assert query.endswith(' nova-compute qemu-kvm')
    assert install == ('sudo -n dnf install -y nova-compute-1:31.0.0-1.el9 '
                       'qemu-kvm-8.2.0-1')


def test_an_install_that_leaves_other_versions_fails(conf):
    driver = _driver(conf, _result(0, 'a 1 installed\n'), _result(0),
                     _result(0, 'a 1 installed\nb 3 installed\n'))
    with pytest.raises(exception.HostActionFailed) as info:
        driver.install_packages('cmp001', {'a': '2', 'b': '3'})
    assert str(info.value) == ('Host cmp001: install packages failed: the '
                               'install command succeeded but a is 1 '
                               '(wanted 2)')


def test_arguments_are_shell_quoted(conf):
    driver = _driver(conf, _result(0, ''))
    assert driver._installed(driver.inventory.get('cmp001'),
                             ['a;reboot']) == {}
    assert driver._run.commands[0].endswith(" 'a;reboot'")


@pytest.mark.parametrize('status, stdout, ok', [
    (0, 'a 1 installed\nb 2 installed\n', True),
    # dpkg-query exits 1, rpm with their number, when some are missing.
    (1, 'a 1 installed\n', True),
    (2, '', True),
    (2, 'a 1 installed\n', False),
    (1, 'a 1 installed\nb 2 installed\n', False),
    (127, '', False),
    (impl_ssh.DROPPED, '', False),
])
def test_query_exit_status(conf, status, stdout, ok):
    driver = _driver(conf, _result(status, stdout, 'sh: rpm: not found'))
    entry = driver.inventory.get('cmp001')
    if ok:
        assert driver._installed(entry, ['a', 'b']) == impl_ssh._versions(
            stdout, ['a', 'b'])
    else:
        with pytest.raises(impl_ssh._Error):
            driver._installed(entry, ['a', 'b'])


def test_versions_keep_installed_packages_asked_about():
    text = ('nova-compute 2:30.0.0-0ubuntu1 installed\n'
            'qemu 8.2.0 config-files\n'
            'libvirt  not-installed\n'
            'other 1.0 installed\n'
            'package kernel is not installed\n'
            'dpkg-query: no packages found matching kernel\n')
    assert impl_ssh._versions(text, ['nova-compute', 'qemu', 'libvirt',
                                     'kernel']) == {
        'nova-compute': '2:30.0.0-0ubuntu1'}


def test_a_failure_quotes_the_last_lines_masked():
    lines = ''.join('line %d\n' % i for i in range(20))
    error = impl_ssh._failure(_result(
        3, lines, 'E: bad password=hunter2\n'))
    assert str(error) == 'exited 3: %s | E: bad password=***' % ' | '.join(
        'line %d' % i for i in range(11, 20))
    dropped = impl_ssh._failure(_result(impl_ssh.DROPPED, ''))
    assert isinstance(dropped, impl_ssh._Unreachable)
    assert str(dropped) == 'connection lost before the command ended'


def test_unknown_host(conf):
    with pytest.raises(exception.ConfigInvalid) as info:
        _driver(conf).status('cmp999')
    assert 'host cmp999 is not in the host inventory' in str(info.value)
