"""The warmup in the server's own process (issue 14): gunicorn's master, or uvicorn's one process, loads the app
once and runs the warmup before it binds (gunicorn's workers fork with the app loaded; uvicorn serves it
itself). A broken app still exits 3 with one line, and nothing ever answers on the port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from support import (EXAMPLE, PROD_ENTRY, Reader, describe, example_env, free_port, http_get, one_error_line, run, spawn,
                     wait_http, wait_until)

# What each server's process says where the warmup passed, and the line it logs once it listens.
SERVERS = {
    "gunicorn": {"where": "in gunicorn's master", "show": "in gunicorn's master (on_starting hook)",
                 "listening": "Listening at", "env": {}},
    "uvicorn": {"where": "in the server's process (lifespan startup)", "show": "in uvicorn's process",
                "listening": "Uvicorn running on", "env": {"PROD_ENTRY_PROCESS_WEB": "uvicorn"}},
}


def web_env(tmp_path: Path, server: str = "gunicorn", **extra: str) -> dict[str, str]:
    return example_env(**{"PORT": str(free_port()), "EXAMPLE_LOADED_FILE": str(tmp_path / "loaded"),
                          "PROD_ENTRY_HEALTHCHECK_URL": "/healthz", **SERVERS[server]["env"], **extra})


def loaded_by(tmp_path: Path) -> list[int]:
    """The pids of the processes that imported the example's WSGI or ASGI module, in order."""
    path = tmp_path / "loaded"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def workers_of(proc: psutil.Process) -> list[psutil.Process]:
    return [child for child in proc.children() if {"gunicorn", "uvicorn", "multiprocessing"} &
            set(" ".join(child.cmdline()).replace(".", " ").replace("/", " ").split())]


@pytest.mark.parametrize("server, args, workers", [("gunicorn", {"workers": 3, "worker-class": "sync"}, 3),
                                                   ("gunicorn", {"workers": 3, "worker-class": "gthread"}, 3),
                                                   ("uvicorn", {}, 0)])
def test_the_app_is_loaded_once_for_the_warmup_and_every_worker(tmp_path: Path, server: str, args: dict,
                                                                workers: int) -> None:
    env = web_env(tmp_path, server, PROD_ENTRY_PROCESS_WEB_ARGS=json.dumps(args))
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        master = psutil.Process(proc.pid)  # prod-entry exec'd the server: the same process
        wait_until(lambda: len(workers_of(master)) == workers, 20, what=f"{workers} workers")
        wait_until(lambda: reader.text.count("warmed up") == workers, 20,
                   what=f"every worker's replay:\n{reader.text}")
        output = reader.text
    assert loaded_by(tmp_path) == [proc.pid], output
    assert "warmup passed in" in output and SERVERS[server]["where"] in output, output
    assert "warmed up" not in output or workers, output  # uvicorn's one process: no replay of what it just ran


def test_without_warmup_every_worker_loads_the_app_itself(tmp_path: Path) -> None:
    """The control: what gunicorn does by itself, and what the test above would see if the master did not load."""
    env = web_env(tmp_path, PROD_ENTRY_WARMUP="0", PROD_ENTRY_PROCESS_WEB_ARGS='{"workers": 2}')
    with spawn(["web"], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        wait_until(lambda: len(loaded_by(tmp_path)) == 2, 20, what="both workers to load the app")
        workers = {child.pid for child in workers_of(psutil.Process(proc.pid))}
    assert set(loaded_by(tmp_path)) == workers, loaded_by(tmp_path)


@pytest.mark.parametrize("server, args", [("gunicorn", ["--preload"]), ("gunicorn", ["--reload"]),
                                          ("uvicorn", ["--workers", "2"]), ("uvicorn", ["--reload"])])
def test_preload_reload_or_worker_processes_keep_the_warmup_in_a_child_before_exec(tmp_path: Path, server: str,
                                                                                   args: list[str]) -> None:
    """gunicorn would import the app before any hook (preload) or a worker must read the code anew (reload);
    uvicorn's workers and reloaded servers are processes it spawns, which import everything anew: prod-entry's
    child warms up before exec, as for a server that cannot warm up itself."""
    env = web_env(tmp_path, server, PROD_ENTRY_PROCESS_WEB_ARGS=json.dumps(args))
    show = run(["show", "web"], env, EXAMPLE)
    assert show.returncode == 0 and "warmup:  in a child of prod-entry, before exec" in show.stdout, describe(show)
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        output = reader.wait_for("warmed up")
    assert "warmup passed in" in output and SERVERS[server]["where"] not in output, output
    assert proc.pid not in loaded_by(tmp_path)[:1], (loaded_by(tmp_path), output)  # the child loaded first


@pytest.mark.parametrize("server", list(SERVERS))
def test_show_says_where_the_warmup_runs(tmp_path: Path, server: str) -> None:
    proc = run(["show", "web"], web_env(tmp_path, server), EXAMPLE)
    assert proc.returncode == 0 and f"warmup:  {SERVERS[server]['show']}" in proc.stdout, describe(proc)
    proc = run(["show", "web"], web_env(tmp_path, server, PROD_ENTRY_WARMUP="0"), EXAMPLE)
    assert proc.returncode == 0 and "warmup:  off (PROD_ENTRY_WARMUP)" in proc.stdout, describe(proc)


@contextmanager
def knocking(port: int) -> Iterator[list[str]]:
    """Try to connect to the port every few milliseconds while the block runs; yields what answered."""
    answered: list[str] = []
    done = threading.Event()

    def knock() -> None:
        while not done.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    answered.append(conn.recv(64).decode("latin-1") or "(connected, closed)")
            except OSError:
                pass
            done.wait(0.005)

    thread = threading.Thread(target=knock, daemon=True)
    thread.start()
    try:
        yield answered
    finally:
        done.set()
        thread.join(5)


BROKEN = {
    "import error": ({"PROD_ENTRY_PROCESS_WEB_APP": "example.nowhere:application"},
                     "importing example.nowhere (the app example.nowhere:application) failed: ModuleNotFoundError"),
    "500 on the health URL": ({"PROD_ENTRY_HEALTHCHECK_URL": "/boom"},
                              "RuntimeError: the example app's /boom view always fails"),
    "system check error": ({"EXAMPLE_CHECK_ERROR": "1"}, "Django system check failed"),
    "empty ALLOWED_HOSTS, DEBUG off": ({"DJANGO_ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty in example.settings"),
    "timeout": ({"PROD_ENTRY_HEALTHCHECK_URL": "/slow/30", "PROD_ENTRY_WARMUP_TIMEOUT": "1"},
                "warmup timed out after 1s while GET /slow/30"),
}
# ASGI only: the app's own lifespan startup, which uvicorn's process runs before the checks.
BROKEN_ASGI = {
    "lifespan startup failed": ({"PROD_ENTRY_PROCESS_WEB_APP": "example.lifespan:application",
                                 "EXAMPLE_LIFESPAN_FAIL": "1"},
                                "example.lifespan:application: ASGI lifespan startup failed: EXAMPLE_LIFESPAN_FAIL"),
    "lifespan startup failed, from a factory": (
        {"PROD_ENTRY_PROCESS_WEB_APP": "example.lifespan:create", "PROD_ENTRY_PROCESS_WEB_ARGS": '["--factory"]',
         "EXAMPLE_LIFESPAN_FAIL": "1"}, "example.lifespan:create: ASGI lifespan startup failed: EXAMPLE_LIFESPAN_FAIL"),
}
WORKERS = {"gunicorn": {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 2}'}, "uvicorn": {}}


@pytest.mark.parametrize("server, case", [(server, case) for server in SERVERS for case in BROKEN] +
                         [("uvicorn", case) for case in BROKEN_ASGI])
def test_a_broken_app_exits_3_with_one_line_and_nothing_ever_answers(tmp_path: Path, server: str, case: str) -> None:
    variables, needle = {**BROKEN, **BROKEN_ASGI}[case]
    env = web_env(tmp_path, server, **{**WORKERS[server], **variables})
    with knocking(int(env["PORT"])) as answered:
        started = subprocess.Popen([PROD_ENTRY, "web"], env=env, cwd=EXAMPLE, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc = subprocess.CompletedProcess(started.args, 0, *started.communicate(timeout=30))
        proc.returncode = started.returncode
    assert proc.returncode == 3, describe(proc)
    assert needle in one_error_line(proc), describe(proc)
    assert answered == [] and SERVERS[server]["listening"] not in proc.stderr, (answered, describe(proc))
    with socket.socket() as probe:  # nothing left bound either
        probe.bind(("0.0.0.0", int(env["PORT"])))
    # Loaded by the server's process (prod-entry exec'd it: the same pid), if at all; by no worker, no child.
    assert set(loaded_by(tmp_path)) <= {started.pid}, (loaded_by(tmp_path), started.pid)


@pytest.mark.parametrize("server", list(SERVERS))
def test_term_during_the_warmup_in_the_server_exits_143_and_nothing_answers(tmp_path: Path, server: str) -> None:
    marker = tmp_path / "slow-view-running"
    env = web_env(tmp_path, server, PROD_ENTRY_HEALTHCHECK_URL="/slow/120", PROD_ENTRY_WARMUP_TIMEOUT="300",
                  EXAMPLE_SLOW_MARKER=str(marker))
    with knocking(int(env["PORT"])) as answered, spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_until(marker.exists, 30, what=f"the warmup to reach the slow view:\n{reader.text}")
        proc.send_signal(signal.SIGTERM)  # the server's process: prod-entry exec'd it
        code = proc.wait(timeout=10)  # the server's own handler would leave the slow view running for 120 s
        output = reader.finish()
    assert code == 143, f"exit {code}\n{output}"
    assert output.strip().splitlines()[-1] == "prod-entry: error: stopped by SIGTERM during warmup", output
    assert answered == [] and SERVERS[server]["listening"] not in output, (answered, output)
    assert loaded_by(tmp_path) == [proc.pid], loaded_by(tmp_path)  # it was the server's process warming up


def test_the_warmups_database_connection_is_closed_before_the_workers_fork(tmp_path: Path,
                                                                          postgres_url: str) -> None:
    """With persistent connections (CONN_MAX_AGE), the connection the warmup's request opened in the master
    would be inherited by every worker, which would then talk over one socket: it is closed before they fork."""
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    env = web_env(tmp_path, DATABASE_URL=postgres_url, DJANGO_CONN_MAX_AGE="600", PROD_ENTRY_HEALTHCHECK_URL="/db",
                  PROD_ENTRY_PROCESS_WEB_ARGS='{"workers": 2}')
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        base = f"http://127.0.0.1:{env['PORT']}"
        wait_http(f"{base}/healthz", proc=proc)
        answers = [json.loads(answer[1]) for answer in (http_get(f"{base}/db") for _ in range(8)) if answer]
        master = psutil.Process(proc.pid)
        to_postgres = [c for c in master.net_connections("tcp") if c.raddr and c.raddr.port == port]
        output = reader.text
    assert len(answers) == 8 and all(a["backend"] for a in answers), (answers, output)
    assert "warmup passed in" in output and "in gunicorn's master" in output, output
    assert to_postgres == [], (to_postgres, output)
    # Each worker has a connection of its own.
    backends_by_worker: dict[int, set[int]] = {}
    for answer in answers:
        backends_by_worker.setdefault(answer["pid"], set()).add(answer["backend"])
    all_backends = [b for backends in backends_by_worker.values() for b in backends]
    assert len(all_backends) == len(set(all_backends)), backends_by_worker
