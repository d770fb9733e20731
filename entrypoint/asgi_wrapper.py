"""Deprecated: moved to entrypoint.warmup.asgi (prod-entry 0.2). This alias is that very module (the same classes and state),
kept so that existing settings, Celery app modules and worker classes that name the old path still work."""

import sys

from entrypoint.warmup import asgi

sys.modules[__name__] = asgi
