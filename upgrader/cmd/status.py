"""upgrader-status: is this deployment ready to run rollouts?

``upgrader-status upgrade check`` (oslo.upgradecheck) verifies that our
database schema is current and that the cloud answers. Exit codes: 0 all
checks passed, 1 warnings, 2 a check failed, 255 unexpected error.
"""

import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_upgradecheck import upgradecheck

from upgrader.common import exception
from upgrader import conf as upgrader_conf
from upgrader.db import migration
from upgrader.drivers import compute

CONF = upgrader_conf.CONF
Code = upgradecheck.Code


def _result_of(check):
    """Run check(); an upgrader error becomes a failure with its message."""
    try:
        details = check()
    except exception.UpgraderException as e:
        return upgradecheck.Result(Code.FAILURE, str(e))
    return upgradecheck.Result(Code.SUCCESS, details)


class Checks(upgradecheck.UpgradeCommands):
    """The checks of ``upgrader-status upgrade check``."""

    def _check_database(self):
        return _result_of(lambda: 'schema at revision %s'
                          % migration.check_current())

    # taskflow and kazoo are imported by the checks that use them, so that
    # upgrader-status --help starts without them.

    def _check_persistence(self):
        from upgrader.jobs import persistence

        def check():
            persistence.check(CONF)
            return 'TaskFlow logbook schema is current'
        return _result_of(check)

    def _check_jobboard(self):
        if not CONF.jobboard.enabled:
            return upgradecheck.Result(
                Code.SUCCESS, 'not enabled: rollouts run embedded')
        from upgrader.jobs import board as job_board

        def check():
            version = job_board.get_client(CONF).server_version()
            job_board.close_client()
            return 'ZooKeeper %s at %s' % ('.'.join(map(str, version)),
                                          ','.join(CONF.jobboard.hosts))
        return _result_of(check)

    def _check_cloud(self):
        return _result_of(lambda: 'compute API at %s'
                          % compute.fetch(CONF).check())

    _upgrade_checks = (
        ('Database schema', _check_database),
        ('TaskFlow persistence', _check_persistence),
        ('Job board', _check_jobboard),
        ('Cloud', _check_cloud),
    )


def main():
    logging.register_options(CONF)
    CONF.set_default('use_stderr', True)
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['oslo_db=ERROR', 'keystoneauth=ERROR'])
    try:
        return upgradecheck.main(CONF, project='upgrader',
                                 upgrade_command=Checks(), argv=sys.argv[1:])
    except cfg.Error as e:
        print('ERROR: %s' % str(e).splitlines()[0], file=sys.stderr)
        return 2
