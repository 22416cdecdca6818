"""The host inventory: loading, defaults, and clear errors on bad files."""

import os

from oslo_config import cfg
import pytest

from upgrader.common import exception
from upgrader.conf import host_access
from upgrader.drivers.host import inventory

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
SAMPLE = os.path.join(ROOT, 'etc', 'upgrader', 'host-inventory.yaml.sample')

GOOD = """\
defaults:
  user: upgrader
  key_file: keys/id_ed25519
groups:
  rack1:
    defaults:
      port: 2222
      jump_host: jump@bastion:2200
    hosts:
      cmp001: {address: 10.0.0.1, port: 22}
      cmp002: 10.0.0.2
      cmp003:
  rack2:
    defaults:
      package_manager: dnf
      sudo: true
      host_key_policy: accept-new
      known_hosts_file: /etc/upgrader/known_hosts
    hosts:
      cmp101: {user: root, jump_host: '[fd00::1]'}
"""


@pytest.fixture
def write(tmp_path):
    def write(text):
        path = tmp_path / 'inventory.yaml'
        path.write_text(text)
        return str(path)
    return write


def _error(path):
    with pytest.raises(exception.ConfigInvalid) as info:
        inventory.load(path)
    message = str(info.value)
    assert message.startswith('Invalid configuration: host inventory %s: '
                              % path)
    assert '\n' not in message
    return message


def test_defaults_merge_host_over_group_over_file(write, tmp_path):
    hosts = inventory.load(write(GOOD)).hosts
    assert sorted(hosts) == ['cmp001', 'cmp002', 'cmp003', 'cmp101']
    key = str(tmp_path / 'keys' / 'id_ed25519')
    assert hosts['cmp001'] == inventory.HostEntry(
        name='cmp001', group='rack1', address='10.0.0.1', key_file=key,
        known_hosts_file=os.path.expanduser('~/.ssh/known_hosts'),
        user='upgrader', port=22,
        jump_host=inventory.JumpHost(address='bastion', port=2200,
                                     user='jump'))
    assert hosts['cmp002'].address == '10.0.0.2'
    assert hosts['cmp002'].port == 2222
    assert hosts['cmp003'].address == 'cmp003'
    cmp101 = hosts['cmp101']
    assert (cmp101.user, cmp101.port, cmp101.package_manager, cmp101.sudo,
            cmp101.host_key_policy, cmp101.known_hosts_file) == (
        'root', 22, 'dnf', True, 'accept-new', '/etc/upgrader/known_hosts')
    assert cmp101.jump_host == inventory.JumpHost(address='fd00::1')


def test_the_sample_is_a_valid_inventory():
    hosts = inventory.load(SAMPLE).hosts
    assert sorted(hosts) == ['cmp001', 'cmp002', 'cmp003', 'cmp101',
                             'cmp102']
    assert hosts['cmp001'].jump_host.address == 'bastion1.example.org'
    assert hosts['cmp102'].port == 22 and not hosts['cmp102'].sudo
    assert hosts['cmp101'].package_manager == 'dnf'


def test_get_and_missing(write):
    inv = inventory.load(write(GOOD))
    assert inv.get('cmp002').name == 'cmp002'
    with pytest.raises(exception.ConfigInvalid) as info:
        inv.get('cmp999')
    assert 'host cmp999 is not in the host inventory' in str(info.value)
    assert inv.missing(['cmp009', 'cmp001', 'cmp005']) == ['cmp009',
                                                           'cmp005']


def _conf(path=None):
    conf = cfg.ConfigOpts()
    host_access.register_opts(conf)
    conf([])
    conf.set_override('inventory_file', path, group='host_access')
    return conf


def test_configured_reads_the_configured_inventory(write):
    conf = _conf(write(GOOD))
    assert inventory.configured(conf).missing(['cmp001', 'cmp404']) == [
        'cmp404']
    with pytest.raises(exception.ConfigInvalid) as info:
        inventory.configured(_conf())
    assert '[host_access] inventory_file is not set' in str(info.value)


def test_malformed_yaml(write):
    message = _error(write('groups:\n  rack1: {hosts: [\n'))
    assert 'not valid YAML' in message and 'line 3, column 1' in message


def test_unreadable_file(tmp_path):
    message = _error(str(tmp_path / 'nowhere.yaml'))
    assert 'cannot read it: No such file or directory' in message


@pytest.mark.parametrize('text, expected', [
    ('hosts: {}\n',
     'the file: unknown key(s) hosts (allowed: defaults, groups)'),
    ('defaults: {prot: 22}\n',
     'defaults: unknown key(s) prot (allowed: user, port, key_file'),
    ('groups: {g: {default: {}}}\n',
     'groups.g: unknown key(s) default (allowed: defaults, hosts)'),
    ('groups: {g: {hosts: {cmp1: {adress: x}}}}\n',
     'groups.g.hosts.cmp1: unknown key(s) adress (allowed: address, user'),
])
def test_unknown_keys(write, text, expected):
    assert expected in _error(write(text))


@pytest.mark.parametrize('text, expected', [
    ('- a\n', 'the file: expected a mapping, got list'),
    ('groups: [g]\n', 'groups: expected a mapping, got list'),
    ('defaults: {port: x}\n',
     "defaults.port: 'x' is not a port number (1-65535)"),
    ('defaults: {port: 70000}\n', 'defaults.port: 70000 is not a port'),
    ('defaults: {package_manager: yum}\n',
     "defaults.package_manager: 'yum' is not one of apt, dnf"),
    ('defaults: {sudo: "yes"}\n', "defaults.sudo: 'yes' is not true or "
                                  "false"),
    ('defaults: {host_key_policy: auto-add}\n',
     "'auto-add' is not one of reject, accept-new"),
    ('defaults: {jump_host: "a@b@c"}\n',
     "defaults.jump_host: 'a@b@c' is not [user@]host[:port]"),
    ('groups: {g: {hosts: {cmp1: {address: 5}}}}\n',
     'groups.g.hosts.cmp1.address: 5 is not a host name or address'),
    ('groups: {g: {hosts: {cmp1: }}}\n', 'groups.g.hosts.cmp1: no key_file'),
])
def test_bad_values(write, text, expected):
    assert expected in _error(write(text))


def test_a_host_in_two_groups(write):
    message = _error(write('defaults: {key_file: k}\ngroups:\n'
                           '  a: {hosts: {cmp1: }}\n'
                           '  b: {hosts: {cmp1: }}\n'))
    assert 'host cmp1 is in groups a and b' in message


def test_a_host_twice_in_one_group(write):
    message = _error(write('defaults: {key_file: k}\ngroups:\n'
                           '  a:\n    hosts:\n'
                           '      cmp1: 10.0.0.1\n'
                           '      cmp1: 10.0.0.2\n'))
    assert "duplicate key 'cmp1' (line 6, column 7)" in message
