"""The click CLI: `prod-entry [OPTIONS] [NAME] [EXTRA]...`, `list`, `show`. Thin: it forwards to run.py."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from entrypoint import __version__, run
from entrypoint.settings.errors import ExecError
from entrypoint.warmup import gate

ENV_HELP = """
\b
Process definitions (environment, or a .env file):
  PROD_ENTRY_PROCESS_<NAME>        backend: gunicorn, uvicorn, celery-worker, celery-beat,
                                   django-tasks, rq, dramatiq, huey, manage, command,
                                   or a dotted path to a custom backend
  PROD_ENTRY_PROCESS_<NAME>_ARGS   JSON object ({"workers": 4} -> --workers=4), JSON array
                                   (verbatim) or a command line (split like a shell)
  PROD_ENTRY_PROCESS_<NAME>_APP    what it serves/runs (module:attr); derived from Django
                                   settings (WSGI_APPLICATION, ASGI_APPLICATION; Celery:
                                   <package>.celery or .celery_app) when unset
  PROD_ENTRY_PROCESS_<NAME>_BEFORE release steps before warmup and exec, one replica at a
                                   time: "manage migrate --noinput; manage collectstatic --noinput"
\b
Settings:
  PROD_ENTRY_DEFAULT_PROCESS       process run when no NAME is given (default: web)
  PROD_ENTRY_ENV_FILE              .env file to load (default: ./.env when it exists);
                                   the real environment wins over it
  PROD_ENTRY_LOG_FORMAT            text (default) or json
  PROD_ENTRY_LOG_LEVEL             debug, info (default), warning, error
  PROD_ENTRY_DEBUG=1               print tracebacks
  PROD_ENTRY_WARMUP=0              skip the in-memory warmup of web processes (and
                                   PROD_ENTRY_WARMUP_WORKERS=0 only the per-worker one;
                                   PROD_ENTRY_WARMUP_IN_SERVER=0 warms up in a child before
                                   exec, not in the server's process: the app loads twice)
  PROD_ENTRY_HEALTHCHECK_URL       path that must pass warmup and healthcheck (unset: /, any
                                   status below 500 but 400)
  PROD_ENTRY_WARMUP_HEADERS        headers for warmup requests ("Authorization: Bearer x; X-A: 1";
                                   also _FILE), PROD_ENTRY_HEALTHCHECK_HEADERS for the probe
  PROD_ENTRY_HEALTHCHECK_COMMAND   the probe of a process that serves no HTTP and has no heartbeat
  PROD_ENTRY_WAIT_FOR              host:port or URLs to wait for before starting
  PROD_ENTRY_BROKER_TIMEOUT        seconds a Celery worker/beat tries its broker (10; 0: no)
  PROD_ENTRY_PORT_CHECK=0          skip the check that the web bind address is free
  (all warmup/probe settings: see the README, "Warmup and probes")
  PROD_ENTRY_USER                  name, uid, name:group or uid:gid to drop to (as root)
  PROD_ENTRY_SECRET_FILES          more X whose X_FILE is read (0: none); by default
                                   *PASSWORD*, *SECRET*, *_URL, *_DSN
  PROD_ENTRY_CHECK_DEPLOY=1        Django's check --deploy before a web process starts
  PROD_ENTRY_CONCURRENCY           auto (default: gunicorn workers, celery --concurrency from
                                   the CPU and memory limits), off, or a number; yours win
\b
As PID 1 (read from the real environment only, never from .env):
  PROD_ENTRY_INIT                  auto (supervise only as PID 1, default), always, never
  PROD_ENTRY_SIGNAL_TARGET         child (default) or group: who gets forwarded signals
  PROD_ENTRY_SIGNAL_REWRITE        e.g. TERM:QUIT,WINCH:0 (0 drops the signal)
  PROD_ENTRY_EXIT_REMAP            e.g. 143:0 (a clean stop by TERM exits 0)
  PROD_ENTRY_SHUTDOWN_DELAY        seconds to keep serving after TERM (default 0)
  PROD_ENTRY_STOP_TIMEOUT          seconds after a stop signal before KILL (default: none)
  PROD_ENTRY_STATE_DIR             where the draining marker goes (/tmp/prod-entry)
\b
With DJANGO_SETTINGS_MODULE set and no web process defined, `web` is gunicorn
serving WSGI_APPLICATION on 0.0.0.0:${PORT:-8000}. `manage` (Django management
commands) and `command` (a raw argv) are always defined. A NAME that is no
process but a program on PATH is exec'd as it is.
\b
Exit codes: 0 ok; 2 configuration or usage error; 3 warmup, a Celery app's import or
broker (PROD_ENTRY_BROKER_TIMEOUT) or check --deploy failed; 4 wait-for or the
release-steps lock timed out; 126 program not executable; 127 no
such process or program; 128+N stopped by signal N while waiting, in a release
step or warming up; otherwise the program's (or a failed release step's) status.
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
    from entrypoint.settings.secrets import word_redactor

    def show() -> None:
        resolved = run.resolve(name, extra)
        redact = word_redactor(resolved.environment.values)
        if resolved.process is None:
            from entrypoint.init.execute import locate

            found = locate(resolved.name)
            if found is None:
                raise ExecError(run.not_found_message(resolved.name, resolved.processes), 127)
            click.echo(f"process: none ({resolved.name!r} is the program {found} on PATH, exec'd as it is)")
        else:
            p = resolved.process
            click.echo(f"process: {p.name}")
            click.echo(f"backend: {p.backend}  ({p.origins['backend']})")
            if resolved.launch.app:
                origin = resolved.launch.app_origin or p.origins.get('app', 'derived')
                click.echo(f"app:     {resolved.launch.app}  ({origin})")
            click.echo(f"kind:    {resolved.launch.kind}")
            where = gate.where(p, resolved.environment.values, resolved.launch)
            if where:
                click.echo(f"warmup:  {where}")
        if resolved.environment.env_file:
            click.echo(f"env file: {resolved.environment.env_file}")
        click.echo("argv:")
        texts = [redact(w.text) for w in resolved.launch.words]
        width = max(len(t) for t in texts)
        for text, word in zip(texts, resolved.launch.words):
            click.echo(f"  {text:<{width}}  {word.origin}")
        settings = resolved.launch.settings  # the user's, from the server's config file or environment
        if settings:
            click.echo("read by the server itself, beyond argv (so prod-entry adds no default for these):")
            rows = [(f"{s.name}:", redact(s.value), s.origin) for s in settings]
            widths = [max(len(row[i]) for row in rows) for i in range(2)]
            for setting, value, origin in rows:
                click.echo(f"  {setting:<{widths[0]}} {value:<{widths[1]}}  {origin}")
        if resolved.launch.sizing:
            click.echo("sizing:")
            for count in resolved.launch.sizing:
                click.echo(f"  {count.name}: {count.value}  ({count.origin})")
        if resolved.steps:
            from entrypoint.release import steps

            assert resolved.process is not None
            click.echo(f"before: (release steps, run in order before warmup; {resolved.process.origins['before']})")
            for number, step in enumerate(resolved.steps, 1):
                click.echo(f"  {number}. {redact(' '.join(step.argv))}")
            click.echo(f"lock:   {redact(steps.lock_for(resolved.environment.values).describe())}")

    sys.exit(run.guarded(show, traceback, name))


@cli.command("check")
@click.argument("name", required=False)
@click.pass_obj
def check_command(traceback: bool, name: str | None) -> None:
    """Run every step a start of NAME runs before exec (definitions, secrets, PROD_ENTRY_USER, check --deploy,
    wait-for, a Celery app's import and broker, warmup), in the same order and with the same lines and exit codes, without exec: exit 0 ready,
    2 configuration error, 3 warmup or deploy check failed, 4 wait-for timed out, 127 no such process or
    program. Only the port check is left out: a check may run beside the server. For CI and init containers."""
    from entrypoint.logs import log
    from entrypoint.settings.secrets import redactor

    def check() -> None:
        resolved = run.resolve(name)
        env = resolved.environment.values
        logger = log.from_env(env, resolved.name, redactor(env))
        run.prepare(resolved, logger, port_check=False, starting=False)
        if resolved.process is None:
            from entrypoint.init.execute import locate

            click.echo(f"{resolved.name}: ok (not a process: the program {locate(resolved.name)} on PATH; "
                       "only PROD_ENTRY_WAIT_FOR applies to it)")
        else:
            click.echo(f"{resolved.name}: ok")

    sys.exit(run.guarded(check, traceback, name))


@cli.command("healthcheck", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def healthcheck_command(args: Sequence[str]) -> None:
    """Probe a running process: exit 0 healthy, 1 not (see `prod-entry healthcheck --help`)."""
    from entrypoint.health.probes import main as probe_main

    sys.exit(probe_main(args))


@cli.command("help")
@click.pass_context
def help_command(ctx: click.Context) -> None:
    """Show this help."""
    click.echo(ctx.parent.get_help() if ctx.parent else "")


def main(args: Sequence[str]) -> None:
    cli.main(list(args), prog_name="prod-entry")
