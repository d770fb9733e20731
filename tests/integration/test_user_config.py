"""The user's own server configuration wins over prod-entry's defaults, with real gunicorn and uvicorn: a
gunicorn config file (./gunicorn.conf.py, -c in ARGS, a python:module, GUNICORN_CMD_ARGS's), GUNICORN_CMD_ARGS
itself, uvicorn's UVICORN_* variables. The server listens where the user said (and not on prod-entry's default
port), the warmup and `prod-entry healthcheck` reach that address, and `prod-entry show` names the origin."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import psutil
import pytest

from support import EXAMPLE, Reader, describe, example_env, free_port, run, spawn, wait_http, wait_until

CONFIG = 'bind = "127.0.0.1:{port}"\nworkers = 2\n'


def project(tmp_path: Path) -> Path:
    """A copy of the example project: gunicorn reads ./gunicorn.conf.py from the working directory."""
    cwd = tmp_path / "app"
    shutil.copytree(EXAMPLE, cwd, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
    return cwd


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def workers_of(pid: int) -> list[psutil.Process]:
    """The server's worker processes (uvicorn's multiprocessing also starts a resource tracker)."""
    return [child for child in psutil.Process(pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())]


def serves_where_the_user_said(env: dict[str, str], cwd: Path, port: int, origin: str, workers: int) -> None:
    """Start `prod-entry web`; it must answer on `port`, not on PORT (prod-entry's default), with `workers`
    worker processes; healthcheck must pass against `port`; show must name `origin` for the bind."""
    shown = run(["show", "web"], env, cwd)
    assert shown.returncode == 0, describe(shown)
    assert f"--bind=0.0.0.0:{env['PORT']}" not in shown.stdout and f"--port={env['PORT']}" not in shown.stdout, \
        describe(shown)
    setting_lines = [line for line in shown.stdout.splitlines() if str(port) in line and origin in line]
    assert setting_lines, describe(shown)
    with spawn(["web"], env, cwd) as proc:
        output = Reader(proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        output.wait_for("warmup passed")
        # Each worker's replay of the warmup (on by default) runs with the user's config loaded by the hook.
        if env.get("PROD_ENTRY_WARMUP_WORKERS") != "0":
            wait_until(lambda: output.text.count("warmed up") == workers, 20, what=f"{workers} workers warmed up")
        assert not listening(int(env["PORT"])), f"something listens on the default port {env['PORT']}"
        # prod-entry exec'd the server: its pid is the server's master.
        wait_until(lambda: len(workers_of(proc.pid)) == workers, 20, what=f"{workers} workers")
        probe = run(["healthcheck", "web"], env, cwd)
        assert probe.returncode == 0, describe(probe)
        assert f"GET http://127.0.0.1:{port}/healthz answered 200" in probe.stdout, describe(probe)


@pytest.mark.parametrize("where", ["gunicorn.conf.py", "-c in ARGS", "python:module in ARGS",
                                   "--config in GUNICORN_CMD_ARGS", "GUNICORN_CMD_ARGS"])
def test_gunicorn_listens_where_the_users_config_says(where: str, tmp_path: Path) -> None:
    cwd = project(tmp_path)
    port = free_port()
    env = example_env(PORT=str(free_port()), PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    config = CONFIG.format(port=port)
    origin = "gunicorn.conf.py"
    if where == "gunicorn.conf.py":
        (cwd / "gunicorn.conf.py").write_text(config)
    elif where == "-c in ARGS":
        origin = str(tmp_path / "theirs.py")
        Path(origin).write_text(config)
        env["PROD_ENTRY_PROCESS_WEB_ARGS"] = f"-c {origin}"
    elif where == "python:module in ARGS":
        (cwd / "theirconf.py").write_text(config)
        origin = "python:theirconf"
        env["PROD_ENTRY_PROCESS_WEB_ARGS"] = json.dumps({"config": origin})
    elif where == "--config in GUNICORN_CMD_ARGS":
        origin = str(tmp_path / "theirs.py")
        Path(origin).write_text(config)
        env["GUNICORN_CMD_ARGS"] = f"--config {origin}"
    else:
        origin = "GUNICORN_CMD_ARGS"
        env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port} --workers 2"
    serves_where_the_user_said(env, cwd, port, origin, 2)


def test_the_per_worker_warmup_off_still_reads_the_config_file(tmp_path: Path) -> None:
    # Without prod-entry's hook, gunicorn reads ./gunicorn.conf.py itself; the default bind must still be left out.
    cwd = project(tmp_path)
    port = free_port()
    (cwd / "gunicorn.conf.py").write_text(CONFIG.format(port=port))
    env = example_env(PORT=str(free_port()), PROD_ENTRY_HEALTHCHECK_URL="/healthz", PROD_ENTRY_WARMUP_WORKERS="0")
    serves_where_the_user_said(env, cwd, port, "gunicorn.conf.py", 2)


@pytest.mark.parametrize("variables", [("UVICORN_PORT",), ("UVICORN_HOST", "UVICORN_PORT")])
def test_uvicorn_listens_where_its_variables_say(variables: tuple[str, ...], tmp_path: Path) -> None:
    port = free_port()
    env = example_env(PORT=str(free_port()), PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                      UVICORN_PORT=str(port), UVICORN_WORKERS="2")
    if "UVICORN_HOST" in variables:
        env["UVICORN_HOST"] = "127.0.0.1"
    shown = run(["show", "web"], env, EXAMPLE)
    # Each default on its own: the host one stays while only the port is the user's.
    assert ("--host=0.0.0.0" in shown.stdout) == ("UVICORN_HOST" not in variables), describe(shown)
    serves_where_the_user_said(env, EXAMPLE, port, "UVICORN_PORT", 2)


@pytest.mark.parametrize(("body", "needle"), [
    ("workers = 2\nbind = 1 / 0\n", "failed at line 2: ZeroDivisionError: division by zero"),
    ("import no_such_module_here\n", "failed at line 1: ModuleNotFoundError: No module named 'no_such_module_here'"),
    ("bind = (\n", "failed at line 1: SyntaxError:"),
    ('workers = "two"\n', "workers = 'two' is not valid"),
])
@pytest.mark.parametrize("command", [["web"], ["show", "web"], ["check", "web"]])
def test_a_config_file_that_fails_is_one_line_exit_2(body: str, needle: str, command: list[str],
                                                     tmp_path: Path) -> None:
    cwd = project(tmp_path)
    (cwd / "gunicorn.conf.py").write_text(body)
    proc = run(command, example_env(PROD_ENTRY_LOG_LEVEL="debug"), cwd)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, describe(proc)
    assert "gunicorn config file gunicorn.conf.py" in lines[0] and needle in lines[0], describe(proc)
    assert "prod-entry: exec " not in proc.stderr and "Traceback" not in proc.stderr, describe(proc)


def test_show_without_a_config_still_says_default(tmp_path: Path) -> None:
    env = example_env(PORT="8123")
    shown = run(["show", "web"], env, project(tmp_path))
    line = next(line for line in shown.stdout.splitlines() if "--bind=" in line)
    assert "--bind=0.0.0.0:8123" in line and "default" in line, describe(shown)
    assert "read by the server itself" not in shown.stdout, describe(shown)
