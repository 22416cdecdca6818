"""Options of the [scheduler] group: how often schedules are looked at."""

from oslo_config import cfg

GROUP = 'scheduler'

opts = [
    cfg.FloatOpt('poll_interval', default=30.0, min=0.1,
                 help='Seconds between two looks of a conductor for due '
                      'schedules (rollout start --at, rollout schedule).'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
