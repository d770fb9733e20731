"""A real gunicorn serving the example Django app under a real PID 1: TERM is a graceful stop, in-flight
requests all finish, and during PROD_ENTRY_SHUTDOWN_DELAY new requests are still served."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from pid1_support import run_inside, spawn_pid1
from support import EXAMPLE, describe, draining_markers, example_env, free_port, http_get, wait_http, wait_until

IN_FLIGHT = 200


def gunicorn_args(port: int, threads: int = 4) -> list[str]:
    # One gthread worker with more threads than requests, so every request is inside the view at once.
    return ["web", f"--bind=127.0.0.1:{port}", "--worker-class=gthread", "--workers=1", f"--threads={threads}",
            "--graceful-timeout=30"]


def test_term_stops_gunicorn_gracefully() -> None:
    port = free_port()
    with spawn_pid1(gunicorn_args(port), example_env(), EXAMPLE) as (proc, pid1, lines):
        assert wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)[0] == 200
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 0, lines.rest()
    output = lines.rest()
    assert "Handling signal: term" in output and "Shutting down: Master" in output, output


@pytest.mark.slow
def test_in_flight_requests_all_finish_and_new_ones_are_served_during_the_delay(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = example_env(PROD_ENTRY_SHUTDOWN_DELAY="2", PROD_ENTRY_STATE_DIR=str(tmp_path / "state"))
    results: list[tuple[int, str] | None] = []

    def slow_request() -> None:
        results.append(http_get(f"{base}/slow/4", timeout=60))

    with spawn_pid1(gunicorn_args(port, threads=IN_FLIGHT + 16), env, EXAMPLE) as (proc, pid1, lines):
        wait_http(f"{base}/healthz", proc=proc)
        clients = [threading.Thread(target=slow_request) for _ in range(IN_FLIGHT)]
        for client in clients:
            client.start()
        wait_until(lambda: http_get(f"{base}/inflight") == (200, f"{IN_FLIGHT}\n"), 30,
                   what=f"{IN_FLIGHT} requests in flight")
        os.kill(pid1, signal.SIGTERM)
        wait_until(lambda: draining_markers(tmp_path / "state"), 10, what="the draining marker")
        assert http_get(f"{base}/healthz") == (200, "ok\n"), "a new request during the delay was not served"
        probe = run_inside(pid1, ["healthcheck"], env, cwd=EXAMPLE)
        assert probe.returncode != 0 and "draining" in probe.stderr, describe(probe)
        for client in clients:
            client.join(60)
        assert proc.wait(60) == 0, lines.rest()
    statuses = [result[0] if result else None for result in results]
    assert statuses == [200] * IN_FLIGHT, f"{statuses.count(200)} of {IN_FLIGHT} answered 200:\n{lines.rest()}"
    assert not draining_markers(tmp_path / "state"), "the draining marker outlived prod-entry"
