"""upgrader's configuration: one module per option group, all registered on CONF."""

from oslo_config import cfg

from upgrader.conf import cloud
from upgrader.conf import database
from upgrader.conf import default
from upgrader.conf import host_access
from upgrader.conf import persistence
from upgrader.conf import workflow

CONF = cfg.CONF

default.register_opts(CONF)
database.register_opts(CONF)
cloud.register_opts(CONF)
host_access.register_opts(CONF)
persistence.register_opts(CONF)
workflow.register_opts(CONF)
