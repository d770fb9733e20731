"""A gunicorn config module (`--config=python:entrypoint.backends.gunicorn.hook`, added by prod-entry) whose
`post_worker_init` replays the warmup requests in every worker, before it accepts its first connection; with
PROD_ENTRY_LOG_FORMAT=json it also sets gunicorn's logger class to ours (logs.py) and its access log to stdout,
and makes the worker's root logger JSON once the app (and Django's LOGGING) has loaded.

gunicorn reads a single config file, so this module first loads the user's own (named by
PROD_ENTRY_GUNICORN_CONFIG: their --config, GUNICORN_CMD_ARGS's, or ./gunicorn.conf.py) and re-exports its
settings; their `post_worker_init` runs before ours. A failed replay is logged, never fatal: the same
requests passed before exec, and a worker that cannot warm up can still serve.
"""

from __future__ import annotations

import inspect
import os
import runpy
from typing import Any

from entrypoint import jsonlog
from entrypoint.backends.gunicorn import LOGGER_CLASS, USER_CONFIG_VAR

_location = os.environ.get(USER_CONFIG_VAR)
_theirs: dict[str, Any] = {}
if _location:
    if _location.startswith("python:"):
        import importlib

        _theirs = vars(importlib.import_module(_location[len("python:"):]))
    else:
        _theirs = runpy.run_path(_location.removeprefix("file:"), run_name="__config__")
    # gunicorn takes only the names it knows as settings from this module's globals.
    globals().update({k: v for k, v in _theirs.items() if not k.startswith("__")})

_their_post_worker_init = _theirs.get("post_worker_init")

if jsonlog.enabled():
    if _theirs.get("logger_class") in (None, "gunicorn.glogging.Logger"):
        logger_class = LOGGER_CLASS
    else:  # theirs may format as it likes; ours would drop it
        from entrypoint import log

        log.from_env().warning(f"the gunicorn config file {_location} sets logger_class = "
                               f"{_theirs['logger_class']!r}, kept: gunicorn's own lines are formatted by it")
    if jsonlog.access_enabled() and not _theirs.get("accesslog"):
        accesslog = "-"  # gunicorn's default is no access log; JSON logs have them unless PROD_ENTRY_ACCESS_LOG=0


def post_worker_init(worker: Any) -> None:
    if jsonlog.enabled():
        jsonlog.configure()  # after the app loaded: Django has applied the project's LOGGING
    if callable(_their_post_worker_init):
        _their_post_worker_init(worker)
    replay(worker)


def replay(worker: Any) -> None:
    from entrypoint import worker_warmup

    plan = worker_warmup.load()
    app = getattr(worker, "wsgi", None)
    if plan is None or app is None:
        return
    call = getattr(app, "__call__", None)
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        # An ASGI worker class (uvicorn's): its server runs the app's lifespan; not ours to drive here.
        worker.log.info("prod-entry: worker %s: ASGI worker class, warmup skipped", worker.pid)
        return
    get = through_the_worker if can_use_the_worker(worker) else in_memory
    worker_warmup.replay(plan, lambda path: get(worker, path, plan.target),
                         worker_warmup.Log(worker.log.info, worker.log.warning))


def can_use_the_worker(worker: Any) -> bool:
    """The sync worker's `handle(listener, client, addr)` is small and stable: feeding it a socketpair warms
    gunicorn's own parser, environ and response code too, not just the app. Other worker classes (gthread's
    connection objects change between releases) get the app alone, in memory."""
    from gunicorn.workers.sync import SyncWorker

    return type(worker) is SyncWorker and not worker.cfg.is_ssl and bool(getattr(worker, "sockets", None))


def in_memory(worker: Any, path: str, target: Any) -> int:
    from entrypoint.appclient import wsgi_get

    return wsgi_get(worker.wsgi, path, target).status


def through_the_worker(worker: Any, path: str, target: Any) -> int:
    """One request through `worker.handle`, over a socketpair: parsed, served and written as a real one."""
    import socket
    import threading

    lines = [f"GET {path} HTTP/1.1", f"Host: {target.host}", "User-Agent: prod-entry-warmup", "Connection: close",
             *(f"{name}: {value}" for name, value in target.headers)]
    if target.scheme == "https":
        lines.append("X-Forwarded-Proto: https")  # trusted: the peer address below is in forwarded_allow_ips
    ours, theirs = socket.socketpair()
    answer: list[bytes] = []

    def read() -> None:  # concurrently, so that a response bigger than the socket buffer cannot block handle()
        while chunk := ours.recv(65536):
            answer.append(chunk)
        ours.shutdown(socket.SHUT_WR)  # as a client closes: gunicorn's graceful close waits for it

    reader = threading.Thread(target=read, daemon=True)
    try:
        ours.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        reader.start()
        worker.handle(worker.sockets[0], theirs, ("127.0.0.1", 0))  # closes `theirs` when done
        reader.join(10)
    finally:
        theirs.close()
        ours.close()
    status_line = b"".join(answer).split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise RuntimeError(f"no HTTP answer from the worker ({b''.join(answer)[:60]!r})")
    return int(status_line[1])
