"""The table of backends and what each plans: the Launch (argv words, kind, app, bind, and the adapters of the
built-in backend module that planned it).

Lower stages (warmup, health, logs, release) read a server's knowledge through this table: `adapter(launch,
name)` looks up a function the backend's own module declares (its worker_warmup, logs, warm_in_server, ...), so
that no lower package imports a server's module by name. Built-in backends are modules of entrypoint.backends,
imported only when used; a custom backend is named by a dotted path, `package.module:callable` or
`package.module.callable`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import NamedTuple

from entrypoint.settings import argv, names
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError

# Backend name -> module; aliases share a module.
BUILTIN = {
    "gunicorn": "gunicorn",
    "uvicorn": "uvicorn",
    "granian": "granian",
    "hypercorn": "hypercorn",
    "daphne": "daphne",
    "waitress": "waitress",
    "uwsgi": "uwsgi",
    "flower": "flower",
    "celery-worker": "celery",
    "celery-beat": "celery",
    "django-tasks": "django_tasks",
    "django-q2": "django_q2",
    "rq": "rq",
    "dramatiq": "dramatiq",
    "huey": "huey",
    "manage": "manage",
    "command": "command",
}

WEB, WORKER, TASK = "web", "worker", "task"

# How `prod-entry healthcheck` probes a backend, declared by each module as PROBE (a dict by backend name
# where a module serves several): an HTTP request, the heartbeat file its worker keeps fresh, or only what the
# user names (PROD_ENTRY_HEALTHCHECK_COMMAND, a HEARTBEAT_FILE of the process).
HTTP, HEARTBEAT, NAMED = "http", "heartbeat", "named"


class Word(NamedTuple):
    text: str
    origin: str  # where it came from, for `prod-entry show`


class Setting(NamedTuple):
    """A server setting the user gave, and where: ARGS, the command line, the server's config file or its own
    environment variables. What prod-entry's defaults never override (see `defaults`)."""

    name: str  # the server's own name for it: bind, host, port, ...
    values: tuple[str, ...]  # one, or several for a repeatable setting (gunicorn's bind list)
    origin: str  # PROD_ENTRY_PROCESS_WEB_ARGS, command line, gunicorn.conf.py, GUNICORN_CMD_ARGS, UVICORN_PORT

    @property
    def value(self) -> str:
        return " ".join(self.values)


class Launch(NamedTuple):
    """What to exec and what it is: `kind` web (warmup and probes apply), worker or task."""

    words: list[Word]
    kind: str = TASK
    app: str | None = None
    interface: str | None = None  # "wsgi" or "asgi" for web processes
    bind: tuple[str, int] | None = None  # (host, port) the server listens on, when known
    backend: str | None = None  # the built-in backend that planned it (its module holds the server's adapters)
    worker_warmup: str | None = None  # how each worker replays the warmup, once an adapter wired it in
    # Where the server's own process runs the warmup before it binds, loading the app once for itself and its
    # workers (set by a backend that can; see warmup.in_server): None, a child of prod-entry does, before exec.
    warmup_in: str | None = None
    settings: tuple[Setting, ...] = ()  # settings in effect that argv does not show (config file, environment)
    lifespan: bool = True  # an ASGI server that runs the lifespan protocol (daphne does not)
    factory: bool = False  # the app is a factory the server calls (beyond a `--factory` word in argv)
    app_origin: str | None = None  # where a backend that looked for the app found it, for `prod-entry show`
    # The process counts (workers, threads, concurrency) and why: auto-sized, PROD_ENTRY_CONCURRENCY, or the
    # user's own setting that won (settings/sizing.py); `show` prints them and the start logs them.
    sizing: tuple[Setting, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [word.text for word in self.words]


Build = Callable[[Process, Mapping[str, str], Sequence[str]], "Launch | list[str]"]


def normalize(backend: str) -> str:
    return backend.strip().lower().replace("_", "-")


def builtin_module(name: str) -> ModuleType:
    """The module of the built-in backend `name` (a key of BUILTIN), imported only when used."""
    return importlib.import_module(f"entrypoint.backends.{BUILTIN[name]}")


def adapter(launch: Launch, attribute: str) -> Callable | None:
    """A function of the built-in backend module that planned `launch` (e.g. its worker_warmup), or None."""
    if launch.backend not in BUILTIN:
        return None
    return getattr(builtin_module(launch.backend), attribute, None)


def load(process: Process) -> Build:
    name = normalize(process.backend)
    if name in BUILTIN:
        module = builtin_module(name)
        return getattr(module, "build_" + name.split("-")[-1]) if name.startswith("celery") else module.build
    where = process_var(process)
    if "." not in process.backend and ":" not in process.backend:
        raise ConfigError(f"{where}={process.backend!r} is not a backend: use one of {', '.join(BUILTIN)}, "
                          "or a dotted path to a custom backend (package.module:build)")
    module_name, _, attr = process.backend.partition(":") if ":" in process.backend else \
        process.backend.rpartition(".")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise ConfigError(f"{where}={process.backend!r} cannot be imported ({exc}): fix the dotted path or "
                          "install the package") from None
    except AttributeError:
        raise ConfigError(f"{where}={process.backend!r}: module {module_name!r} has no attribute {attr!r}") \
            from None
    if not callable(obj):
        raise ConfigError(f"{where}={process.backend!r} is not a backend: it must be a callable "
                          "build(process, env, extra) returning a list of words or a Launch")
    return obj


def probe_kind(process: Process, env: Mapping[str, str]) -> tuple[str, str]:
    """(HTTP, HEARTBEAT or NAMED, how to make the heartbeat: a hint for the probe's message). Built-in
    backends declare it without building an argv; a module without PROBE (or a custom backend) is probed
    by HTTP when its Launch is a web one, else only as the user names."""
    name = normalize(process.backend)
    if name in BUILTIN:
        module = builtin_module(name)
        declared = getattr(module, "PROBE", None)
        if isinstance(declared, dict):
            declared = declared.get(name)
        if declared is not None:
            return declared, getattr(module, "HEARTBEAT_HINT", "")
    # The app is not needed to know the kind: a placeholder spares importing Django settings for it.
    web = plan(process._replace(app=process.app or "-"), env, []).kind == WEB
    return (HTTP if web else NAMED), ""


def plan(process: Process, env: Mapping[str, str], extra: Sequence[str] = ()) -> Launch:
    """The Launch for `process`, with `extra` command-line words appended by the backend."""
    result = load(process)(process, env, list(extra))
    if isinstance(result, Launch):
        launch = result
    elif isinstance(result, (list, tuple)) and result and all(isinstance(w, str) for w in result):
        launch = Launch([Word(str(w), f"backend {process.backend}") for w in result])
    else:
        raise ConfigError(f"backend {process.backend!r} of process {process.name!r} returned {result!r}: a "
                          "backend must return a non-empty list of strings or a Launch")
    name = normalize(process.backend)
    if name in BUILTIN:
        launch = launch._replace(backend=name)
    if not launch.words:
        raise ConfigError(f"process {process.name!r} has nothing to run: give the program (prod-entry {process.name} PROGRAM [ARGS]...) or set {process_var(process, 'ARGS')}")
    return launch


def process_var(process: Process, attribute: str | None = None) -> str:
    return names.process_var(process.name, attribute)
