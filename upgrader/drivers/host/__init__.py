"""Host-access drivers: packages, reboots and reachability of one host.

Drivers are stevedore plugins in the ``upgrader.host_drivers`` namespace;
``fetch()`` loads the one named in ``[host_access] driver``.
"""

from upgrader import drivers

NAMESPACE = 'upgrader.host_drivers'


def fetch(conf, name=None):
    """Load and instantiate a host-access driver (default: the configured
    one)."""
    return drivers.load(NAMESPACE, name or conf.host_access.driver, conf,
                        '[host_access] driver')
