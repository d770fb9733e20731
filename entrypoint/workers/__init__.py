"""Deprecated: the workers' heartbeats moved to entrypoint.health.heartbeats (prod-entry 0.2); the modules
here are aliases of those, kept so that worker classes and middleware named by their old paths still work."""
