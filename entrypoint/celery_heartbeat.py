"""A liveness heartbeat for Celery workers, which serve no HTTP: the worker touches a file on its own timer,
and `prod-entry healthcheck worker --file PATH --max-age SECONDS` checks that the file is fresh.

In the module that creates your Celery app:

    from entrypoint import celery_heartbeat
    celery_heartbeat.install()

The file is touched when the worker is ready, then every PROD_ENTRY_HEARTBEAT_INTERVAL seconds (default 10)
from the consumer's timer (the same event loop that takes tasks off the broker with the default prefork
pool, so a wedged loop stops the heartbeat), and removed at shutdown. Path: PROD_ENTRY_HEARTBEAT_FILE, else
$PROD_ENTRY_STATE_DIR/heartbeat (default /tmp/prod-entry/heartbeat).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from entrypoint.state import heartbeat_file

DEFAULT_INTERVAL = 10.0


def touch(path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a"):
        pass
    os.utime(path)


def install(path: str | None = None, interval: float | None = None) -> None:
    """Connect the heartbeat to Celery's worker_ready and worker_shutdown signals (idempotent)."""
    from celery import signals

    where = path or heartbeat_file()
    every = interval or float(os.environ.get("PROD_ENTRY_HEARTBEAT_INTERVAL") or DEFAULT_INTERVAL)

    def ready(sender: Any = None, **kwargs: Any) -> None:
        touch(where)
        sender.timer.call_repeatedly(every, touch, (where,))

    def shutdown(sender: Any = None, **kwargs: Any) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(where)

    signals.worker_ready.connect(ready, weak=False, dispatch_uid="prod-entry-heartbeat-ready")
    signals.worker_shutdown.connect(shutdown, weak=False, dispatch_uid="prod-entry-heartbeat-shutdown")
