"""Host-access drivers: packages, reboots and reachability of one host.

Drivers are stevedore plugins in the ``upgrader.host_drivers`` namespace;
``fetch()`` loads the one named in ``[host_access] driver``.
"""

from stevedore import driver as stevedore_driver

from upgrader.common import exception

NAMESPACE = 'upgrader.host_drivers'


def fetch(conf, name=None):
    """Load and instantiate a host-access driver (default: the configured one)."""
    name = name or conf.host_access.driver
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name,
                                             invoke_on_load=True,
                                             invoke_args=(conf,))
    except stevedore_driver.NoMatches:
        raise exception.ConfigInvalid(
            reason='unknown host-access driver %r ([host_access] driver)'
            % name)
    return mgr.driver
