"""upgrader: rolling upgrades for OpenStack clouds."""
