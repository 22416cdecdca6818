"""Options of the [host_access] group: how upgrader reaches compute hosts.

Per-host connection settings of the ssh driver (address, user, key, jump
host, package manager) live in the host inventory file, not here: see
etc/upgrader/host-inventory.yaml.sample. The ansible driver reads the
operator's Ansible inventory and runs their playbooks (samples in
etc/upgrader/playbooks/).
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
    cfg.StrOpt('boot_id_command',
               default='cat /proc/sys/kernel/random/boot_id',
               help='Prints an id of the host that changes at every boot.'),
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
    # The ansible driver.
    cfg.ListOpt('ansible_inventory', default=[],
                help='ansible driver: the Ansible inventory (files, '
                     'directories or scripts, comma-separated) naming the '
                     'compute hosts as Nova does, e.g. that of '
                     'OpenStack-Ansible or kolla-ansible.'),
    cfg.StrOpt('ansible_status_playbook',
               default='/etc/upgrader/playbooks/status.yml',
               help='ansible driver: reads the host\'s boot id and the '
                    'versions of upgrader_package_names into the facts '
                    'upgrader_boot_id and upgrader_packages (see '
                    'etc/upgrader/playbooks/status.yml).'),
    cfg.StrOpt('ansible_upgrade_playbook',
               default='/etc/upgrader/playbooks/upgrade.yml',
               help='ansible driver: installs upgrader_packages (name: '
                    'exact version) on upgrader_host.'),
    cfg.StrOpt('ansible_downgrade_playbook',
               help='ansible driver: puts back upgrader_packages, the '
                    'versions recorded before the upgrade, in a revert. '
                    'Default: the upgrade playbook.'),
    cfg.StrOpt('ansible_reboot_playbook',
               default='/etc/upgrader/playbooks/reboot.yml',
               help='ansible driver: reboots upgrader_host; it may wait for '
                    'the host to come back.'),
    cfg.FloatOpt('ansible_timeout', default=1800.0, min=1,
                 help='ansible driver: seconds an upgrade, downgrade or '
                      'reboot playbook run may take (status runs: '
                      'command_timeout).'),
    cfg.StrOpt('ansible_work_dir',
               help='ansible driver: where ansible-runner keeps each run '
                    'while it lasts. Default: $state_path/ansible.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
