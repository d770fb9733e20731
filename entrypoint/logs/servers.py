"""How the server or worker prod-entry execs logs: JSON lines of jsonlog.py's schema with
PROD_ENTRY_LOG_FORMAT=json, and PROD_ENTRY_ACCESS_LOG, through each server's own logging configuration.

Each built-in backend module that supports it has two adapters, found with `registry.adapter`:

- `logs(env, launch) -> Launch | None`: the Launch with the words the server needs (a config module, a log
  config file, a wrapper app, an access-log switch), or None for nothing to change. Called while planning, so
  `prod-entry show` and `check` see the same words the start execs.
- `prepare_logs(env, launch) -> None` (optional): just before exec, export what those words read from the
  environment (the app a wrapper serves, the user's own config file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from entrypoint.settings import registry
from entrypoint.settings.config import Process
from entrypoint.settings.names import LOG_PROCESS_VAR
from entrypoint.settings.registry import Launch


def with_logs(process: Process | None, env: Mapping[str, str], launch: Launch) -> Launch:
    if process is None:  # a program named on the command line: exec'd as it is
        return launch
    adapter = registry.adapter(launch, "logs")
    return (adapter(env, launch) if adapter else None) or launch


def prepare(process: Process | None, env: Mapping[str, str], launch: Launch) -> None:
    if process is None:
        return
    os.environ[LOG_PROCESS_VAR] = process.name
    prepare_adapter = registry.adapter(launch, "prepare_logs")
    if prepare_adapter:
        prepare_adapter(env, launch)
