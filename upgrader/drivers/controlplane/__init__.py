"""Control-plane drivers: the services of controller hosts and the load
balancer in front of them.

Only the simulator's exists yet (``impl_simulator``); a production one would
reach systemd and the packages over ssh and the balancer through its admin
interface (HAProxy's socket, Octavia). ``fetch()`` returns it until there is
a choice to configure.
"""


def fetch(conf):
    from upgrader.drivers.controlplane import impl_simulator
    return impl_simulator.SimulatorControlPlaneDriver(conf)
