"""A django-q2 cluster: `python manage.py qcluster [ARGS] [EXTRA]`. Its broker and workers come from the
Django setting Q_CLUSTER ({"orm": "default"}: the database is the broker, no other service).

JSON logs: django-q logs to its "django-q" logger, which gets a text handler of its own when nothing above it
has one as its settings are imported (inside django.setup()). With PROD_ENTRY_LOG_FORMAT=json the command is
run by this module (`python -m entrypoint.backends.django_q2 manage.py qcluster ...`): the root logger is JSON
before that, so django-q's records propagate to it, and again once django.setup() has applied the project's
LOGGING."""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import Launch, Word
from entrypoint.backends._common import django_command, no_app
from entrypoint.logs import options
from entrypoint.settings.config import Process


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "qcluster reads its broker and workers from the Django setting Q_CLUSTER")
    return django_command(process, ["qcluster"], extra)


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `python -m entrypoint.backends.django_q2` in place of `python`, the rest of the command unchanged."""
    if not options.enabled(env):
        return None
    runner = [Word("-m", "JSON logs runner"), Word(__name__, "JSON logs runner (the qcluster command, logging JSON)")]
    return launch._replace(words=[launch.words[0], *runner, *launch.words[1:]])


def run(args: list[str]) -> None:
    """`manage.py ARGS` (run as Python runs it) or `-m django ARGS`, with the root logger JSON before and after
    django.setup()."""
    import django

    from entrypoint.logs import jsonlog

    jsonlog.configure()
    setup = django.setup

    def setup_then_json(*given: object, **named: object) -> None:
        setup(*given, **named)  # type: ignore[arg-type]
        jsonlog.configure()  # the project's LOGGING is applied: its plain console handlers JSON

    django.setup = setup_then_json  # type: ignore[assignment]
    if args[:2] == ["-m", "django"]:
        sys.argv = ["django", *args[2:]]
        runpy.run_module("django", run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(args)
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))  # as `python manage.py` puts its folder first
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    run(sys.argv[1:])
