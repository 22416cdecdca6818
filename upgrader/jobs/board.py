"""The ZooKeeper job board: one kazoo client per process, and the board.

Jobs are named deterministically (``rollout/<uuid>/controller/<attempt>``,
``rollout/<uuid>/host/<host>``) and :func:`post_once` posts a name only if the
board does not hold it already, so a resumed controller never posts a host
twice.
"""

import json
import threading
import time

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo import retry as kazoo_retry
from kazoo import security as kazoo_security
from kazoo.handlers import threading as kazoo_threading
from kazoo.protocol import paths as kazoo_paths
from oslo_log import log as logging
from taskflow import exceptions as tf_exc
from taskflow.jobs.backends import impl_zookeeper
from taskflow.utils import kazoo_utils

from upgrader.common import exception

LOG = logging.getLogger(__name__)

# Listings of the board tried before a lookup gives up (see find).
LISTING_ATTEMPTS = 5

_LOCK = threading.Lock()
_CLIENT = {}


def reconnect_delay(session_timeout):
    """The longest pause between two attempts to reach ZooKeeper.

    kazoo doubles the pause after each failed attempt, up to an hour: a
    server back after a long outage would be found only once the session,
    and every claim with it, had expired. A third of the session timeout
    finds it with time to spare.
    """
    return session_timeout / 3.0


def make_client(conf):
    """A new, unstarted kazoo client from ``[jobboard]``."""
    opts = conf.jobboard
    handler = kazoo_threading.SequentialThreadingHandler()
    kwargs = {'hosts': ','.join(opts.hosts), 'timeout': opts.session_timeout,
              'handler': handler,
              'connection_retry': kazoo_retry.KazooRetry(
                  max_tries=-1,
                  max_delay=reconnect_delay(opts.session_timeout),
                  sleep_func=handler.sleep_func)}
    if opts.auth_username:
        acl = kazoo_security.make_digest_acl(
            opts.auth_username, opts.auth_password or '', all=True)
        kwargs.update(
            default_acl=[acl],
            auth_data=[('digest', '%s:%s' % (opts.auth_username,
                                             opts.auth_password or ''))])
    if opts.use_ssl:
        kwargs.update(use_ssl=True, ca=opts.ca_file, certfile=opts.cert_file,
                      keyfile=opts.key_file)
    return kazoo_client.KazooClient(**kwargs)


def get_client(conf):
    """The process's shared, started kazoo client."""
    with _LOCK:
        client = _CLIENT.get('client')
        if client is None:
            client = make_client(conf)
            try:
                client.start(timeout=conf.jobboard.session_timeout)
            except Exception as e:    # kazoo's timeout is a bare Exception
                LOG.debug('ZooKeeper start failed', exc_info=True)
                client.close()
                raise exception.JobBoardUnavailable(
                    hosts=','.join(conf.jobboard.hosts),
                    reason=str(e) or type(e).__name__)
            _CLIENT['client'] = client
        return client


def close_client():
    with _LOCK:
        client = _CLIENT.pop('client', None)
    if client is not None:
        client.stop()
        client.close()


class Board(impl_zookeeper.ZookeeperJobBoard):
    """taskflow's ZooKeeper job board, which also tells which jobs are
    unclaimed without asking ZooKeeper about each.

    taskflow learns of jobs from a watch on the board's children, which
    lists the jobs' lock nodes too; a conductor looking for work would then
    read each job's lock and node (three round trips per job, at every look,
    for every job on the board). The locks the watch listed say it without
    a read.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._locked = frozenset()

    def _on_job_posting(self, children, delayed=True):
        cut = len(self.LOCK_POSTFIX)
        self._locked = frozenset(
            kazoo_paths.join(self.path, child[:-cut]) for child in children
            if child.endswith(self.LOCK_POSTFIX))
        super()._on_job_posting(children, delayed=delayed)

    def unclaimed_jobs(self):
        """The jobs unclaimed when ZooKeeper last told, oldest first (none
        while cut off from it). A claim of one may still fail: another
        conductor may have claimed it since."""
        if not self.connected:
            return []
        with self._job_cond:
            jobs = sorted(self._known_jobs.values())
        return [job for job in jobs if self.unclaimed(job)]

    def claim(self, job, who):
        """taskflow's claim in one ZooKeeper round trip, not two (four when
        another conductor won): its read of the job fetched only the
        version its transaction checks (a job's node never changes once
        posted): the transaction checks that the job is there, at any
        version. A lost race is not followed by a look at who won it.

        :raises: UnclaimableJob (claimed already), NotFound (the job is
            gone), JobFailure (ZooKeeper cannot be reached).
        """
        with self._wrap(job.uuid, job.path,
                        fail_msg_tpl='Claiming failure: %s'):
            txn = self._client.transaction()
            txn.check(job.path, version=-1)
            txn.create(job.lock_path, ephemeral=True,
                       value=json.dumps({'owner': who}).encode('utf-8'))
            try:
                kazoo_utils.checked_commit(txn)
            except kazoo_utils.KazooTransactionException as e:
                errors = [error for _op, error in e.failures]
                if any(isinstance(error, kazoo_exc.NodeExistsError)
                       for error in errors):
                    raise tf_exc.UnclaimableJob(
                        'Job %s already claimed' % job.uuid)
                if any(isinstance(error, kazoo_exc.NoNodeError)
                       for error in errors):
                    raise tf_exc.NotFound(
                        'Job %s not found to be claimed' % job.uuid)
                raise tf_exc.UnclaimableJob(
                    'Job %s claim failed: %s' % (job.uuid, e))

    def unclaimed(self, job):
        """Whether the job is still on the board and unclaimed, as
        ZooKeeper last told."""
        return (self.connected and job.path not in self._locked
                and job.path in self._known_jobs)


def get_board(conf, persistence, name='upgrader'):
    """The connected job board (its client shared with the process)."""
    board = Board(name, {'path': conf.jobboard.path},
                  client=get_client(conf), persistence=persistence)
    try:
        board.connect()
    except tf_exc.JobFailure as e:
        raise exception.JobBoardUnavailable(
            hosts=','.join(conf.jobboard.hosts), reason=str(e))
    return board


def find(board, name):
    """The job named ``name`` on the board, or None.

    :raises: JobFailure while the board is cut off from ZooKeeper (taskflow
        would list no job at all).
    """
    return find_all(board, [name])[name]


def find_all(board, names):
    """{name: the job of that name on the board, or None} (one listing for
    all, e.g. the jobs of a wave).

    :raises: JobFailure while the board is cut off from ZooKeeper.
    """
    names = set(names)
    # taskflow's listing leaves out a job whose state it failed to read:
    # only a listing as long as ZooKeeper's says a job is not there (else
    # a job could be posted twice and run by two conductors at once). A job
    # posted meanwhile also makes them differ: list again.
    for _attempt in range(LISTING_ATTEMPTS):
        if not board.connected:
            raise tf_exc.JobFailure('job board not connected to ZooKeeper')
        listed = list(board.iterjobs(ensure_fresh=True))
        found = {job.name: job for job in listed if job.name in names}
        if len(found) == len(names) or len(listed) >= _job_nodes(board):
            return {name: found.get(name) for name in names}
        time.sleep(0.1)
    raise tf_exc.JobFailure('job board listing incomplete')


def gone(job):
    """Whether ``job``'s node is gone from ZooKeeper (consumed or trashed).

    One read, where taskflow's ``job.state`` makes three (a sync, the lock,
    the job). Reads may lag behind the leader, never run ahead of it, and a
    job's node (sequential) is never created again: a node seen gone is
    gone; one seen still there is asked about again.

    :raises: JobFailure when ZooKeeper cannot be asked.
    """
    client = _CLIENT.get('client')
    if client is None:
        raise tf_exc.JobFailure('no ZooKeeper client')
    try:
        return client.exists(job.path) is None
    except (kazoo_exc.KazooException, client.handler.timeout_exception) as e:
        raise tf_exc.JobFailure('cannot read %s: %s' % (job.path, e))


def _job_nodes(board):
    """How many job nodes ZooKeeper holds under the board's path."""
    client = _CLIENT.get('client')
    if client is None:
        return 0
    try:
        children = client.get_children(board.path)
    except kazoo_exc.NoNodeError:
        return 0
    except kazoo_exc.KazooException as e:
        raise tf_exc.JobFailure('cannot list %s: %s' % (board.path, e))
    return sum(1 for c in children if c.startswith(board.JOB_PREFIX)
               and not c.endswith(board.LOCK_POSTFIX))


def post_once(board, name, book, flow_detail, listing=None, **details):
    """Post a job for ``flow_detail`` unless one named ``name`` exists.

    ``details`` (JSON, no secrets) travel with the job for the conductor's
    listeners; the flow's store is in the flow detail. ``listing``, from
    :func:`find_all` just before, saves a listing of the board; the name is
    taken out of it, so that a post tried again (it may have reached
    ZooKeeper before failing) lists the board afresh.
    """
    if listing is not None and name in listing:
        job = listing.pop(name)
    else:
        job = find(board, name)
    if job is None:
        # The board keeps the posted job with this very book object, and a
        # conductor of this process claims that job: without the flow
        # detail in it, taskflow cannot find the flow and trashes the job.
        book.add(flow_detail)
        job = board.post(name, book=book,
                         details=dict(details, flow_uuid=flow_detail.uuid))
        LOG.info('Posted job %s', name)
    return job


def controller_job_name(rollout_uuid, attempt):
    return 'rollout/%s/controller/%d' % (rollout_uuid, attempt)


def host_job_name(rollout_uuid, host):
    return 'rollout/%s/host/%s' % (rollout_uuid, host)
