"""upgrader's built-in cloud simulator: Keystone, Nova, Placement and hosts.

A simulated OpenStack cloud served over HTTP that the real openstacksdk drives
unchanged, with its state in one SQLite file; it is also the referee that
records every invariant violation::

    from upgrader import simulator
    simulator.create_cloud('cloud.db', hosts=16, instances=100, seed=42)
    with simulator.SimulatorServer('cloud.db') as sim:
        sim.write_clouds_yaml('clouds.yaml', 'sim')   # then openstack.connect
"""

from upgrader.simulator.generate import create_cloud  # noqa: F401
from upgrader.simulator.server import credentials  # noqa: F401
from upgrader.simulator.server import Simulator  # noqa: F401
from upgrader.simulator.server import SimulatorServer  # noqa: F401
from upgrader.simulator.server import start_subprocess  # noqa: F401
from upgrader.simulator.server import write_clouds_yaml  # noqa: F401
