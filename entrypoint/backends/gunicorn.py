"""gunicorn serving a WSGI app: `gunicorn --bind=0.0.0.0:$PORT [ARGS] APP [EXTRA]`."""

from __future__ import annotations

import importlib.util
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
            raise ConfigError(f"{where} sets gunicorn's worker class {value!r}, which needs "
                              f"the Python package {package!r}: install it (pip install '{extra}') or choose "
                              "another worker class (sync, gthread)")
