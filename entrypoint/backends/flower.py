"""Celery's Flower, a web process: `celery --app=APP flower --address=0.0.0.0 --port=$PORT [ARGS] [EXTRA]`.
APP defaults to the project's Celery module, found as for the celery backends. It serves HTTP, so it is a web
process (port check, `prod-entry healthcheck` over HTTP: Flower answers /healthcheck), but not a WSGI or ASGI
app: there is no warmup to run."""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from entrypoint.backends import WEB, Launch, Setting, Word, extra_words, port, program, user_words
from entrypoint.backends.celery import locate_app
from entrypoint.logs import options
from entrypoint.settings import argv
from entrypoint.settings.config import Process

CONFIG_FILE = "flowerconfig.py"  # Flower's default --conf


def build(process: Process, env: Mapping[str, str], extra: Sequence[str]) -> Launch:
    app, app_origin = locate_app(process, env)
    given = user_words(process) + extra_words(extra)
    texts = [w.text for w in given]
    # Flower's own sources, lowest first: FLOWER_<OPTION> variables, its config file, its command line.
    config = argv.option_value(texts, "--conf") or CONFIG_FILE
    theirs = config_names(config)
    # For `prod-entry show`: the address and port Flower takes from its environment and config file.
    shown = tuple(Setting(name, (value,), origin) for name in ("address", "port")
                  for value, origin in ((env.get(f"FLOWER_{name.upper()}"), f"FLOWER_{name.upper()}"),
                                        (theirs.get(name), config)) if value is not None)
    defaults = []
    if not (argv.mentions(texts, "--address") or "FLOWER_ADDRESS" in env or "address" in theirs):
        defaults.append(Word("--address=0.0.0.0", "default"))
    if not (argv.mentions(texts, "--port") or "FLOWER_PORT" in env or "port" in theirs):
        defaults.append(Word(f"--port={port(env)}", "default (PORT, else 8000)"))
    texts += [w.text for w in defaults]
    address = argv.option_value(texts, "--address") or env.get("FLOWER_ADDRESS") or theirs.get("address") or ""
    number = argv.option_value(texts, "--port") or env.get("FLOWER_PORT") or theirs.get("port") or "5555"
    bind = (address or "0.0.0.0", int(number)) if number.isdigit() else None
    words = [Word(program("celery"), "backend flower"), Word(f"--app={app}", app_origin),
             Word("flower", "backend flower"), *defaults, *given]
    return Launch(words, WEB, None, None, bind, settings=shown, app_origin=app_origin)


def config_names(path: str) -> dict[str, str]:
    """The top-level names a Flower config file (Python) assigns, with their literal values ('' when not a
    literal); nothing when it does not exist or does not parse (Flower then reports it itself)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value.value if isinstance(node.value, ast.Constant) else ""
            found.update({t.id: str(value) for t in targets if isinstance(t, ast.Name)})
    return found


# --- logs: JSON through a runner (`python -m entrypoint.backends.flower`, celery's CLI in-process) ---------
#
# Flower logs through tornado, which gives the root logger its own text handler only when it has none, and
# writes no access lines (tornado.access gets a NullHandler). The runner makes the root logger JSON before
# celery's CLI starts, and gives Flower's tornado application a log_function writing access records.

def logs(env: Mapping[str, str], launch: Launch) -> Launch | None:
    """JSON: the `celery` program word becomes `python -m entrypoint.backends.flower` (the same command line,
    run by celery's own CLI in that process)."""
    if not options.enabled(env):
        return None
    runner = [Word(sys.executable, "JSON logs runner"), Word("-m", "JSON logs runner"),
              Word(__name__, "JSON logs runner (celery's CLI, with Flower's logging JSON)")]
    return launch._replace(words=[*runner, *launch.words[1:]])


def access(handler: Any) -> None:
    """tornado's log_function: one access record per request."""
    import logging

    from entrypoint.logs import jsonlog

    request = handler.request
    log = logging.getLogger(options.ACCESS_LOGGER)
    jsonlog.log_access(log, request.method or "-", request.uri or "", handler.get_status(),
                       request.request_time() * 1000, request.remote_ip, request.headers.get("User-Agent"),
                       request.headers.get("X-Request-ID"))


def run(args: Sequence[str]) -> int:
    import logging

    from celery.bin.celery import main
    from flower import command
    from flower.app import Flower

    from entrypoint.logs import jsonlog

    jsonlog.configure(logging.INFO)  # before tornado parses its options: it then adds no text handler
    if options.access_enabled():
        log = logging.getLogger(options.ACCESS_LOGGER)
        handler = logging.StreamHandler(sys.stdout)  # on stdout as servers write access lines
        handler.setFormatter(jsonlog.JsonFormatter())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        command.settings["log_function"] = access  # Flower passes these settings to its tornado app
    started = Flower.start

    def start(self: Any) -> None:  # the app has loaded, and with it Django's LOGGING: make it JSON again
        jsonlog.configure()
        started(self)

    Flower.start = start  # type: ignore[method-assign]
    sys.argv = ["celery", *args]
    return main() or 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
