"""When the main process dies from a signal no one in the container sent (kill -9 from outside, the OOM killer),
the supervisor says what died and why, in one line, and still exits 128+N. Before: exit 137 and nothing said.
Real PID namespaces, a real gunicorn, a real memory cgroup with the kernel's own OOM killer."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from pid1_support import UNSHARE, require_unshare, spawn_pid1
from support import PROD_ENTRY, EXAMPLE, base_env, example_env, free_port, wait_http, wait_until


def test_a_master_killed_from_outside_is_named_with_its_signal() -> None:
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_WARMUP="0")
    with spawn_pid1(["web", "--workers=1"], env, EXAMPLE) as (proc, pid1, lines):
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        master = psutil.Process(pid1).children()[0]
        os.kill(master.pid, signal.SIGKILL)
        assert proc.wait(30) == 137, lines.rest(1)
        said = lines.rest(2)
    assert "prod-entry: error: the main process (gunicorn, pid" in said and "was killed by SIGKILL" in said, said
    assert "OOM" not in said, said


def test_a_term_we_passed_on_is_no_news() -> None:
    """The supervisor's own forwarded TERM killing a process without a TERM handler: 143, and no error line."""
    with spawn_pid1(["command", "sleep", "60"], base_env()) as (proc, pid1, lines):
        wait_until(lambda: psutil.Process(pid1).children(), 10, what="sleep to start")
        time.sleep(0.2)
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 143, lines.rest(1)
        assert "was killed by" not in lines.rest(1)


def own_memory_cgroup() -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    pytest.skip("no cgroup v1 memory controller on this machine")


def test_the_oom_killer_is_named_from_the_cgroups_own_count(tmp_path: Path) -> None:
    """A child memory cgroup of our own with a 96 MiB limit; the main process allocates past it. Made under
    the test's own cgroup and removed when empty, as ENVIRONMENT.md asks."""
    require_unshare()
    parent = own_memory_cgroup()
    if os.geteuid() != 0 or not os.access(parent, os.W_OK):
        pytest.skip(f"cannot make a child memory cgroup under {parent} (needs root)")
    group = parent / f"prod-entry-oom-{os.getpid()}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(96 * 1024 * 1024))
        hog = "chunks = [b'x' * (8 << 20) for _ in range(64)]"  # 512 MiB, every page touched
        proc = subprocess.run([*UNSHARE, PROD_ENTRY, "command", "python3", "-c", hog], env=base_env(),
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())))
    finally:
        wait_until(lambda: not (group / "cgroup.procs").read_text().strip(), 30, what="the cgroup to empty")
        group.rmdir()
    assert proc.returncode == 137, proc.stderr
    assert "the main process (python3, pid" in proc.stderr and "killed by SIGKILL (the OOM killer: " \
        "memory.oom_control oom_kill 1;" in proc.stderr, proc.stderr
