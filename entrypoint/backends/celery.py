"""Celery: `celery --app=APP worker|beat [ARGS] [EXTRA]`. APP defaults to the Celery module of the Django
project package, found as Celery users name it (`myproject.celery`, `myproject.celery_app`). The worker is
served through this module's `app` (the --app wrapper below), which adds the heartbeat with no line in the app."""

from __future__ import annotations

import importlib.machinery
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from entrypoint.backends import (HEARTBEAT, NAMED, WORKER, Given, Launch, Setting, Word, extra_words,
                                 given_in_env, given_in_words, process_var, program, user_words)
from entrypoint.health import rules
from entrypoint.logs import options
from entrypoint.settings import argv, sizing
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import project_package
from entrypoint.settings.error_lines import describe
from entrypoint.settings.errors import ConfigError, WarmupError
from entrypoint.settings.secrets import mask_urls

# The worker keeps a heartbeat file fresh through the wrapper; beat has no loop prod-entry hooks into, so it is
# probed only as the user names.
PROBE = {"celery-worker": HEARTBEAT, "celery-beat": NAMED}
HEARTBEAT_HINT = ("prod-entry's --app wrapper (entrypoint.backends.celery:app) writes it once the worker is ready; "
                  "a worker started otherwise needs entrypoint.health.heartbeats.celery.install() where its app is "
                  "created")

# The modules of the project package where Celery apps live, in the order tried: Celery's documented
# `proj/celery.py`, then `celery_app.py`, the name projects choose so as not to shadow the celery package.
APP_MODULES = ("celery", "celery_app")

# The --app wrapper (below) and the variable that names the app it serves.
WRAPPER = "entrypoint.backends.celery:app"
APP_VAR = "PROD_ENTRY_CELERY_APP"


def locate_app(process: Process, env: Mapping[str, str]) -> tuple[str, str]:
    """(the app, where it came from): APP when set, else the first of APP_MODULES in DJANGO_SETTINGS_MODULE's
    top package that exists. Looked for on disk by importlib's path finder, never imported: planning (and
    `show`) must not run the project's code; check_app imports it."""
    var = process_var(process, "APP")
    if process.app:
        return process.app, process.origins.get("app", var)
    package = project_package(env, var)
    tried = [f"{package}.{name}" for name in APP_MODULES]
    # Where celery's own --app looks first (celery.utils.imports.import_from_cwd), then sys.path.
    spec = importlib.machinery.PathFinder.find_spec(package, [os.getcwd(), *sys.path])
    if spec is not None and spec.submodule_search_locations is not None:
        for name in tried:
            found = importlib.machinery.PathFinder.find_spec(name, list(spec.submodule_search_locations))
            if found is not None:
                where = os.path.relpath(found.origin) if found.origin else name
                return name, f"found {where} in DJANGO_SETTINGS_MODULE's package; {var} names another"
    why = "" if spec is not None else f"; the package {package} itself is not found from {os.getcwd()}"
    raise ConfigError(f"{var} is not set and no Celery app module was found: tried {' and '.join(tried)}{why}: "
                      f"set {var} to the module that creates your Celery app (e.g. {package}.tasks, or module:attr)")


def _build(command: str, process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app, app_origin = locate_app(process, env)
    given = user_words(process) + extra_words(extra)
    added = []
    # Celery's default level is WARNING, which hides even the worker's start-up banner lines in a container.
    if not argv.mentions([w.text for w in given], "--loglevel", "-l"):
        added.append(Word("--loglevel=INFO", "default"))
    counts: list[Setting] = []
    app_word = Word(f"--app={app}", app_origin)
    if command == "worker":
        app_word = Word(f"--app={WRAPPER}", f"prod-entry's wrapper (the heartbeat) serving {app} ({app_origin})")
        # The count is not a word: the wrapper gives it to the app inside the worker, where the app's own
        # configuration (Django settings, a celeryconfig, its module) is known and wins (see `app` below).
        counts = concurrency(process, env, given_settings(env, given))
    words = [Word(program("celery"), f"backend {process.backend}"), app_word,
             Word(command, f"backend {process.backend}"), *added, *given]
    return Launch(words, WORKER, app, app_origin=app_origin, sizing=tuple(counts))


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
    sized (unless the app's own configuration sets worker_concurrency: the wrapper applies the count only then).
    A pool without processes (threads, gevent, eventlet, solo) keeps Celery's own rule."""
    if "pool" in given and given["pool"].value.lower() not in PREFORK:
        return []
    if "autoscale" in given:
        return [sizing.yours(given["autoscale"])]
    count = sizing.count(process, env, "concurrency", given.get("concurrency"), per_cpu=True, unit="child")
    if count is None or "concurrency" in given:
        return [count] if count else []
    return [count._replace(origin=f"{count.origin}; unless the app's configuration sets worker_concurrency")]


def given_settings(env: Mapping[str, str], words: Sequence[Word]) -> Given:
    """What the user set where planning can see it without importing the project, lowest precedence first: the
    environment, argv. Celery reads CELERY_WORKER_CONCURRENCY / CELERY_WORKER_POOL itself (its click options'
    CELERY_ prefix); it never reads CELERYD_CONCURRENCY from the environment, but a project that sets it passes
    it to its settings, and means a count. The app's own configuration (worker_concurrency in the Django
    settings, a celeryconfig or its module) is seen inside the worker, by the wrapper, and wins there too."""
    return {**given_in_env(env, {"concurrency": "CELERYD_CONCURRENCY"}),
            **given_in_env(env, {"concurrency": "CELERY_WORKER_CONCURRENCY", "pool": "CELERY_WORKER_POOL"}),
            **given_in_words(words, OPTIONS)}


# --- before anything runs: the app imports and its broker answers ---------------------------------------------

DEFAULT_BROKER_TIMEOUT = 10.0


def check_app(process: Process, env: Mapping[str, str], launch: Launch, log: Callable[[str], None]) -> None:
    """Import the app as the worker will (celery's own find_app: attribute `app`, then `celery`, then any Celery
    instance) and connect to its broker within BROKER_TIMEOUT seconds (0: import only), in `check` as in a
    start: else exit 3 with one line, before the release steps run. Raises WarmupError."""
    from celery import Celery
    from celery.app.utils import find_app as celery_find_app

    assert launch.app is not None
    timeout = rules.seconds(process, env, "BROKER_TIMEOUT", DEFAULT_BROKER_TIMEOUT, zero=True)
    var = process_var(process, "APP")
    try:
        app = celery_find_app(launch.app)
    except AttributeError as exc:  # most often a module with no Celery app in it
        raise WarmupError(f"{launch.app} has no Celery app ({describe(exc)}; celery takes its attribute app, else "
                          f"celery, else any Celery instance in it): set {var} to the module, or module:attr, that "
                          "creates yours") from exc
    except Exception as exc:  # the user's module raised
        raise WarmupError(f"the Celery app {launch.app} cannot be loaded: {describe(exc)}: fix the module, or set "
                          f"{var} to the one that creates your app") from exc
    if not isinstance(app, Celery):
        raise WarmupError(f"{launch.app} is a {type(app).__name__}, not a Celery app: set {var} to module:attr "
                          "naming your Celery instance")
    if not timeout:
        return
    started = time.monotonic()
    try:  # the app's configuration is read here: with Django's, the settings module is imported
        # The connect timeout of one attempt is bounded too: a host that drops packets must not outlast the setting.
        connect_timeout = min(timeout, app.conf.broker_connection_timeout or timeout)
        connection = app.connection_for_read(connect_timeout=connect_timeout)
    except Exception as exc:
        raise WarmupError(f"the configuration of the Celery app {launch.app} cannot be read: {describe(exc)}") \
            from exc
    # as_uri quotes the password, so mask_urls finds all of it whatever characters it holds.
    broker = mask_urls(connection.as_uri(include_password=True))
    try:
        with connection:
            connection.ensure_connection(timeout=timeout, interval_start=0.5, interval_step=0, interval_max=0.5)
    except Exception as exc:
        raise WarmupError(f"the Celery app {launch.app} cannot reach its broker {broker} within {timeout:g}s "
                          f"({describe(exc)}): start the broker or fix the app's broker_url (CELERY_BROKER_URL with "
                          f"Django settings), or raise {rules.setting_name(process, 'BROKER_TIMEOUT')}") from None
    log(f"the Celery app {launch.app} reached its broker {broker} in {time.monotonic() - started:.2f}s")


# --- the --app wrapper: the heartbeat, and JSON logs -------------------------------------------------------------
#
# `--app=entrypoint.backends.celery:app` makes celery take this module's `app`: the user's own Celery app (found
# as celery's --app finds it, by PROD_ENTRY_CELERY_APP), after connecting what prod-entry adds inside the worker's
# process, which only code there can do: the heartbeat (celery's worker_ready signal) for every worker, and with
# PROD_ENTRY_LOG_FORMAT=json the setup_logging receiver (beat is served here for that alone). Nothing to add to
# the project, as the ASGI/WSGI wrappers need nothing.


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--app=entrypoint.backends.celery:app --quiet` (celery prints its banner as text, straight to
    stdout; its `ready` line is logged)."""
    if not options.enabled(env):
        return None
    words = list(launch.words)
    at = next(i for i, word in enumerate(words) if word.text.startswith("--app="))
    if words[at].text != f"--app={WRAPPER}":  # beat; the worker's is the wrapper already
        words[at] = Word(f"--app={WRAPPER}", f"JSON logs wrapper serving {launch.app} ({words[at].origin})")
    words.insert(at + 1, Word("--quiet", "JSON logs (no text banner)"))
    return launch._replace(words=words)


# The concurrency the wrapper gives the worker's app when its own configuration sets none (sizing).
CONCURRENCY_VAR = "PROD_ENTRY_CELERY_CONCURRENCY"


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    """Just before exec: the app the wrapper serves and the count it sizes it to (the adapter servers.prepare
    calls for every backend)."""
    if f"--app={WRAPPER}" in launch.argv and launch.app:
        os.environ[APP_VAR] = launch.app
    sized = [count for count in launch.sizing if count.name == "concurrency" and "yours" not in count.origin]
    if sized:
        os.environ[CONCURRENCY_VAR] = sized[0].value


def __getattr__(name: str) -> Any:
    """`app`, for celery's --app: the user's app with the heartbeat (and JSON logging) connected (a module
    attribute computed on first use, so planning a launch never imports Celery)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from celery.app.utils import find_app as celery_find_app

    from entrypoint.health.heartbeats import celery as heartbeat

    app = celery_find_app(os.environ[APP_VAR])
    # Connected to worker_ready, which only a worker sends; a no-op when the app's module called install() itself
    # (the same dispatch_uid: its path and interval win).
    heartbeat.install()
    sized = os.environ.pop(CONCURRENCY_VAR, "")
    # The prefork pool's size: the app's own worker_concurrency (settings, celeryconfig) wins, as does a
    # --concurrency on the command line (celery's CLI beats its configuration); else the container's count.
    if sized.isdigit() and not app.conf.worker_concurrency:
        app.conf.worker_concurrency = int(sized)
    if options.enabled(os.environ):
        _json_logs(app)
    globals()["app"] = app
    return app


def _json_logs(app: Any) -> None:
    import celery.apps.worker
    from celery import signals

    from entrypoint.logs import jsonlog

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
