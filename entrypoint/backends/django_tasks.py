"""django-tasks' database worker: `python manage.py db_worker [ARGS] [EXTRA]`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, Launch
from entrypoint.backends._common import django_command, no_app
from entrypoint.settings.config import Process

PROBE = HEARTBEAT
HEARTBEAT_HINT = "call entrypoint.health.heartbeats.django_tasks.install() in an AppConfig.ready()"


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "db_worker reads its task backends from Django settings")
    return django_command(process, ["db_worker"], extra)
