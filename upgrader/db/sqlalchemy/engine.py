"""The engine of our tables: one oslo.db facade per process, from [database].

SQLite connections get foreign keys, WAL (synchronous=NORMAL) and a busy
timeout, and a SQLite file is pooled (see :class:`SQLitePoolPlugin`);
errors reaching the server become
:class:`~upgrader.common.exception.DatabaseUnavailable` with a one-line
reason and the password masked.
"""

import contextlib
import os
import threading

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_utils import strutils
import sqlalchemy as sa
from sqlalchemy.dialects import plugins as sa_plugins
from sqlalchemy.engine import CreateEnginePlugin
from sqlalchemy import pool as sa_pool

from upgrader.common import exception
from upgrader.common import sqlite
from upgrader import conf as upgrader_conf

CONF = upgrader_conf.CONF
# Writers (host flows on a thread pool, a CLI) wait this long for the lock.
SQLITE_BUSY_TIMEOUT_MS = 10000

# The SQLAlchemy engine plugin (a URL's ``plugin=``) of a pooled SQLite file.
SQLITE_POOL_PLUGIN = 'upgrader_sqlite_pool'

_LOCK = threading.Lock()
_STATE = {'context_manager': None, 'schema_checked': False,
          'rollout_ids': {}}


def connection_url():
    """The configured connection URL (with its password: do not print it)."""
    return CONF.database.connection


def masked_url(url=None):
    """The connection URL with its password replaced by ``***``."""
    url = connection_url() if url is None else url
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return '<invalid URL>'


def sqlite_path(url=None):
    """The file of a SQLite URL; None for other databases or in-memory."""
    url = connection_url() if url is None else url
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != 'sqlite':
        return None
    if parsed.database in (None, '', ':memory:'):
        return None
    if parsed.database.startswith('file:'):
        return None
    return os.path.abspath(parsed.database)


def check_sqlite_directory(create=False):
    """Ensure the directory of a SQLite database exists (or create it)."""
    path = sqlite_path()
    if path is None:
        return
    directory = os.path.dirname(path)
    if os.path.isdir(directory):
        return
    if not create:
        raise exception.DatabaseUnavailable(
            reason='directory %s of the SQLite database does not exist '
                   '(see [DEFAULT] state_path and [database] connection)'
                   % directory)
    try:
        os.makedirs(directory, mode=0o750, exist_ok=True)
    except OSError as e:
        raise exception.DatabaseUnavailable(
            reason='cannot create directory %s of the SQLite database: %s'
                   % (directory, e.strerror or e)) from e


def set_wal(cursor):
    """Put a SQLite database in WAL mode (persistent, in the file).

    Readers then do not block the writer: the CLI reads while a rollout
    runs. An empty file is left alone (writing the header would change a
    database that ``db sync`` has not made); ``db sync`` calls this again.

    :returns: whether the database is in WAL mode now.
    """
    if cursor.execute('PRAGMA page_count').fetchone()[0] == 0:
        return False
    if cursor.execute('PRAGMA journal_mode').fetchone()[0] != 'wal':
        cursor.execute('PRAGMA journal_mode = WAL')
    return True


def _on_engine_create(engine):
    if engine.dialect.name != 'sqlite':
        return
    file_db = sqlite_path(str(engine.url)) is not None
    sqlite.serialise_writers(engine)

    @sa.event.listens_for(engine, 'connect')
    def _set_sqlite_pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA busy_timeout = %d' % SQLITE_BUSY_TIMEOUT_MS)
        if file_db:
            if set_wal(cursor) and CONF.database.sqlite_synchronous:
                # WAL with NORMAL: a commit is not synced to disk by
                # itself but survives any crash of the process; only a
                # power loss can lose the last ones (never corrupt the
                # file). FULL made every step wait for a disk sync, inside
                # SQLite's write lock. (False: oslo.db's OFF.)
                cursor.execute('PRAGMA synchronous = NORMAL')
        cursor.close()

    if file_db:
        # oslo.db opened a first connection before this listener existed.
        engine.pool.dispose()


class SQLitePoolPlugin(CreateEnginePlugin):
    """Keeps a SQLite file's connections open in a pool.

    oslo.db gives a SQLite file a NullPool: a new connection, with its
    pragmas, for every transaction, and closing the last connection to a WAL
    database checkpoints the log and deletes it. That cost 2.2 ms of CPU
    (4 to 6 ms of wall time) per transaction, 0.4 ms pooled; a conductor
    writes our tables some 20 times per host flow. SQLAlchemy's own default
    for a SQLite file is this pool (our logbooks' engine uses it too).
    """

    def __init__(self, url, kwargs):
        super().__init__(url, kwargs)
        kwargs['poolclass'] = sa_pool.QueuePool

    def update_url(self, url):
        return url


sa_plugins.register(SQLITE_POOL_PLUGIN, __name__, 'SQLitePoolPlugin')


def _engine_url(url):
    """The URL oslo.db opens: ours, a SQLite file pooled, MySQL in
    utf8mb4."""
    if sqlite_path(url) is not None:
        return sa.engine.make_url(url).update_query_dict(
            {'plugin': SQLITE_POOL_PLUGIN}).render_as_string(
                hide_password=False)
    return _with_mysql_charset(url)


def _with_mysql_charset(url):
    # oslo.db asks for utf8 (3-byte) unless the URL names a charset: an
    # instance name with an emoji would not fit our utf8mb4 tables.
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return url  # reported when the engine is created
    if (parsed.get_backend_name() not in ('mysql', 'mariadb')
            or 'charset' in parsed.query):
        return url
    return parsed.update_query_dict({'charset': 'utf8mb4'}).render_as_string(
        hide_password=False)


def get_context_manager():
    """The process's transaction context manager, created on first use."""
    with _LOCK:
        if _STATE['context_manager'] is None:
            context_manager = enginefacade.transaction_context()
            context_manager.configure(
                sqlite_fk=True,
                # Its sleep(0) at each checkin is for eventlet, which
                # upgrader never runs on: each thread waited for the GIL.
                thread_checkin=False,
                connection=_engine_url(connection_url()))
            context_manager.append_on_engine_create(_on_engine_create)
            _STATE['context_manager'] = context_manager
        return _STATE['context_manager']


def get_engine():
    """The writer engine; raises DatabaseUnavailable or ConfigInvalid."""
    check_sqlite_directory()
    with translate_errors():
        return get_context_manager().writer.get_engine()


@contextlib.contextmanager
def connect(begin=False):
    """A connection (in a transaction if begin) of the writer engine.

    A failure to connect, whatever the driver says, is DatabaseUnavailable.
    """
    writer = get_engine()
    with translate_errors():
        try:
            connection = writer.connect()
        except (sa.exc.DBAPIError, db_exc.DBError) as e:
            raise exception.DatabaseUnavailable(
                reason=unavailable_reason(e)) from e
        with connection:
            if begin:
                with connection.begin():
                    yield connection
            else:
                yield connection


def reset():
    """Forget the engine: the next use reads [database] again (tests)."""
    with _LOCK:
        context_manager = _STATE['context_manager']
        _STATE['context_manager'] = None
        _STATE['schema_checked'] = False
        _STATE['rollout_ids'] = {}
    if context_manager is not None:
        context_manager.dispose_pool()


def rollout_ids():
    """{rollout uuid: id} of the database in use (see reset)."""
    return _STATE['rollout_ids']


def schema_checked():
    return _STATE['schema_checked']


def set_schema_checked(value=True):
    _STATE['schema_checked'] = value


def _one_line(error):
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    try:
        password = sa.engine.make_url(connection_url()).password
    except Exception:
        password = None
    if password:
        line = line.replace(str(password), '***')
    return strutils.mask_password(line)


def unavailable_reason(error):
    """One line saying which database could not be reached and why."""
    inner = getattr(error, 'inner_exception', None) or error
    cause = getattr(inner, 'orig', None) or inner
    return '%s: %s' % (masked_url(), _one_line(cause))


@contextlib.contextmanager
def translate_errors():
    """Turn connection and URL errors into upgrader exceptions."""
    try:
        yield
    except db_exc.DBConnectionError as e:
        raise exception.DatabaseUnavailable(
            reason=unavailable_reason(e)) from e
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError,
            db_exc.CantStartEngineError, ImportError) as e:
        raise exception.ConfigInvalid(
            reason='[database] connection %s: %s'
                   % (masked_url(), _one_line(e))) from e
