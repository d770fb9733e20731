"""The WSGI app a server serves in place of yours when per-worker warmup is on, for servers that load the app
in each worker but have no per-worker hook (granian's wsgi interface): prod-entry swaps the app word for
`entrypoint.warmup.wsgi:app` (`:factory` with --factory) and names your app in replay.APP_VAR.

WSGI has no startup event, so the replay runs when the worker imports this module, before it serves; the
server is then given your own app object, untouched (nothing stands between it and each request).
A failed replay is logged, never fatal.
"""

from __future__ import annotations

import os
from typing import Any

from entrypoint.logs import jsonlog, options
from entrypoint.warmup import replay
from entrypoint.warmup.appclient import wsgi_get
from entrypoint.warmup.gate import load_app


def _warmed(factory: bool) -> Any:
    inner = load_app(os.environ[replay.APP_VAR], factory=factory)
    if options.enabled():  # Django has applied the project's LOGGING: make its console handlers JSON
        jsonlog.configure()
    plan = replay.load()
    if plan is not None:
        replay.replay(plan, lambda path: wsgi_get(inner, path, plan.target).status,
                             replay.server_log())
    return inner


def factory() -> Any:
    return _warmed(factory=True)


app = None if os.environ.get(replay.FACTORY_VAR) == "1" else _warmed(factory=False)
