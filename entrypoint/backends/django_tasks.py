"""django-tasks' database worker: `python -m entrypoint.backends.django_tasks manage.py db_worker [ARGS] [EXTRA]`:
the command as `python manage.py db_worker` runs it, with prod-entry's heartbeat installed once Django is set up
(see entrypoint/health/heartbeats/django_tasks.py): nothing to add to the project."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import HEARTBEAT, Launch
from entrypoint.backends._common import django_command, no_app, run_by, run_django_command
from entrypoint.settings.config import Process

PROBE = HEARTBEAT
HEARTBEAT_HINT = ("prod-entry runs db_worker through entrypoint.backends.django_tasks, which installs it; a worker "
                  "started otherwise needs entrypoint.health.heartbeats.django_tasks.install() in an "
                  "AppConfig.ready()")


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "db_worker reads its task backends from Django settings")
    return run_by(django_command(process, ["db_worker"], extra), __name__, "the heartbeat for healthcheck")


if __name__ == "__main__":
    from entrypoint.health.heartbeats import django_tasks

    # Once: a project's own install() in an AppConfig.ready() made this a no-op.
    run_django_command(sys.argv[1:], django_tasks.install)
