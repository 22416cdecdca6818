"""Options of the [persistence] group: where TaskFlow keeps its logbooks.

The logbooks live in their own database (or PostgreSQL schema), apart from
upgrader's tables: TaskFlow's migrations use alembic's default
``alembic_version`` table, which would collide with ours.
"""

from oslo_config import cfg

GROUP = 'persistence'

DEFAULT_CONNECTION = 'sqlite:///$state_path/taskflow.sqlite'

opts = [
    cfg.StrOpt('connection', default=DEFAULT_CONNECTION, secret=True,
               help='SQLAlchemy URL of the database holding TaskFlow\'s '
                    'logbooks (flow and task states, results). It must not '
                    'be the [database] one: use another database, e.g. '
                    'mysql+pymysql://user:pass@host/upgrader_taskflow or '
                    'postgresql+psycopg2://user:pass@host/upgrader_taskflow '
                    '(a PostgreSQL schema also works: add '
                    '?options=-csearch_path%%3Dtaskflow). Plain mysql:// and '
                    'postgresql:// use PyMySQL and psycopg2. Create or '
                    'upgrade its tables with '
                    '"upgrader-manage persistence sync".'),
    cfg.IntOpt('max_pool_size', default=10, min=1,
               help='Connections kept open to a PostgreSQL or MariaDB '
                    'server (or per SQLite file); one per engine thread '
                    'writing at the same time is enough.'),
    cfg.IntOpt('max_overflow', default=20, min=0,
               help='Connections opened beyond max_pool_size under load, '
                    'closed again when returned.'),
    cfg.IntOpt('connection_recycle_time', default=3600, min=1,
               help='Seconds after which a pooled connection is reopened '
                    '(keep it below the server\'s idle timeout).'),
    cfg.IntOpt('max_retries', default=0, min=0,
               help='How many times the first connection is retried, with '
                    'exponential back-off, before giving up.'),
    cfg.FloatOpt('sqlite_busy_timeout', default=30.0, min=0,
                 help='SQLite only: seconds a writer waits for another '
                      'writer (thread or process) to finish before '
                      '"database is locked".'),
    cfg.StrOpt('sqlite_synchronous', default='NORMAL',
               choices=[('NORMAL', 'no disk sync per commit (WAL mode '
                                   'syncs at checkpoints): every commit '
                                   'survives a crash or SIGKILL of the '
                                   'process; only a power loss or a '
                                   'kernel crash can lose the last state '
                                   'changes (never corrupt the file), and '
                                   'then a finished step may run again, '
                                   'which steps allow (they are '
                                   'idempotent)'),
                        ('FULL', 'every commit is synced to disk: a '
                                 'resumed flow sees every state change, '
                                 'even after a power loss; costs a disk '
                                 'sync per state change (about 4 per '
                                 'step)')],
               help='SQLite only: PRAGMA synchronous of the logbook '
                    'database (always in WAL journal mode).'),
    cfg.IntOpt('retention_days', default=30, min=0,
               help='Logbooks of rollouts that succeeded this many days ago '
                    'or more are deleted by "upgrader-manage persistence '
                    'purge". Our own tables keep the rollout\'s record.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
