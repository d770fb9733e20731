"""Deprecated: moved to entrypoint.health.heartbeats.rq (prod-entry 0.2). This alias is that very module (the same classes and state),
kept so that existing settings, Celery app modules and worker classes that name the old path still work."""

import sys

from entrypoint.health.heartbeats import rq

sys.modules[__name__] = rq
