"""uvicorn serving an ASGI app (or a WSGI one with `--interface wsgi`):
`uvicorn [--host=0.0.0.0] [--port=$PORT] [ARGS] APP [EXTRA]` (each default only where neither ARGS, EXTRA nor
uvicorn's UVICORN_* variables set it), and its per-worker warmup: uvicorn has no hooks,
so the app word becomes app.py's wrapper, which replays the warmup during lifespan startup."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import (WEB, Default, Launch, Word, defaults, extra_words, given_in_env, given_in_words, port,
                                 process_var, program, user_words)
from entrypoint.config import Process
from entrypoint.django_settings import application
from entrypoint.errors import ConfigError

OPTIONS = {"host": ("--host",), "port": ("--port",), "uds": ("--uds",), "fd": ("--fd",)}
# uvicorn reads every option from UVICORN_<NAME> too (click's auto_envvar_prefix); the command line wins.
VARIABLES = {name: f"UVICORN_{name.upper()}" for name in OPTIONS}


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    words = user_words(process) + extra_words(extra)
    texts = [w.text for w in words]
    interface = "wsgi" if (argv.option_value(texts, "--interface") or env.get("UVICORN_INTERFACE")) == "wsgi" \
        else "asgi"
    setting = "WSGI_APPLICATION" if interface == "wsgi" else "ASGI_APPLICATION"
    app = process.app or application(env, setting, process_var(process, "APP"))
    app_origin = process.origins.get("app", f"DJANGO_SETTINGS_MODULE {setting}")
    given = {**given_in_env(env, VARIABLES), **given_in_words(words, OPTIONS)}
    # A unix socket or an fd replaces host and port: uvicorn would ignore them.
    added = defaults(given, [Default("host", ("--host=0.0.0.0",), "default", ("uds", "fd")),
                             Default("port", (f"--port={port(env)}",), "default (PORT, else 8000)", ("uds", "fd"))])
    given = {**given, **given_in_words(added, OPTIONS)}
    bind = None
    if "uds" not in given and "fd" not in given:
        number = given["port"].value if "port" in given else "8000"  # uvicorn's own defaults
        if not number.isdigit():
            raise ConfigError(f"{given['port'].origin} gives uvicorn the port {number!r}, not a TCP port number: "
                              "fix it")
        bind = (given["host"].value if "host" in given else "127.0.0.1", int(number))
    shown = tuple(setting for setting in given.values() if setting.origin in VARIABLES.values())
    return Launch([Word(program("uvicorn"), "backend uvicorn"), *added, *user_words(process),
                   Word(app, app_origin), *extra_words(extra)], WEB, app, interface, bind, settings=shown)


# --- per-worker warmup: a wrapper app (app.py) that replays during lifespan startup -----------------------

WRAPPER_MODULE = "entrypoint.backends.uvicorn.app"
APP_VAR = "PROD_ENTRY_UVICORN_APP"  # the user's app, which the wrapper imports and serves
FACTORY_VAR = "PROD_ENTRY_UVICORN_FACTORY"


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """The app word swapped for `entrypoint.backends.uvicorn.app:app` (`:factory` with --factory). Not with
    `--interface wsgi` or `--lifespan off`: there is no startup to replay in."""
    if launch.interface != "asgi" or argv.option_value(launch.argv, "--lifespan") == "off":
        return None
    wrapper = f"{WRAPPER_MODULE}:{'factory' if '--factory' in launch.argv else 'app'}"
    words = list(launch.words)
    at = next(i for i, word in enumerate(words) if i and word.text == launch.app)
    words[at] = Word(wrapper, f"warmup wrapper serving {launch.app} ({words[at].origin})")
    return launch._replace(words=words, worker_warmup="lifespan startup of a wrapper app")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    assert launch.app is not None
    os.environ[APP_VAR] = launch.app
    os.environ[FACTORY_VAR] = "1" if "--factory" in launch.argv else "0"
