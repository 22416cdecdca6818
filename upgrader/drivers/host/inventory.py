"""The host inventory: where and how the ssh driver reaches each compute host.

A YAML file (``[host_access] inventory_file``) maps compute hosts, named as
Nova names them, to an address and connection options, in groups whose hosts
share defaults::

    defaults:                    # every host
      user: upgrader
      key_file: /etc/upgrader/ssh/id_ed25519
    groups:
      rack1:
        defaults:                # this group's hosts, over the file's
          jump_host: upgrader@bastion1.example.org:22
        hosts:
          cmp001: {address: 10.1.0.11, port: 2222}
          cmp002: 10.1.0.12      # just the address
          cmp003:                # reached by its own name

A host's own options win over its group's defaults, which win over the
file's. Relative file paths are relative to the inventory file.
"""

import dataclasses
import os
import re

import yaml

from upgrader.common import exception

PACKAGE_MANAGERS = ('apt', 'dnf')
# reject: an unknown host key is refused. accept-new: it is added to the
# known_hosts file (OpenSSH's StrictHostKeyChecking=accept-new). A key that
# differs from the known one is refused under both.
HOST_KEY_POLICIES = ('reject', 'accept-new')
# The known_hosts file of hosts that do not name one: the service user's.
DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts'

_JUMP_HOST = re.compile(r'^(?:(?P<user>[^@\s]+)@)?'
                        r'(?:\[(?P<bracketed>[^\]\s]+)\]|(?P<plain>[^:@\s]+))'
                        r'(?::(?P<port>\d+))?$')


@dataclasses.dataclass(frozen=True)
class JumpHost:
    """A host the connection goes through (OpenSSH's ProxyJump)."""

    address: str
    port: int = 22
    # None: the target host's user.
    user: str | None = None


@dataclasses.dataclass(frozen=True)
class HostEntry:
    """How to reach one host; ``name`` is its compute host name."""

    name: str
    group: str
    address: str
    key_file: str
    known_hosts_file: str
    user: str = 'root'
    port: int = 22
    host_key_policy: str = 'reject'
    jump_host: JumpHost | None = None
    package_manager: str = 'apt'
    # Run package and reboot commands through ``sudo -n``.
    sudo: bool = False


def _text(value):
    return isinstance(value, str) and value.strip() != ''


def _port(value):
    return (isinstance(value, int) and not isinstance(value, bool)
            and 0 < value < 65536)


def _one_of(*choices):
    return lambda value: value in choices


# Option -> (check, what a good value looks like).
OPTIONS = {
    'user': (_text, 'a user name'),
    'port': (_port, 'a port number (1-65535)'),
    'key_file': (_text, 'a private key file'),
    'known_hosts_file': (_text, 'a known_hosts file'),
    'host_key_policy': (_one_of(*HOST_KEY_POLICIES),
                        'one of %s' % ', '.join(HOST_KEY_POLICIES)),
    'jump_host': (lambda v: _text(v) and _JUMP_HOST.match(v) is not None,
                  '[user@]host[:port]'),
    'package_manager': (_one_of(*PACKAGE_MANAGERS),
                        'one of %s' % ', '.join(PACKAGE_MANAGERS)),
    'sudo': (lambda v: isinstance(v, bool), 'true or false'),
}
HOST_KEYS = ('address',) + tuple(OPTIONS)


class Inventory:
    """The hosts of one inventory file, by compute host name."""

    def __init__(self, path, hosts):
        self.path = path
        self.hosts = hosts

    def get(self, host):
        """The entry of host.

        :raises: ConfigInvalid if the inventory does not name it.
        """
        try:
            return self.hosts[host]
        except KeyError:
            raise exception.ConfigInvalid(
                reason='host %s is not in the host inventory %s'
                % (host, self.path)) from None

    def missing(self, hosts):
        """The hosts, in the order given, that the inventory does not name."""
        return [h for h in hosts if h not in self.hosts]


def load(path):
    """Read and check an inventory file.

    :raises: ConfigInvalid naming the file and what is wrong in it.
    """
    try:
        with open(path) as f:
            data = yaml.load(f, Loader=_StrictLoader)
    except OSError as e:
        raise _invalid(path, 'cannot read it: %s' % (e.strerror or e))
    except yaml.YAMLError as e:
        raise _invalid(path, 'not valid YAML: %s' % _yaml_problem(e))
    return Inventory(path, _hosts(path, data))


def configured(conf):
    """The inventory named by ``[host_access] inventory_file``.

    :raises: ConfigInvalid if none is configured or it is invalid.
    """
    path = conf.host_access.inventory_file
    if not path:
        raise exception.ConfigInvalid(
            reason='[host_access] inventory_file is not set; the %s driver '
                   'needs a host inventory' % conf.host_access.driver)
    return load(path)


# -- parsing -----------------------------------------------------------------

def _hosts(path, data):
    if data is None:
        data = {}
    _check_mapping(path, 'the file', data, ('defaults', 'groups'))
    base = _options(path, 'defaults', data.get('defaults'))
    groups = data.get('groups') or {}
    _check_mapping(path, 'groups', groups)
    hosts = {}
    for group, body in groups.items():
        where = 'groups.%s' % group
        body = body or {}
        _check_mapping(path, where, body, ('defaults', 'hosts'))
        defaults = dict(base, **_options(path, where + '.defaults',
                                         body.get('defaults')))
        members = body.get('hosts') or {}
        _check_mapping(path, where + '.hosts', members)
        for name, own in members.items():
            name = str(name)
            if name in hosts:
                raise _invalid(path, 'host %s is in groups %s and %s'
                               % (name, hosts[name].group, group))
            hosts[name] = _entry(path, '%s.hosts.%s' % (where, name), name,
                                 group, defaults, own)
    return hosts


def _entry(path, where, name, group, defaults, own):
    if own is None:
        own = {}
    elif _text(own):
        own = {'address': own}
    _check_mapping(path, where, own, HOST_KEYS)
    address = own.get('address', name)
    if not _text(address):
        raise _invalid(path, '%s.address: %r is not a host name or address'
                       % (where, address))
    options = dict(defaults, **_options(
        path, where, {k: v for k, v in own.items() if k != 'address'}))
    if 'key_file' not in options:
        raise _invalid(path, '%s: no key_file (set it in the host, its '
                             "group's defaults or the file's defaults)"
                       % where)
    options.setdefault('known_hosts_file', DEFAULT_KNOWN_HOSTS)
    base_dir = os.path.dirname(os.path.abspath(path))
    for key in ('key_file', 'known_hosts_file'):
        options[key] = os.path.join(base_dir, os.path.expanduser(options[key]))
    if 'jump_host' in options:
        options['jump_host'] = _jump_host(options['jump_host'])
    return HostEntry(name=name, group=group, address=str(address), **options)


def _options(path, where, values):
    """Check a mapping of host options; return it as a dict."""
    values = values or {}
    _check_mapping(path, where, values, tuple(OPTIONS))
    for key, value in values.items():
        check, expected = OPTIONS[key]
        if not check(value):
            raise _invalid(path, '%s.%s: %r is not %s'
                           % (where, key, value, expected))
    return dict(values)


def _jump_host(text):
    match = _JUMP_HOST.match(text)
    return JumpHost(address=match['bracketed'] or match['plain'],
                    port=int(match['port'] or 22), user=match['user'])


def _check_mapping(path, where, value, allowed=None):
    if not isinstance(value, dict):
        raise _invalid(path, '%s: expected a mapping, got %s'
                       % (where, type(value).__name__))
    unknown = sorted(str(k) for k in value if allowed and k not in allowed)
    if unknown:
        raise _invalid(path, '%s: unknown key(s) %s (allowed: %s)'
                       % (where, ', '.join(unknown), ', '.join(allowed)))


def _invalid(path, reason):
    return exception.ConfigInvalid(reason='host inventory %s: %s'
                                   % (path, reason))


def _yaml_problem(error):
    mark = getattr(error, 'problem_mark', None)
    problem = getattr(error, 'problem', None) or str(error)
    if mark is None:
        return ' '.join(problem.split())
    return '%s (line %d, column %d)' % (problem, mark.line + 1,
                                        mark.column + 1)


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping: a host
    listed twice would otherwise silently lose its first entry."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, 'duplicate key %r' % (key,),
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
