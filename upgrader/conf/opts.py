"""Every option group of upgrader, for the oslo.config.opts entry point."""

from upgrader.conf import cloud
from upgrader.conf import database
from upgrader.conf import default


def list_opts():
    return [
        ('DEFAULT', default.list_opts()),
        ('database', database.list_opts()),
        (cloud.GROUP, cloud.list_opts()),
    ]
