"""django-prodserver compatibility: process definitions from the Django setting PRODUCTION_PROCESSES.

django-prodserver 3.0's format is `{"web": {"BACKEND": "<class path>", "ARGS": {...}, "APP": "..."}}`. Its
built-in backend classes map to prod-entry backends below; ARGS go through prod-entry's own formatting (which
differs where django-prodserver's is wrong: see the README's Django section). Definitions from the environment
win. The settings module is imported (never `django.setup()`), and only on the run path, never by a PID-1
supervisor: run.definitions() is the one caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from entrypoint.settings import argv, config
from entrypoint.settings.config import Environment, Process
from entrypoint.settings.django_settings import settings_module
from entrypoint.settings.errors import ConfigError

SETTING = "PRODUCTION_PROCESSES"


class Mapped(NamedTuple):
    backend: str  # prod-entry's backend name
    prefix: dict[str, object]  # options the django-prodserver class adds itself, before the user's ARGS
    keys: Callable[[dict[str, object]], dict[str, object]] | None = None  # the class's ARGS keys -> CLI options


# django-prodserver's granian classes pass ARGS to granian's Python API (Granian(address=..., ...)), under
# names of their own; these are granian's command-line options for them. Its boolean keys become on/off flags.
_GRANIAN_OPTIONS = {"address": "host", "host": "host", "port": "port", "workers": "workers",
                    "blocking-threads": "blocking-threads", "blocking_threads": "blocking-threads",
                    "threads": "blocking-threads", "runtime-threads": "runtime-threads",
                    "runtime_threads": "runtime-threads", "backlog": "backlog", "http": "http",
                    "log-level": "log-level", "log_level": "log-level", "ssl-cert": "ssl-certificate",
                    "ssl_cert": "ssl-certificate", "ssl-key": "ssl-keyfile", "ssl_key": "ssl-keyfile",
                    "url-path-prefix": "url-path-prefix", "url_path_prefix": "url-path-prefix"}
_GRANIAN_FLAGS = {"websockets": "ws", "log-access": "access-log", "log_access": "access-log", "reload": "reload"}


def _granian_keys(args: dict[str, object]) -> dict[str, object]:
    """Keys django-prodserver does not know are kept as they are: granian refuses an unknown option, where
    django-prodserver drops the key without a word."""
    options: dict[str, object] = {}
    for key, value in args.items():
        if key in _GRANIAN_FLAGS:
            on = value.strip().lower() in ("true", "1", "yes", "on") if isinstance(value, str) else bool(value)
            options[_GRANIAN_FLAGS[key] if on else "no-" + _GRANIAN_FLAGS[key]] = None
        else:
            options[_GRANIAN_OPTIONS.get(key, key)] = value
    return options


_PACKAGE = "django_prodserver.backends."
_CLASSES = {
    "servers.gunicorn.GunicornServer": Mapped("gunicorn", {}),
    "servers.uvicorn.UvicornServer": Mapped("uvicorn", {}),
    "servers.uvicorn.UvicornWSGIServer": Mapped("uvicorn", {"interface": "wsgi"}),
    "servers.granian.GranianASGIServer": Mapped("granian", {"interface": "asgi"}, _granian_keys),
    "servers.granian.GranianWSGIServer": Mapped("granian", {"interface": "wsgi"}, _granian_keys),
    "servers.waitress.WaitressServer": Mapped("waitress", {}),
    "servers.flower.CeleryFlower": Mapped("flower", {}),
    "workers.celery.CeleryWorker": Mapped("celery-worker", {}),
    "workers.celery.CeleryBeat": Mapped("celery-beat", {}),
    "workers.django_tasks.DjangoTasksWorker": Mapped("django-tasks", {}),
    "workers.django_q2.DjangoQ2Worker": Mapped("django-q2", {}),
}
# The same classes under their deprecated 2.x paths, which 3.0 still accepts.
_DEPRECATED = {"gunicorn.GunicornServer", "uvicorn.UvicornServer", "uvicorn.UvicornWSGIServer",
               "granian.GranianASGIServer", "granian.GranianWSGIServer",
               "celery.CeleryWorker", "celery.CeleryBeat", "django_tasks.DjangoTasksWorker",
               "waitress.WaitressServer", "django_q2.DjangoQ2Worker"}  # CeleryFlower is new in 3.0: no 2.x path
BACKENDS: dict[str, Mapped] = {_PACKAGE + path: mapped for path, mapped in _CLASSES.items()}
BACKENDS.update({_PACKAGE + path: _CLASSES[next(p for p in _CLASSES if p.endswith("." + path))]
                 for path in _DEPRECATED})

# django-prodserver built-ins prod-entry does not drive (yet): what to do instead.
UNSUPPORTED = {
    "dev.django_runserver.DjangoRunserver": "a development server: use gunicorn or uvicorn in production",
    "dev.daphne.DaphneRunserver": "a development server: use the daphne backend in production (PROD_ENTRY_PROCESS_WEB=daphne)",
    "dev.werkzeug.WerkzeugRunserver": "a development server: use gunicorn in production",
    "dev.werkzeug.RunserverPlus": "a development server: use gunicorn in production",
}


def processes(environment: Environment) -> dict[str, Process]:
    """config.processes() plus those of PRODUCTION_PROCESSES, when DJANGO_SETTINGS_MODULE is set and defines
    it. An environment definition (PROD_ENTRY_PROCESS_<NAME>) wins over a settings one of the same name; the
    environment's _ARGS / _APP / per-process settings for a settings-defined name apply on top of it."""
    env = environment.values
    defined = None
    if env.get("DJANGO_SETTINGS_MODULE", "").strip():
        defined = getattr(settings_module(env, SETTING), SETTING, None)
    if defined is None:
        return config.processes(environment)
    names = [str(name).lower() for name in defined] if isinstance(defined, Mapping) else []
    found = config.processes(environment, names)
    # Built-in: no PROD_ENTRY_PROCESS_<NAME> variable, so the settings definition applies.
    builtins = {name: p for name, p in found.items() if p.origins["backend"] == "built-in"}
    return {**found, **{name: process for name, process in from_settings(defined, builtins).items()
                        if name not in found or name in builtins}}


def from_settings(defined: object, builtins: Mapping[str, Process] | None = None) -> dict[str, Process]:
    """PRODUCTION_PROCESSES -> Process objects, validated, in the setting's order. `builtins`: the built-in
    processes, whose environment _ARGS / _APP / settings apply to a settings process of the same name."""
    if not isinstance(defined, Mapping):
        raise ConfigError(f"settings {SETTING} is a {type(defined).__name__}: it must be a dict "
                          "{'web': {'BACKEND': ..., 'ARGS': {...}}}")
    result: dict[str, Process] = {}
    for key, definition in defined.items():
        where = f"settings {SETTING}[{key!r}]"
        name = str(key).lower()
        if not config._NAME.match(name) or name in config.RESERVED_NAMES:
            raise ConfigError(f"{where}: {key!r} cannot be a prod-entry process name: use letters and digits "
                              "joined by single underscores, and none of " + ", ".join(sorted(config.RESERVED_NAMES)))
        if name in result:
            raise ConfigError(f"{where}: defined twice (names are case-insensitive): keep one")
        if not isinstance(definition, Mapping):
            raise ConfigError(f"{where} is a {type(definition).__name__}: it must be a dict with a BACKEND")
        result[name] = _process(name, definition, where, (builtins or {}).get(name))
    return result


def _process(name: str, definition: Mapping[str, object], where: str, builtin: Process | None) -> Process:
    path = definition.get("BACKEND")
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{where} has no BACKEND: set it to a django-prodserver backend class path, e.g. "
                          f"'{_PACKAGE}servers.gunicorn.GunicornServer'")
    mapped = backend(path.strip(), where, name)
    origins = {"backend": where}
    given: dict[str, object] | list[str] = {}
    if builtin is not None and "args" in builtin.origins:
        given, origins["args"] = builtin.args, builtin.origins["args"]
    elif definition.get("ARGS") is not None:
        given, origins["args"] = _args(definition["ARGS"], where), f"{where}['ARGS']"
        if mapped.keys is not None and isinstance(given, dict):
            given = mapped.keys(given)
    if mapped.prefix:
        # The class adds these itself (UvicornWSGIServer: --interface=wsgi); they are the definition's.
        origins["args"] = where
    args = _with_prefix(mapped.prefix, given)
    app = definition.get("APP")
    if builtin is not None and "app" in builtin.origins:
        app, origins["app"] = builtin.app, builtin.origins["app"]
    elif app is not None:
        if not isinstance(app, str) or not app.strip():
            raise ConfigError(f"{where}['APP'] is {app!r}: set a dotted path (myproject.celery.app) or remove it")
        app, origins["app"] = _module_attr(app.strip()), f"{where}['APP']"
    before = builtin.before if builtin else None
    if builtin is not None and "before" in builtin.origins:
        origins["before"] = builtin.origins["before"]
    return Process(name, mapped.backend, args, app, origins, dict(builtin.settings) if builtin else {}, before)


def backend(path: str, where: str, name: str) -> Mapped:
    """The prod-entry backend for a django-prodserver class path; unknown paths are an error naming them."""
    if path in BACKENDS:
        return BACKENDS[path]
    short = path.removeprefix(_PACKAGE)
    instead = next((hint for p, hint in UNSUPPORTED.items() if short == p or p.endswith("." + short)), None)
    name = name.upper()
    if instead and instead.startswith("a development server"):
        raise ConfigError(f"{where}['BACKEND'] = {path!r} is {instead}")
    if instead:
        raise ConfigError(f"{where}['BACKEND'] = {path!r} is a django-prodserver backend prod-entry does not "
                          f"drive: define the process in the environment instead (PROD_ENTRY_PROCESS_{name}=command, "
                          f"PROD_ENTRY_PROCESS_{name}_ARGS='{instead}')")
    supported = ", ".join(_CLASSES)
    raise ConfigError(f"{where}['BACKEND'] = {path!r} is not a django-prodserver built-in backend prod-entry "
                      f"knows ({_PACKAGE}{{{supported}}}): fix the path, or define the process in the "
                      f"environment (PROD_ENTRY_PROCESS_{name}=<backend>)")


def _args(value: object, where: str) -> dict[str, object] | list[str]:
    """ARGS through prod-entry's own ARGS rules: a dict, a list of words, or a string split like a shell."""
    import json  # here: only PRODUCTION_PROCESSES in Django settings come through (json costs ~2 ms)

    if isinstance(value, tuple):
        value = list(value)
    try:
        # A JSON round trip applies exactly the checks environment ARGS get, and refuses what JSON cannot hold.
        return argv.parse(json.dumps(value))
    except TypeError as exc:
        raise ConfigError(f"{where}['ARGS'] holds a value that is not a string, number, bool, None or list "
                          f"({exc}): write it as a string") from None
    except argv.ArgsError as exc:
        raise ConfigError(f"{where}['ARGS'] {exc}") from None


def _with_prefix(prefix: dict[str, object], args: dict[str, object] | list[str]) -> dict[str, object] | list[str]:
    if not prefix:
        return args
    if isinstance(args, dict):
        return {**prefix, **args}
    return [*argv.format_args(prefix), *args]


def _module_attr(app: str) -> str:
    """django-prodserver's APP is a dotted path (import_string); servers and celery take `module:attr`."""
    if ":" in app or "." not in app:
        return app
    module, _, attr = app.rpartition(".")
    return f"{module}:{attr}"
