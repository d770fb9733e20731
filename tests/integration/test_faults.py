"""Disk faults, made real in a private mount namespace (`unshare --mount`): a tmpfs filled to its last block
and inode, or a read-only bind mount. The supervisor's draining marker, its log lines and a Celery worker's
heartbeat file land there; each failure is one clear line, and the running server or worker carries on. And no
writable temporary directory at all (`docker run --read-only`, no tmpfs): found before gunicorn starts."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from pid1_support import UNSHARE, Lines, require_unshare, restarted, run_inside
from support import (EXAMPLE, PROD_ENTRY, base_env, describe, draining_markers, example_env, free_port, http_get,
                     one_error_line, spawn, wait_http, wait_until)

# Runs first in the new mount namespace, then execs the rest of its arguments. $FAULT_DIR becomes:
#   full       a 64 KiB tmpfs with no block and no inode left (writes and file creation: ENOSPC)
#   read-only  a read-only bind mount of itself (EROFS)
#   no-data    a tmpfs with no block left but inodes free (files can be created, not written)
# With STDERR_IN_FAULT_DIR=1, stderr goes to a file there (on a full disk: every log line fails).
MAKE_FAULT = """
set -e
case "$FAULT" in
full|no-data)
    mount -t tmpfs -o size=64k,nr_inodes=64 prod-entry-fault "$FAULT_DIR"
    : > "$FAULT_DIR/log"
    dd if=/dev/zero of="$FAULT_DIR/fill" bs=4k 2>/dev/null || true
    if [ "$FAULT" = full ]; then
        i=0; while touch "$FAULT_DIR/inode$i" 2>/dev/null; do i=$((i+1)); done
    fi ;;
read-only)
    mount --bind "$FAULT_DIR" "$FAULT_DIR"
    mount -o remount,bind,ro "$FAULT_DIR" ;;
esac
if [ "$STDERR_IN_FAULT_DIR" = 1 ]; then exec "$@" 2>>"$FAULT_DIR/log"; fi
exec "$@"
"""


def require_mounts() -> None:
    require_unshare()
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace (needs root): {probe.stderr.strip()}")


@pytest.fixture
def fault_dir(tmp_path: Path) -> Path:
    require_mounts()
    path = tmp_path / "fault"
    path.mkdir()
    return path


def under_fault(fault: str, fault_dir: Path, argv: list[str], pid_namespace: bool) -> list[str]:
    namespace = [*UNSHARE] if pid_namespace else ["unshare", "--mount"]
    return [*namespace, "env", f"FAULT={fault}", f"FAULT_DIR={fault_dir}", "sh", "-c", MAKE_FAULT, "sh", *argv]


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_draining_marker_on_a_broken_disk(fault: str, fault_dir: Path) -> None:
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_SHUTDOWN_DELAY="2", PROD_ENTRY_STATE_DIR=str(fault_dir / "state"),
                      PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    argv = under_fault(fault, fault_dir, [PROD_ENTRY, "web", "--workers=1"], pid_namespace=True)
    with spawn(argv[1:], env, EXAMPLE, program=argv[0]) as proc:
        lines = Lines(proc)
        pid1 = wait_until(lambda: psutil.Process(proc.pid).children(), 10, what="unshare's child")[0].pid
        wait_until(lambda: restarted(pid1), 30, 0.01, "the supervisor to restart lean")
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        os.kill(pid1, signal.SIGTERM)
        line = wait_for_line(lines, "prod-entry: warning: cannot write the draining marker", 30)
        reason = "No space left on device" if fault == "full" else "Read-only file system"
        assert reason in line and "set PROD_ENTRY_STATE_DIR to a writable directory" in line, line
        # Still serving through the shutdown delay, marker or not.
        assert (http_get(f"http://127.0.0.1:{port}/healthz") or (None,))[0] == 200, lines.rest()
        assert proc.wait(30) == 0, lines.rest()
    output = lines.rest()
    assert "Traceback" not in output, output


def test_draining_marker_without_room_for_its_content(fault_dir: Path) -> None:
    """No block left but an inode free: the marker is created empty, and that is all health checks need."""
    env = example_env(PROD_ENTRY_SHUTDOWN_DELAY="30", PROD_ENTRY_STATE_DIR=str(fault_dir))
    argv = under_fault("no-data", fault_dir, [PROD_ENTRY, "command", "sleep", "1000"], pid_namespace=True)
    with spawn(argv[1:], env, EXAMPLE, program=argv[0]) as proc:
        lines = Lines(proc)
        pid1 = wait_until(lambda: psutil.Process(proc.pid).children(), 10, what="unshare's child")[0].pid
        wait_until(lambda: restarted(pid1), 30, 0.01, "the supervisor to restart lean")
        os.kill(pid1, signal.SIGTERM)
        wait_for_line(lines, "prod-entry: TERM received", 30)
        # Seen through the supervisor's mount namespace.
        wait_until(lambda: draining_markers(Path(f"/proc/{pid1}/root{fault_dir}")), 10, what="the draining marker")
        probe = run_inside(pid1, ["healthcheck", "command"], env, EXAMPLE, mount=True)
        assert probe.returncode == 1 and "not ready: draining" in probe.stderr, probe.stderr
        os.kill(pid1, signal.SIGTERM)  # a second TERM ends the delay
        assert proc.wait(30) == 128 + signal.SIGTERM, lines.rest()
    output = lines.rest()
    assert "Traceback" not in output and "cannot write the draining marker" not in output, output


def test_log_lines_to_a_full_disk(fault_dir: Path) -> None:
    """prod-entry's stderr (and the server's) is a file on a full disk: every log line fails; nothing else does."""
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_SHUTDOWN_DELAY="1", PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                      PROD_ENTRY_STATE_DIR=str(fault_dir / "state"), STDERR_IN_FAULT_DIR="1",
                      PROD_ENTRY_LOG_LEVEL="debug")
    argv = under_fault("full", fault_dir, [PROD_ENTRY, "web", "--workers=1"], pid_namespace=True)
    with spawn(argv[1:], env, EXAMPLE, program=argv[0]) as proc:
        pid1 = wait_until(lambda: psutil.Process(proc.pid).children(), 10, what="unshare's child")[0].pid
        wait_until(lambda: restarted(pid1), 30, 0.01, "the supervisor to restart lean")
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        assert http_get(f"http://127.0.0.1:{port}/whoami") is not None
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stdout.read() if proc.stdout else ""


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_celery_heartbeat_on_a_broken_disk(fault: str, fault_dir: Path, redis_url: str) -> None:
    beat = fault_dir / "heartbeat"
    env = example_env(PROD_ENTRY_PROCESS_WORKER="celery-worker", CELERY_BROKER_URL=redis_url,
                      PROD_ENTRY_HEARTBEAT_FILE=str(beat), PROD_ENTRY_HEARTBEAT_INTERVAL="0.5")
    argv = under_fault(fault, fault_dir, [PROD_ENTRY, "worker", "--concurrency=1"], pid_namespace=False)
    with spawn(argv[1:], env, EXAMPLE, program=argv[0]) as proc:
        lines = Lines(proc)
        line = wait_for_line(lines, "prod-entry: error: cannot touch the heartbeat file", 60)
        reason = "No space left on device" if fault == "full" else "Read-only file system"
        assert reason in line and "PROD_ENTRY_HEARTBEAT_FILE" in line, line
        inside = ["nsenter", f"--target={proc.pid}", "--mount"]  # the worker's mount namespace
        probe_argv = [*inside, PROD_ENTRY, "healthcheck", "worker", "--file", str(beat), "--max-age", "5"]
        probe = subprocess.run(probe_argv, env=env, cwd=EXAMPLE, capture_output=True, text=True, timeout=30)
        assert probe.returncode == 1 and "does not exist" in probe.stderr, probe.stderr  # the fault shows
        if fault == "full":
            # Room again: the timer kept running, so the heartbeat comes back by itself.
            subprocess.run([*inside, "sh", "-c", f"rm {fault_dir}/inode*"], check=True)
            wait_for_line(lines, "is written again", 30)
            probe = subprocess.run(probe_argv, env=env, cwd=EXAMPLE, capture_output=True, text=True, timeout=30)
            assert probe.returncode == 0, probe.stderr
        assert proc.poll() is None, lines.rest()
        proc.send_signal(signal.SIGTERM)  # warm shutdown: removing the heartbeat may fail too, quietly
        assert proc.wait(60) == 0, lines.rest()
    output = lines.rest()
    assert output.count("cannot touch the heartbeat file") == 1, output  # once, not every half second
    assert "Traceback" not in output and "raised" not in output, output


def wait_for_line(lines: Lines, text: str, timeout: float) -> str:
    while True:
        line = lines.next(timeout, skip_own=False)
        if text in line:
            return line



@pytest.mark.parametrize(("as_pid1", "variables", "code"), [
    (False, {"PROD_ENTRY_LOG_FORMAT": "xml"}, 2),  # the error line is lost, not the status
    (False, {"PROD_ENTRY_LOG_LEVEL": "debug"}, 3),  # the `exec ...` line is lost, not the exec
    (True, {"PROD_ENTRY_LOG_LEVEL": "debug"}, 3),  # the supervisor's lines are lost, not its status
], ids=["config error", "exec", "supervisor"])
def test_exit_status_survives_a_full_stderr(as_pid1: bool, variables: dict[str, str], code: int) -> None:
    """stderr is /dev/full (every write: ENOSPC). The status is still the documented one; Python would turn a
    failed flush at exit into 120."""
    if as_pid1:
        require_unshare()
    argv = [*(UNSHARE if as_pid1 else []), PROD_ENTRY, "command", "sh", "-c", "exit 3"]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(argv, env=base_env(**variables), stderr=full, stdout=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, timeout=30)
    assert proc.returncode == code


def test_no_writable_temporary_directory_is_found_before_gunicorn_starts() -> None:
    """`docker run --read-only` with no tmpfs: gunicorn would die on its first worker with `FileNotFoundError: No
    usable temporary directory` (exit 255 here); prod-entry says why before exec, exit 2."""
    require_mounts()
    read_only = 'for d in /tmp /var/tmp "$PWD"; do mount --bind "$d" "$d" && mount -o remount,bind,ro "$d"; done; ' \
                'exec "$@"'
    env = {k: v for k, v in example_env(PORT=str(free_port())).items() if k not in ("TMPDIR", "TEMP", "TMP")}
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", read_only, "sh", PROD_ENTRY, "web"], env=env, cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, describe(proc)
    line = one_error_line(proc)
    assert "no writable temporary directory" in line and "--tmpfs /tmp" in line and "TMPDIR" in line, line
    assert "gunicorn" in line and "Starting gunicorn" not in proc.stderr, describe(proc)
