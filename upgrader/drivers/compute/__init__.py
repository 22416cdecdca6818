"""Compute drivers: how upgrader reads and drives the cloud's compute service.

Drivers are stevedore plugins in the ``upgrader.compute_drivers`` namespace;
``fetch()`` loads the one named in ``[cloud] compute_driver``.
"""

from stevedore import driver as stevedore_driver

from upgrader.common import exception

NAMESPACE = 'upgrader.compute_drivers'


def fetch(conf, name=None):
    """Load and instantiate a compute driver (default: the configured one)."""
    name = name or conf.cloud.compute_driver
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name,
                                             invoke_on_load=True,
                                             invoke_args=(conf,))
    except stevedore_driver.NoMatches:
        raise exception.ConfigInvalid(
            reason='unknown compute driver %r ([cloud] compute_driver)' % name)
    return mgr.driver
