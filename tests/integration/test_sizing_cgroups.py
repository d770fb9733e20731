"""Sizing under real cgroup limits on the host: the test makes a child cgroup under its own (v1 cpu and memory,
as on this machine's hybrid hierarchy), sets a CPU quota and a memory limit there, runs prod-entry in it, and
checks the counts `show` prints and, for one limit, the gunicorn workers that really start. It never moves a
process out of the cgroup it started in, and removes the cgroups it made once they are empty."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from support import EXAMPLE, PROD_ENTRY, Reader, describe, example_env, free_port, spawn, wait_http, wait_until

MiB = 2**20
CGROUPS = Path("/sys/fs/cgroup")
CPUS = len(os.sched_getaffinity(0))
# The shell puts itself into the two cgroups named by its first arguments, then execs the rest (prod-entry ...).
ENTER = 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"'


def own(controller: str) -> Path | None:
    """This process's v1 cgroup directory for `controller`, if that hierarchy is mounted."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            directory = CGROUPS / controller / path.lstrip("/")
            return directory if directory.is_dir() else None
    return None


def cannot_make_cgroups() -> str | None:
    if os.geteuid() != 0:
        return "making a cgroup needs root"
    if own("cpu") is None or own("memory") is None:
        return "no cgroup v1 cpu and memory hierarchies here (a pure v2 host forbids a child with processes " \
               "under a cgroup that has some itself)"
    return None


pytestmark = pytest.mark.skipif(cannot_make_cgroups() is not None, reason=str(cannot_make_cgroups()))


@contextlib.contextmanager
def limited(cpu: float | None, memory_mib: int | None) -> Iterator[list[str]]:
    """A child cgroup under our own in the cpu and memory hierarchies, with these limits; yields the argv prefix
    that runs a command inside it."""
    name = f"prod-entry-test-{uuid.uuid4().hex[:8]}"
    made: list[Path] = []
    try:
        for controller in ("cpu", "memory"):
            parent = own(controller)
            assert parent is not None
            (parent / name).mkdir()
            made.append(parent / name)
        cpu_dir, memory_dir = made
        if cpu is not None:
            (cpu_dir / "cpu.cfs_period_us").write_text("100000")
            (cpu_dir / "cpu.cfs_quota_us").write_text(str(int(cpu * 100000)))
        if memory_mib is not None:
            (memory_dir / "memory.limit_in_bytes").write_text(str(memory_mib * MiB))
        yield ["sh", "-c", ENTER, "sh", *map(str, made)]
    finally:
        for directory in made:
            wait_until(lambda d=directory: not (d / "cgroup.procs").read_text().strip(), 10,
                       what=f"{directory} to empty")
            directory.rmdir()


def run_in(prefix: list[str], args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, PROD_ENTRY, *args], env=env, cwd=EXAMPLE, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def shown_count(proc: subprocess.CompletedProcess, name: str) -> tuple[int, str]:
    """(N, why) from show's `  NAME: N  (why)` line."""
    assert proc.returncode == 0, describe(proc)
    found = re.search(rf"^  {name}: (\d+)  \((.*)\)$", proc.stdout, re.MULTILINE)
    assert found, describe(proc)
    return int(found[1]), found[2]


def test_enter_puts_the_command_in_the_child_cgroups() -> None:
    with limited(0.5, 128) as prefix:
        proc = subprocess.run([*prefix, "cat", "/proc/self/cgroup"], capture_output=True, text=True, timeout=10)
        name = Path(prefix[4]).name
        assert proc.returncode == 0 and proc.stdout.count(name) == 2, describe(proc)


# cpu quota, memory limit (MiB; None: none of ours, the host's memory) -> gunicorn sync workers
@pytest.mark.parametrize("cpu, memory, workers, why", [
    (0.5, 128, 1, "2 x 0.5 + 1 = 2, but the memory fits 1"),
    (0.5, None, 2, "2 x 0.5 + 1"),
    (1, 512, 3, "2 x 1 + 1"),
    (1, 192, 2, "2 x 1 + 1 = 3, but the memory fits 2"),
])
def test_show_web_sizes_gunicorn_by_the_cgroup_limits(cpu: float, memory: int | None, workers: int, why: str) -> None:
    with limited(cpu, memory) as prefix:
        count, reason = shown_count(run_in(prefix, ["show", "web"], example_env()), "workers")
    print(f"cpu {cpu}, memory {memory} MiB -> {count} workers ({reason})")
    assert count == workers and why in reason, reason
    assert f"cpu {cpu:g} (cgroup v1 cpu.cfs_quota_us)" in reason
    if memory:
        assert f"memory {memory} MiB (cgroup v1 memory.limit_in_bytes)" in reason


@pytest.mark.parametrize("env, workers, origin", [
    ({"WEB_CONCURRENCY": "4"}, 4, "WEB_CONCURRENCY: yours"),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--workers=5"}, 5, "env PROD_ENTRY_PROCESS_WEB_ARGS: yours"),
    ({"GUNICORN_CMD_ARGS": "-w 6", "WEB_CONCURRENCY": "4"}, 6, "GUNICORN_CMD_ARGS: yours"),
    ({"PROD_ENTRY_CONCURRENCY": "7"}, 7, "PROD_ENTRY_CONCURRENCY"),
])
def test_the_users_workers_win_over_the_limits(env: dict[str, str], workers: int, origin: str) -> None:
    with limited(0.5, 128) as prefix:
        shown = run_in(prefix, ["show", "web"], example_env(**env))
    yours = "yours" in origin
    assert shown_count(shown, "workers") == (workers, f"{origin}, not auto-sized" if yours else origin)
    # prod-entry adds a --workers word only for its own count (PROD_ENTRY_CONCURRENCY's is one).
    assert ("sizing (below)" in shown.stdout) != yours, describe(shown)


@pytest.mark.parametrize("cpu, memory, concurrency", [(0.5, 128, 1), (2, 512, min(2, CPUS)), (2, 128, 1)])
def test_show_worker_sizes_celery_prefork(cpu: float, memory: int, concurrency: int) -> None:
    env = example_env(PROD_ENTRY_PROCESS_WORKER="celery-worker")
    with limited(cpu, memory) as prefix:
        shown = run_in(prefix, ["show", "worker"], env)
    count, reason = shown_count(shown, "concurrency")
    print(f"cpu {cpu}, memory {memory} MiB -> --concurrency={count} ({reason})")
    # Not an argv word: the --app wrapper gives the count to the app (unless its configuration sets its own).
    assert count == concurrency and "--concurrency" not in shown.stdout, describe(shown)
    with limited(cpu, memory) as prefix:
        shown = run_in(prefix, ["show", "worker"], {**env, "CELERY_WORKER_CONCURRENCY": "3"})
    assert shown_count(shown, "concurrency") == (3, "CELERY_WORKER_CONCURRENCY: yours, not auto-sized")


def test_gunicorn_starts_the_workers_the_limits_allow() -> None:
    """A real start at 1 CPU and 192 MiB: 2 x 1 + 1 = 3 by the CPU, 2 by the memory; the log says so once, and
    the server's environment carries PYTHON_CPU_COUNT=1."""
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    with limited(1, 192) as prefix, spawn([*prefix[1:], PROD_ENTRY, "web"], env, EXAMPLE, program="sh") as proc:
        output = Reader(proc)
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        wait_until(lambda: output.text.count("warmed up") == 2, 30, what=f"2 workers warmed up:\n{output.text}")
        master = psutil.Process(proc.pid)  # sh exec'd prod-entry, which exec'd gunicorn
        assert Path(prefix[4]).name in Path(f"/proc/{proc.pid}/cgroup").read_text()
        workers = master.children()
        print(f"cpu 1, memory 192 MiB -> {len(workers)} gunicorn workers")
        assert len(workers) == 2, output.text
        assert master.environ().get("PYTHON_CPU_COUNT") == "1"
        lines = [line for line in output.text.splitlines() if "workers: 2 (auto: " in line]
        assert len(lines) == 1 and "the memory fits 2" in lines[0], output.text
        proc.terminate()
        proc.wait(30)
