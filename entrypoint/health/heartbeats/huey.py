"""huey: `install(huey)` makes each of the consumer's workers touch prod-entry's heartbeat file every time it
asks the queue for work (at least every second with Redis' blocking reads, every few seconds otherwise).

prod-entry calls it itself: the huey backend runs `run_huey` through entrypoint/backends/huey.py, which installs it
on djhuey's HUEY once Django is set up. A consumer started without prod-entry needs it where the Huey instance
is known, e.g. in an AppConfig.ready():

    from huey.contrib.djhuey import HUEY
    from entrypoint.health.heartbeats import huey
    huey.install(HUEY)

Other processes that import the instance (web servers) never dequeue, so they never touch the file.
"""

from __future__ import annotations

import atexit
from typing import Any

from entrypoint.health.heartbeats import Pulse


def install(huey: Any) -> None:
    if getattr(huey, "_prod_entry_pulse", None) is not None:
        return
    pulse = huey._prod_entry_pulse = Pulse()
    # huey has no per-poll hook (on_startup runs once, signals only around tasks): wrap the instance's
    # dequeue, which every worker loop calls each time it looks for work.
    dequeue = huey.dequeue

    def pulsing_dequeue(*args: Any, **kwargs: Any) -> Any:
        pulse()
        return dequeue(*args, **kwargs)

    huey.dequeue = pulsing_dequeue
    huey.on_shutdown(name="prod-entry-heartbeat")(pulse.stop)
    atexit.register(pulse.stop)  # on TERM the consumer exits without running its workers' shutdown hooks
