"""The ``ssh`` host-access driver: packages, reboots and boot ids over SSH.

Each host is reached as the host inventory says (:mod:`.inventory`): address,
user, private key, known_hosts file and policy, optional jump host, and its
package manager, whose commands are the ``[host_access]`` command templates.
One connection per host is opened on first use and shared by every thread;
at most ``max_sessions`` commands run at once. What a command prints is
logged at debug level, passwords masked.
"""

import contextlib
import dataclasses
import os
import select
import shlex
import threading
import time

from oslo_log import log as logging
from oslo_utils import strutils
import paramiko

from upgrader.common import exception
from upgrader.drivers.host import base
from upgrader.drivers.host import inventory
from upgrader.drivers.host import output

LOG = logging.getLogger(__name__)

STATUS = 'status'
INSTALL = 'install packages'
REBOOT = 'reboot'
WAIT_FOR_BOOT = 'wait for boot'

# How each package manager's install command names an exact version.
SPECS = {'apt': '{name}={version}', 'dnf': '{name}-{version}'}
# Seconds between keepalives: a connection to a host that vanished dies.
KEEPALIVE_INTERVAL = 30
# The exit status of a command whose connection closed before it ended.
DROPPED = -1
_READ_SIZE = 32768
_CONNECTION_ERRORS = (paramiko.SSHException, OSError, EOFError)
# accept-new: threads adding host keys append to known_hosts one at a time.
_KNOWN_HOSTS_LOCK = threading.Lock()


class _Error(Exception):
    """Why an action failed; the public methods raise HostActionFailed."""


class _Unreachable(_Error):
    """The host does not answer: refused, timed out, or gone mid-command."""


@dataclasses.dataclass
class _Result:
    """How a command ended: its exit status (or DROPPED) and output."""

    status: int
    stdout: str
    stderr: str

    def tail(self):
        return output.tail(self.stdout + '\n' + self.stderr)


class SSHHostDriver(base.HostDriver):
    """Packages, reboots and boot ids of the inventory's hosts, over SSH."""

    def __init__(self, conf):
        super().__init__(conf)
        self.options = conf.host_access
        self.inventory = inventory.configured(conf)
        for manager in inventory.PACKAGE_MANAGERS:
            for kind in ('query', 'install'):
                if '{packages}' not in self._template(manager, kind):
                    raise exception.ConfigInvalid(
                        reason='[host_access] %s_%s_command has no '
                               '{packages}' % (manager, kind))
        self._connections = _Connections(self.options)
        self._sessions = threading.BoundedSemaphore(self.options.max_sessions)

    def unknown_hosts(self, hosts):
        return self.inventory.missing(hosts)

    def close(self):
        """Close every connection (the driver opens new ones if used)."""
        self._connections.close()

    # -- the contract ------------------------------------------------------

    def status(self, host, packages=()):
        """Reachability, boot id and the installed versions of packages."""
        entry = self.inventory.get(host)
        with _acting(host, STATUS):
            try:
                boot_id = self._boot_id(entry)
                installed = self._installed(entry, packages)
            except _Unreachable as e:
                LOG.debug('Host %(host)s is unreachable: %(why)s',
                          {'host': host, 'why': e})
                return base.HostStatus(reachable=False,
                                       activity='unreachable: %s' % e)
        return base.HostStatus(reachable=True, boot_id=boot_id,
                               packages=installed)

    def install_packages(self, host, versions, downgrade=False):
        # apt_install_command allows downgrades: one command for both.
        versions = dict(versions)
        if not versions:
            return None
        entry = self.inventory.get(host)
        with _acting(host, INSTALL):
            if self._installed(entry, versions) == versions:
                LOG.debug('Packages already installed on %(host)s: '
                          '%(pkgs)s', {'host': host, 'pkgs': output.pairs(versions)})
                return None
            LOG.info('Installing %(pkgs)s on %(host)s',
                     {'host': host, 'pkgs': output.pairs(versions)})
            spec = SPECS[entry.package_manager]
            command = self._command(
                entry, self._template(entry.package_manager, 'install'),
                [spec.format(name=n, version=v)
                 for n, v in sorted(versions.items())], privileged=True)
            result = self._run(entry, command, self.options.install_timeout,
                               merge_stderr=True)
            if result.status != 0:
                raise _failure(result)
            installed = self._installed(entry, versions)
            wrong = output.mismatches(versions, installed)
            if wrong:
                raise _Error('the install command succeeded but ' + wrong)
        LOG.info('Installed %(pkgs)s on %(host)s',
                 {'host': host, 'pkgs': output.pairs(versions)})
        return result.tail()

    def reboot(self, host):
        entry = self.inventory.get(host)
        LOG.info('Rebooting %s', host)
        command = self._command(entry, self.options.reboot_command,
                                privileged=True)
        with _acting(host, REBOOT):
            try:
                result = self._run(entry, command,
                                   self.options.command_timeout,
                                   merge_stderr=True)
            finally:
                # The connection dies with this boot: the next command
                # opens a new one rather than finding it dead.
                self._connections.drop(entry)
            # The host going down before the command ends is success.
            if result.status not in (0, DROPPED):
                raise _failure(result)
        return result.tail() or None

    def wait_for_boot(self, host, old_boot_id, timeout):
        """Poll the boot id until it changes; a host that does not answer
        is waited for. A last connection attempt may take up to
        connect_timeout beyond timeout."""
        entry = self.inventory.get(host)
        deadline = time.monotonic() + timeout
        with _acting(host, WAIT_FOR_BOOT):
            while True:
                try:
                    boot_id = self._boot_id(entry)
                except _Unreachable as e:
                    seen = 'unreachable: %s' % e
                else:
                    if boot_id != old_boot_id:
                        LOG.info('Host %(host)s is back with boot id '
                                 '%(boot)s', {'host': host, 'boot': boot_id})
                        return boot_id
                    seen = 'boot id still %s' % boot_id
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Error('not back with a new boot id after %ss '
                                 '(last seen: %s)' % (timeout, seen))
                time.sleep(min(self.options.boot_poll_interval, left))

    # -- commands ----------------------------------------------------------

    def _template(self, manager, kind):
        return getattr(self.options, '%s_%s_command' % (manager, kind))

    @staticmethod
    def _command(entry, template, arguments=(), privileged=False):
        """The template with {packages} filled in, through sudo if the host
        wants it and the command needs root."""
        command = template.replace(
            '{packages}', ' '.join(shlex.quote(a) for a in arguments))
        return 'sudo -n ' + command if privileged and entry.sudo else command

    def _boot_id(self, entry):
        result = self._run(entry, self.options.boot_id_command,
                           self.options.command_timeout)
        boot_id = result.stdout.strip()
        if result.status != 0 or not boot_id:
            raise _failure(result)
        return boot_id

    def _installed(self, entry, packages):
        """Installed versions of packages; those not installed left out."""
        names = sorted(packages)
        if not names:
            return {}
        result = self._run(entry, self._command(
            entry, self._template(entry.package_manager, 'query'), names),
            self.options.command_timeout)
        found = _versions(result.stdout, names)
        # dpkg-query exits 1, rpm with the count, when some are not there.
        if result.status != 0 and not (
                0 < result.status <= len(names) - len(found)):
            raise _failure(result)
        return found

    def _run(self, entry, command, timeout, merge_stderr=False):
        """Run command on entry's host and wait for it to end.

        :returns: a _Result, whose status is DROPPED if the connection
            closed first.
        :raises: _Unreachable without a connection; _Error after timeout
            seconds, or if the host key or our key is refused.
        """
        with self._sessions:
            channel = self._connections.session(entry)
            try:
                channel.set_combine_stderr(merge_stderr)
                channel.exec_command(command)
                result = _collect(channel, timeout)
            except _CONNECTION_ERRORS as e:
                raise _Unreachable('%s: %s' % (_where(entry), _why(e)))
            finally:
                channel.close()
        LOG.debug('Host %(host)s: %(command)s -> %(status)s\n%(output)s',
                  {'host': entry.name,
                   'command': strutils.mask_password(command),
                   'status': result.status,
                   'output': output.masked(result.stdout + result.stderr)})
        return result


class _Connections:
    """One SSH connection per destination, opened on first use."""

    def __init__(self, options):
        self.options = options
        self._lock = threading.Lock()
        self._clients = {}
        # Per destination: one thread connects, the others wait for it.
        self._opening = {}
        self._keys = {}

    def session(self, entry):
        """A new session channel on entry's connection.

        A reused connection found dead is replaced: opening a channel
        failed, so no command ran on it.
        """
        while True:
            transport, fresh = self._transport(entry)
            try:
                return transport.open_session(
                    timeout=self.options.connect_timeout)
            except _CONNECTION_ERRORS as e:
                self.drop(entry, transport)
                if fresh:
                    raise _Unreachable('%s: %s' % (_where(entry), _why(e)))

    def drop(self, entry, transport=None):
        """Forget and close entry's connection (if still ``transport``)."""
        with self._lock:
            client = self._clients.get(_destination(entry))
            if client is None or (transport is not None and
                                  client.get_transport() is not transport):
                return
            del self._clients[_destination(entry)]
        client.close()

    def close(self):
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _transport(self, entry):
        """entry's live connection, and whether it was just opened."""
        destination = _destination(entry)
        with self._lock:
            opening = self._opening.setdefault(destination, threading.Lock())
        with opening:
            with self._lock:
                client = self._clients.get(destination)
            transport = client.get_transport() if client else None
            if transport is not None and transport.is_active():
                return transport, False
            if client is not None:
                client.close()
            client = self._connect(entry)
            with self._lock:
                self._clients[destination] = client
            return client.get_transport(), True

    def _connect(self, entry):
        """A client connected and authenticated to entry's host."""
        key = self._private_key(entry.key_file)
        sock = self._through_jump_host(entry) if entry.jump_host else None
        client = paramiko.SSHClient()
        if os.path.exists(entry.known_hosts_file):
            client.load_host_keys(entry.known_hosts_file)
        client.set_missing_host_key_policy(_HostKeyPolicy(entry))
        timeout = self.options.connect_timeout
        try:
            client.connect(entry.address, entry.port, username=entry.user,
                           pkey=key, sock=sock, timeout=timeout,
                           banner_timeout=timeout, auth_timeout=timeout,
                           channel_timeout=timeout, allow_agent=False,
                           look_for_keys=False)
        except Exception as e:
            client.close()
            raise _connect_error(entry, e)
        client.get_transport().set_keepalive(KEEPALIVE_INTERVAL)
        LOG.debug('Connected to %(host)s (%(where)s)',
                  {'host': entry.name, 'where': _where(entry)})
        return client

    def _through_jump_host(self, entry):
        """A channel to entry's host through its jump host's connection."""
        jump = entry.jump_host
        via = dataclasses.replace(entry, address=jump.address, port=jump.port,
                                  user=jump.user or entry.user,
                                  jump_host=None)
        transport, _ = self._transport(via)
        try:
            return transport.open_channel(
                'direct-tcpip', (entry.address, entry.port), ('127.0.0.1', 0),
                timeout=self.options.connect_timeout)
        except _CONNECTION_ERRORS as e:
            self.drop(via, transport)
            raise _Unreachable('jump host %s cannot reach %s:%d: %s'
                               % (_where(via), entry.address, entry.port,
                                  _why(e)))

    def _private_key(self, path):
        with self._lock:
            key = self._keys.get(path)
        if key is None:
            passphrase = self.options.key_passphrase
            try:
                key = paramiko.PKey.from_path(
                    path, passphrase.encode() if passphrase else None)
            # cryptography raises TypeError for a missing passphrase.
            except (OSError, ValueError, TypeError,
                    paramiko.SSHException) as e:
                raise exception.ConfigInvalid(
                    reason='private key %s: %s' % (path, _why(e)))
            with self._lock:
                self._keys[path] = key
        return key


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """A host key that known_hosts lacks: refused (``reject``) or added
    (``accept-new``). Paramiko refuses a key that differs from a known one
    before asking."""

    def __init__(self, entry):
        self.entry = entry

    def missing_host_key(self, client, hostname, key):
        known_hosts = self.entry.known_hosts_file
        if self.entry.host_key_policy != 'accept-new':
            raise _Error('unknown host key %s %s of %s: it is not in %s; add '
                         'it there (ssh-keyscan) or set host_key_policy: '
                         'accept-new' % (key.get_name(), key.fingerprint,
                                         hostname, known_hosts))
        try:
            with _KNOWN_HOSTS_LOCK, open(known_hosts, 'a') as f:
                f.write('%s %s %s\n' % (hostname, key.get_name(),
                                        key.get_base64()))
        except OSError as e:
            raise _Error('cannot add the host key of %s to %s: %s'
                         % (hostname, known_hosts, _why(e)))
        LOG.warning('Added host key %(type)s %(fp)s of %(host)s to '
                    '%(file)s (host_key_policy: accept-new)',
                    {'type': key.get_name(), 'fp': key.fingerprint,
                     'host': hostname, 'file': known_hosts})


@contextlib.contextmanager
def _acting(host, action):
    """Raise what went wrong doing action on host as HostActionFailed."""
    try:
        yield
    except _Error as e:
        raise exception.HostActionFailed(host=host, action=action,
                                         reason=str(e)) from e


def _collect(channel, timeout):
    """Read a started command's output until it ends.

    :raises: _Error if it is still running after timeout seconds.
    """
    deadline = time.monotonic() + timeout
    out, err = [], []
    while True:
        # Read the flag first: output that came before the end is drained.
        ended = channel.eof_received or channel.closed
        while channel.recv_ready():
            out.append(channel.recv(_READ_SIZE))
        while channel.recv_stderr_ready():
            err.append(channel.recv_stderr(_READ_SIZE))
        left = deadline - time.monotonic()
        if ended and channel.status_event.wait(max(left, 0)):
            return _Result(channel.exit_status, _decode(out), _decode(err))
        if left <= 0:
            tail = output.tail(_decode(out) + '\n' + _decode(err))
            raise _Error('still running after %ss%s'
                         % (timeout, ': ' + tail if tail else ''))
        if not ended:
            select.select([channel], [], [], left)


def _failure(result):
    """The error a command that ended badly is."""
    tail = result.tail()
    tail = ': ' + tail if tail else ''
    if result.status == DROPPED:
        return _Unreachable('connection lost before the command ended'
                            + tail)
    return _Error('exited %d%s' % (result.status, tail))


def _connect_error(entry, error):
    """What a failed connection attempt means, for the operator (the error
    itself if it is already clear, or unexpected)."""
    if isinstance(error, _Error):
        return error
    if isinstance(error, paramiko.BadHostKeyException):
        return _Error('host key of %s does not match %s (offered %s %s, '
                      'known %s): refusing to connect; if the host was '
                      'reinstalled, replace its line there'
                      % (_where(entry), entry.known_hosts_file,
                         error.key.get_name(), error.key.fingerprint,
                         error.expected_key.fingerprint))
    if isinstance(error, paramiko.AuthenticationException):
        return _Error('%s refused the key %s: %s'
                      % (_where(entry), entry.key_file, _why(error)))
    if isinstance(error, _CONNECTION_ERRORS):
        return _Unreachable('cannot connect to %s: %s'
                            % (_where(entry), _why(error)))
    return error


def _why(error):
    """A short reason from an exception: 'Connection refused'."""
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        error = next(iter(error.errors.values()))
    return (getattr(error, 'strerror', None) or str(error)
            or type(error).__name__)


def _versions(text, names):
    """The "NAME VERSION installed" lines of a query, for names."""
    found = {}
    for fields in map(str.split, text.splitlines()):
        if len(fields) == 3 and fields[0] in names and \
                fields[2] == 'installed':
            found[fields[0]] = fields[1]
    return found


def _destination(entry):
    return (entry.user, entry.address, entry.port, entry.jump_host)


def _where(entry):
    return '%s@%s:%d' % (entry.user, entry.address, entry.port)


def _decode(chunks):
    return b''.join(chunks).decode('utf-8', 'replace')

