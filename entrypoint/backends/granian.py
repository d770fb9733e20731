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

from collections.abc import Mapping, Sequence

from entrypoint import argv
from entrypoint.backends import WEB, Launch, Word, _common, extra_words, port, process_var, program, user_words
from entrypoint.config import Process
from entrypoint.django_settings import application
from entrypoint.errors import ConfigError
from entrypoint.worker_warmup import IMPORT, LIFESPAN

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
    return application(env, _setting(interface), process_var(process, "APP"))


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
