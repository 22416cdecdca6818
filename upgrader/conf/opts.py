"""Every option group of upgrader, for the oslo.config.opts entry point."""

from upgrader.conf import cloud
from upgrader.conf import database
from upgrader.conf import default
from upgrader.conf import host_access
from upgrader.conf import jobboard
from upgrader.conf import notifications
from upgrader.conf import persistence
from upgrader.conf import scheduler
from upgrader.conf import workflow


def list_opts():
    return [
        ('DEFAULT', default.list_opts()),
        ('database', database.list_opts()),
        (cloud.GROUP, cloud.list_opts()),
        (host_access.GROUP, host_access.list_opts()),
        (jobboard.GROUP, jobboard.list_opts()),
        (notifications.GROUP, notifications.list_opts()),
        (persistence.GROUP, persistence.list_opts()),
        (scheduler.GROUP, scheduler.list_opts()),
        (workflow.GROUP, workflow.list_opts()),
    ]
