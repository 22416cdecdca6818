"""Planning: from an inventory and a policy to waves of hosts (pure, no I/O)."""
