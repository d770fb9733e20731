"""Dramatiq: a middleware that touches prod-entry's heartbeat file from each consumer thread's loop, which
runs at least once a second (the worker timeout) while it fetches messages, idle or not; removed when the
worker shuts down.

The dramatiq backend lists this module after your broker module, so the dramatiq CLI imports it in every
worker process and it adds the middleware to the global broker. With `module:broker` (no global broker), call
`entrypoint.health.heartbeats.dramatiq.install(broker)` in that module yourself.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import dramatiq.broker

from entrypoint.health.heartbeats import Pulse
from entrypoint.logs import log


class Heartbeat(dramatiq.Middleware):
    def __init__(self) -> None:
        self.pulse = Pulse()

    def after_consumer_thread_boot(self, broker: Any, thread: Any) -> None:
        # Dramatiq has no per-poll hook: wrap the step its consumer loop takes after every fetch, message or
        # not (a consumer stuck on its broker stops calling it).
        step = thread.handle_delayed_messages

        def handle_delayed_messages() -> None:
            self.pulse()
            step()

        thread.handle_delayed_messages = handle_delayed_messages

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self.pulse.stop()


def install(broker: dramatiq.Broker) -> None:
    """Add the heartbeat middleware to `broker` (once)."""
    if not any(isinstance(m, Heartbeat) for m in broker.middleware):
        broker.add_middleware(Heartbeat())


if dramatiq.broker.global_broker is not None:
    install(dramatiq.broker.global_broker)
else:
    log.from_env().error("dramatiq has no global broker, so prod-entry's heartbeat is not installed: call "
                         "entrypoint.health.heartbeats.dramatiq.install(broker) where you create the broker")
