"""The per-worker warmup every server adapter shares: the plan prod-entry hands to the server's processes
through the environment exec passes on, and the replay of its requests in each worker.

Each server's own adapter (backends/<server>/) decides *where* a worker replays (gunicorn's
post_worker_init, an ASGI lifespan startup, ...); this module decides *what* is replayed and how the outcome
is logged, so that every server logs the same lines. A failed replay is a warning, never fatal: the same
requests passed before exec, and a worker that cannot warm up can still serve.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

from entrypoint.settings.error_lines import describe

if TYPE_CHECKING:
    from entrypoint.warmup.appclient import Target

PLAN_VAR = "PROD_ENTRY_WORKER_WARMUP"
# Servers without a per-worker hook serve a wrapper (warmup/asgi.py, warmup/wsgi.py) in place of the app:
# these tell it the app to wrap, when to replay, and the server's logger to report through.
APP_VAR = "PROD_ENTRY_WRAPPED_APP"
FACTORY_VAR = "PROD_ENTRY_WRAPPED_FACTORY"  # "1": the app is a factory the server calls (--factory)
REPLAY_VAR = "PROD_ENTRY_WRAPPED_REPLAY"  # LIFESPAN or IMPORT
LOGGER_VAR = "PROD_ENTRY_WRAPPED_LOGGER"
LIFESPAN = "lifespan"  # during the ASGI lifespan startup the server awaits before serving
IMPORT = "import"  # when the server loads the app in the worker, before it serves (no lifespan to wait in)


class WorkerPlan(NamedTuple):
    paths: list[str]
    target: Target


def export(paths: list[str], target: Target) -> None:
    import json  # here and in load: every start imports this module (through backends._common), few warm up

    os.environ[PLAN_VAR] = json.dumps({"paths": paths, "host": target.host, "port": target.port,
                                       "scheme": target.scheme, "headers": target.headers})


def load() -> WorkerPlan | None:
    """The plan prod-entry exported before exec, or None (warmup off, or a server started by hand)."""
    import json

    from entrypoint.warmup.appclient import Target

    plan = json.loads(os.environ.get(PLAN_VAR) or "null")
    if not plan:
        return None
    headers = tuple((name, value) for name, value in plan.get("headers", []))  # PROD_ENTRY_WARMUP_HEADERS
    return WorkerPlan(plan["paths"], Target(plan["host"], plan["port"], plan["scheme"], headers))


def export_wrapped(app: str, factory: bool, when: str, logger: str) -> None:
    os.environ.update({APP_VAR: app, FACTORY_VAR: "1" if factory else "0", REPLAY_VAR: when, LOGGER_VAR: logger})


class Log(NamedTuple):
    info: Callable[..., object]
    warning: Callable[..., object]


def server_log() -> Log:
    """The wrapped server's logger (LOGGER_VAR), or stderr where that logger would drop an info line (no
    handler yet, or a level above INFO, e.g. from Django's LOGGING): the lines must show whatever the server
    and the app did to logging."""
    import logging
    import sys

    logger = logging.getLogger(os.environ.get(LOGGER_VAR) or "prod-entry")
    if logger.isEnabledFor(logging.INFO) and logger.hasHandlers():
        return Log(logger.info, logger.warning)

    from entrypoint.logs import jsonlog, options

    def writer(level: str) -> Callable[..., None]:
        def write(message: str, *args: object) -> None:
            if options.enabled():  # a server that sets up its logging only after the app's startup (hypercorn)
                jsonlog.say(level, logger.name, message % args)
            else:
                print(message % args, file=sys.stderr, flush=True)
        return write

    return Log(writer("info"), writer("warning"))


def _failed(log: Log, path: str, status: int | None, exc: Exception | None) -> bool:
    pid = os.getpid()
    if exc is not None:
        log.warning("prod-entry: worker %s: warmup GET %s raised %s", pid, path, describe(exc))
        return True
    if status is not None and status >= 500:
        log.warning("prod-entry: worker %s: warmup GET %s answered %s", pid, path, status)
        return True
    return False


def _done(log: Log, plan: WorkerPlan, started: float) -> None:
    log.info("prod-entry: worker %s warmed up (%d request(s) in %.0f ms)", os.getpid(), len(plan.paths),
             (time.monotonic() - started) * 1000)


def replay(plan: WorkerPlan, get: Callable[[str], int], log: Log) -> None:
    """Send every path of the plan through `get` (path -> status), in this worker."""
    started = time.monotonic()
    for path in plan.paths:
        try:
            status, exc = get(path), None
        except Exception as error:
            status, exc = None, error
        if _failed(log, path, status, exc):
            return
    _done(log, plan, started)


async def replay_async(plan: WorkerPlan, get: Callable[[str], Awaitable[int]], log: Log) -> None:
    """replay() for servers whose workers run an event loop: `get` is a coroutine function."""
    started = time.monotonic()
    for path in plan.paths:
        try:
            status, exc = await get(path), None
        except Exception as error:
            status, exc = None, error
        if _failed(log, path, status, exc):
            return
    _done(log, plan, started)
