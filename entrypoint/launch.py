"""The console script. Imports nothing but os, signal and sys before it knows what it must do, so that a
PID-1 supervisor stays small and `prod-entry NAME` reaches exec without loading click."""

from __future__ import annotations

import sys

from entrypoint.settings.names import COMMANDS  # imports nothing itself


def main() -> None:
    from entrypoint.init.supervisor import start

    start()  # as PID 1 this forks: only the child comes back, to go on as below and exec
    args = sys.argv[1:]
    if args and args[0] == "healthcheck":
        # Runs every few seconds in every container: its own small parser, never click.
        from entrypoint.health.probes import main as probe_main

        sys.exit(probe_main(args[1:]))
    if args and (args[0].startswith("-") or args[0] in COMMANDS):
        from entrypoint.cli import main as cli_main

        cli_main(args)
    else:
        from entrypoint.run import main as run_main

        sys.exit(run_main(args[0] if args else None, args[1:]))
