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

from entrypoint.backends import HEARTBEAT, NAMED, WORKER, Launch, Word, extra_words, process_var, program, user_words
from entrypoint.health import rules
from entrypoint.logs import options
from entrypoint.settings import argv
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
    defaults = []
    # Celery's default level is WARNING, which hides even the worker's start-up banner lines in a container.
    if not argv.mentions([w.text for w in given], "--loglevel", "-l"):
        defaults.append(Word("--loglevel=INFO", "default"))
    app_word = Word(f"--app={app}", app_origin)
    if command == "worker":
        app_word = Word(f"--app={WRAPPER}", f"prod-entry's wrapper (the heartbeat) serving {app} ({app_origin})")
    words = [Word(program("celery"), f"backend {process.backend}"), app_word,
             Word(command, f"backend {process.backend}"), *defaults, *given]
    return Launch(words, WORKER, app, app_origin=app_origin)


def build_worker(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("worker", process, env, extra)


def build_beat(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    return _build("beat", process, env, extra)


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


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    """Just before exec: the app the wrapper serves (the adapter servers.prepare calls for every backend)."""
    if f"--app={WRAPPER}" in launch.argv and launch.app:
        os.environ[APP_VAR] = launch.app


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
