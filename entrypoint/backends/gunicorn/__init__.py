"""gunicorn serving a WSGI app (an ASGI one with an ASGI worker class: uvicorn's, gunicorn's own `asgi`):
`gunicorn [--bind=0.0.0.0:$PORT] [ARGS] APP [EXTRA]`, and everything prod-entry
knows about gunicorn: which settings the user gave it (ARGS, GUNICORN_CMD_ARGS, its config file), its per-worker
warmup (hook.py, a config module whose post_worker_init replays the warmup in every worker)."""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from collections.abc import Mapping, Sequence

from entrypoint.backends import (WEB, Default, Given, Launch, Setting, Word, defaults, extra_words, given_in_env,
                                 given_in_words, port, process_var, program, user_words)
from entrypoint.logs import options
from entrypoint.settings import argv, sizing
from entrypoint.settings.config import Process
from entrypoint.settings.django_settings import application
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.error_lines import describe

# The settings prod-entry has defaults for or checks (the worker class's packages), and their spellings.
OPTIONS = {"bind": ("--bind", "-b"), "worker_class": ("--worker-class", "-k"), "accesslog": ("--access-logfile",),
           "asgi_lifespan": ("--asgi-lifespan",), "workers": ("--workers", "-w"), "threads": ("--threads",),
           "worker_tmp_dir": ("--worker-tmp-dir",)}
# gunicorn's default for --workers, which its config file, GUNICORN_CMD_ARGS and the command line override.
WORKERS_VAR = "WEB_CONCURRENCY"
SYNC = ("sync", "gunicorn.workers.sync.SyncWorker")
GTHREAD = ("gthread", "gunicorn.workers.gthread.ThreadWorker")
# Switches under which each worker must import the app itself, so the warmup cannot run in the master (see
# warm_in_server): preload (gunicorn imports the app before any hook, and reports an import error with its
# traceback) and reload (a restarted worker must read the code anew).
IMPORTS_ITSELF = {"preload_app": "--preload", "reload": "--reload"}
CONFIG = {"config": ("--config", "-c")}
CMD_ARGS = "GUNICORN_CMD_ARGS"
ASGI_WORKER = "gunicorn.workers.gasgi.ASGIWorker"
DEFAULT_FILE = "gunicorn.conf.py"  # gunicorn reads it from the working directory when no --config is given


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    words = user_words(process) + extra_words(extra)
    from_env = cmd_args(env)
    config = config_file(from_env, words)
    # gunicorn's own precedence, lowest first: WEB_CONCURRENCY (the default of --workers), its config file,
    # GUNICORN_CMD_ARGS, the command line.
    from_file = read_config(config) if config else {}
    from_words = given_in_words(words, OPTIONS)
    given = {**given_in_env(env, {"workers": WORKERS_VAR}), **from_file, **given_in_words(from_env, OPTIONS),
             **from_words}
    if "worker_class" in given:
        _check_worker_class(given["worker_class"].value, given["worker_class"].origin)
    interface = "asgi" if asgi_worker(given) else "wsgi"
    setting = f"{interface.upper()}_APPLICATION"
    app = process.app or application(env, setting, process_var(process, "APP"), "a WSGI worker class (sync, gthread)")
    app_origin = process.origins.get("app", f"DJANGO_SETTINGS_MODULE {setting}")
    # gunicorn's own asgi worker runs the lifespan protocol unless --asgi-lifespan=off; uvicorn's always may.
    lifespan = "asgi_lifespan" not in given or given["asgi_lifespan"].value != "off"
    default_bind = f"0.0.0.0:{port(env)}"
    counts = sized(process, env, given)
    added = defaults(given, [Default("bind", (f"--bind={default_bind}",), "default (0.0.0.0 and PORT, else 8000)"),
                             *(Default(c.name, (f"--{c.name}={c.value}",), "sizing (below)") for c in counts)])
    bind = given["bind"].values if "bind" in given else (default_bind,)
    # For show: what gunicorn reads beyond argv, the config file first when argv does not name it.
    shown = [setting for name, setting in given.items() if name not in from_words]
    if config and not given_in_words(words, CONFIG):
        shown.insert(0, config)
    return Launch([Word(program("gunicorn"), "backend gunicorn"), *added, *user_words(process),
                   Word(app, app_origin), *extra_words(extra)],
                  WEB, app, interface, tcp_bind(bind), settings=tuple(shown), lifespan=lifespan,
                  warmup_in=WARMUP_IN if master_can_warm(given, from_file, [*from_env, *words]) else None,
                  sizing=tuple(counts))


def sized(process: Process, env: Mapping[str, str], given: Given) -> list[Setting]:
    """--workers, and --threads for gthread workers: the user's, else sized by settings/sizing.py (2 x CPUs + 1
    sync workers; one per CPU for workers that serve many requests each)."""
    kind = (given["worker_class"].value if "worker_class" in given else "sync").removeprefix("egg:gunicorn#")
    threads = given["threads"].value if "threads" in given else ""
    # gunicorn runs a sync worker class given more than one thread as gthread.
    threaded = kind in GTHREAD or (kind in SYNC and threads.isdigit() and int(threads) > 1)
    workers = sizing.count(process, env, "workers", given.get("workers"), per_cpu=threaded or kind not in SYNC)
    if workers is None or not threaded:
        return [workers] if workers else []
    return [workers, sizing.threads(given.get("threads"), "gthread worker")]


def master_can_warm(given: Given, from_file: Given, words: Sequence[Word]) -> bool:
    """Whether the warmup can run in gunicorn's master: a WSGI worker class (an ASGI one runs the app in the
    worker's event loop) and neither of IMPORTS_ITSELF, on the command line, in GUNICORN_CMD_ARGS or the file."""
    if asgi_worker(given):
        return False
    flags = set(IMPORTS_ITSELF.values())
    return not any(word.text in flags for word in words) and \
        not any(from_file[name].value == "True" for name in IMPORTS_ITSELF if name in from_file)


def asgi_worker(given: Given) -> bool:
    """Whether the worker class serves ASGI: uvicorn's (uvicorn.workers.*, the uvicorn-worker package's
    uvicorn_worker.*) or gunicorn's own `asgi` (gunicorn 27 has one)."""
    worker_class = given["worker_class"].value if "worker_class" in given else "sync"
    return "uvicorn" in worker_class or worker_class.removeprefix("egg:gunicorn#") in ("asgi", ASGI_WORKER)


def cmd_args(env: Mapping[str, str]) -> list[Word]:
    """GUNICORN_CMD_ARGS, gunicorn's own variable, split as gunicorn splits it."""
    try:
        return [Word(text, CMD_ARGS) for text in shlex.split(env.get(CMD_ARGS, ""))]
    except ValueError as exc:
        raise ConfigError(f"{CMD_ARGS} cannot be split like a command line ({exc}): fix its quoting") from None


def config_file(from_env: Sequence[Word], words: Sequence[Word]) -> Setting | None:
    """The config file gunicorn reads, and where it was named: the command line's last --config, else
    GUNICORN_CMD_ARGS's, else ./gunicorn.conf.py, relative to the working directory (gunicorn loads it before it
    applies a --chdir)."""
    named = given_in_words(words, CONFIG) or given_in_words(from_env, CONFIG)
    if named and named["config"].value:
        return named["config"]
    return Setting("config", (DEFAULT_FILE,), "gunicorn's default, in the working directory") \
        if os.path.isfile(DEFAULT_FILE) else None


def read_config(config: Setting) -> Given:
    """The settings (those in OPTIONS) the config file sets, read as gunicorn reads it: executed as
    module __config__ (imported, for python:module), and every name gunicorn knows applied to gunicorn's own
    Config, which validates it. Only when there is a file: importing gunicorn.config costs ~50 ms."""
    location, named_by = config.value, config.origin
    namespace = execute_config(location, named_by)
    from gunicorn.config import Config

    cfg = Config()
    given: Given = {}
    for key, value in namespace.items():
        if key not in cfg.settings:
            continue  # gunicorn ignores unknown names too
        try:
            cfg.set(key, value)
        except Exception as exc:
            raise ConfigError(f"gunicorn config file {location} ({named_by}): {key} = {value!r} is not valid "
                              f"({describe(exc)}): fix the file") from None
        if key in OPTIONS or key in IMPORTS_ITSELF:
            effective = cfg.settings[key].get()
            values = tuple(map(str, effective)) if isinstance(effective, list) else (str(effective),)
            given[key] = Setting(key, values, location.removeprefix("file:"))
    return given


def execute_config(location: str, named_by: str) -> dict[str, object]:
    """The module namespace of a config file, as gunicorn's Application.get_config_from_filename builds it; a
    file that is missing or raises is one line, exit 2 (gunicorn itself would print a traceback and exit 1)."""
    import importlib
    import importlib.machinery
    import importlib.util

    if location.startswith("python:"):
        if os.getcwd() not in sys.path:  # gunicorn's chdir() puts the working directory on sys.path first
            sys.path.insert(0, os.getcwd())
        try:
            return vars(importlib.import_module(location[len("python:"):]))
        except Exception as exc:
            raise ConfigError(f"gunicorn config module {location} ({named_by}) cannot be imported: "
                              f"{describe(exc)}: fix the module or the name") from None
    path = location.removeprefix("file:")
    if not os.path.exists(path):
        raise ConfigError(f"the gunicorn config file {path!r} ({named_by}) does not exist: fix the path")
    loader = None if os.path.splitext(path)[1] in (".py", ".pyc") else \
        importlib.machinery.SourceFileLoader("__config__", path)
    spec = importlib.util.spec_from_file_location("__config__", path, loader=loader)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get("__config__")
    sys.modules["__config__"] = module  # as gunicorn does: a dataclass or pickle in the file looks itself up
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise ConfigError(f"gunicorn config file {path} ({named_by}) failed{at_line(exc, path)}: "
                          f"{describe(exc)}: fix the file") from None
    finally:
        if previous is None:
            sys.modules.pop("__config__", None)
        else:
            sys.modules["__config__"] = previous
    return vars(module)


def at_line(exc: BaseException, path: str) -> str:
    """` at line N` of `path` where `exc` was raised (the innermost frame in the file), or nothing."""
    import traceback

    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" at line {exc.lineno}"
    here = os.path.abspath(path)
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
             if os.path.abspath(frame.filename) == here]
    return f" at line {lines[-1]}" if lines else ""


def tcp_bind(addresses: Sequence[str]) -> tuple[str, int] | None:
    """(host, port) of the first TCP address in a gunicorn bind list, parsed as gunicorn.util.parse_address does
    (`HOST` alone means port 8000, `tcp://` is optional); None when all are unix sockets or fds."""
    for address in addresses:
        if address.startswith(("unix:", "fd://")):
            continue
        address = address.removeprefix("tcp://")
        if "[" in address and "]" in address:
            host, number = address.split("]")[0][1:], (address.split("]:") + ["8000"])[1]
        elif ":" in address:
            host, number = (address.split(":") + ["8000"])[:2]
        else:
            host, number = address or "0.0.0.0", "8000"
        if number.isdigit():
            return host.lower(), int(number)
    return None


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


# --- the warmup in the master and per worker: gunicorn's on_starting and post_worker_init, through a config
# module of ours (hook.py) -------------------------------------------------------------------------------

WARMUP_IN = "gunicorn's master (on_starting hook), before it binds; the workers fork with the app loaded"

HOOK_MODULE = "entrypoint.backends.gunicorn.hook"
HOOK_WORD = f"--config=python:{HOOK_MODULE}"
USER_CONFIG_VAR = "PROD_ENTRY_GUNICORN_CONFIG"  # the user's own config file, which hook.py loads first


def warm_in_server(env: Mapping[str, str], launch: Launch) -> Launch:
    """hook.py's on_starting runs the warmup in the master, which gunicorn starts with the config read, its
    --chdir, --env and --pythonpath applied, and nothing bound yet. The workers fork from it: gunicorn's own
    import of the app in each worker finds it loaded. What changes against plain gunicorn is what --preload
    changes: a HUP starts workers on the code already loaded."""
    return with_hook(env, launch, "warmup hook")


def worker_warmup(env: Mapping[str, str], launch: Launch) -> Launch | None:
    if launch.interface != "wsgi":
        return None
    return with_hook(env, launch, "warmup hook")._replace(worker_warmup="post_worker_init hook")


def with_hook(env: Mapping[str, str], launch: Launch, why: str) -> Launch:
    """`--config=python:entrypoint.backends.gunicorn.hook` appended, once. gunicorn reads one config file, and
    the command line's wins: the hook loads the user's own (from ARGS, GUNICORN_CMD_ARGS or ./gunicorn.conf.py)
    first and keeps their hooks. Appended last, so it wins over a --config in ARGS or EXTRA."""
    if HOOK_WORD in launch.argv:
        return launch
    origin = f"{why} (loads {user_config(env, launch) or 'no config file'})"
    return launch._replace(words=[*launch.words, Word(HOOK_WORD, origin)])


def user_config(env: Mapping[str, str], launch: Launch) -> str | None:
    """The config file gunicorn would have read without our --config."""
    found = config_file(cmd_args(env), [w for w in launch.words[1:] if w.text != HOOK_WORD])
    return found.value if found else None


def prepare_worker_warmup(env: Mapping[str, str], launch: Launch) -> None:
    """Tell hook.py, through the environment exec passes on, which config file of the user's to load (build has
    already read it, so it exists and runs)."""
    config = user_config(env, launch)
    if config:
        os.environ[USER_CONFIG_VAR] = config
    else:
        os.environ.pop(USER_CONFIG_VAR, None)


def needs_temp_dir(env: Mapping[str, str], launch: Launch) -> str | None:
    """What gunicorn needs Python's temporary directory for (run.prepare checks it is writable before exec), or
    None when --worker-tmp-dir names another directory."""
    if argv.mentions(launch.argv, *OPTIONS["worker_tmp_dir"]) or \
            any(setting.name == "worker_tmp_dir" for setting in launch.settings):
        return None
    return "gunicorn keeps every worker's heartbeat file there (unless --worker-tmp-dir names another directory)"


# --- logs: JSON through hook.py (its logger_class and accesslog), PROD_ENTRY_ACCESS_LOG --------------------

LOGGER_CLASS = "entrypoint.backends.gunicorn.logs.JsonLogger"


def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: hook.py's --config word (if the warmup did not add it already), which sets our logger class.
    Text: gunicorn's own format; PROD_ENTRY_ACCESS_LOG=1 adds --access-logfile=- (gunicorn logs no access by
    default), unless the user names an access log anywhere gunicorn reads one."""
    if options.enabled(env):
        return with_hook(env, launch, "JSON logs hook")
    given = argv.mentions(launch.argv, *OPTIONS["accesslog"]) or any(s.name == "accesslog" for s in launch.settings)
    if options.access_setting(env) and not given:
        return launch._replace(words=[*launch.words, Word("--access-logfile=-", "PROD_ENTRY_ACCESS_LOG=1")])
    return None


def prepare_logs(env: Mapping[str, str], launch: Launch) -> None:
    if HOOK_WORD in launch.argv:
        prepare_worker_warmup(env, launch)  # hook.py loads the user's config file either way
