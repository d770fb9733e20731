"""huey's consumer for Django: `python -m entrypoint.backends.huey manage.py run_huey [ARGS] [EXTRA]`: the command as
`python manage.py run_huey` runs it, with prod-entry's heartbeat installed on the HUEY instance once Django is set up
(see entrypoint/health/heartbeats/huey.py): nothing to add to the project."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, Launch
from entrypoint.backends._common import django_command, no_app, run_by, run_django_command
from entrypoint.settings.config import Process

PROBE = HEARTBEAT
HEARTBEAT_HINT = ("prod-entry runs run_huey through entrypoint.backends.huey, which installs it; a consumer started "
                  "otherwise needs entrypoint.health.heartbeats.huey.install(HUEY) in an AppConfig.ready()")


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "run_huey reads HUEY from Django settings")
    return run_by(django_command(process, ["run_huey"], extra), __name__, "the heartbeat for healthcheck")


def install() -> None:
    from huey.contrib.djhuey import HUEY  # created as djhuey is imported, by django.setup()

    from entrypoint.health.heartbeats import huey

    huey.install(HUEY)  # once: a project's own install() in an AppConfig.ready() made this a no-op


if __name__ == "__main__":
    run_django_command(sys.argv[1:], install)
