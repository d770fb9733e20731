"""A gunicorn config module (`--config=python:entrypoint.backends.gunicorn.hook`, added by prod-entry) whose
`on_starting` runs the warmup in the master before it binds (the app loaded once, inherited by every worker),
and whose `post_worker_init` replays the warmup requests in every worker, before it accepts its first connection; with
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

from entrypoint.backends.gunicorn import LOGGER_CLASS, USER_CONFIG_VAR
from entrypoint.logs import jsonlog, options

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
_their_on_starting = _theirs.get("on_starting")

if options.enabled():
    if _theirs.get("logger_class") in (None, "gunicorn.glogging.Logger"):
        logger_class = LOGGER_CLASS
    else:  # theirs may format as it likes; ours would drop it
        from entrypoint.logs import log

        log.from_env().warning(f"the gunicorn config file {_location} sets logger_class = "
                               f"{_theirs['logger_class']!r}, kept: gunicorn's own lines are formatted by it")
    if options.access_enabled() and not _theirs.get("accesslog"):
        accesslog = "-"  # gunicorn's default is no access log; JSON logs have them unless PROD_ENTRY_ACCESS_LOG=0


def on_starting(server: Any) -> None:
    """After gunicorn read its config (and applied --chdir, --env, --pythonpath), before it binds: the warmup
    prod-entry handed over, in the master, so that the workers fork with the app loaded."""
    if callable(_their_on_starting):
        _their_on_starting(server)
    from entrypoint.warmup import handover

    handover.here("gunicorn's master")


def post_worker_init(worker: Any) -> None:
    if options.enabled():
        jsonlog.configure()  # after the app loaded: Django has applied the project's LOGGING
    if callable(_their_post_worker_init):
        _their_post_worker_init(worker)
    replay(worker)


def replay(worker: Any) -> None:
    from entrypoint.warmup import replay

    plan = replay.load()
    app = getattr(worker, "wsgi", None)
    if plan is None or app is None:
        return
    call = getattr(app, "__call__", None)
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        # An ASGI worker class (uvicorn's): its server runs the app's lifespan; not ours to drive here.
        worker.log.info("prod-entry: worker %s: ASGI worker class, warmup skipped", worker.pid)
        return
    get = through_the_worker if can_use_the_worker(worker) else in_memory
    replay.replay(plan, lambda path: get(worker, path, plan.target),
                         replay.Log(worker.log.info, worker.log.warning))


def can_use_the_worker(worker: Any) -> bool:
    """The sync worker's `handle(listener, client, addr)` and gthread's `handle(conn)` (a `TConn(cfg, sock,
    client, server)`, stable since gunicorn 20) are fed a real loopback TCP connection: that warms gunicorn's
    own parser (and its lazy `import gunicorn_h1c` attempt), environ and response code, the kernel's TCP
    send path, and for gthread a pool thread, not just the app. Other worker classes get the app alone, in
    memory."""
    from gunicorn.workers.gthread import ThreadWorker
    from gunicorn.workers.sync import SyncWorker

    if worker.cfg.is_ssl or not getattr(worker, "sockets", None):
        return False
    return type(worker) is SyncWorker or (type(worker) is ThreadWorker and getattr(worker, "tpool", None) is not None)


def in_memory(worker: Any, path: str, target: Any) -> int:
    from entrypoint.warmup.appclient import wsgi_get

    return wsgi_get(worker.wsgi, path, target).status


def loopback_pair() -> tuple[Any, Any, tuple[str, int]]:
    """(our end, the worker's end, its peer address) of a TCP connection on 127.0.0.1, made with a listener of
    our own: the server's shared one would let another worker take it. TCP rather than a socketpair, so that
    the first real request does not pay for the worker's first TCP send."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        ours = socket.create_connection(listener.getsockname(), timeout=10)
        theirs, addr = listener.accept()
    ours.settimeout(None)
    return ours, theirs, addr


def through_the_worker(worker: Any, path: str, target: Any) -> int:
    """One request through the worker's own request path, over loopback TCP: parsed, served and written as a
    real one."""
    import socket
    import threading

    lines = [f"GET {path} HTTP/1.1", f"Host: {target.host}", "User-Agent: prod-entry-warmup", "Connection: close",
             *(f"{name}: {value}" for name, value in target.headers)]
    if target.scheme == "https":
        lines.append("X-Forwarded-Proto: https")  # trusted: the peer address below is in forwarded_allow_ips
    ours, theirs, addr = loopback_pair()
    answer: list[bytes] = []

    def read() -> None:  # concurrently, so that a response bigger than the socket buffer cannot block handle()
        while chunk := ours.recv(65536):
            answer.append(chunk)
        ours.shutdown(socket.SHUT_WR)  # as a client closes: gunicorn's graceful close waits for it

    reader = threading.Thread(target=read, daemon=True)
    try:
        ours.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        reader.start()
        serve(worker, theirs, addr)
        reader.join(10)
    finally:
        theirs.close()
        ours.close()
    status_line = b"".join(answer).split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise RuntimeError(f"no HTTP answer from the worker ({b''.join(answer)[:60]!r})")
    return int(status_line[1])


def serve(worker: Any, client: Any, addr: tuple[str, int]) -> None:
    """Hand one accepted connection to the worker as its accept loop would; returns once it is answered and
    closed."""
    from gunicorn.workers.gthread import TConn, ThreadWorker

    listener = worker.sockets[0]
    if not isinstance(worker, ThreadWorker):
        worker.handle(listener, client, addr)  # closes `client` when done
        return
    conn = TConn(worker.cfg, client, addr, listener.getsockname())
    conn.init()  # gunicorn < 24 expects it done before handle(); later ones skip it when done
    try:
        # On the pool, as gthread's enqueue_req does: this starts the thread the first real request will use.
        worker.tpool.submit(worker.handle, conn).result(timeout=30)
    finally:
        # What finish_request does for a closed (Connection: close) connection; gunicorn < 24 has no graceful.
        conn.close(**({"graceful": True} if "graceful" in inspect.signature(conn.close).parameters else {}))
