"""upgrader-conductor: runs rollouts posted on the ZooKeeper job board.

    upgrader-conductor [--config-file FILE]

Run several, on several machines: any conductor runs any rollout controller
or host job, and one that dies is replaced by another. SIGTERM (or Ctrl-C)
hands its jobs over gracefully: each engine stops after its current step.
Conductors also start the rollouts whose schedule is due.
"""

import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging

from upgrader import api
from upgrader.cmd import common
from upgrader.common import exception
from upgrader.db import api as db_api
from upgrader.jobs import board as job_board
from upgrader.jobs import conductor as conductor_mod
from upgrader.jobs import fence as job_fence
from upgrader.jobs import persistence
from upgrader.jobs import runner
from upgrader.tasks import base

CONF = common.CONF
LOG = logging.getLogger(__name__)


def serve():
    dbapi = db_api.get_instance()
    dbapi.rollout_list()            # the schema is current, or say so now
    backend = persistence.get_backend(CONF)
    persistence.check(CONF)
    board = job_board.get_board(CONF, backend)
    client = job_board.get_client(CONF)
    name = conductor_mod.conductor_name(CONF)
    # A claim that cannot be read on a live connection: retry for up to
    # the session timeout before fencing. A claim read as ours is ours for
    # the session timeout after: trust it for a third of that.
    fence = job_fence.ConductorFence(
        board, client, name, patience=CONF.jobboard.session_timeout,
        lease=CONF.jobboard.session_timeout / 3.0)
    base.set_runtime(runner.build_runtime(CONF, dbapi, backend, board=board,
                                          fence=fence))
    conductor = conductor_mod.make(CONF, board, client, fence, backend)

    stopping = threading.Event()
    scheduler = threading.Thread(target=_start_due_schedules,
                                 args=(stopping,), name='scheduler',
                                 daemon=True)

    def stop(signum, _frame):
        LOG.info('Signal %d: handing jobs over and stopping', signum)
        stopping.set()
        fence.stop()
        conductor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info('Conductor %s serving job board %s on %s', name,
             CONF.jobboard.path, ','.join(CONF.jobboard.hosts))
    print('conductor %s ready' % name, flush=True)
    try:
        conductor.connect()
        scheduler.start()
        conductor.run()
        conductor.wait()
    finally:
        stopping.set()
        board.close()
        job_board.close_client()
        backend.close()


def _start_due_schedules(stopping):
    """Post the rollouts whose schedule is due (any conductor may: each
    occurrence goes to the one that moves it on first)."""
    while not stopping.wait(CONF.scheduler.poll_interval):
        try:
            for name in api.commit_due(CONF):
                LOG.info('Rollout %s committed: its soak time is over', name)
            for rollout in api.start_due(CONF):
                LOG.info('Schedule due: posting rollout %s', rollout['name'])
                api.post_on_board(CONF, rollout['uuid'])
        except Exception:
            LOG.exception('Could not start the due schedules')


def main():
    try:
        common.parse_config(sys.argv[1:], description=__doc__, service=True)
    except cfg.Error as e:
        common.error(e)
        return common.EXIT_FAILED
    try:
        serve()
    except exception.UpgraderException as e:
        common.error(e)
        return e.exit_code
    except Exception as e:
        LOG.exception('Conductor failed')
        common.error('unexpected error: %s' % e)
        return common.EXIT_UNEXPECTED
    return common.EXIT_OK
