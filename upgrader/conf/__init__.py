"""upgrader's configuration: one module per option group, all registered on CONF."""

from oslo_config import cfg

from upgrader.conf import cloud
from upgrader.conf import database
from upgrader.conf import default
from upgrader.conf import host_access
from upgrader.conf import jobboard
from upgrader.conf import notifications
from upgrader.conf import persistence
from upgrader.conf import scheduler
from upgrader.conf import workflow

CONF = cfg.CONF


def register_opts(conf):
    """Register every option group of upgrader on ``conf``."""
    for group in (default, database, cloud, host_access, jobboard,
                  notifications, persistence, scheduler, workflow):
        group.register_opts(conf)


register_opts(CONF)
