"""Deprecated: moved to entrypoint.warmup.wsgi (prod-entry 0.2). This alias is that very module (the same classes and state),
kept so that existing settings, Celery app modules and worker classes that name the old path still work."""

import sys

from entrypoint.warmup import wsgi

sys.modules[__name__] = wsgi
