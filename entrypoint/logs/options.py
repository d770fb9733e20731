"""What PROD_ENTRY_LOG_FORMAT and PROD_ENTRY_ACCESS_LOG ask of the server's logs, read from the environment
without importing `logging` or `json`: the backends read these while planning, on the path to exec, where
jsonlog.py's formatter (and the ~7 ms its imports cost) is not needed."""

from __future__ import annotations

import os
from collections.abc import Mapping

from entrypoint.settings.names import ON

FORMAT_VAR = "PROD_ENTRY_LOG_FORMAT"
ACCESS_VAR = "PROD_ENTRY_ACCESS_LOG"
# The logger the shared ASGI wrapper writes access records to (the server's own access logger's name); unset:
# none (text logs, PROD_ENTRY_ACCESS_LOG=0, or a server whose own access records are JSON already).
WRAPPED_ACCESS_VAR = "PROD_ENTRY_WRAPPED_ACCESS"
ACCESS_LOGGER = "prod-entry.access"  # the logger of the access records prod-entry's wrappers write


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    """PROD_ENTRY_LOG_FORMAT=json: every line the container writes is one JSON record."""
    return env.get(FORMAT_VAR, "").strip().lower() == "json"


def access_setting(env: Mapping[str, str] = os.environ) -> bool | None:
    """PROD_ENTRY_ACCESS_LOG: True, False, or None when unset (each server's own default; on with JSON)."""
    value = env.get(ACCESS_VAR, "").strip().lower()
    return None if not value else value in ON


def access_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Whether a server whose access lines prod-entry writes itself (the JSON ones) writes them."""
    return access_setting(env) is not False
