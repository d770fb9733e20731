"""Celery: `celery --app=APP worker|beat [ARGS] [EXTRA]`. APP defaults to the Django project package
(`myproject` for DJANGO_SETTINGS_MODULE=myproject.settings), where Celery's docs put `celery.py`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from entrypoint.backends import (
    HEARTBEAT,
    NAMED,
    WORKER,
    Default,
    Given,
    Launch,
    Setting,
    Word,
    defaults,
    extra_words,
    given_in_env,
    given_in_words,
    process_var,
    program,
    user_words,
)
from entrypoint.logs import options
from entrypoint.settings import argv, sizing
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import project_package, settings_module

# The worker keeps a heartbeat file fresh once its app calls celery_heartbeat.install(); beat has no loop
# prod-entry hooks into, so it is probed only as the user names.
PROBE = {"celery-worker": HEARTBEAT, "celery-beat": NAMED}
HEARTBEAT_HINT = "call entrypoint.health.heartbeats.celery.install() where the Celery app is created"


def _build(command: str, process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or project_package(env, process_var(process, "APP"))
    app_origin = process.origins.get("app", "derived from DJANGO_SETTINGS_MODULE")
    given = user_words(process) + extra_words(extra)
    added = []
    # Celery's default level is WARNING, which hides even the worker's start-up banner lines in a container.
    if not argv.mentions([w.text for w in given], "--loglevel", "-l"):
        added.append(Word("--loglevel=INFO", "default"))
    counts: list[Setting] = []
    if command == "worker":
        settings = given_settings(env, given)
        counts = concurrency(process, env, settings)
        added += defaults(settings, [Default(c.name, (f"--concurrency={c.value}",), "sizing (below)", ("autoscale",))
                                     for c in counts])
    words = [Word(program("celery"), f"backend {process.backend}"), Word(f"--app={app}", app_origin),
             Word(command, f"backend {process.backend}"), *added, *given]
    return Launch(words, WORKER, app, sizing=tuple(counts))


def build_worker(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("worker", process, env, extra)


def build_beat(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("beat", process, env, extra)


# --- sizing: --concurrency of the prefork pool (settings/sizing.py: one child per CPU, as many as the memory fits)

OPTIONS = {"concurrency": ("--concurrency", "-c"), "pool": ("--pool", "-P"), "autoscale": ("--autoscale",)}
# The names a Django project gives them in its settings (Celery's documented CELERY_ namespace, and the old names).
DJANGO_SETTINGS = {"concurrency": ("CELERY_WORKER_CONCURRENCY", "CELERYD_CONCURRENCY"),
                   "pool": ("CELERY_WORKER_POOL", "CELERYD_POOL")}
PREFORK = ("prefork", "processes")


def concurrency(process: Process, env: Mapping[str, str], given: Given) -> list[Setting]:
    """--concurrency for the prefork pool: the user's where they set it (or --autoscale, which replaces it), else
    sized. A pool without processes (threads, gevent, eventlet, solo) keeps Celery's own rule."""
    if "pool" in given and given["pool"].value.lower() not in PREFORK:
        return []
    if "autoscale" in given:
        return [sizing.yours(given["autoscale"])]
    count = sizing.count(process, env, "concurrency", given.get("concurrency"), per_cpu=True, unit="child")
    return [count] if count else []


def given_settings(env: Mapping[str, str], words: Sequence[Word]) -> Given:
    """What the user set, lowest precedence first: the Django settings module, the environment, argv. Celery reads
    CELERY_WORKER_CONCURRENCY / CELERY_WORKER_POOL itself (its click options' CELERY_ prefix); it never reads
    CELERYD_CONCURRENCY from the environment, but a project that sets it passes it to its settings, and means a
    count. Not read: worker_concurrency set in the app's own module or a celeryconfig."""
    found: Given = {}
    if env.get("DJANGO_SETTINGS_MODULE", "").strip():
        module = settings_module(env, "the Celery worker's concurrency")
        for name, names in DJANGO_SETTINGS.items():
            for setting in names:
                if getattr(module, setting, None) not in (None, ""):
                    found[name] = Setting(name, (str(getattr(module, setting)),), f"{module.__name__}.{setting}")
    return {**found, **given_in_env(env, {"concurrency": "CELERYD_CONCURRENCY"}),
            **given_in_env(env, {"concurrency": "CELERY_WORKER_CONCURRENCY", "pool": "CELERY_WORKER_POOL"}),
            **given_in_words(words, OPTIONS)}


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
