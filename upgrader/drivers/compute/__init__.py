"""Compute drivers: how upgrader reads and drives the cloud's compute service.

Drivers are stevedore plugins in the ``upgrader.compute_drivers`` namespace;
``fetch()`` loads the one named in ``[cloud] compute_driver``.
"""

from upgrader import drivers

NAMESPACE = 'upgrader.compute_drivers'


def fetch(conf, name=None):
    """Load and instantiate a compute driver (default: the configured one)."""
    return drivers.load(NAMESPACE, name or conf.cloud.compute_driver, conf,
                        '[cloud] compute_driver')
