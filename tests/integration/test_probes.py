"""`prod-entry healthcheck`, the heartbeat file, the port check and PROD_ENTRY_WAIT_FOR, with real processes."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

from entrypoint.init import state
from support import EXAMPLE, base_env, describe, example_env, free_port, run, spawn, wait_http, wait_until


def test_healthcheck_passes_against_the_running_server_and_fails_after_it_stops(tmp_path: Path) -> None:
    env = example_env(PORT=str(free_port()), PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                      PROD_ENTRY_STATE_DIR=str(tmp_path))
    with spawn(["web"], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        probe = run(["healthcheck"], env, EXAMPLE)
        assert probe.returncode == 0, describe(probe)
        assert f"GET http://127.0.0.1:{env['PORT']}/healthz answered 200" in probe.stdout, describe(probe)
        # The supervisor's shutdown delay: not ready while the marker exists, whatever the server says.
        marker = Path(state.draining_file(env, "web"))  # this test's PID namespace is the probe's
        marker.touch()
        probe = run(["healthcheck", "web"], env, EXAMPLE)
        assert probe.returncode == 1 and "draining" in probe.stderr, describe(probe)
        assert len((probe.stdout + probe.stderr).strip().splitlines()) == 1, describe(probe)
        marker.unlink()
        wrong = run(["healthcheck"], {**env, "PROD_ENTRY_HEALTHCHECK_URL": "/missing"}, EXAMPLE)
        assert wrong.returncode == 1 and "answered 404, expected 200" in wrong.stderr, describe(wrong)
        by_url = run(["healthcheck", "--url", f"http://localhost:{env['PORT']}/whoami"], env, EXAMPLE)
        assert by_url.returncode == 0, describe(by_url)
    probe = run(["healthcheck"], env, EXAMPLE)
    assert probe.returncode == 1 and "Connection refused" in probe.stderr, describe(probe)


def test_healthcheck_sends_a_host_that_allowed_hosts_accepts() -> None:
    # With ALLOWED_HOSTS=[".example.com"], "Host: 127.0.0.1" would get Django's 400.
    env = example_env(PORT=str(free_port()), DJANGO_ALLOWED_HOSTS=".example.com",
                      PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    with spawn(["web"], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        probe = run(["healthcheck"], env, EXAMPLE)
        assert probe.returncode == 0, describe(probe)


def test_healthcheck_of_nothing_defined_is_1_not_2() -> None:
    probe = run(["healthcheck", "nope"], base_env(), EXAMPLE)
    assert probe.returncode == 1 and "no process 'nope'" in probe.stderr, describe(probe)


def test_celery_heartbeat_is_fresh_while_the_worker_runs(redis_url: str, tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    env = example_env(PROD_ENTRY_PROCESS_WORKER="celery-worker", CELERY_BROKER_URL=redis_url,
                      PROD_ENTRY_HEARTBEAT_FILE=str(beat), PROD_ENTRY_HEARTBEAT_INTERVAL="1",
                      PROD_ENTRY_STATE_DIR=str(tmp_path))
    probe_args = ["healthcheck", "worker", "--file", str(beat), "--max-age", "3"]
    with spawn(["worker", "--concurrency=1"], env, EXAMPLE) as proc:
        wait_until(beat.exists, 60, what="the worker's first heartbeat")
        first = beat.stat().st_mtime
        # The heartbeat keeps being touched, on the worker's own timer.
        wait_until(lambda: beat.stat().st_mtime > first, 10, what="a second heartbeat")
        probe = run(probe_args, env, EXAMPLE)
        assert probe.returncode == 0 and "healthy: heartbeat" in probe.stdout, describe(probe)
        assert proc.poll() is None
        # The defaults (PROD_ENTRY_HEARTBEAT_FILE, a worker process) find the same file.
        probe = run(["healthcheck", "worker"], env, EXAMPLE)
        assert probe.returncode == 0, describe(probe)


def test_stale_and_missing_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    probe = run(["healthcheck", "worker", "--file", str(beat), "--max-age", "30"], base_env(), EXAMPLE)
    assert probe.returncode == 1 and "does not exist" in probe.stderr, describe(probe)
    beat.touch()
    old = time.time() - 120
    os.utime(beat, (old, old))
    probe = run(["healthcheck", "worker", "--file", str(beat), "--max-age", "30"], base_env(), EXAMPLE)
    assert probe.returncode == 1 and "stale heartbeat" in probe.stderr, describe(probe)


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run(["web"], example_env(PORT=str(port)), EXAMPLE)
    assert proc.returncode == 2, describe(proc)
    assert f"0.0.0.0:{port} is already in use" in proc.stderr and "PORT" in proc.stderr, describe(proc)
    assert "warmup" not in proc.stderr and "Listening" not in proc.stderr, describe(proc)


def test_wait_for_a_port_that_starts_listening_later() -> None:
    port = free_port()
    listener = socket.socket()

    def listen_later() -> None:
        time.sleep(2)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    thread = threading.Thread(target=listen_later)
    thread.start()
    try:
        env = example_env(PROD_ENTRY_WAIT_FOR=f"postgres://app:hunter2secret@127.0.0.1:{port}/db",
                          PROD_ENTRY_WAIT_TIMEOUT="30", PROD_ENTRY_HEALTHCHECK_URL="/healthz")
        proc = run(["check"], env, EXAMPLE)
    finally:
        thread.join()
        listener.close()
    assert proc.returncode == 0, describe(proc)
    assert f"waiting for 127.0.0.1:{port}" in proc.stderr, describe(proc)
    assert "every service accepts connections" in proc.stderr, describe(proc)
    assert "hunter2secret" not in proc.stdout + proc.stderr, describe(proc)


def test_wait_for_timeout_exits_4() -> None:
    port = free_port()
    env = base_env(PROD_ENTRY_WAIT_FOR=f"redis://:hunter2secret@127.0.0.1:{port}/0", PROD_ENTRY_WAIT_TIMEOUT="1")
    proc = run(["command", "true"], env, EXAMPLE)
    assert proc.returncode == 4, describe(proc)
    assert f"127.0.0.1:{port} still not accepting connections after 1s" in proc.stderr, describe(proc)
    assert "PROD_ENTRY_WAIT_TIMEOUT" in proc.stderr and "hunter2secret" not in proc.stderr, describe(proc)


def test_term_while_waiting_exits_143() -> None:
    env = base_env(PROD_ENTRY_WAIT_FOR=f"127.0.0.1:{free_port()}", PROD_ENTRY_WAIT_TIMEOUT="120")
    with spawn(["command", "true"], env, EXAMPLE) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "wait-for: waiting for" in line, line
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        rest = proc.stdout.read()
    assert code == 143 and "stopped by SIGTERM during wait-for" in rest, f"exit {code}\n{line}{rest}"
