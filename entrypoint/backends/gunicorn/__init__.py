"""gunicorn serving a WSGI app: `gunicorn --bind=0.0.0.0:$PORT [ARGS] APP [EXTRA]`, and everything prod-entry
knows about gunicorn: its per-worker warmup (hook.py, a config module whose post_worker_init replays the
warmup in every worker) and which config file of the user's gunicorn would read."""

from __future__ import annotations

import importlib.util
import os
import shlex
from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import WEB, Launch, Word, extra_words, port, process_var, program, split_bind, user_words
from entrypoint.config import Process
from entrypoint.django_settings import application
from entrypoint.errors import ConfigError


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app = process.app or application(env, "WSGI_APPLICATION", process_var(process, "APP"))
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE WSGI_APPLICATION")
    given = user_words(process) + extra_words(extra)
    # GUNICORN_CMD_ARGS is gunicorn's own; a bind there must not be overridden by ours.
    try:
        texts = [w.text for w in given] + shlex.split(env.get("GUNICORN_CMD_ARGS", ""))
    except ValueError as exc:
        raise ConfigError(f"GUNICORN_CMD_ARGS cannot be split like a command line ({exc}): fix its quoting") \
            from None
    defaults = []
    if not argv.mentions(texts, "--bind", "-b"):
        defaults.append(Word(f"--bind=0.0.0.0:{port(env)}", "default (0.0.0.0 and PORT, else 8000)"))
        texts.append(defaults[0].text)
    # The worker class gunicorn will use: the command line's last, else GUNICORN_CMD_ARGS's, as in gunicorn.
    args_origin = process.origins.get("args", process_var(process, "ARGS")).removeprefix("env ")
    for where, texts_given in (("the command line", extra), (args_origin, [w.text for w in user_words(process)]),
                               ("GUNICORN_CMD_ARGS", texts[len(given):])):
        worker_class = argv.option_value(texts_given, "--worker-class", "-k")
        if worker_class:
            _check_worker_class(worker_class, where)
            break
    words = [Word(program("gunicorn"), "backend gunicorn"), *defaults, *user_words(process),
             Word(app, app_origin), *extra_words(extra)]
    return Launch(words, WEB, app, "wsgi", split_bind(argv.option_value(texts, "--bind", "-b")))


# gunicorn's worker classes that import packages gunicorn itself does not depend on (its extras): without
# them gunicorn fails after the warmup, with a traceback (the gevent worker imports `packaging` too).
_WORKER_NEEDS = {"gevent": ("gevent", "packaging"), "eventlet": ("eventlet", "packaging"), "tornado": ("tornado",)}


def _check_worker_class(value: str, where: str) -> None:
    """ConfigError naming the first package missing for a worker class given as `-k gevent`,
    `gevent_pywsgi`, `egg:gunicorn#gevent` or `gunicorn.workers.ggevent.GeventWorker`."""
    family = value.removeprefix("egg:gunicorn#").removeprefix("gunicorn.workers.g").split(".")[0].split("_")[0]
    for package in _WORKER_NEEDS.get(family, ()):
        if importlib.util.find_spec(package) is None:
            extra = "prod-entry[gevent]" if family == "gevent" else f"gunicorn[{family}]"
            raise ConfigError(f"{where} sets gunicorn's worker class {value!r}, which needs the Python package "
                              f"{package!r}: install it (pip install '{extra}') or choose another worker class "
                              "(sync, gthread)")


# --- per-worker warmup: gunicorn's post_worker_init, through a config module of ours (hook.py) ------------

HOOK_MODULE = "entrypoint.backends.gunicorn.hook"
HOOK_WORD = f"--config=python:{HOOK_MODULE}"
USER_CONFIG_VAR = "PROD_ENTRY_GUNICORN_CONFIG"  # the user's own config file, which hook.py loads first


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """`--config=python:entrypoint.backends.gunicorn.hook` appended. gunicorn reads one config file, and the
    command line's wins: the hook loads the user's own (from ARGS, GUNICORN_CMD_ARGS or ./gunicorn.conf.py)
    first and keeps their hooks. Appended last, so it wins over a --config in ARGS or EXTRA."""
    if launch.interface != "wsgi":
        return None
    origin = f"warmup hook (loads {user_config(env, launch) or 'no config file'})"
    return launch._replace(words=[*launch.words, Word(HOOK_WORD, origin)],
                           worker_warmup="post_worker_init hook")


def user_config(env: Mapping[str, str], launch: Launch) -> str | None:
    """The config file gunicorn would have read without our --config."""
    given = argv.option_value([w for w in launch.argv[1:] if w != HOOK_WORD], "--config", "-c")
    if given:
        return given
    try:
        from_env = argv.option_value(shlex.split(env.get("GUNICORN_CMD_ARGS", "")), "--config", "-c")
    except ValueError:
        from_env = None
    if from_env:
        return from_env
    return "gunicorn.conf.py" if os.path.isfile("gunicorn.conf.py") else None


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    """Tell hook.py, through the environment exec passes on, which config file of the user's to load."""
    config = user_config(env, launch)
    path = config.removeprefix("file:") if config and not config.startswith("python:") else None
    # gunicorn reads a relative path after its own --chdir: then it is gunicorn's to check.
    chdir = "--chdir" in " ".join(launch.argv) or "--chdir" in env.get("GUNICORN_CMD_ARGS", "")
    if path is not None and not chdir and not os.path.isfile(path):
        raise ConfigError(f"the gunicorn config file {path!r} (from --config or GUNICORN_CMD_ARGS) does not exist: "
                          "fix the path")
    if config:
        os.environ[USER_CONFIG_VAR] = config
    else:
        os.environ.pop(USER_CONFIG_VAR, None)
