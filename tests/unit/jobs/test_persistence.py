"""TaskFlow persistence on SQLite: settings, schema sync, run and resume."""

import contextlib
import sqlite3

from oslo_config import cfg
import pytest
from sqlalchemy.engine import default as engine_default
from sqlalchemy import event
from taskflow import exceptions as tf_exc
from taskflow.persistence import models

from tests.unit.jobs import persistence_scenarios as scenarios
from upgrader.common import exception
from upgrader.conf import default as default_conf
from upgrader.conf import persistence as persistence_conf
from upgrader.jobs import persistence


@pytest.fixture
def url(tmp_path):
    return 'sqlite:///%s' % (tmp_path / 'state' / 'taskflow.sqlite')


@pytest.fixture
def backend_factory(url):
    persistence.upgrade(url)
    return lambda: persistence.get_backend(url)


@pytest.fixture
def backend(backend_factory):
    with contextlib.closing(backend_factory()) as backend:
        yield backend


def test_upgrade_creates_directory_and_tables(url, tmp_path):
    persistence.upgrade(url)
    persistence.upgrade(url)  # idempotent
    with sqlite3.connect(tmp_path / 'state' / 'taskflow.sqlite') as db:
        names = {row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {'logbooks', 'flowdetails', 'atomdetails'} <= names
    persistence.check(url)


def test_check_reports_missing_schema(url, tmp_path):
    (tmp_path / 'state').mkdir()
    with pytest.raises(exception.DatabaseNotSynced,
                       match='upgrader-manage persistence sync'):
        persistence.check(url)


def test_sqlite_settings(backend):
    with backend.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(  # noqa: E731
            'PRAGMA %s' % name).scalar()
        assert pragma('foreign_keys') == 1
        assert pragma('journal_mode') == 'wal'
        assert pragma('busy_timeout') == 30000
        assert pragma('synchronous') == 1  # NORMAL (the default)


def test_foreign_keys_cascade(backend):
    _run_id, fd = scenarios.new_flow(backend)
    with contextlib.closing(backend.get_connection()) as conn:
        book_uuid = next(b.uuid for b in conn.get_logbooks()
                         if b.find(fd.uuid) is not None)
        conn.destroy_logbook(book_uuid)
        with pytest.raises(tf_exc.NotFound):
            conn.get_flow_details(fd.uuid)
    with backend.engine.connect() as conn:
        assert conn.exec_driver_sql(
            'SELECT count(*) FROM atomdetails').scalar() == 0


def test_tables_built_once(backend):
    with contextlib.closing(backend.get_connection()) as one, \
            contextlib.closing(backend.get_connection()) as two:
        assert one._tables is two._tables is backend.tables


def test_statements_come_from_the_cache(backend):
    """The regression this wrapper exists for: no compile per connection."""
    scenarios.check_run_to_success(backend)  # fills the cache
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if context.compiled is not None:
            seen.append((context.cache_hit, statement))

    event.listen(backend.engine, 'after_cursor_execute', record)
    try:
        scenarios.check_run_to_success(backend)
    finally:
        event.remove(backend.engine, 'after_cursor_execute', record)
    misses = [stmt for hit, stmt in seen if hit != engine_default.CACHE_HIT]
    assert seen and not misses, misses


def test_run_to_success(backend):
    scenarios.check_run_to_success(backend)


def test_resume_after_crash_skips_finished_steps(backend_factory):
    scenarios.check_resume_after_crash(backend_factory)


def test_reset_written_at_once(backend_factory):
    scenarios.check_reset_written_at_once(backend_factory)


def test_resume_while_reverting(backend_factory):
    scenarios.check_resume_while_reverting(backend_factory)


def test_failure_reverts_and_is_persisted(backend):
    scenarios.check_failure_reverts(backend)


def test_concurrent_engines(backend):
    scenarios.check_concurrent_engines(backend)


def test_logbook_read_at_once(backend):
    scenarios.check_logbook_read_at_once(backend)


def test_update_unknown_atom_is_not_found(backend):
    with contextlib.closing(backend.get_connection()) as conn:
        with pytest.raises(tf_exc.NotFound):
            conn.update_atom_details(models.TaskDetail('ghost', uuid='nope'))


def test_update_with_same_content(backend):
    _run_id, fd = scenarios.new_flow(backend)
    engine = persistence.load_engine(backend, fd)
    engine.compile()
    engine.prepare()
    ad = next(iter(engine.storage._flowdetail))
    with contextlib.closing(backend.get_connection()) as conn:
        conn.update_atom_details(ad)
        assert conn.update_atom_details(ad) is ad


def test_logbook_for_gets_or_creates(backend):
    book = persistence.logbook_for(backend, 'rollout-1', 'book-1')
    again = persistence.logbook_for(backend, 'other name', 'book-1')
    assert (book.uuid, book.name) == (again.uuid, again.name) == (
        'book-1', 'rollout-1')


def test_unfinished_flow_details(backend_factory, backend):
    book = persistence.logbook_for(backend, 'rollout', 'book-u')
    finished = persistence.create_flow_detail(
        backend, book, 'a', scenarios.host_flow, ['a', 'r1'])
    persistence.load_engine(backend, finished).run()
    pending = persistence.create_flow_detail(
        backend, book, 'b', scenarios.host_flow, ['b', 'r2'])
    assert [fd.uuid for fd in persistence.unfinished_flow_details(
        backend, 'book-u')] == [pending.uuid]


def test_factory_must_be_importable(backend):
    book = persistence.logbook_for(backend, 'rollout', 'book-f')
    with pytest.raises(ValueError, match='reimportable'):
        persistence.create_flow_detail(backend, book, 'x',
                                       lambda: None)


def test_get_backend_from_conf(tmp_path):
    conf = cfg.ConfigOpts()
    default_conf.register_opts(conf)
    persistence_conf.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('state_path', str(tmp_path))
    persistence.upgrade(conf)
    # NORMAL (1) by default; FULL (2) when asked.
    for synchronous, expected in ((None, 1), ('FULL', 2)):
        if synchronous:
            conf.set_override('sqlite_synchronous', synchronous,
                              group='persistence')
        with contextlib.closing(persistence.get_backend(conf)) as backend:
            assert backend.engine.url.database == str(
                tmp_path / 'taskflow.sqlite')
            with backend.engine.connect() as conn:
                assert conn.exec_driver_sql(
                    'PRAGMA synchronous').scalar() == expected


@pytest.mark.parametrize('given, driver', [
    ('mysql://u:p@db/tf', 'mysql+pymysql'),
    ('mysql+pymysql://u:p@db/tf', 'mysql+pymysql'),
    ('postgresql://u:p@db/tf', 'postgresql+psycopg2'),
    ('postgres://u:p@db/tf', 'postgresql+psycopg2'),
    ('sqlite:////tmp/x.sqlite', 'sqlite'),
])
def test_normalise_url(given, driver):
    assert persistence.normalise_url(given).drivername == driver


def test_unusable_driver_is_a_clear_error():
    with pytest.raises(exception.ConfigInvalid) as err:
        persistence.get_backend('mysql+mysqldb://u:s3cret@db/tf')
    message = str(err.value)
    assert 'mysql+mysqldb' in message and 'mysql+pymysql://' in message
    assert 's3cret' not in message and '\n' not in message


def test_not_a_url_is_a_clear_error():
    with pytest.raises(exception.ConfigInvalid, match='not a database URL'):
        persistence.get_backend('nonsense')


def test_unreachable_server_is_one_line_without_password():
    with pytest.raises(exception.DatabaseUnavailable) as err:
        persistence.upgrade(
            'postgresql+psycopg2://admin:s3cret@127.0.0.1:1/taskflow')
    message = str(err.value)
    assert 's3cret' not in message and '\n' not in message
    assert 'admin:***@127.0.0.1:1/taskflow' in message


def test_url_password_never_logged(tmp_path, caplog):
    caplog.set_level('DEBUG')
    url = 'sqlite:///%s' % (tmp_path / 'x.sqlite')
    persistence.upgrade(url)
    with pytest.raises(exception.DatabaseUnavailable):
        persistence.upgrade('mysql+pymysql://root:s3cret@127.0.0.1:1/tf')
    assert 's3cret' not in caplog.text


def test_injector_name_is_taskflows():
    from taskflow import storage
    assert persistence.INJECTOR == storage.Storage.injector_name


def test_progress_written_with_the_flow(backend):
    scenarios.check_progress_written_with_the_flow(backend)


def test_flow_details_of_a_wave_at_once(backend):
    from upgrader.jobs import dispatcher
    jobs = [dispatcher.HostJob(rollout_id='r-wave', host=host,
                               template_content='unused', moves=[],
                               versions={}) for host in ('h1', 'h2', 'h3')]
    commits = []
    listener = lambda conn: commits.append(1)      # noqa: E731
    event.listen(backend.engine, 'commit', listener)
    try:
        first = dispatcher.host_flow_details(backend, jobs[:1])
        # The logbook, then the other two flow details in one transaction.
        commits.clear()
        created = dispatcher.host_flow_details(backend, jobs)
        assert len(commits) <= 2
        commits.clear()
        again = dispatcher.host_flow_details(backend, jobs)
        assert not commits          # read only
    finally:
        event.remove(backend.engine, 'commit', listener)
    assert created['h1'].uuid == first['h1'].uuid
    assert {h: fd.uuid for h, fd in again.items()} == {
        h: fd.uuid for h, fd in created.items()}
    assert again['h2'].meta['store']['host'] == 'h2'
    assert persistence.find_flow_details(backend, ['nope']) == {}


def test_parents_indexed(url, backend):
    import sqlalchemy as sa
    persistence.upgrade(url)        # again: idempotent
    inspector = sa.inspect(backend.engine)
    names = {index['name'] for table in ('flowdetails', 'atomdetails')
             for index in inspector.get_indexes(table)}
    assert set(persistence.PARENT_INDEXES) <= names
