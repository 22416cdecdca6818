"""upgrader's tables: releases, rollouts, host runs, instance moves, events.

``upgrader.db.api`` is the contract, ``upgrader.db.migration`` the schema.
"""
