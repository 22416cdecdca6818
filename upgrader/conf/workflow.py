"""Options of the [workflow] group: where workflow templates are found."""

from oslo_config import cfg

GROUP = 'workflow'

opts = [
    cfg.ListOpt('template_dirs', default=['/etc/upgrader/flows'],
                help='Directories searched first for workflow templates '
                     '(<name>.yaml); a template here overrides the shipped '
                     'one of the same name.'),
    cfg.FloatOpt('poll_interval', default=2.0, min=0.01,
                 help='Seconds between two looks at a long operation '
                      '(live migration, reboot, health check).'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
