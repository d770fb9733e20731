"""Backends: each turns a process definition into the argv to exec, and says what it serves.

A backend is a callable `build(process, env, extra) -> Launch` (or a list of argv words, for a custom backend
that needs nothing more). Built-in backends are modules of this package, imported only when used. A custom
backend is named by a dotted path, `package.module:callable` or `package.module.callable`.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from entrypoint import argv, names
from entrypoint.config import Process
from entrypoint.errors import ConfigError

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


# Helpers the built-in backends share.

def program(name: str) -> str:
    """The script installed beside this Python (the venv's bin/), else the bare name for a PATH lookup."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else name


def user_words(process: Process) -> list[Word]:
    origin = process.origins.get("args", "")
    return [Word(text, origin) for text in argv.format_args(process.args)]


def extra_words(extra: Sequence[str]) -> list[Word]:
    return [Word(text, "command line") for text in extra]


def port(env: Mapping[str, str]) -> int:
    value = env.get("PORT", "8000").strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"PORT={value!r} is not a TCP port: set it to a number from 1 to 65535")
    return int(value)


def split_bind(value: str | None) -> tuple[str, int] | None:
    """`host:port` -> (host, port); None for unix sockets, fds and anything unparsable."""
    if not value or value.startswith(("unix:", "fd://")):
        return None
    host, sep, number = value.rpartition(":")
    if not sep or not number.isdigit():
        return None
    return host.strip("[]") or "0.0.0.0", int(number)


# The rule for every server's defaults: prod-entry's default for a setting applies only where nothing the user
# wrote sets it, in any spelling (--bind=x, --bind x, -b x, -bx), in any place the server itself reads (ARGS and
# the command line, its config file, its environment variables). A backend gathers what the user set with
# `given_in_words` / `given_in_env` (and its own reader for a config file), merged lowest precedence first as
# the server merges them, e.g. {**from_file, **from_env, **from_words}; then `defaults` keeps the defaults that
# nothing replaced. The merged settings also give Launch.bind (what warmup and healthcheck reach), and those
# not from words give Launch.settings, which `prod-entry show` lists.

Given = dict[str, Setting]  # setting name -> the value in effect


class Default(NamedTuple):
    """A default of prod-entry's: the words it adds for setting `name`, unless the user set `name` or any of
    `moot_with` (uvicorn's --uds makes --host and --port moot)."""

    name: str
    words: tuple[str, ...]
    origin: str
    moot_with: tuple[str, ...] = ()


def given_in_words(words: Sequence[Word], spellings: Mapping[str, Sequence[str]]) -> Given:
    """The settings `words` set, for settings named in `spellings` (name -> its options: {"bind": ("--bind",
    "-b")}): the last value, and the origin of the words that gave it (a later origin wins, as later words do)."""
    given: Given = {}
    for origin in dict.fromkeys(word.origin for word in words):
        texts = [word.text for word in words if word.origin == origin]
        for name, options in spellings.items():
            if argv.mentions(texts, *options):
                given[name] = Setting(name, (argv.option_value(texts, *options) or "",), origin)
    return given


def given_in_env(env: Mapping[str, str], variables: Mapping[str, str]) -> Given:
    """The settings the server's own environment variables set (name -> variable: {"port": "UVICORN_PORT"}).
    Empty counts as unset, as click's auto_envvar_prefix does."""
    return {name: Setting(name, (env[var],), var) for name, var in variables.items() if env.get(var)}


def defaults(given: Mapping[str, Setting], candidates: Sequence[Default]) -> list[Word]:
    """The words of the `candidates` whose setting the user left unset (the rule above)."""
    return [Word(text, default.origin) for default in candidates
            if not any(name in given for name in (default.name, *default.moot_with)) for text in default.words]

