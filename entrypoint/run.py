"""The programmatic API behind `prod-entry NAME`: resolve a process from the environment, then exec it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, NoReturn

from entrypoint.backends import TASK, Launch, Word, extra_words, plan, process_var
from entrypoint.health import rules
from entrypoint.init import privileges, state
from entrypoint.init.execute import check_temp_dir, exec_argv, locate
from entrypoint.init.supervisor import INIT_SETTINGS
from entrypoint.logs import log, servers
from entrypoint.release import deploy_check, steps
from entrypoint.settings import config, prodserver, registry, sizing
from entrypoint.settings.config import Environment, Process
from entrypoint.settings.errors import ConfigError, EntrypointError, ExecError
from entrypoint.settings.error_lines import describe
from entrypoint.settings.secrets import redactor
from entrypoint.warmup import gate


class Resolved(NamedTuple):
    environment: Environment
    name: str
    process: Process | None  # None: the first word is a program, exec'd as it is
    launch: Launch
    processes: dict[str, Process]
    steps: list[steps.Step] = []  # PROD_ENTRY_PROCESS_<NAME>_BEFORE, resolved


def definitions(environ: Mapping[str, str] = os.environ) -> tuple[Environment, dict[str, Process]]:
    """The merged environment and every process it defines, validated."""
    environment = config.load_environment(environ)
    problem = log.settings_error(environment.values)
    if problem:
        raise ConfigError(problem)
    # Before anything of the user's is imported (PRODUCTION_PROCESSES and the backends read the settings module):
    # the drop, and the .env file's variables put where the settings module reads them (os.environ).
    privileges.drop(environment.values)
    environment.export()
    return environment, prodserver.processes(environment)


def resolve(name: str | None, extra: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> Resolved:
    """Everything `prod-entry NAME EXTRA...` would do, short of doing it."""
    environment, processes = definitions(environ)
    env = environment.values
    selected = config.selected_name(env, name)
    if selected in processes:
        process = processes[selected]
        launch = gate.in_server(process, env, plan(process, env, extra))
        launch = gate.with_worker_warmup(process, env, launch)
        launch = servers.with_logs(process, env, launch)
        return Resolved(environment, selected, process, launch, processes, release_steps(process, processes, env))
    if name is None:
        why = ("PROD_ENTRY_DEFAULT_PROCESS names it" if env.get("PROD_ENTRY_DEFAULT_PROCESS", "").strip() else
               "it is what prod-entry runs with no NAME")
        raise ConfigError(f"no process {selected!r} is defined and {why}: define "
                          f"PROD_ENTRY_PROCESS_{selected.upper()}=<backend> or set DJANGO_SETTINGS_MODULE for the "
                          f"zero-config web process (defined: {', '.join(sorted(processes))})")
    return Resolved(environment, name, None, Launch([Word(name, "command line"), *extra_words(extra)]),
                    processes)


def release_steps(process: Process, processes: Mapping[str, Process], env: Mapping[str, str]) -> list[steps.Step]:
    """The BEFORE steps of `process`, each resolved as `prod-entry WORD...` would be: a defined process (a task:
    `manage migrate`, `command ...`, a custom one) or a program on PATH. Raises ConfigError naming the step."""
    if process.before is None:
        return []
    var = process_var(process, "BEFORE")
    found = []
    for number, words in enumerate(steps.parse(process.before, var), 1):
        text = " ".join(words)
        name = words[0].lower()
        if name in processes:
            launch = plan(processes[name], env, words[1:])
            if launch.kind != TASK:
                raise ConfigError(f"{var}: step {number} ({text}) is a {launch.kind} process, which never "
                                  "completes: a step must be a task such as 'manage migrate --noinput'")
            command = next((w for w in words[1:] if not w.startswith("-")), None)
            manage = registry.normalize(processes[name].backend) == "manage"
            found.append(steps.Step(text, launch.argv, command if manage else None))
        elif locate(words[0]) is not None:
            found.append(steps.Step(text, list(words)))
        else:
            raise ConfigError(f"{var}: step {number} ({text}): {not_found_message(words[0], processes)}")
    return found


def not_found_message(name: str, processes: Mapping[str, Process]) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), list(processes), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"{name!r} is neither a defined process nor a command on PATH (defined processes: "
            f"{', '.join(sorted(processes))}){hint}")


def prepare(resolved: Resolved, logger: log.Logger, port_check: bool = True, starting: bool = True) -> str | None:
    """Every step between resolving a process and exec'ing it, in order: the one path that both a start and
    `prod-entry check` take, so that check can never pass what the start refuses (check, `starting` False,
    leaves out only the port check and the release steps, which it validates but must not run; and it runs the
    warmup itself where a start hands it over to the server's process). Returns the message for a program that
    is not found at exec. Raises EntrypointError with the start's own line and exit status."""
    env = resolved.environment.values
    for var in sorted(resolved.environment.dotenv_keys.intersection(INIT_SETTINGS)):
        logger.warning(f"{var} is set in the .env file, where the PID-1 supervisor never looks (it starts before "
                       "the file is read): set it in the container's environment instead")
    resolved.environment.export()
    not_found = None
    privileges.check_program(env, resolved.launch.argv[0])
    temp_dir = registry.adapter(resolved.launch, "needs_temp_dir")
    needed_by = temp_dir(env, resolved.launch) if temp_dir else None
    if needed_by:
        check_temp_dir(needed_by)
    if resolved.process is None:
        not_found = not_found_message(resolved.name, resolved.processes)
        if locate(resolved.name) is None:
            raise ExecError(not_found, 127)
    deploy_check.check_deploy(env, resolved.launch.kind, logger)
    gate.gates(resolved.process, env, resolved.launch, logger.info, port_check)
    commands = tuple(step.django_command for step in resolved.steps if step.django_command)
    if resolved.steps:
        assert resolved.process is not None
        # Settings are read and checked by check too; only the steps themselves are the start's alone.
        timeout = rules.seconds(resolved.process, env, "BEFORE_LOCK_TIMEOUT", steps.DEFAULT_LOCK_TIMEOUT)
        lock = steps.lock_for(env)
        if starting:
            # What needs no migrated database first: a release that can never serve must not migrate.
            gate.preflight(resolved.process, env, resolved.launch, logger.info, commands)
            if lock.kind == "none":
                logger.warning(f"release steps: no lock: {lock.describe()}")
            with steps.held(lock, timeout, rules.setting_name(resolved.process, "BEFORE_LOCK_TIMEOUT"),
                            logger.info) as waiting:
                steps.run(resolved.steps, logger.info, waiting)
    # check runs no steps: it validates their commands, and leaves unapplied migrations to the migrate step.
    migrates = not starting and "migrate" in commands
    gate.before_exec(resolved.process, env, resolved.launch, logger.info, starting,
                     () if starting else commands, migrations=not migrates)
    # Once everything before exec has passed: a start that fails says only why.
    for count in resolved.launch.sizing:
        logger.info(f"{count.name}: {count.value} ({count.origin})")
    cpu_count = sizing.python_cpu_count(resolved.process, env)
    if cpu_count:
        os.environ[sizing.CPU_COUNT_VAR] = cpu_count  # for the exec'd program: Python 3.13+ reads it
    servers.prepare(resolved.process, env, resolved.launch)
    return not_found


def run(name: str | None, extra: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> NoReturn:
    """Resolve, prepare and exec. Raises EntrypointError (with its exit status) for anything the user must fix."""
    serving = os.environ.pop(state.SERVING_VAR, None)  # this start's own: not for the release steps' processes
    resolved = resolve(name, extra, environ)
    env = resolved.environment.values
    logger = log.from_env(env, resolved.name, redactor(env))
    not_found = prepare(resolved, logger)
    if serving:
        announce(serving, resolved)
    logger.debug(f"exec {' '.join(resolved.launch.argv)}")
    exec_argv(resolved.launch.argv, not_found)


def announce(path: str, resolved: Resolved) -> None:
    """Tell the health port (PROD_ENTRY_HEALTH_PORT, served by the supervisor) that this start is through its
    checks, release steps and warmup, and how to tell that the program answers. A warmup handed to the server's
    own process has not run yet: the file is then left pending, for that process to put in place once it passed
    (state.serving_passed), through the environment exec passes on."""
    from entrypoint.health.probes import serving_facts

    pending = bool(resolved.launch.warmup_in)
    try:
        state.write_serving(path, serving_facts(resolved.process, resolved.environment.values, resolved.launch),
                            pending)
    except OSError as exc:
        raise ConfigError(f"cannot write {path} ({exc.strerror}), which the health port's /ready waits for "
                          "(PROD_ENTRY_HEALTH_PORT): set PROD_ENTRY_STATE_DIR to a writable directory") from None
    if pending:
        os.environ[state.SERVING_VAR] = path


def guarded(action: Callable[[], object], traceback: bool = False, process: str | None = None) -> int:
    """Run `action`, turning an EntrypointError into one log line and its exit status. Any other exception
    is a bug in prod-entry: exit 1, with the traceback only when asked for (--traceback, PROD_ENTRY_DEBUG=1)."""
    traceback = traceback or rules.debugging(os.environ)
    try:
        action()
        return 0
    except KeyboardInterrupt:
        return 130
    except EntrypointError as exc:
        error: BaseException = exc
        message, status = str(exc), exc.exit_code
    except Exception as exc:
        error = exc
        message, status = f"internal error: {describe(exc)} (PROD_ENTRY_DEBUG=1 shows the traceback)", 1
    logger = error_logger(process)
    if traceback:
        import traceback as tb

        # Outside the except clause format_exc() has nothing to format: format the caught exception itself.
        logger.emit("error", "".join(tb.format_exception(error)).rstrip(), multiline=True)
    logger.error(message)
    return status


def error_logger(process: str | None) -> log.Logger:
    """A logger that masks the secrets of the real environment and of the .env file, whatever failed."""
    env: Mapping[str, str] = os.environ
    try:
        env = config.load_environment(os.environ).values
    except EntrypointError:
        pass
    return log.from_env(env, process, redactor(env))


def main(name: str | None, extra: Sequence[str], traceback: bool = False) -> int:
    if traceback:  # for the server's process too, where a warmup handed over (handover.here) may fail
        os.environ["PROD_ENTRY_DEBUG"] = "1"
    return guarded(lambda: run(name, extra), traceback, name)
