"""Any Django management command: `prod-entry manage migrate` -> `python manage.py migrate`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import NAMED, TASK, Launch
from entrypoint.backends._common import django_command, no_app
from entrypoint.settings.config import Process

PROBE = NAMED  # nothing prod-entry knows of to ask: only a probe the user names


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "the command and its options go in ARGS or on the command line")
    return django_command(process, [], extra, TASK)
