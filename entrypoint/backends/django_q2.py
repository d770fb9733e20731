"""A django-q2 cluster: `python manage.py qcluster [ARGS] [EXTRA]`. Its broker and workers come from the
Django setting Q_CLUSTER ({"orm": "default"}: the database is the broker, no other service).

JSON logs: django-q logs to its "django-q" logger, which gets a text handler of its own when nothing above it
has one as its settings are imported (inside django.setup()). With PROD_ENTRY_LOG_FORMAT=json the command is
run by this module (`python -m entrypoint.backends.django_q2 manage.py qcluster ...`): the root logger is JSON
before that, so django-q's records propagate to it, and again once django.setup() has applied the project's
LOGGING."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import Launch
from entrypoint.backends._common import django_command, no_app, run_by, run_django_command
from entrypoint.logs import options
from entrypoint.settings.config import Process


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "qcluster reads its broker and workers from the Django setting Q_CLUSTER")
    return django_command(process, ["qcluster"], extra)


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `python -m entrypoint.backends.django_q2` in place of `python`, the rest of the command unchanged."""
    if not options.enabled(env):
        return None
    return run_by(launch, __name__, "JSON logs runner (the qcluster command, logging JSON)")


def run(args: list[str]) -> None:
    """The command, with the root logger JSON before and after django.setup()."""
    from entrypoint.logs import jsonlog

    jsonlog.configure()
    # The project's LOGGING is applied by then: its plain console handlers JSON.
    run_django_command(args, jsonlog.configure)


if __name__ == "__main__":
    run(sys.argv[1:])
