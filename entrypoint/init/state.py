"""Where prod-entry keeps run-time markers shared between its processes: the supervisor's `draining` file
(present during the shutdown delay: probes answer not-ready) and worker heartbeat files. Imports only os:
the healthcheck and the PID-1 path read it."""

from __future__ import annotations

import os

# Not `from typing import TYPE_CHECKING`: importing typing costs a probe more than all the rest. Type
# checkers treat a TYPE_CHECKING constant as true wherever it is defined.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_STATE_DIR = "/tmp/prod-entry"


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    """PROD_ENTRY_STATE_DIR, else /tmp/prod-entry."""
    return env.get("PROD_ENTRY_STATE_DIR") or DEFAULT_STATE_DIR


def draining_file(env: Mapping[str, str] = os.environ) -> str:
    return os.path.join(state_dir(env), "draining")


def heartbeat_file(env: Mapping[str, str] = os.environ) -> str:
    """The default heartbeat file: PROD_ENTRY_HEARTBEAT_FILE, else heartbeat in the state directory."""
    return env.get("PROD_ENTRY_HEARTBEAT_FILE") or os.path.join(state_dir(env), "heartbeat")
