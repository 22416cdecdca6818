"""Options of the [host_access] group: how upgrader reaches compute hosts.

Per-host connection settings (address, user, key, jump host, package
manager) live in the host inventory file, not here: see
etc/upgrader/host-inventory.yaml.sample.
"""

from oslo_config import cfg

GROUP = 'host_access'

opts = [
    cfg.StrOpt('driver', default='simulator',
               help='Host-access driver, by its name in the '
                    'upgrader.host_drivers entry point namespace.'),
    cfg.StrOpt('inventory_file',
               help='YAML file mapping compute hosts to their SSH address '
                    'and options, with per-group defaults (see '
                    'etc/upgrader/host-inventory.yaml.sample). Required by '
                    'the ssh driver.'),
    cfg.FloatOpt('install_timeout', default=1800.0, min=1,
                 help='Seconds a package install may take on one host.'),
    cfg.FloatOpt('connect_timeout', default=10.0, min=0.1,
                 help='Seconds to open an SSH connection (TCP connect, '
                      'key exchange, authentication).'),
    cfg.FloatOpt('command_timeout', default=120.0, min=1,
                 help='Seconds any command other than a package install '
                      'may take (version queries, boot id, reboot).'),
    cfg.IntOpt('max_sessions', default=16, min=1,
               help='Most SSH commands running at once from one process, '
                    'over all hosts. Each host has one SSH connection, '
                    'reused by every command.'),
    cfg.StrOpt('key_passphrase', secret=True,
               help='Passphrase of the private key files, if encrypted.'),
    cfg.FloatOpt('boot_poll_interval', default=5.0, min=0.01,
                 help='Seconds between two looks at a rebooting host.'),
    cfg.StrOpt('boot_id_file', default='/proc/sys/kernel/random/boot_id',
               help='File on the host holding an id that changes at every '
                    'boot.'),
    cfg.StrOpt('apt_query_command',
               default="dpkg-query --show --showformat="
                       "'$${Package} $${Version} $${db:Status-Status}\\n' "
                       "{packages}",
               help='Prints "NAME VERSION installed" for each installed '
                    'package of {packages}; other lines are ignored. It '
                    'may exit with 1 to N when N of them are not installed. '
                    'In every command template {packages} becomes the '
                    'shell-quoted arguments, and a $ is written $$.'),
    cfg.StrOpt('apt_install_command',
               default='env DEBIAN_FRONTEND=noninteractive apt-get install '
                       '-y -q --allow-downgrades '
                       '-o Dpkg::Options::=--force-confdef '
                       '-o Dpkg::Options::=--force-confold {packages}',
               help='Installs {packages}, given as NAME=VERSION.'),
    cfg.StrOpt('dnf_query_command',
               default="rpm -q --queryformat "
                       "'%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-"
                       "%{RELEASE} installed\\n' {packages}",
               help='As apt_query_command, for dnf hosts.'),
    cfg.StrOpt('dnf_install_command',
               default='dnf install -y {packages}',
               help='Installs (or downgrades to) {packages}, given as '
                    'NAME-VERSION.'),
    cfg.StrOpt('reboot_command', default='systemctl reboot',
               help='Reboots the host. The connection may drop before it '
                    'returns. Install and reboot commands are run through '
                    '"sudo -n" for hosts whose inventory says sudo: true.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
