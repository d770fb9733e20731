"""A gunicorn config module (`--config=python:entrypoint.gunicorn_hook`, added by prod-entry) whose
`post_worker_init` replays the warmup requests in every worker, before it accepts its first connection.

gunicorn reads a single config file, so this module first loads the user's own (named by
PROD_ENTRY_GUNICORN_CONFIG: their --config, GUNICORN_CMD_ARGS's, or ./gunicorn.conf.py) and re-exports its
settings; their `post_worker_init` runs before ours. A failed replay is logged, never fatal: the same
requests passed before exec, and a worker that cannot warm up can still serve.
"""

from __future__ import annotations

import inspect
import json
import os
import runpy
import time
from typing import Any

_location = os.environ.get("PROD_ENTRY_GUNICORN_CONFIG")
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


def post_worker_init(worker: Any) -> None:
    if callable(_their_post_worker_init):
        _their_post_worker_init(worker)
    replay(worker)


def replay(worker: Any) -> None:
    from entrypoint.appclient import Target, wsgi_get

    plan = json.loads(os.environ.get("PROD_ENTRY_WORKER_WARMUP") or "null")
    app = getattr(worker, "wsgi", None)
    if not plan or app is None:
        return
    call = getattr(app, "__call__", None)
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        # An ASGI worker class (uvicorn's): its server runs the app's lifespan; not ours to drive here.
        worker.log.info("prod-entry: worker %s: ASGI worker class, warmup skipped", worker.pid)
        return
    target = Target(plan["host"], plan["port"], plan["scheme"])
    started = time.monotonic()
    for path in plan["paths"]:
        try:
            status = wsgi_get(app, path, target).status
        except Exception as exc:
            worker.log.warning("prod-entry: worker %s: warmup GET %s raised %s: %s", worker.pid, path,
                               type(exc).__name__, exc)
            return
        if status >= 500:
            worker.log.warning("prod-entry: worker %s: warmup GET %s answered %s", worker.pid, path, status)
            return
    worker.log.info("prod-entry: worker %s warmed up (%d request(s) in %.0f ms)", worker.pid, len(plan["paths"]),
                    (time.monotonic() - started) * 1000)
