"""RQ: a worker class whose heartbeat also touches prod-entry's heartbeat file. The rq backend passes
`--worker-class=entrypoint.health.heartbeats.rq.Worker` unless you name a worker class yourself; yours can inherit
`HeartbeatMixin` (before the rq class: `class MyWorker(HeartbeatMixin, rq.SimpleWorker)`).

RQ calls `heartbeat()` each time the worker waits for a job (its own registry's heartbeat) and, while a job
runs, from the loop that watches the work horse (every job_monitoring_interval, default 30 s). An idle
worker waits for a job at most PROD_ENTRY_HEARTBEAT_INTERVAL seconds (default 10) at a time instead of
rq's worker_ttl - 15 (405 s), so the file stays fresh while it waits.
"""

from __future__ import annotations

from typing import Any

import rq

from entrypoint.health.heartbeats import Pulse, interval


class HeartbeatMixin:
    _pulse: Pulse | None = None

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        super().heartbeat(*args, **kwargs)  # type: ignore[misc]
        if self._pulse is None:
            self._pulse = Pulse()
        self._pulse()

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, int(interval())))  # type: ignore[misc]

    def teardown(self) -> None:
        if self._pulse is not None and not getattr(self, "is_horse", False):
            self._pulse.stop()
        super().teardown()  # type: ignore[misc]

    def unsubscribe(self) -> None:
        """rq's unsubscribe (at the end of every stop) sends UNSUBSCRIBE, then stops its pubsub thread, whose loop
        waits in get_message(timeout=60). A thread that has read the UNSUBSCRIBE reply before its stop flag is
        raised waits there for a new subscription, and redis-py 8's stop() joins it without a bound: an idle
        worker took up to 60 s to leave after TERM, past `docker stop`'s grace. Raising the flag first (what
        stop() does first; the attribute is its Event in every redis-py) makes that reply end the thread's loop."""
        thread = getattr(self, "pubsub_thread", None)
        if thread is not None:
            thread._running.clear()
        super().unsubscribe()  # type: ignore[misc]


class Worker(HeartbeatMixin, rq.Worker):
    pass
