"""Figures 1 and 2: what prod-entry costs on the way to exec, and what its curl-free health check costs."""

from __future__ import annotations

from typing import Any

from bench.harness import (EXAMPLE, PROD_ENTRY, PYTHON, UNSHARE, BenchError, Command, Figure, Plan, clean_env,
                           example_env, free_port, loaded_from_source, require_unshare, started, time_commands, tool,
                           wait_for_200, wheel_install)

PYTHON_PASS = "python -c pass"


WHEEL = "prod-entry command true (wheel)"
WHEEL_DEFINED = "prod-entry hello (wheel, defined process)"
EDITABLE = "prod-entry command true (editable)"
EDITABLE_DEFINED = "prod-entry hello (editable, defined process)"
WHEEL_PASS = "python -c pass (wheel venv)"
FLOOR = "floor: a console script's imports + exec"
# What any pip-installed console script that execs pays: pip's script wrapper imports re (and with it enum,
# functools, collections), an init needs signal, then exec. No trim of prod-entry can go below it.
FLOOR_CODE = "import re, signal, os; os.execvp('true', ['true'])"


def start_to_exec(plan: Plan) -> dict[str, Any]:
    """1. `prod-entry command true` and a process defined in the environment, against the interpreter's own
    start-up and the two C inits running the same `true`. Twice: installed from its wheel with bytecode, as
    the image has it (the goal), and the editable install of the checkout (this machine sets
    PYTHONDONTWRITEBYTECODE=1, so that one compiles every module of prod-entry at every start)."""
    figure = Figure(1, "Start → exec overhead (start to exit of `true`)", "ms",
                    "≤ 1.5× `python -c pass` (wheel install)", plan.startup_runs)
    defined = clean_env(PROD_ENTRY_PROCESS_HELLO="command", PROD_ENTRY_PROCESS_HELLO_ARGS='["true"]')
    venv = wheel_install()
    wheel = str(venv / "prod-entry")
    # The environment is the image's too (the Dockerfile sets PYTHONDONTWRITEBYTECODE=1): it stops writing
    # bytecode, not reading it. Checked, so that the wheel rows can never silently measure a compile.
    compiled = loaded_from_source([str(venv / "python"), wheel, "command", "true"], clean_env(), "entrypoint")
    if compiled:
        raise BenchError(f"the wheel install compiled {len(compiled)} module(s) at start-up (no bytecode cached), "
                         f"e.g. {compiled[0]}")
    commands = [
        Command(WHEEL, [wheel, "command", "true"], clean_env(), role="prod-entry"),
        Command(WHEEL_DEFINED, [wheel, "hello"], defined, role="prod-entry"),
        Command(WHEEL_PASS, [str(venv / "python"), "-c", "pass"], clean_env()),
        Command(FLOOR, [str(venv / "python"), "-c", FLOOR_CODE], clean_env(), role="reference"),
        Command(EDITABLE, [PROD_ENTRY, "command", "true"], clean_env(), role="prod-entry"),
        Command(EDITABLE_DEFINED, [PROD_ENTRY, "hello"], defined, role="prod-entry"),
        Command(PYTHON_PASS, [PYTHON, "-c", "pass"], clean_env()),
        Command("tini -s true", [tool("tini"), "-s", "true"], clean_env()),
        Command("dumb-init true", [tool("dumb-init"), "true"], clean_env()),
        Command("true", [tool("true")], clean_env(), role="reference"),
    ]
    # The same as a container's PID 1, where prod-entry forks and stays as the supervisor.
    require_unshare()
    commands += [
        Command(f"PID 1: {command.name}", [*UNSHARE, *command.argv], command.env, role=command.role)
        for command in commands if command.name in (WHEEL, WHEEL_PASS, "tini -s true", "dumb-init true")
    ]
    samples = time_commands(commands, plan.startup_runs)
    for command in commands:
        figure.add(command.name, samples[command.name], command.role)

    def ratio(name: str, base: str) -> float:
        return figure.ratio(f"{name} / {base}", figure.get(name)["median"], figure.get(base)["median"])

    # Each install against `python -c pass` in its own virtualenv: the bench's has more .pth files to import.
    worst = max(ratio(WHEEL, WHEEL_PASS), ratio(WHEEL_DEFINED, WHEEL_PASS))
    as_pid1 = ratio(f"PID 1: {WHEEL}", f"PID 1: {WHEEL_PASS}")
    editable = max(ratio(EDITABLE, PYTHON_PASS), ratio(EDITABLE_DEFINED, PYTHON_PASS))
    floor = ratio(FLOOR, WHEEL_PASS)
    ratio(WHEEL, "tini -s true")
    figure.judge(worst <= 1.5, f"{worst:.2f}× `python -c pass` installed from the wheel (goal ≤ 1.5×), "
                               f"{as_pid1:.2f}× as PID 1 (floor {floor:.2f}×); editable checkout without bytecode {editable:.2f}×")
    figure.notes.append(
        "The wheel rows: prod-entry built with `pip wheel` and installed from the wheels into a fresh virtualenv "
        "of the same interpreter, pip and setuptools removed, as the Dockerfile does; pip compiles the bytecode "
        "at install, and a `python -v` run checks that no module of prod-entry is compiled at start-up "
        "(PYTHONDONTWRITEBYTECODE=1, set here as in the image, only stops writing .pyc files). The editable rows: "
        "the checkout's own install, whose modules are compiled at every start on a machine that never writes "
        "bytecode, plus the editable install's import hook. The floor row: pip's console-script wrapper's own "
        f"imports, signal and exec, in the wheel's virtualenv (`python -c \"{FLOOR_CODE}\"`).")
    return figure.as_dict()


def healthcheck(plan: Plan) -> dict[str, Any]:
    """2. `prod-entry healthcheck` as a Docker HEALTHCHECK runs it (no arguments: the bind comes from the
    process definition, the Host header from ALLOWED_HOSTS), against curl and the bare interpreter."""
    figure = Figure(2, "`prod-entry healthcheck` wall time against a running server", "ms",
                    "≤ 2.0× `python -c pass`", plan.startup_runs)
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    server = [tool("gunicorn"), f"--bind=127.0.0.1:{port}", "--workers=1", "example.wsgi:application"]
    with started(server, env, EXAMPLE) as proc:
        wait_for_200(port, "/healthz", proc)
        commands = [
            Command("prod-entry healthcheck", [PROD_ENTRY, "healthcheck"], env, EXAMPLE, role="prod-entry"),
            Command(PYTHON_PASS, [PYTHON, "-c", "pass"], clean_env()),
            Command("curl -f", [tool("curl"), "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{port}/healthz"],
                    clean_env()),
        ]
        samples = time_commands(commands, plan.startup_runs)
        if proc.poll() is not None:
            raise BenchError(f"the server exited {proc.returncode} during the figure")
    for command in commands:
        figure.add(command.name, samples[command.name], command.role)
    ours = figure.get("prod-entry healthcheck")["median"]
    ratio = figure.ratio(f"prod-entry healthcheck / {PYTHON_PASS}", ours, figure.get(PYTHON_PASS)["median"])
    figure.ratio("prod-entry healthcheck / curl", ours, figure.get("curl -f")["median"])
    figure.judge(ratio <= 2.0, f"{ratio:.2f}× `python -c pass` (goal ≤ 2.0×)")
    return figure.as_dict()
