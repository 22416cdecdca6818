"""The simulator's HTTP APIs: Keystone, Nova, Placement, host agent and admin.

One module per service, each a :class:`~upgrader.simulator.api.base.Service`
whose routes the server dispatches by path prefix.
"""
