"""Feature flags (issue 15): the flags server and its stores live here; ``daemon.flags.migration``
holds the staged migrations and the automatic rollback that judges them."""
