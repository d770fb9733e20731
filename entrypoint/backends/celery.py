"""Celery: `celery --app=APP worker|beat [ARGS] [EXTRA]`. APP defaults to the Django project package
(`myproject` for DJANGO_SETTINGS_MODULE=myproject.settings), where Celery's docs put `celery.py`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from entrypoint.backends import HEARTBEAT, NAMED, WORKER, Launch, Word, extra_words, process_var, program, user_words
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import project_package

# The worker keeps a heartbeat file fresh once its app calls celery_heartbeat.install(); beat has no loop
# prod-entry hooks into, so it is probed only as the user names.
PROBE = {"celery-worker": HEARTBEAT, "celery-beat": NAMED}
HEARTBEAT_HINT = "call entrypoint.health.heartbeats.celery.install() where the Celery app is created"


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


# --- logs: JSON through an --app wrapper --------------------------------------------------------------------
#
# Celery configures logging in the worker (and beat) process from its setup_logging signal, which only code in
# that process can connect to. With PROD_ENTRY_LOG_FORMAT=json the app word becomes this module's `app`: the
# user's own Celery app (found as celery's --app finds it, by PROD_ENTRY_CELERY_APP), after connecting our
# setup_logging receiver. Nothing to add to the project, as the ASGI/WSGI wrappers need nothing.

APP_VAR = "PROD_ENTRY_CELERY_APP"
WRAPPER = "entrypoint.backends.celery:app"


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--app=entrypoint.backends.celery:app --quiet` (celery prints its banner as text, straight to
    stdout; its `ready` line is logged)."""
    if not options.enabled(env):
        return None
    words = list(launch.words)
    at = next(i for i, word in enumerate(words) if word.text.startswith("--app="))
    words[at] = Word(f"--app={WRAPPER}", f"JSON logs wrapper serving {launch.app} ({words[at].origin})")
    words.insert(at + 1, Word("--quiet", "JSON logs (no text banner)"))
    return launch._replace(words=words)


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if f"--app={WRAPPER}" in launch.argv and launch.app:
        os.environ[APP_VAR] = launch.app


def __getattr__(name: str) -> Any:
    """`app`, for celery's --app: the user's app with JSON logging connected (a module attribute computed on
    first use, so planning a launch never imports Celery)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import celery.apps.worker
    from celery import signals
    from celery.app.utils import find_app

    from entrypoint.logs import jsonlog

    app = find_app(os.environ[APP_VAR])
    # The worker warns (running as root, ...) before it sets up logging, and after the Django fixup applied the
    # project's LOGGING: JSON from celeryd_init on, the signal sent just before those warnings.
    signals.celeryd_init.connect(lambda **kwargs: jsonlog.configure(), weak=False, dispatch_uid="prod-entry-init")

    def setup_logging(loglevel: Any = None, **kwargs: Any) -> None:
        jsonlog.configure(loglevel)  # after the Django fixup's django.setup(): the project's LOGGING is applied
        if app.conf.worker_redirect_stdouts:  # print() in a task: a record, as celery's own setup would do
            app.log.redirect_stdouts(app.conf.worker_redirect_stdouts_level)

    signals.setup_logging.connect(setup_logging, weak=False, dispatch_uid="prod-entry-json-logs")
    # Celery's shutdown messages bypass logging (os.write from the signal handler): the same, as JSON records.
    celery.apps.worker.safe_say = lambda message, *rest: jsonlog.say("info", "celery.worker", message.strip())
    globals()["app"] = app
    return app
