"""A liveness heartbeat for Celery workers, which serve no HTTP: the worker touches a file on its own timer,
and `prod-entry healthcheck worker --file PATH --max-age SECONDS` checks that the file is fresh.

prod-entry installs it itself: it serves the worker through its --app wrapper (entrypoint/backends/celery.py),
which calls install() in the worker's process. A worker started without prod-entry needs, in the module that
creates the Celery app:

    from entrypoint.health.heartbeats import celery
    celery.install()

The file is touched when the worker is ready, then every PROD_ENTRY_HEARTBEAT_INTERVAL seconds (default 10)
from the consumer's timer (the same event loop that takes tasks off the broker with the default prefork
pool, so a wedged loop stops the heartbeat), and removed at shutdown. Path: PROD_ENTRY_HEARTBEAT_FILE, else
$PROD_ENTRY_STATE_DIR/heartbeat (default /tmp/prod-entry/heartbeat).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from entrypoint.init.state import heartbeat_file
from entrypoint.logs import log

DEFAULT_INTERVAL = 10.0


def touch(path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a"):
        pass
    os.utime(path)


class Heartbeat:
    """Touches the file; a failure (disk full, read-only filesystem) is one clear log line, never an exception
    into Celery's timer, and the timer keeps trying, so the heartbeat comes back when the disk does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.failing = False  # report a failure once, not every interval

    def __call__(self) -> None:
        try:
            touch(self.path)
        except OSError as exc:
            if not self.failing:
                log.from_env().error(f"cannot touch the heartbeat file {self.path} ({exc.strerror}): "
                                     "`prod-entry healthcheck worker` will find it stale; free the disk or set "
                                     "PROD_ENTRY_HEARTBEAT_FILE to a writable path")
            self.failing = True
        else:
            if self.failing:
                log.from_env().info(f"the heartbeat file {self.path} is written again")
            self.failing = False


def install(path: str | None = None, interval: float | None = None) -> None:
    """Connect the heartbeat to Celery's worker_ready and worker_shutdown signals (idempotent)."""
    from celery import signals

    where = path or heartbeat_file()
    from entrypoint.health.rules import seconds

    # Validated (a positive number): 0 would make Celery's timer spin, text would fail inside the worker.
    every = interval or seconds(None, os.environ, "HEARTBEAT_INTERVAL", DEFAULT_INTERVAL)

    beat = Heartbeat(where)

    def ready(sender: Any = None, **kwargs: Any) -> None:
        beat()
        sender.timer.call_repeatedly(every, beat)

    def shutdown(sender: Any = None, **kwargs: Any) -> None:
        with contextlib.suppress(OSError):  # gone already, or on a read-only filesystem
            os.remove(where)

    signals.worker_ready.connect(ready, weak=False, dispatch_uid="prod-entry-heartbeat-ready")
    signals.worker_shutdown.connect(shutdown, weak=False, dispatch_uid="prod-entry-heartbeat-shutdown")
