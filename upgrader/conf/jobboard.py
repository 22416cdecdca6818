"""Options of the [jobboard] group: the ZooKeeper job board of conductors."""

import socket

from oslo_config import cfg

GROUP = 'jobboard'

opts = [
    cfg.BoolOpt('enabled', default=False,
                help='Run rollouts in upgrader-conductor services through a '
                     'ZooKeeper job board. When false, rollouts run in the '
                     'process of upgrader-manage (embedded).'),
    cfg.ListOpt('hosts', default=['127.0.0.1:2181'],
                help='ZooKeeper servers, host:port.'),
    cfg.StrOpt('path', default='/upgrader/jobs',
               help='ZooKeeper path of the job board.'),
    cfg.FloatOpt('session_timeout', default=15.0, min=2.0,
                 help='ZooKeeper session timeout (seconds). A conductor that '
                      'dies loses its jobs after this long; one that is cut '
                      'off suspends its engines at once.'),
    cfg.StrOpt('conductor_name', default=socket.gethostname(),
               sample_default='<hostname>',
               help='Name of this conductor on the job board (made unique '
                    'per process with its pid).'),
    cfg.IntOpt('max_simultaneous_jobs', default=8, min=1,
               help='Jobs (rollout controllers and host flows) one conductor '
                    'runs at once.'),
    cfg.IntOpt('max_claims', default=5, min=1,
               help='A host job claimed this many times without finishing '
                    '(its conductors keep dying or handing it over) is not '
                    'run again: the host is marked error for the operator '
                    'instead of cycling forever.'),
    cfg.StrOpt('auth_username', help='ZooKeeper digest auth user.'),
    cfg.StrOpt('auth_password', secret=True,
               help='ZooKeeper digest auth password.'),
    cfg.BoolOpt('use_ssl', default=False, help='Talk TLS to ZooKeeper.'),
    cfg.StrOpt('ca_file', help='CA bundle for TLS.'),
    cfg.StrOpt('cert_file', help='Client certificate for TLS.'),
    cfg.StrOpt('key_file', help='Client key for TLS.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
