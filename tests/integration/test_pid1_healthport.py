"""PROD_ENTRY_HEALTH_PORT: /ready and /live served by the PID-1 supervisor itself, over real HTTP, in front of a
real gunicorn and a real Celery worker in a real PID namespace: 503 while the warmup runs, 200 once it passed and
the server answers, 503 from the first moment of a drain; /live failing on a frozen server; a worker's /ready
following its heartbeat; nothing woken while idle."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from pid1_support import PRINT_SIGNALS, spawn_pid1
from support import (EXAMPLE, base_env, describe, example_env, free_port, http_get, one_error_line, proc_status, run,
                     spawn, wait_until)

SLEEP = ["command", "sleep", "1000"]


def ask(port: int, path: str, method: str = "GET", body: bytes = b"", timeout: float = 10) -> tuple[int, str, float]:
    """(status, body, seconds) of one request to the health port, over a raw socket (urllib sends no HEAD and
    reads a 405's body as an error)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: probe\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, text = received.decode().partition("\r\n\r\n")
    return int(head.split()[1]), text, time.monotonic() - started


def answer(port: int, path: str) -> tuple[int, str, float] | None:
    """ask(), or None while nothing answers."""
    try:
        return ask(port, path, timeout=5)
    except OSError:
        return None


def status_becomes(port: int, path: str, status: int, timeout: float = 60, saying: str = "") -> tuple[int, str, float]:
    return wait_until(lambda: (r := answer(port, path)) is not None and r[0] == status and saying in r[1] and r,
                      timeout, 0.1, f"{path} to answer {status} {saying}")


@contextlib.contextmanager
def frozen(pid1: int) -> Iterator[None]:
    """SIGSTOP everything below the supervisor (the server and its workers), SIGCONT on the way out."""
    procs = psutil.Process(pid1).children(recursive=True)
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGCONT)


def test_web_ready_after_the_warmup_and_not_from_the_first_moment_of_the_drain(tmp_path: Path) -> None:
    port, health = free_port(), free_port()
    # /slow/3 as a warmup URL: the warmup (in gunicorn's master, before it binds) takes 3 s at least.
    env = example_env(PROD_ENTRY_HEALTH_PORT=str(health), PROD_ENTRY_STATE_DIR=str(tmp_path),
                      PROD_ENTRY_HEALTHCHECK_URL="/healthz", PROD_ENTRY_WARMUP_URLS="/slow/3",
                      PROD_ENTRY_SHUTDOWN_DELAY="30")
    with spawn_pid1(["web", f"--bind=127.0.0.1:{port}", "--workers=1"], env, EXAMPLE) as (proc, pid1, lines):
        status, body, _ = ask(health, "/ready")  # the port listens from the supervisor's start
        assert status == 503 and '"ready": false' in body and "starting" in body, body
        assert http_get(f"http://127.0.0.1:{port}/healthz", timeout=1) is None, "the warmup was over already"
        status, body, _ = ask(health, "/live")
        assert status == 200 and "starting" in body, body  # alive while it warms up: no liveness kill

        status, body, _ = status_becomes(health, "/ready", 200)
        assert f"GET /healthz on 127.0.0.1:{port}: answered 200" in body and body.count("\n") == 1, body
        timings = [ask(health, "/ready")[2] for _ in range(20)]
        assert max(timings) < 0.5, timings
        assert ask(health, "/live")[0] == 200
        status, body, _ = ask(health, "/ready", "HEAD")
        assert status == 200 and body == "", body
        status, body, _ = ask(health, "/ready", "POST", b"x=1")
        assert status == 405 and "only GET and HEAD" in body, body
        assert ask(health, "/metrics")[0] == 404

        os.kill(pid1, signal.SIGTERM)
        status, body, _ = ask(health, "/ready")  # the very next request: no wait for anything
        assert status == 503 and "draining" in body, body
        assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")  # still serving through the delay
        status, body, _ = ask(health, "/live")
        assert status == 200 and "stopping" in body, body
        os.kill(pid1, signal.SIGTERM)  # a second TERM ends the delay
        assert proc.wait(30) == 0, lines.rest()
    assert not list(tmp_path.glob("serving.*")), "the serving file outlived the supervisor"


def test_live_fails_on_a_frozen_server_and_nothing_waits_for_it(tmp_path: Path) -> None:
    port, health = free_port(), free_port()
    env = example_env(PROD_ENTRY_HEALTH_PORT=str(health), PROD_ENTRY_STATE_DIR=str(tmp_path),
                      PROD_ENTRY_HEALTHCHECK_URL="/healthz", PROD_ENTRY_HEALTHCHECK_TIMEOUT="2")
    with spawn_pid1(["web", f"--bind=127.0.0.1:{port}", "--workers=1"], env, EXAMPLE) as (proc, pid1, lines):
        status_becomes(health, "/live", 200)
        status_becomes(health, "/ready", 200)
        with frozen(pid1):
            # A client that says nothing, and a /live that waits for the frozen server: neither holds up a
            # request beside them.
            silent = socket.create_connection(("127.0.0.1", health))
            waiting = socket.create_connection(("127.0.0.1", health))
            waiting.sendall(b"GET /live HTTP/1.1\r\nHost: probe\r\n\r\n")
            status, _, seconds = ask(health, "/nowhere")
            assert status == 404 and seconds < 0.5, seconds
            started = time.monotonic()
            waiting.settimeout(10)
            reply = waiting.recv(65536).decode()
            assert reply.startswith("HTTP/1.1 503") and "no answer within 2s" in reply, reply
            assert 1.9 < time.monotonic() - started < 4, time.monotonic() - started
            silent.settimeout(5)
            assert silent.recv(1) == b"", "the silent client was not dropped"  # after about 1 s
            silent.close()
            waiting.close()
            status, body, _ = ask(health, "/ready")
            assert status == 503 and "no answer within 2s" in body, body
        status_becomes(health, "/live", 200, 30)
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 0, lines.rest()


def test_a_worker_is_ready_while_its_heartbeat_is_fresh(redis_url: str, tmp_path: Path) -> None:
    health = free_port()
    env = example_env(PROD_ENTRY_PROCESS_WORKER="celery-worker", CELERY_BROKER_URL=redis_url,
                      PROD_ENTRY_PROCESS_WORKER_ARGS="--concurrency=1", PROD_ENTRY_HEALTH_PORT=str(health),
                      PROD_ENTRY_STATE_DIR=str(tmp_path), PROD_ENTRY_HEARTBEAT_INTERVAL="1",
                      PROD_ENTRY_HEARTBEAT_MAX_AGE="3", PROD_ENTRY_SHUTDOWN_DELAY="30")
    with spawn_pid1(["worker"], env, EXAMPLE) as (proc, pid1, lines):
        status, body, _ = ask(health, "/ready")
        assert status == 503, body
        assert ask(health, "/live")[0] == 200
        status, body, _ = status_becomes(health, "/ready", 200, 90)
        assert f"heartbeat: {tmp_path / 'heartbeat'} is" in body, body
        with frozen(pid1):
            status, body, _ = status_becomes(health, "/ready", 503, 30)
            assert "stale heartbeat" in body and "max 3s" in body, body
            status, body, _ = ask(health, "/live")
            assert status == 503 and "stale heartbeat" in body, body
        status_becomes(health, "/ready", 200, 30)
        os.kill(pid1, signal.SIGTERM)
        status, body, _ = ask(health, "/ready")
        assert status == 503 and "draining" in body, body
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(60) == 0, lines.rest()


def test_an_idle_supervisor_with_the_health_port_never_wakes_up() -> None:
    health = free_port()
    with spawn_pid1(PRINT_SIGNALS, base_env(PROD_ENTRY_HEALTH_PORT=str(health))) as (_, pid1, lines):
        lines.until("ready")
        status, body, _ = ask(health, "/live")  # served once: nothing of it may linger
        assert status == 200 and "no probe of its own" in body, body
        assert ask(health, "/ready")[0] == 200

        def switches() -> int:
            status = proc_status(pid1)
            return int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])

        time.sleep(0.3)  # the answers' last TCP packets
        before = switches()
        time.sleep(3)  # an observation window, not a wait for anything
        assert switches() == before


def test_outside_pid1_the_health_port_keeps_prod_entry_as_the_parent(tmp_path: Path) -> None:
    health = free_port()
    with spawn(SLEEP, base_env(PROD_ENTRY_HEALTH_PORT=str(health), PROD_ENTRY_STATE_DIR=str(tmp_path))) as proc:
        status_becomes(health, "/live", 200, 30, "has no probe of its own")
        # prod-entry stays the parent; its child (prod-entry itself until its exec) becomes sleep.
        wait_until(lambda: [child.name() for child in psutil.Process(proc.pid).children()] == ["sleep"], 30,
                   what="sleep to run below prod-entry")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM


def test_a_health_port_in_use_stops_the_start() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run(["command", "true"], base_env(PROD_ENTRY_HEALTH_PORT=str(port)))
    assert proc.returncode == 2, describe(proc)
    assert "PROD_ENTRY_HEALTH_PORT" in one_error_line(proc) and "in use" in proc.stderr, describe(proc)
