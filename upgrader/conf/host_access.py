"""Options of the [host_access] group: how upgrader reaches compute hosts."""

from oslo_config import cfg

GROUP = 'host_access'

opts = [
    cfg.StrOpt('driver', default='simulator',
               help='Host-access driver, by its name in the '
                    'upgrader.host_drivers entry point namespace.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
