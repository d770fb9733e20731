"""The warmup in the server's own process (issue 14): the server's process loads the app once and runs the
warmup before it binds (gunicorn's master, uWSGI's master through prod-entry's runner, waitress's runner,
daphne's import of the wrapper app, uvicorn's one process in the wrapper's lifespan startup), and the workers,
where there are any, fork with the app loaded. A broken app still exits 3 with one line, and nothing ever
answers on the port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from support import (EXAMPLE, PROD_ENTRY, Reader, describe, example_env, free_port, http_get, one_error_line, output_of, run,
                     spawn, wait_http, wait_until)


class Server(NamedTuple):
    env: dict[str, str]  # how the test starts it
    where: str  # the warmup's place, as `prod-entry show` and the passed line name it
    workers: int  # processes forked from the one that warmed up, each replaying the warmup (0: that one serves)


SERVERS = {
    "gunicorn": Server({"PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 2}'}, "gunicorn's master", 2),
    "uwsgi": Server({"PROD_ENTRY_PROCESS_WEB": "uwsgi", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"processes": 2}'},
                    "uWSGI's master", 2),
    "waitress": Server({"PROD_ENTRY_PROCESS_WEB": "waitress"}, "waitress's process", 0),
    "daphne": Server({"PROD_ENTRY_PROCESS_WEB": "daphne"}, "daphne's process", 0),
    "uvicorn": Server({"PROD_ENTRY_PROCESS_WEB": "uvicorn"}, "uvicorn's process", 0),
}
# The line each server logs once it listens, which a failed warmup must never reach.
LISTENING = {"gunicorn": "Listening at", "uvicorn": "Uvicorn running on", "uwsgi": "bound to", "waitress": "Serving on",
             "daphne": "Listening on"}


def web_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return example_env(**{"PORT": str(free_port()), "EXAMPLE_LOADED_FILE": str(tmp_path / "loaded"),
                          "PROD_ENTRY_HEALTHCHECK_URL": "/healthz", **extra})


def loaded_by(tmp_path: Path) -> list[int]:
    """The pids of the processes that imported the example's WSGI (or ASGI) module, in order."""
    path = tmp_path / "loaded"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def workers_of(proc: psutil.Process) -> list[psutil.Process]:
    return [child for child in proc.children() if "gunicorn" in " ".join(child.cmdline())]


@pytest.mark.parametrize("server, variables", [
    ("gunicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 3, "worker-class": "sync"}'}),
    ("gunicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 3, "worker-class": "gthread", "threads": 2}'}),
    ("uwsgi", {}), ("waitress", {}), ("daphne", {}), ("uvicorn", {}),
], ids=["gunicorn-sync", "gunicorn-gthread", "uwsgi", "waitress", "daphne", "uvicorn"])
def test_the_app_is_loaded_once_for_the_warmup_and_every_worker(tmp_path: Path, server: str,
                                                                variables: dict[str, str]) -> None:
    spec = SERVERS[server]
    workers = 3 if "workers" in variables.get("PROD_ENTRY_PROCESS_WEB_ARGS", "") else spec.workers
    env = web_env(tmp_path, **{**spec.env, **variables})
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        serving = psutil.Process(proc.pid)  # prod-entry exec'd the server: the same process
        wait_until(lambda: len(serving.children()) >= workers, 20, what=f"{workers} workers")
        wait_until(lambda: reader.text.count("warmed up") == workers, 20,
                   what=f"every worker's replay:\n{reader.text}")
        answers = [http_get(f"http://127.0.0.1:{env['PORT']}/healthz") for _ in range(4)]
        output = reader.text
    assert all(answer and answer[0] == 200 for answer in answers), (answers, output)
    assert loaded_by(tmp_path) == [proc.pid], output
    assert "warmup passed in" in output and f"in {spec.where} (" in output, output
    # A server of one process serves from the very process the warmup warmed: nothing to replay there.
    assert output.count("warmed up") == workers, output


def test_without_warmup_every_worker_loads_the_app_itself(tmp_path: Path) -> None:
    """The control: what gunicorn does by itself, and what the test above would see if the master did not load."""
    env = web_env(tmp_path, PROD_ENTRY_WARMUP="0", PROD_ENTRY_PROCESS_WEB_ARGS='{"workers": 2}')
    with spawn(["web"], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        wait_until(lambda: len(loaded_by(tmp_path)) == 2, 20, what="both workers to load the app")
        workers = {child.pid for child in workers_of(psutil.Process(proc.pid))}
    assert set(loaded_by(tmp_path)) == workers, loaded_by(tmp_path)


OFF = {"PROD_ENTRY_WARMUP_IN_SERVER": "0"}


@pytest.mark.parametrize("server, variables", [
    ("gunicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '["--preload"]'}),
    ("gunicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '["--reload"]'}),
    ("gunicorn", OFF),
    ("uwsgi", {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"processes": 2, "lazy-apps": true}'}),
    ("uwsgi", OFF), ("waitress", OFF), ("daphne", OFF),
    ("uvicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '["--workers", "2"]'}),
    ("uvicorn", {"PROD_ENTRY_PROCESS_WEB_ARGS": '["--reload"]'}), ("uvicorn", OFF),
], ids=["gunicorn-preload", "gunicorn-reload", "gunicorn-off", "uwsgi-lazy-apps", "uwsgi-off", "waitress-off",
        "daphne-off", "uvicorn-workers", "uvicorn-reload", "uvicorn-off"])
def test_where_the_server_cannot_or_must_not_warm_up_the_child_does_before_exec(tmp_path: Path, server: str,
                                                                              variables: dict[str, str]) -> None:
    """gunicorn would import the app before any hook (preload), a worker must read the code anew (reload,
    uWSGI's lazy-apps), uvicorn's workers are processes it spawns (which import everything anew), or the user
    said so: prod-entry's child warms up before exec, as for a server that
    cannot warm up itself, and the server replays the warmup's requests. Also the control of the test above:
    the app is loaded again."""
    env = web_env(tmp_path, **{**SERVERS[server].env, **variables})
    show = run(["show", "web"], env, EXAMPLE)
    assert show.returncode == 0 and "warmup:  in a child of prod-entry, before exec" in show.stdout, describe(show)
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        output = reader.wait_for("warmed up")
    assert "warmup passed in" in output and f"in {SERVERS[server].where}" not in output, output
    loaded = loaded_by(tmp_path)
    assert len(loaded) >= 2 and loaded[0] != proc.pid, (loaded, output)  # the child loaded first


@pytest.mark.parametrize("server", list(SERVERS))
def test_show_says_where_the_warmup_runs(tmp_path: Path, server: str) -> None:
    env = web_env(tmp_path, **SERVERS[server].env)
    proc = run(["show", "web"], env, EXAMPLE)
    assert proc.returncode == 0 and f"warmup:  in {SERVERS[server].where} (" in proc.stdout, describe(proc)
    proc = run(["show", "web"], {**env, "PROD_ENTRY_WARMUP": "0"}, EXAMPLE)
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


@pytest.mark.parametrize("server, case", [(server, case) for server in SERVERS for case in BROKEN] +
                         [("uvicorn", case) for case in BROKEN_ASGI])
def test_a_broken_app_exits_3_with_one_line_and_nothing_ever_answers(tmp_path: Path, case: str, server: str) -> None:
    variables, needle = {**BROKEN, **BROKEN_ASGI}[case]
    env = web_env(tmp_path, **{**SERVERS[server].env, **variables})
    with knocking(int(env["PORT"])) as answered:
        started = subprocess.Popen([PROD_ENTRY, "web"], env=env, cwd=EXAMPLE, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc = subprocess.CompletedProcess(started.args, 0, *started.communicate(timeout=30))
        proc.returncode = started.returncode
    assert proc.returncode == 3, describe(proc)
    assert needle in one_error_line(proc), describe(proc)
    assert answered == [] and LISTENING[server] not in proc.stderr + proc.stdout, (answered, describe(proc))
    with socket.socket() as probe:  # nothing left bound either
        probe.bind(("0.0.0.0", int(env["PORT"])))
    # Loaded by the server's process (prod-entry exec'd it: the same pid), if at all; by no worker, no child.
    assert set(loaded_by(tmp_path)) <= {started.pid}, (loaded_by(tmp_path), started.pid)


@pytest.mark.parametrize("server", list(SERVERS))
def test_term_during_the_warmup_in_the_server_exits_143_with_one_line(tmp_path: Path, server: str) -> None:
    marker = tmp_path / "slow-view-running"
    env = web_env(tmp_path, **SERVERS[server].env, PROD_ENTRY_HEALTHCHECK_URL="/slow/120",
                  PROD_ENTRY_WARMUP_TIMEOUT="300", EXAMPLE_SLOW_MARKER=str(marker))
    with knocking(int(env["PORT"])) as answered, spawn(["web"], env, EXAMPLE) as proc:
        wait_until(marker.exists, 30, what="the warmup to reach the slow view")
        proc.send_signal(signal.SIGTERM)  # the server's process: prod-entry exec'd it
        code = proc.wait(timeout=10)
        output = output_of(proc)
    assert code == 128 + signal.SIGTERM, f"exit {code}\n{output}"
    lines = output.strip().splitlines()
    assert lines[-1] == "prod-entry: error: stopped by SIGTERM during warmup", output
    assert "Traceback" not in output and answered == [], (answered, output)
    assert loaded_by(tmp_path) == [proc.pid], loaded_by(tmp_path)  # it was the server's process warming up


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_the_workers_fork_with_what_the_warmup_loaded_frozen(tmp_path: Path, server: str) -> None:
    """gc.freeze() in the master before the workers fork: their collections leave the inherited objects (and
    their pages) alone. The control, the warmup in a child before exec, freezes nothing."""
    for variables, frozen in (({}, True), (OFF, False)):
        env = web_env(tmp_path, **{**SERVERS[server].env, **variables})
        with spawn(["web"], env, EXAMPLE) as proc:
            base = f"http://127.0.0.1:{env['PORT']}"
            wait_http(f"{base}/healthz", proc=proc)
            answers = [json.loads(answer[1]) for answer in (http_get(f"{base}/gc-frozen") for _ in range(6)) if answer]
        assert len(answers) == 6, answers
        assert all((answer["gc_frozen"] > 10_000) == frozen for answer in answers), (variables, answers)


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_the_warmups_database_connection_is_closed_before_the_workers_fork(tmp_path: Path, postgres_url: str,
                                                                          server: str) -> None:
    """With persistent connections (CONN_MAX_AGE), the connection the warmup's request opened in the master
    would be inherited by every worker, which would then talk over one socket: it is closed before they fork."""
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    # The session's database is never migrated: the deep checks' migration check is not what this test is about.
    env = web_env(tmp_path, **SERVERS[server].env, DATABASE_URL=postgres_url, DJANGO_CONN_MAX_AGE="600",
                  PROD_ENTRY_HEALTHCHECK_URL="/db", PROD_ENTRY_CHECK_MIGRATIONS="0")
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        base = f"http://127.0.0.1:{env['PORT']}"
        wait_http(f"{base}/healthz", proc=proc)
        answers = [json.loads(answer[1]) for answer in (http_get(f"{base}/db") for _ in range(8)) if answer]
        master = psutil.Process(proc.pid)
        to_postgres = [c for c in master.net_connections("tcp") if c.raddr and c.raddr.port == port]
        output = reader.text
    assert len(answers) == 8 and all(a["backend"] for a in answers), (answers, output)
    assert "warmup passed in" in output and f"in {SERVERS[server].where}" in output, output
    assert to_postgres == [], (to_postgres, output)
    # Each worker has a connection of its own.
    backends_by_worker: dict[int, set[int]] = {}
    for answer in answers:
        backends_by_worker.setdefault(answer["pid"], set()).add(answer["backend"])
    all_backends = [b for backends in backends_by_worker.values() for b in backends]
    assert len(all_backends) == len(set(all_backends)), backends_by_worker
