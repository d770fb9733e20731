"""The WSGI app a server serves in place of yours when per-worker warmup is on, for servers that load the app
in each worker but have no per-worker hook (granian's wsgi interface): prod-entry swaps the app word for
`entrypoint.wsgi_wrapper:app` (`:factory` with --factory) and names your app in worker_warmup.APP_VAR.

WSGI has no startup event, so the replay runs when the worker imports this module, before it serves; the
server is then given your own app object, untouched (nothing stands between it and each request).
A failed replay is logged, never fatal.
"""

from __future__ import annotations

import os
from typing import Any

from entrypoint import jsonlog, logsettings, worker_warmup
from entrypoint.appclient import wsgi_get
from entrypoint.warmup import load_app


def _warmed(factory: bool) -> Any:
    inner = load_app(os.environ[worker_warmup.APP_VAR], factory=factory)
    if logsettings.enabled():  # Django has applied the project's LOGGING: make its console handlers JSON
        jsonlog.configure()
    plan = worker_warmup.load()
    if plan is not None:
        worker_warmup.replay(plan, lambda path: wsgi_get(inner, path, plan.target).status,
                             worker_warmup.server_log())
    return inner


def factory() -> Any:
    return _warmed(factory=True)


app = None if os.environ.get(worker_warmup.FACTORY_VAR) == "1" else _warmed(factory=False)
