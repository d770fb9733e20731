"""How many processes a server or a worker pool runs where the user set no count: from the limits (limits.py).

The formula, and why:

- gunicorn's sync workers: 2 x CPUs + 1, rounded down, CPUs being the quota where there is one (0.5 -> 2, 1 -> 3,
  2 -> 5). gunicorn's docs give (2 x cores) + 1: a sync worker serves one request at a time, so while one waits
  on its socket or the database another computes. Counting the quota, not the host's cores, is the point: 2 x 80 +
  1 workers on an 80-core node under a 1-CPU quota only queue on the quota (CFS throttling) and fill the memory.
- Workers that serve many requests each (gthread, gevent, eventlet, an ASGI worker class) and Celery's prefork
  pool: one process per CPU, rounded up (0.5 -> 1, 1.5 -> 2), as Celery 5.7's own `--concurrency=auto` does: the
  concurrency is inside the process (threads, an event loop), and a second process per CPU adds memory, not
  throughput. gthread workers also get THREADS threads each unless the user set --threads: 4 x CPUs threads in
  all, inside the 2-4 x cores the gunicorn docs give for threads.
- Memory, never more processes than fit: (limit - RESERVED) / PER_PROCESS, rounded down. RESERVED is the master
  (Celery's main process) holding the loaded app, with room for a `manage.py shell` exec'd beside it; PER_PROCESS
  is each worker or child. Both are estimates, 64 MiB each: the example project's gunicorn master holds 35 MiB,
  and each worker is charged 7 MiB at fork (it shares the master's pages: the warmup ran there) with an RSS of
  38 MiB, toward which it drifts as copy-on-write pages are touched; real projects load more. A follow-up can
  measure the app instead: gunicorn's master knows its RSS after the warmup (backends/gunicorn/hook.py runs it).
- At least 1.

The user's count always wins: the server's own settings (each backend reads them, in every place the server
does), then PROD_ENTRY_CONCURRENCY (per process: PROD_ENTRY_PROCESS_<NAME>_CONCURRENCY): `auto` (the default),
`off` (the server's own default, and no PYTHON_CPU_COUNT), or a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from entrypoint.settings import limits
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError
from entrypoint.settings.limits import MiB
from entrypoint.settings.names import process_var
from entrypoint.settings.registry import Setting

RESERVED = 64 * MiB
PER_PROCESS = 64 * MiB
THREADS = 4
KEY = "CONCURRENCY"
AUTO, OFF = "auto", "off"
CPU_COUNT_VAR = "PYTHON_CPU_COUNT"  # read by Python 3.13+: os.cpu_count() and os.process_cpu_count() return it


def mode(process: Process | None, env: Mapping[str, str]) -> tuple[str | int, str]:
    """(AUTO, OFF or a number, the variable that said so)."""
    var = process_var(process.name, KEY) if process is not None and KEY in process.settings else f"PROD_ENTRY_{KEY}"
    value = (process.setting(env, KEY) if process is not None else env.get(var)) or AUTO
    value = value.strip().lower()
    if value in (AUTO, OFF):
        return value, var
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{var}={value!r}: write auto (the default: from the CPU and memory limits), off (the "
                          "server's own default) or a number of processes")
    return int(value), var


def count(process: Process, env: Mapping[str, str], name: str, given: Setting | None, per_cpu: bool,
          unit: str = "worker") -> Setting | None:
    """The process count for the server's setting `name` and why (for `show` and the start's log): the user's
    own setting `given` as it is, else PROD_ENTRY_CONCURRENCY's number, else the formula (2 x CPUs + 1, or one
    per CPU with `per_cpu`); None when sizing is off."""
    if given is not None:
        return yours(given)
    chosen, var = mode(process, env)
    if chosen == OFF:
        return None
    if isinstance(chosen, int):
        return Setting(name, (str(chosen),), var)
    found = limits.read(env)
    number, why = auto(found, per_cpu, unit)
    return Setting(name, (str(number),), f"auto: {found.describe()}: {why}")


def threads(given: Setting | None, unit: str) -> Setting:
    """The threads per process: the user's `given`, else THREADS."""
    if given is not None:
        return yours(given)
    return Setting("threads", (str(THREADS),), f"auto: {THREADS} per {unit}")


def yours(given: Setting) -> Setting:
    return given._replace(origin=f"{given.origin}: yours, not auto-sized")


def auto(found: limits.Limits, per_cpu: bool, unit: str) -> tuple[int, str]:
    """The formula of the module's docstring: (count, how it was reached)."""
    if per_cpu:
        by_cpu, why = math.ceil(found.cpu), "1 per CPU" + (", rounded up" if found.cpu % 1 else "")
    else:
        by_cpu, why = int(2 * found.cpu + 1), f"2 x {found.cpu:g} + 1" + (", rounded down" if 2 * found.cpu % 1
                                                                         else "")
    by_cpu = max(1, by_cpu)
    if found.memory is None:
        return by_cpu, why
    fits = max(1, (found.memory - RESERVED) // PER_PROCESS)
    if fits >= by_cpu:
        return by_cpu, why
    return fits, (f"{why} = {by_cpu}, but the memory fits {fits} ({RESERVED // MiB} MiB for the main process, "
                  f"{PER_PROCESS // MiB} MiB per {unit})")


def python_cpu_count(process: Process | None, env: Mapping[str, str]) -> str | None:
    """PYTHON_CPU_COUNT for the exec'd program (whole CPUs, rounded up, as libraries size their pools by it),
    unless the user set it or turned sizing off."""
    if CPU_COUNT_VAR in env or mode(process, env)[0] == OFF:
        return None
    return str(max(1, math.ceil(limits.read(env).cpu)))
