"""Figures 1 and 2: what prod-entry costs on the way to exec, and what its curl-free health check costs."""

from __future__ import annotations

from typing import Any

from bench.harness import (EXAMPLE, PROD_ENTRY, PYTHON, UNSHARE, BenchError, Command, Figure, Plan, clean_env,
                           example_env, free_port, require_unshare, started, time_commands, tool, wait_for_200)

PYTHON_PASS = "python -c pass"


def start_to_exec(plan: Plan) -> dict[str, Any]:
    """1. `prod-entry command true` and a process defined in the environment, against the interpreter's own
    start-up and the two C inits running the same `true`."""
    figure = Figure(1, "Start → exec overhead (start to exit of `true`)", "ms", "≤ 2.0× `python -c pass`",
                    plan.startup_runs)
    defined = clean_env(PROD_ENTRY_PROCESS_HELLO="command", PROD_ENTRY_PROCESS_HELLO_ARGS='["true"]')
    commands = [
        Command("prod-entry command true", [PROD_ENTRY, "command", "true"], clean_env(), role="prod-entry"),
        Command("prod-entry hello (defined process)", [PROD_ENTRY, "hello"], defined, role="prod-entry"),
        Command(PYTHON_PASS, [PYTHON, "-c", "pass"], clean_env()),
        Command("tini -s true", [tool("tini"), "-s", "true"], clean_env()),
        Command("dumb-init true", [tool("dumb-init"), "true"], clean_env()),
        Command("true", [tool("true")], clean_env(), role="reference"),
    ]
    # The same as a container's PID 1, where prod-entry forks and stays as the supervisor.
    require_unshare()
    commands += [
        Command(f"PID 1: {command.name}", [*UNSHARE, *command.argv], command.env, role=command.role)
        for command in commands if command.name in ("prod-entry command true", PYTHON_PASS, "tini -s true",
                                                    "dumb-init true")
    ]
    samples = time_commands(commands, plan.startup_runs)
    for command in commands:
        figure.add(command.name, samples[command.name], command.role)
    python = figure.get(PYTHON_PASS)["median"]
    worst = 0.0
    for name in ("prod-entry command true", "prod-entry hello (defined process)"):
        worst = max(worst, figure.ratio(f"{name} / {PYTHON_PASS}", figure.get(name)["median"], python))
    figure.ratio("prod-entry command true / tini -s true", figure.get("prod-entry command true")["median"],
                 figure.get("tini -s true")["median"])
    figure.ratio(f"PID 1: prod-entry command true / {PYTHON_PASS}",
                 figure.get("PID 1: prod-entry command true")["median"], figure.get(f"PID 1: {PYTHON_PASS}")["median"])
    figure.judge(worst <= 2.0, f"{worst:.2f}× `python -c pass` (goal ≤ 2.0×)")
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
