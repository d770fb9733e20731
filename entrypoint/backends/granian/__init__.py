"""granian serving a WSGI or ASGI app: `granian --interface=wsgi --host=0.0.0.0 --port=$PORT [ARGS] APP
[EXTRA]`, and its per-worker warmup.

granian's own default interface is rsgi, which no Django app speaks: without `--interface` (or
GRANIAN_INTERFACE), prod-entry adds `--interface=wsgi`. Its click options also read GRANIAN_* variables
(GRANIAN_HOST, GRANIAN_PORT, GRANIAN_UDS, GRANIAN_INTERFACE, GRANIAN_FACTORY): one set there is the user's and
gets no default. The app is `module:attr`; granian's attribute default is `app`.

Per-worker warmup: granian has no per-worker hook, but each worker process imports the app itself, then
(asgi) awaits its lifespan startup, before it serves. So the app word becomes a wrapper: asgi, the ASGI
wrapper replaying in lifespan startup; asginl (no lifespan), the same wrapper replaying on import; wsgi, the
WSGI wrapper replaying on import. Not for rsgi, which the warmup cannot call at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from entrypoint.backends import WEB, Launch, Word, _common, extra_words, port, process_var, program, user_words
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application
from entrypoint.settings.errors import ConfigError
from entrypoint.warmup.replay import IMPORT, LIFESPAN

INTERFACES = ("wsgi", "asgi", "asginl", "rsgi")
_TRUE = ("1", "true", "yes", "on", "t", "y")  # what click's BOOL reads as true in GRANIAN_FACTORY


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    given = user_words(process) + extra_words(extra)
    texts = [w.text for w in given]
    defaults = []
    interface = argv.option_value(texts, "--interface") or env.get("GRANIAN_INTERFACE")
    if interface is None:
        interface = "wsgi"
        defaults.append(Word("--interface=wsgi", "default (granian's own, rsgi, serves no Django app)"))
    if interface not in INTERFACES:
        raise ConfigError(f"granian --interface {interface!r} (ARGS or GRANIAN_INTERFACE) is not one of "
                          f"{', '.join(INTERFACES)}: fix it")
    app = process.app or _django_app(process, env, interface)
    app_origin = process.origins.get("app", "DJANGO_SETTINGS_MODULE " + _setting(interface))
    if ":" not in app:  # spelled out, so that the warmup loads the attribute granian will
        app, app_origin = f"{app}:app", f"{app_origin}, granian's default attribute"
    uds = argv.mentions(texts, "--uds") or "GRANIAN_UDS" in env
    if not (uds or argv.mentions(texts, "--host") or "GRANIAN_HOST" in env):
        defaults.append(Word("--host=0.0.0.0", "default"))
    if not (uds or argv.mentions(texts, "--port") or "GRANIAN_PORT" in env):
        defaults.append(Word(f"--port={port(env)}", "default (PORT, else 8000)"))
    texts += [w.text for w in defaults]
    bind = None
    if not uds:
        host = argv.option_value(texts, "--host") or env.get("GRANIAN_HOST", "127.0.0.1")
        number = argv.option_value(texts, "--port") or env.get("GRANIAN_PORT", "8000")
        bind = (host, int(number)) if number.isdigit() else None
    factory = "--factory" in texts or ("--no-factory" not in texts and
                                       env.get("GRANIAN_FACTORY", "").strip().lower() in _TRUE)
    words = [Word(program("granian"), "backend granian"), *defaults, *user_words(process),
             Word(app, app_origin), *extra_words(extra)]
    return Launch(words, WEB, app, "asgi" if interface.startswith("asgi") else interface, bind,
                  lifespan=interface == "asgi", factory=factory)


def _setting(interface: str) -> str:
    return "WSGI_APPLICATION" if interface == "wsgi" else "ASGI_APPLICATION"


def _django_app(process: Process, env: Mapping[str, str], interface: str) -> str:
    if interface == "rsgi":
        raise ConfigError(f"granian --interface rsgi needs the app: set {process_var(process, 'APP')} "
                          "(module:attr; Django has no RSGI application)")
    return application(env, _setting(interface), process_var(process, "APP"), "granian's --interface=wsgi")


# --- per-worker warmup: a wrapper app, replaying on import (wsgi, asginl) or in lifespan startup (asgi) -----

def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    if launch.interface == "wsgi":
        return _common.wrapped(launch, _common.WSGI_WRAPPER, "a wrapper app, as each worker imports it")
    if launch.interface == "asgi" and launch.lifespan:
        return _common.wrapped(launch, _common.ASGI_WRAPPER, "lifespan startup of a wrapper app")
    if launch.interface == "asgi":
        return _common.wrapped(launch, _common.ASGI_WRAPPER, "a wrapper app, as each worker imports it")
    return None


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    _common.export_wrapped(launch, LIFESPAN if launch.lifespan and launch.interface == "asgi" else IMPORT,
                           "_granian")


# --- logs: JSON through --log-config (log_config.json beside this file, with access.py's filter) ----------
# (access.py, not logs.py: dictConfig's importer would find this module's logs() under that name)

LOG_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log_config.json")


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: `--log-config=.../log_config.json` (granian's loggers and the root logger as JSON, its access
    records with their fields), `--access-log` with a format that collects the user agent and request id (off
    by default in granian; PROD_ENTRY_ACCESS_LOG=0 keeps it off), and the app served through the shared wrapper
    (wsgi, asgi, asginl), which makes the root logger JSON again once Django has applied the project's LOGGING.
    A --log-config of the user's (ARGS or GRANIAN_LOG_CONFIG) is theirs: nothing changes. Text:
    PROD_ENTRY_ACCESS_LOG=1 is `--access-log`. An access switch of the user's wins either way."""
    from entrypoint.backends.granian.access import ACCESS_FORMAT

    texts = launch.argv
    chose = argv.mentions(texts, "--access-log", "--no-access-log") or "GRANIAN_LOG_ACCESS_ENABLED" in env
    access = options.access_enabled(env) if options.enabled(env) else bool(options.access_setting(env))
    why = f"{options.ACCESS_VAR} / {options.FORMAT_VAR}"
    added = [] if chose or not access else [Word("--access-log", why)]
    if options.enabled(env):
        if argv.mentions(texts, "--log-config") or env.get("GRANIAN_LOG_CONFIG"):
            return None
        if launch.interface in ("wsgi", "asgi"):
            wrapper = _common.WSGI_WRAPPER if launch.interface == "wsgi" else _common.ASGI_WRAPPER
            launch = _common.wrapped(launch, wrapper, None, "JSON logs")
        added.append(Word(f"--log-config={LOG_CONFIG}", "JSON logs"))
        if not (argv.mentions(texts, "--access-log-fmt") or env.get("GRANIAN_LOG_ACCESS_FMT")):
            added.append(Word(f"--access-log-fmt={ACCESS_FORMAT}", "JSON logs (the access fields)"))
    return launch._replace(words=[*launch.words, *added]) if added else None


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if _common.is_wrapped(launch, _common.ASGI_WRAPPER) or _common.is_wrapped(launch, _common.WSGI_WRAPPER):
        prepare_worker_warmup(env, launch)
