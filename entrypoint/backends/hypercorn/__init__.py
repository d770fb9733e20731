"""hypercorn serving an ASGI app: `hypercorn --bind=0.0.0.0:$PORT [ARGS] APP [EXTRA]`, and its per-worker
warmup.

hypercorn's command line wins over its config file (`-c/--config`: TOML, `file:x.py` or `python:module`), so
a `--bind` of ours would override a bind set there: prod-entry reads the config file (TOML parsed, Python
files read with `ast`, never run) and adds no bind when it sets `bind` or `insecure_bind`. The app is
`module:attr` (`module:make()` calls a factory); hypercorn's attribute default is `app`.

Per-worker warmup: hypercorn has no hooks, but every worker awaits the app's lifespan startup before it
serves, so the app word becomes the shared ASGI wrapper, which replays the warmup then.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Mapping, Sequence

from entrypoint.backends import (WEB, Launch, Word, _common, extra_words, port, process_var, program, split_bind,
                                 user_words)
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application
from entrypoint.settings.errors import ConfigError
from entrypoint.warmup.replay import LIFESPAN

_BIND_KEYS = ("bind", "insecure_bind")
_UNKNOWN = "?"  # the config file sets a bind we cannot read as a literal


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "ASGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE ASGI_APPLICATION")
    if ":" not in app:  # spelled out, so that the warmup loads the attribute hypercorn will
        app, app_origin = f"{app}:app", f"{app_origin}, hypercorn's default attribute"
    given = user_words(process) + extra_words(extra)
    texts = [w.text for w in given]
    bound = argv.option_value(texts, "--bind", "-b") or argv.option_value(texts, "--insecure-bind")
    config = argv.option_value(texts, "--config", "-c")
    if bound is None and config is not None:
        bound = config_bind(config)
    defaults = []
    if bound is None:
        defaults.append(Word(f"--bind=0.0.0.0:{port(env)}", "default (0.0.0.0 and PORT, else 8000)"))
        bound = defaults[0].text.removeprefix("--bind=")
    bind = None if bound == _UNKNOWN else split_bind(bound)
    words = [Word(program("hypercorn"), "backend hypercorn"), *defaults, *user_words(process),
             Word(app, app_origin), *extra_words(extra)]
    return Launch(words, WEB, app, "asgi", bind)


def config_bind(spec: str) -> str | None:
    """The first bind a hypercorn config file sets, _UNKNOWN when it sets one that is not a literal, None
    when it sets none."""
    if spec.startswith("python:"):
        try:
            found = importlib.util.find_spec(spec.removeprefix("python:"))
        except (ImportError, ValueError):
            found = None
        path = found.origin if found and found.origin and found.origin.endswith(".py") else None
        if path is None:
            raise ConfigError(f"the hypercorn config module {spec!r} (--config in ARGS) cannot be found: fix it")
        return _python_bind(path)
    path = spec.removeprefix("file:")
    if not os.path.isfile(path):
        raise ConfigError(f"the hypercorn config file {path!r} (--config in ARGS) does not exist: fix the path")
    return _python_bind(path) if spec.startswith("file:") else _toml_bind(path)


def _first(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else _UNKNOWN


def _toml_bind(path: str) -> str | None:
    with open(path, "rb") as f:
        data = f.read()
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML parser in the standard library; a top-level key is enough
        sets = re.search(rb"^\s*(insecure_)?bind\s*=", data, re.M)
        return _UNKNOWN if sets else None
    try:
        parsed = tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the hypercorn config file {path!r} is not valid TOML ({exc}): fix it") from None
    return next((_first(parsed[key]) for key in _BIND_KEYS if key in parsed), None)


def _python_bind(path: str) -> str | None:
    with open(path, "rb") as f:
        try:
            tree = ast.parse(f.read(), path)
        except SyntaxError as exc:
            raise ConfigError(f"the hypercorn config file {path!r} is not valid Python ({exc.msg}, line "
                              f"{exc.lineno}): fix it") from None
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in _BIND_KEYS for t in targets):
                try:
                    return _first(ast.literal_eval(node.value))
                except ValueError:
                    return _UNKNOWN
    return None


# --- per-worker warmup: the shared ASGI wrapper, replaying in lifespan startup ------------------------------

def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    return _common.wrapped(launch, _common.ASGI_WRAPPER, "lifespan startup of a wrapper app")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    _common.export_wrapped(launch, LIFESPAN, "hypercorn.error")


# --- logs: JSON through --log-config (log_config.json beside this file) and the ASGI wrapper ---------------

LOG_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log_config.json")


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--log-config=json:.../log_config.json` (hypercorn's loggers and the root logger as JSON; the
    levels stay --log-level's), and the app served through the shared ASGI wrapper, which makes the root logger
    JSON again once Django has applied the project's LOGGING and writes the access records (hypercorn's own
    are one formatted string, and off by default). A --log-config of the user's is theirs: nothing changes.
    Text: PROD_ENTRY_ACCESS_LOG=1 is `--access-logfile=-` (hypercorn's default is none) unless ARGS name one."""
    texts = launch.argv
    if options.enabled(env):
        if argv.mentions(texts, "--log-config"):
            return None
        launch = _common.wrapped(launch, _common.ASGI_WRAPPER, None, "JSON logs")
        return launch._replace(words=[*launch.words, Word(f"--log-config=json:{LOG_CONFIG}", "JSON logs")])
    if options.access_setting(env) and not argv.mentions(texts, "--access-logfile", "--access-log"):
        return launch._replace(words=[*launch.words, Word("--access-logfile=-", "PROD_ENTRY_ACCESS_LOG=1")])
    return None


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if _common.is_wrapped(launch, _common.ASGI_WRAPPER):
        _common.export_wrapped(launch, LIFESPAN, "hypercorn.error")
    _common.export_wrapped_access(env, launch)
