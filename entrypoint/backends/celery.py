"""Celery: `celery --app=APP worker|beat [ARGS] [EXTRA]`. APP defaults to the Django project package
(`myproject` for DJANGO_SETTINGS_MODULE=myproject.settings), where Celery's docs put `celery.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import (HEARTBEAT, NAMED, WORKER, Launch, Word, extra_words, process_var, program,
                                 user_words)
from entrypoint.config import Process
from entrypoint.django_settings import project_package

# The worker keeps a heartbeat file fresh once its app calls celery_heartbeat.install(); beat has no loop
# prod-entry hooks into, so it is probed only as the user names.
PROBE = {"celery-worker": HEARTBEAT, "celery-beat": NAMED}
HEARTBEAT_HINT = "call entrypoint.celery_heartbeat.install() where the Celery app is created"


def _build(command: str, process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or project_package(env, process_var(process, "APP"))
    app_origin = process.origins.get("app", "derived from DJANGO_SETTINGS_MODULE")
    given = user_words(process) + extra_words(extra)
    defaults = []
    # Celery's default level is WARNING, which hides even the worker's start-up banner lines in a container.
    if not argv.mentions([w.text for w in given], "--loglevel", "-l"):
        defaults.append(Word("--loglevel=INFO", "default"))
    words = [Word(program("celery"), f"backend {process.backend}"), Word(f"--app={app}", app_origin),
             Word(command, f"backend {process.backend}"), *defaults, *given]
    return Launch(words, WORKER, app)


def build_worker(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("worker", process, env, extra)


def build_beat(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("beat", process, env, extra)
