"""django-tasks' database worker (`db_worker`, from django-tasks-db): `install()` makes the worker touch
prod-entry's heartbeat file every time its loop looks for a ready task (every `--interval`, default 1 s, when
idle). prod-entry calls it itself: the django-tasks backend runs `db_worker` through
entrypoint/backends/django_tasks.py, which installs it once Django is set up. A worker started without prod-entry
needs it in an AppConfig.ready():

    from entrypoint.health.heartbeats import django_tasks
    django_tasks.install()

Only db_worker looks for ready tasks, so other processes (web servers) never touch the file.
"""

from __future__ import annotations

import atexit
from typing import Any

from entrypoint.health.heartbeats import Pulse


def install() -> None:
    try:
        from django_tasks_db.models import DBTaskResultQuerySet
    except ImportError:  # django-tasks before 0.12 kept the database backend in the same package
        from django_tasks.backends.database.models import DBTaskResultQuerySet  # type: ignore[no-redef]
    if getattr(DBTaskResultQuerySet, "_prod_entry_pulse", None) is not None:
        return
    pulse = Pulse()
    # db_worker has no hook in its loop: wrap the query it makes once per turn (`ready()`), and only it.
    ready = DBTaskResultQuerySet.ready

    def pulsing_ready(self: Any) -> Any:
        pulse()
        return ready(self)

    atexit.register(pulse.stop)  # db_worker leaves by sys.exit on TERM
    DBTaskResultQuerySet._prod_entry_pulse = pulse  # type: ignore[attr-defined]
    DBTaskResultQuerySet.ready = pulsing_ready  # type: ignore[method-assign]
