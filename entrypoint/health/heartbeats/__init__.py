"""Heartbeats from inside the workers that serve no HTTP: each module hooks one library's own loop (the call
it makes each time it looks for work) so that `prod-entry healthcheck NAME` can tell a worker that takes work
from one that is stuck. Celery's lives in entrypoint.health.heartbeats.celery.

A worker's loop may call a Pulse many times a second: it touches the file at most once a second, so a busy
worker costs one utime a second, not one per task.
"""

from __future__ import annotations

import contextlib
import os
import time

from entrypoint.health.heartbeats.celery import Heartbeat
from entrypoint.init.state import heartbeat_file

DEFAULT_INTERVAL = 10.0  # the most a hooked loop may wait between two looks at its queue
MIN_GAP = 1.0


def interval() -> float:
    """PROD_ENTRY_HEARTBEAT_INTERVAL (validated: 0 or text would break the worker's loop), else 10."""
    from entrypoint.health.rules import seconds

    return seconds(None, os.environ, "HEARTBEAT_INTERVAL", DEFAULT_INTERVAL)


class Pulse:
    """Touch the heartbeat file when called (at most once a second); `stop` removes it for good."""

    def __init__(self, path: str | None = None) -> None:
        self.beat = Heartbeat(path or heartbeat_file())
        self.last = float("-inf")
        self.stopped = False

    @property
    def path(self) -> str:
        return self.beat.path

    def __call__(self) -> None:
        now = time.monotonic()
        if not self.stopped and now - self.last >= MIN_GAP:
            self.last = now
            self.beat()

    def stop(self) -> None:
        self.stopped = True
        if self.last == float("-inf"):  # never beat here (a web process that installed the hook too)
            return
        with contextlib.suppress(OSError):  # gone already, or on a read-only filesystem
            os.remove(self.path)
