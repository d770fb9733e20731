"""uvicorn serving an ASGI app (or a WSGI one with `--interface wsgi`):
`uvicorn [--host=0.0.0.0] [--port=$PORT] [ARGS] APP [EXTRA]` (each default only where neither ARGS, EXTRA nor
uvicorn's UVICORN_* variables set it), and its warmup: uvicorn has no hooks, so the app word becomes the shared
ASGI wrapper, which with one worker runs the warmup itself in the lifespan startup, before uvicorn binds, and
with several replays it in each worker's."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from entrypoint.backends import (WEB, Default, Launch, Word, _common, defaults, extra_words, given_in_env,
                                 given_in_words, port, process_var, program, user_words)
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application
from entrypoint.settings.errors import ConfigError
from entrypoint.warmup.replay import LIFESPAN

OPTIONS = {"host": ("--host",), "port": ("--port",), "uds": ("--uds",), "fd": ("--fd",)}
# uvicorn reads every option from UVICORN_<NAME> too (click's auto_envvar_prefix); the command line wins.
VARIABLES = {name: f"UVICORN_{name.upper()}" for name in OPTIONS}


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    words = user_words(process) + extra_words(extra)
    texts = [w.text for w in words]
    interface = "wsgi" if (argv.option_value(texts, "--interface") or env.get("UVICORN_INTERFACE")) == "wsgi" \
        else "asgi"
    setting = "WSGI_APPLICATION" if interface == "wsgi" else "ASGI_APPLICATION"
    lifespan = (argv.option_value(texts, "--lifespan") or env.get("UVICORN_LIFESPAN")) != "off"
    app = process.app or application(env, setting, process_var(process, "APP"), "uvicorn's --interface wsgi")
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
    alone = interface == "asgi" and lifespan and serves_alone(texts, env)
    return Launch([Word(program("uvicorn"), "backend uvicorn"), *added, *user_words(process),
                   Word(app, app_origin), *extra_words(extra)], WEB, app, interface, bind, settings=shown,
                  lifespan=lifespan, warmup_in=WARMUP_IN if alone else None)


def serves_alone(texts: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether the process prod-entry execs is the one that serves: one worker (--workers, else UVICORN_WORKERS,
    else WEB_CONCURRENCY, else 1) and no --reload. With several workers or --reload, uvicorn binds in a
    supervisor and serves from processes it starts with multiprocessing's spawn (and starts again when one
    dies), each importing the app anew."""
    workers = argv.option_value(texts, "--workers") or env.get("UVICORN_WORKERS") or env.get("WEB_CONCURRENCY") or "1"
    reload = "--reload" in texts or env.get("UVICORN_RELOAD", "").strip().lower() in TRUE
    return workers.strip() == "1" and not reload


# --- the warmup in uvicorn's own process, and per worker: the shared ASGI wrapper (entrypoint/warmup/asgi.py)
# in the lifespan startup ---------------------------------------------------------------------------------

WARMUP_IN = "uvicorn's process (lifespan startup of a wrapper app), before it binds; it serves the app loaded"
TRUE = ("1", "true", "t", "yes", "y", "on")  # click's spellings of a true flag, for UVICORN_RELOAD


def warm_in_server(env: Mapping[str, str], launch: Launch) -> Launch:
    """The app word swapped for the wrapper, which uvicorn's process imports before it binds (uvicorn 0.55's
    main.run imports it before the event loop runs, Config.load on the loop finds it in sys.modules and calls
    a --factory there): the wrapper runs the warmup's load phase then, and the checks in the lifespan startup
    uvicorn awaits before it binds, on uvicorn's loop. No replay: the same process serves."""
    return _common.wrapped(launch, _common.ASGI_WRAPPER, None, "warmup in uvicorn's process")


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """The app word swapped for `entrypoint.warmup.asgi:app` (`:factory` with --factory). Not with
    `--interface wsgi` or `--lifespan off`: there is no startup to replay in; nor where the one process that
    serves ran the warmup itself."""
    if launch.interface != "asgi" or not launch.lifespan or launch.warmup_in:
        return None
    return _common.wrapped(launch, _common.ASGI_WRAPPER, "lifespan startup of a wrapper app")


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    _common.export_wrapped(launch, LIFESPAN, "uvicorn.error")


# --- logs: JSON through --log-config (log_config.json beside this file) and the ASGI wrapper ---------------

LOG_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log_config.json")


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--log-config=.../log_config.json` (uvicorn's loggers and the root logger as JSON on stderr), and
    the app served through the shared wrapper (warmup/asgi.py or warmup/wsgi.py), which makes the root
    logger JSON again once Django has applied the project's LOGGING, and for ASGI writes the access records
    (uvicorn's own have no duration, user agent or request id: --no-access-log). A --log-config of the
    user's (ARGS or UVICORN_LOG_CONFIG) is theirs: nothing changes. Text: PROD_ENTRY_ACCESS_LOG=0 adds
    --no-access-log unless the user chose (--access-log / --no-access-log / UVICORN_ACCESS_LOG)."""
    texts = launch.argv
    if options.enabled(env):
        if argv.mentions(texts, "--log-config") or env.get("UVICORN_LOG_CONFIG"):
            return None
        asgi = launch.interface == "asgi"
        launch = _common.wrapped(launch, _common.ASGI_WRAPPER if asgi else _common.WSGI_WRAPPER, None, "JSON logs")
        added = [Word(f"--log-config={LOG_CONFIG}", "JSON logs")]
        if asgi:
            added.append(Word("--no-access-log", "JSON logs (the wrapper app writes access records)"))
        return launch._replace(words=[*launch.words, *added])
    chose = argv.mentions(texts, "--access-log", "--no-access-log") or env.get("UVICORN_ACCESS_LOG")
    if options.access_setting(env) is False and not chose:
        return launch._replace(words=[*launch.words, Word("--no-access-log", "PROD_ENTRY_ACCESS_LOG=0")])
    return None


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if _common.is_wrapped(launch, _common.ASGI_WRAPPER) or _common.is_wrapped(launch, _common.WSGI_WRAPPER):
        _common.export_wrapped(launch, LIFESPAN, "uvicorn.error")
    _common.export_wrapped_access(env, launch)
