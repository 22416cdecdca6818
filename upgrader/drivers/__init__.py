"""Drivers: how upgrader reaches the cloud's services and its hosts.

Each kind of driver is a stevedore namespace (``upgrader.<kind>_drivers``)
with a ``base.py`` contract, a real implementation and a simulated one.
"""

from stevedore import driver as stevedore_driver

from upgrader.common import exception


def load(namespace, name, conf, option):
    """Instantiate the driver ``name`` of ``namespace`` with ``conf``.

    :param option: the option that named it, for the error message.
    """
    try:
        mgr = stevedore_driver.DriverManager(namespace, name,
                                             invoke_on_load=True,
                                             invoke_args=(conf,))
    except stevedore_driver.NoMatches:
        raise exception.ConfigInvalid(
            reason='unknown driver %r (%s)' % (name, option))
    return mgr.driver
