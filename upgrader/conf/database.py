"""Options of the [database] group: oslo.db's, with a SQLite default."""

from oslo_db import options as db_options

DEFAULT_CONNECTION = 'sqlite:///$state_path/upgrader.sqlite'


def register_opts(conf):
    # A command run against a database that is down should say so within
    # seconds, not after oslo.db's default ten retries ten seconds apart.
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)
    conf.set_default('max_retries', 3, group='database')
    conf.set_default('retry_interval', 1, group='database')


def list_opts():
    return db_options.list_opts()[0][1]
