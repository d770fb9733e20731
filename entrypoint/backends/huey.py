"""huey's consumer for Django: `python manage.py run_huey [ARGS] [EXTRA]`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, Launch
from entrypoint.backends._common import django_command, no_app
from entrypoint.settings.config import Process

PROBE = HEARTBEAT
HEARTBEAT_HINT = "call entrypoint.health.heartbeats.huey.install(HUEY) in an AppConfig.ready()"


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "run_huey reads HUEY from Django settings")
    return django_command(process, ["run_huey"], extra)
