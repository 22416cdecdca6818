#!/usr/bin/env python3
"""Time one host flow (6 no-op tasks) per TaskFlow persistence backend.

Compares, in one run: taskflow's in-memory backend, taskflow's bare
SQLAlchemy backend on SQLite, ours (upgrader.jobs.persistence) on SQLite
(default synchronous=NORMAL, and FULL) and,
when a server URL is given, ours on PostgreSQL and MariaDB (in a throwaway
database, dropped afterwards). Each flow gets its own logbook, as a job does.

    tools/bench_persistence.py [--flows N] [--postgresql URL] [--mariadb URL]
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa
from taskflow import engines
from taskflow.patterns import linear_flow
from taskflow.persistence.backends import impl_memory
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence import models
from taskflow import task

from upgrader.jobs import persistence

STEPS = ('disable_service', 'evacuate', 'upgrade_packages', 'reboot',
         'health_check', 'enable_service')


class Noop(task.Task):
    def execute(self):
        return None


def host_flow(host):
    flow = linear_flow.Flow('%s.upgrade' % host)
    flow.add(*[Noop('%s.%s' % (host, step)) for step in STEPS])
    return flow


def run_flows(backend, flows):
    """Milliseconds per flow, run the way a conductor runs a job."""
    _run_one(backend, 'warm-up')
    started = time.perf_counter()
    for i in range(flows):
        _run_one(backend, 'cmp%03d' % i)
    return (time.perf_counter() - started) * 1000.0 / flows


def _run_one(backend, host):
    book = models.LogBook('bench-%s' % host)
    engines.load_from_factory(host_flow, factory_args=[host], book=book,
                              backend=backend).run()


def _upgraded(backend):
    with contextlib.closing(backend.get_connection()) as conn:
        conn.upgrade()
    return backend


@contextlib.contextmanager
def throwaway_database(server_url):
    """A new empty database on the server of ``server_url``; dropped after."""
    url = sa.engine.make_url(server_url)
    name = 'upgrader_bench_%s' % uuid.uuid4().hex[:8]
    admin_db = 'postgres' if url.get_backend_name() == 'postgresql' else None
    admin = sa.create_engine(persistence.normalise_url(
        url.set(database=admin_db)), isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql('CREATE DATABASE %s' % name)
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql('DROP DATABASE %s' % name)
        admin.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--flows', type=int, default=30,
                        help='host flows per backend (default: %(default)s)')
    parser.add_argument('--postgresql', metavar='URL',
                        help='also a PostgreSQL server, e.g. '
                             'postgresql+psycopg2://postgres@127.0.0.1/')
    parser.add_argument('--mariadb', metavar='URL',
                        help='also a MariaDB server, e.g. '
                             'mysql+pymysql://root@127.0.0.1/')
    args = parser.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        def sqlite_url(name):
            return 'sqlite:///%s' % os.path.join(tmp, name)

        cases = [
            ('taskflow memory', lambda: impl_memory.MemoryBackend({})),
            ('taskflow sqlalchemy, SQLite', lambda: _upgraded(
                impl_sqlalchemy.SQLAlchemyBackend(
                    {'connection': sqlite_url('bare.sqlite')}))),
            ('upgrader, SQLite', lambda: _upgraded(
                persistence.get_backend(sqlite_url('ours.sqlite')))),
            ('upgrader, SQLite, FULL sync', lambda: _upgraded(
                persistence.Backend(dict(
                    persistence._backend_conf(sqlite_url('full.sqlite')),
                    sqlite_synchronous='FULL')))),
        ]
        for label, setup in cases:
            backend = setup()
            try:
                results.append((label, run_flows(backend, args.flows)))
            finally:
                backend.close()
        for label, server in (('upgrader, PostgreSQL', args.postgresql),
                              ('upgrader, MariaDB', args.mariadb)):
            if not server:
                continue
            with throwaway_database(server) as url:
                persistence.upgrade(url)
                backend = persistence.get_backend(url)
                try:
                    results.append((label, run_flows(backend, args.flows)))
                finally:
                    backend.close()

    reference = dict(results)['upgrader, SQLite']
    print('%d host flows of %d no-op tasks per backend'
          % (args.flows, len(STEPS)))
    print('%-30s %12s %12s %12s' % ('backend', 'ms/flow', 'ms/task',
                                    'x upgrader'))
    for label, ms in results:
        print('%-30s %12.1f %12.1f %12.2f'
              % (label, ms, ms / len(STEPS), ms / reference))
    return 0


if __name__ == '__main__':
    sys.exit(main())
