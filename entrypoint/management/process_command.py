"""`python manage.py server|worker [NAME] [EXTRA]...`: django-prodserver's two commands, on the same path as
`prod-entry NAME` (resolve, warmup, exec). Each refuses the other's kind of process, with a hint, as
django-prodserver does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from entrypoint import run
from entrypoint.settings.errors import ConfigError, EntrypointError
from entrypoint.settings.registry import WEB, WORKER

COMMAND_FOR_KIND = {WEB: "server", WORKER: "worker"}


class ProcessCommand(BaseCommand):
    kind: str = WEB  # the Launch kind this command runs
    # Django's system checks are not run here: PROD_ENTRY_CHECK_DEPLOY=1 runs them on the exec path for both
    # `prod-entry web` and `manage.py server web`.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        label = COMMAND_FOR_KIND[self.kind]
        parser.add_argument("name", nargs="?", metavar="NAME",
                            help=f"the {label} process to run (defined in the environment or PRODUCTION_PROCESSES)")
        parser.add_argument("extra", nargs=argparse.REMAINDER, metavar="EXTRA",
                            help="words appended to the process's arguments")
        parser.add_argument("--list", action="store_true", help=f"list the {label} processes and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        traceback = bool(options.get("traceback"))
        if options["list"]:
            sys.exit(run.guarded(self.list_processes, traceback))
        name, extra = options["name"], options["extra"]
        sys.exit(run.guarded(lambda: self.start(name, extra), traceback, name))

    def start(self, name: str | None, extra: Sequence[str]) -> None:
        name = name or self.default_name()
        resolved = run.resolve(name, extra)
        label = COMMAND_FOR_KIND[self.kind]
        if resolved.process is None:
            raise ConfigError(f"no process named {name!r}: `manage.py {label}` runs one of "
                              f"{', '.join(self.names()) or 'none defined'} (see `manage.py {label} --list`)")
        kind = resolved.launch.kind
        if kind != self.kind:
            other = COMMAND_FOR_KIND.get(kind)
            hint = (f"run `python manage.py {other} {resolved.name}` instead" if other else
                    f"it is a one-off task: run `prod-entry {resolved.name}` instead")
            raise ConfigError(f"process {resolved.name!r} (backend {resolved.process.backend}) is not a {label} "
                              f"process: {hint}")
        run.run(name, extra)

    def default_name(self) -> str:
        """server: PROD_ENTRY_DEFAULT_PROCESS, else web. worker: the first worker process defined."""
        if self.kind == WEB:
            return run.resolve(None).name
        names = self.names()
        if not names:
            raise ConfigError("no worker process is defined: define one in PRODUCTION_PROCESSES or "
                              "PROD_ENTRY_PROCESS_<NAME>=celery-worker (or another worker backend)")
        return names[0]

    def names(self) -> list[str]:
        """The defined processes of this command's kind, in definition order (unresolvable ones left out)."""
        found = []
        for name in run.definitions()[1]:
            try:
                if run.resolve(name).launch.kind == self.kind:
                    found.append(name)
            except EntrypointError:
                continue
        return found

    def list_processes(self) -> None:
        processes = run.definitions()[1]
        names = self.names()
        if not names:
            label = COMMAND_FOR_KIND[self.kind]
            backends = "celery-worker (or rq, dramatiq, huey, django-tasks)" if self.kind == WORKER else \
                "gunicorn (or uvicorn)"
            self.stdout.write(f"no {label} process is defined: define one in PRODUCTION_PROCESSES or with "
                              f"PROD_ENTRY_PROCESS_<NAME>={backends}")
        for name in names:
            process = processes[name]
            self.stdout.write(f"{name}  {process.backend}  {process.origins['backend']}")
