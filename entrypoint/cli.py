"""The click CLI: `prod-entry [OPTIONS] [NAME] [EXTRA]...`, `list`, `show`. Thin: it forwards to run.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from entrypoint import __version__, run

ENV_HELP = """
\b
Process definitions (environment, or a .env file):
  PROD_ENTRY_PROCESS_<NAME>        backend: gunicorn, uvicorn, celery-worker, celery-beat,
                                   django-tasks, rq, dramatiq, huey, manage, command,
                                   or a dotted path to a custom backend
  PROD_ENTRY_PROCESS_<NAME>_ARGS   JSON object ({"workers": 4} -> --workers=4), JSON array
                                   (verbatim) or a command line (split like a shell)
  PROD_ENTRY_PROCESS_<NAME>_APP    what it serves/runs (module:attr); derived from Django
                                   settings (WSGI_APPLICATION, ASGI_APPLICATION) when unset
\b
Settings:
  PROD_ENTRY_DEFAULT_PROCESS       process run when no NAME is given (default: web)
  PROD_ENTRY_ENV_FILE              .env file to load (default: ./.env when it exists);
                                   the real environment wins over it
  PROD_ENTRY_LOG_FORMAT            text (default) or json
  PROD_ENTRY_LOG_LEVEL             debug, info (default), warning, error
  PROD_ENTRY_DEBUG=1               print tracebacks
  PROD_ENTRY_WARMUP=0              skip the in-memory warmup of web processes (and
                                   PROD_ENTRY_WARMUP_WORKERS=0 only the per-worker one)
  PROD_ENTRY_HEALTHCHECK_URL       path that must pass warmup and healthcheck
  PROD_ENTRY_WAIT_FOR              host:port or URLs to wait for before starting
  (all warmup/probe settings: see the README, "Warmup and probes")
\b
With DJANGO_SETTINGS_MODULE set and no web process defined, `web` is gunicorn
serving WSGI_APPLICATION on 0.0.0.0:${PORT:-8000}. `manage` (Django management
commands) and `command` (a raw argv) are always defined. A NAME that is no
process but a program on PATH is exec'd as it is.
\b
Exit codes: 0 ok; 2 configuration or usage error; 3 warmup failed; 4 wait-for
timed out; 126 program not executable; 127 program not found; 128+N stopped by
signal N while waiting or warming up; otherwise the program's own status.
"""


class _Group(click.Group):
    """Words that are not subcommands are a process name: they go to the hidden `_run` command."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        if args and args[0] not in self.commands:
            return "_run", self.commands["_run"], args
        return super().resolve_command(ctx, args)


@click.group(cls=_Group, invoke_without_command=True, epilog=ENV_HELP, subcommand_metavar="[NAME [EXTRA]... | COMMAND]",
             context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="prod-entry")
@click.option("--traceback", is_flag=True, help="Print the full traceback of a failure.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Run the process NAME (default: PROD_ENTRY_DEFAULT_PROCESS, else web) defined in the
    environment: resolve its argv, then exec it in place of prod-entry. EXTRA words are
    appended to its arguments."""
    ctx.obj = traceback
    if ctx.invoked_subcommand is None:
        sys.exit(run.main(None, [], traceback))


@cli.command("_run", hidden=True, context_settings={"ignore_unknown_options": True,
                                                     "allow_interspersed_args": False})
@click.argument("name")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run_command(traceback: bool, name: str, extra: Sequence[str]) -> None:
    sys.exit(run.main(name, list(extra), traceback))


@cli.command("list")
@click.pass_obj
def list_command(traceback: bool) -> None:
    """List the defined processes, their backends and where each is defined."""

    def show() -> None:
        rows = [(p.name, p.backend, p.origins["backend"]) for p in run.definitions()[1].values()]
        width = [max(len(r[i]) for r in rows) for i in range(2)]
        for name, backend, origin in sorted(rows):
            click.echo(f"{name:<{width[0]}}  {backend:<{width[1]}}  {origin}")

    sys.exit(run.guarded(show, traceback))


@cli.command("show", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name", required=False)
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def show_command(traceback: bool, name: str | None, extra: Sequence[str]) -> None:
    """Print the argv NAME would exec and where each part came from, secrets masked."""
    from entrypoint.secrets import redactor

    def show() -> None:
        resolved = run.resolve(name, extra)
        redact = redactor(resolved.environment.values)
        if resolved.process is None:
            click.echo(f"process: none ({resolved.name!r} would be exec'd from PATH as it is)")
        else:
            p = resolved.process
            click.echo(f"process: {p.name}")
            click.echo(f"backend: {p.backend}  ({p.origins['backend']})")
            if resolved.launch.app:
                click.echo(f"app:     {resolved.launch.app}  ({p.origins.get('app', 'derived')})")
            click.echo(f"kind:    {resolved.launch.kind}")
        if resolved.environment.env_file:
            click.echo(f"env file: {resolved.environment.env_file}")
        click.echo("argv:")
        texts = [redact(w.text) for w in resolved.launch.words]
        width = max(len(t) for t in texts)
        for text, word in zip(texts, resolved.launch.words):
            click.echo(f"  {text:<{width}}  {word.origin}")

    sys.exit(run.guarded(show, traceback, name))


@cli.command("check")
@click.argument("name", required=False)
@click.pass_obj
def check_command(traceback: bool, name: str | None) -> None:
    """Validate NAME's configuration, wait for PROD_ENTRY_WAIT_FOR and run its warmup, without exec: exit 0
    ready, 2 configuration error, 3 warmup failed, 4 wait-for timed out. For CI and init containers."""
    from entrypoint import log, warmup
    from entrypoint.secrets import redactor

    def check() -> None:
        resolved = run.resolve(name)
        env = resolved.environment.values
        logger = log.from_env(env, resolved.name, redactor(env))
        for key in resolved.environment.dotenv_keys:
            os.environ.setdefault(key, env[key])
        # No port check: a check runs beside the server (CI, an init container), not in its place.
        warmup.before_exec(resolved.process, env, resolved.launch, logger.info, port_check=False)
        click.echo(f"{resolved.name}: ok")

    sys.exit(run.guarded(check, traceback, name))


@cli.command("healthcheck", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def healthcheck_command(args: Sequence[str]) -> None:
    """Probe a running process: exit 0 healthy, 1 not (see `prod-entry healthcheck --help`)."""
    from entrypoint.probes import main as probe_main

    sys.exit(probe_main(args))


@cli.command("help")
@click.pass_context
def help_command(ctx: click.Context) -> None:
    """Show this help."""
    click.echo(ctx.parent.get_help() if ctx.parent else "")


def main(args: Sequence[str]) -> None:
    cli.main(list(args), prog_name="prod-entry")
