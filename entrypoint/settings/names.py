"""Names every layer shares: prod-entry's own command words and how process variables are spelled.

The bottom of the import graph: it imports nothing, so config, health, backends and the PID-1 path can all
use it without reaching up into each other.
"""

from __future__ import annotations

# First words that are prod-entry's own commands (handled by the click CLI) rather than processes; a process
# cannot be called that.
COMMANDS = frozenset({"list", "show", "check", "healthcheck", "help"})

PREFIX = "PROD_ENTRY_PROCESS_"

# The prod-entry process name (web, worker), exported before exec for the lines the server's process writes.
LOG_PROCESS_VAR = "PROD_ENTRY_LOG_PROCESS"

# How a yes/no variable is spelled (PROD_ENTRY_WARMUP=0, PROD_ENTRY_ACCESS_LOG=on, ...).
ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off")


def process_var(name: str, attribute: str | None = None) -> str:
    """PROD_ENTRY_PROCESS_<NAME>[_<ATTRIBUTE>] for process `name`."""
    return PREFIX + name.upper() + (f"_{attribute}" if attribute else "")
