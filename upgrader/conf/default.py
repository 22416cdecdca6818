"""Options of the [DEFAULT] group."""

from oslo_config import cfg

opts = [
    cfg.StrOpt('state_path', default='/var/lib/upgrader',
               help='Directory where upgrader keeps its state, such as the '
                    'default SQLite database.'),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return opts
