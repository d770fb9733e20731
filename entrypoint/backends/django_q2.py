"""A django-q2 cluster: `python manage.py qcluster [ARGS] [EXTRA]`. Its broker and workers come from the
Django setting Q_CLUSTER ({"orm": "default"}: the database is the broker, no other service)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint.backends import Launch
from entrypoint.backends._common import django_command, no_app
from entrypoint.config import Process


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    no_app(process, "qcluster reads its broker and workers from the Django setting Q_CLUSTER")
    return django_command(process, ["qcluster"], extra)
