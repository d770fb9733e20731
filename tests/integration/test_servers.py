"""granian (WSGI and ASGI), hypercorn and daphne serving the example Django app through `prod-entry web`, each
under prod-entry as the PID 1 of a real PID namespace: every worker answers its first real request warm (and
cold without the per-worker warmup), `prod-entry healthcheck` passes, TERM drains the requests in flight and
the server's own exit status comes out; a broken app fails the start with exit 3 before the server runs."""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

from pid1_support import spawn_pid1
from support import EXAMPLE, describe, example_env, first_requests, free_port, http_get, run, wait_http, wait_until


class Server(NamedTuple):
    backend: str
    args: list[str]  # the EXTRA words of `prod-entry web ...`
    workers: int
    env: dict[str, str] = {}


SERVERS = {
    # More blocking threads than requests in flight, so that every request is inside the view at once.
    "granian-wsgi": Server("granian", ["--interface=wsgi", "--workers=2", "--blocking-threads=32"], 2),
    "granian-asgi": Server("granian", ["--interface=asgi", "--workers=2"], 2),
    # One worker: with several, hypercorn's master terminates the others as soon as one has exited (run.py),
    # cutting their requests short (README, "Stopping in time").
    "hypercorn": Server("hypercorn", ["--graceful-timeout=30"], 1),
    # daphne cancels the requests in flight at TERM (server.py kill_all_applications): only the shutdown
    # delay lets them finish (README, "Stopping in time").
    "daphne": Server("daphne", [], 1, {"PROD_ENTRY_SHUTDOWN_DELAY": "4"}),
}
IN_FLIGHT = 12
SLOW = 2  # seconds each request in flight takes


def server_env(server: Server, port: int, **extra: str) -> dict[str, str]:
    return example_env(PROD_ENTRY_PROCESS_WEB=server.backend, PORT=str(port), PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                       **server.env, **extra)


def in_flight(base: str, seen: dict[str, int]) -> int:
    """The /slow requests in flight, added up over the workers that answered /inflight so far."""
    with urllib.request.urlopen(f"{base}/inflight", timeout=5) as response:
        seen[response.headers["X-Pid"]] = int(response.read())
    return sum(seen.values())


@pytest.mark.parametrize("name", SERVERS)
def test_warm_workers_healthcheck_and_a_term_that_loses_no_request(name: str, tmp_path: Path) -> None:
    server = SERVERS[name]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(server, port, PROD_ENTRY_STATE_DIR=str(tmp_path / "state"))
    results: list[tuple[int, str] | None] = []
    with spawn_pid1(["web", *server.args], env, EXAMPLE) as (proc, pid1, lines):
        # Ready: a 404 goes through no view, so it leaves the workers' counters alone.
        wait_http(f"{base}/nothing-here", 30, proc=proc)
        served = first_requests(base, server.workers)
        assert len(served) == server.workers and all(before >= 1 for before in served.values()), \
            f"{served}\n{lines.rest(1)}"
        assert http_get(f"{base}/healthz") == (200, "ok\n")
        probe = run(["healthcheck"], env, EXAMPLE)
        assert probe.returncode == 0, describe(probe)

        clients = [threading.Thread(target=lambda: results.append(http_get(f"{base}/slow/{SLOW}", timeout=60)))
                   for _ in range(IN_FLIGHT)]
        for client in clients:
            client.start()
        seen: dict[str, int] = {}
        wait_until(lambda: in_flight(base, seen) == IN_FLIGHT, 30, what=f"{IN_FLIGHT} requests in flight")
        os.kill(pid1, signal.SIGTERM)
        for client in clients:
            client.join(60)
        code = proc.wait(60)
    output = lines.rest(1)
    statuses = [result[0] if result else None for result in results]
    assert statuses == [200] * IN_FLIGHT, f"{statuses.count(200)} of {IN_FLIGHT} answered 200:\n{output}"
    assert code == 0, f"exit {code}\n{output}"


def test_hypercorn_workers_all_answer_warm() -> None:
    port = free_port()
    env = server_env(SERVERS["hypercorn"], port)
    with spawn_pid1(["web", "--workers=2"], env, EXAMPLE) as (proc, pid1, lines):
        wait_http(f"http://127.0.0.1:{port}/nothing-here", 30, proc=proc)
        served = first_requests(f"http://127.0.0.1:{port}", 2)
        assert len(served) == 2 and all(before >= 1 for before in served.values()), f"{served}\n{lines.rest(1)}"


# daphne's one process is the one the warmup handed over ran in (its wrapper, as daphne imports it): the
# warmup's own request was its first. The others' workers import the app themselves.
INHERITED = {"daphne": 1}


@pytest.mark.parametrize("name", SERVERS)
def test_without_the_worker_warmup_the_worker_serves_no_request_first(name: str) -> None:
    server = SERVERS[name]
    port = free_port()
    env = server_env(server, port, PROD_ENTRY_WARMUP_WORKERS="0")
    args = [w for w in server.args if not w.startswith("--workers")]
    with spawn_pid1(["web", *args], env, EXAMPLE) as (proc, pid1, lines):
        wait_http(f"http://127.0.0.1:{port}/nothing-here", 30, proc=proc)
        assert list(first_requests(f"http://127.0.0.1:{port}", 1).values()) == [INHERITED.get(name, 0)], \
            lines.rest(1)


@pytest.mark.parametrize("name", SERVERS)
@pytest.mark.parametrize("broken, expected", [
    ({"PROD_ENTRY_PROCESS_WEB_APP": "example.nowhere:application"}, "importing example.nowhere"),
    ({"PROD_ENTRY_HEALTHCHECK_URL": "/boom"}, "GET /boom (Host localhost) answered 500"),
])
def test_a_broken_app_exits_3_with_one_line_before_the_server_starts(name: str, broken: dict[str, str],
                                                                      expected: str) -> None:
    server = SERVERS[name]
    port = free_port()
    proc = run(["web", *server.args], {**server_env(server, port), **broken}, EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, describe(proc)
    assert proc.stdout == "", describe(proc)  # the server never printed a line: it never ran
