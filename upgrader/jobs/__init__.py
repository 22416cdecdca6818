"""Running host and rollout flows: TaskFlow persistence, job board,
dispatchers, conductor and listeners."""
