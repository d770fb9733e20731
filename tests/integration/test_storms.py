"""Storms against a real PID 1 (prod-entry in a new PID namespace): 10,000 signals, a main process that
crashes at once, start after start, and descendants killed behind the supervisor's back. The supervisor
must keep its word every time: forward, reap, exit with the right status, and hold nothing it does not need."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import psutil

from pid1_support import run_pid1, spawn_pid1
from support import ROOT, base_env, describe, wait_until

COUNT_SIGNALS = [sys.executable, str(ROOT / "tests" / "helpers" / "count_signals.py")]
STORM = 10_000
NOT_FORWARDED = {signal.SIGCHLD, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT,
                 signal.SIGTRAP, signal.SIGSYS}
# Everything the supervisor forwards, except the stop signals (the test ends with TERM; INT and QUIT would
# start a stop timeout when one is set).
STORM_SIGNALS = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM,
                                                       signal.SIGINT, signal.SIGQUIT, *NOT_FORWARDED})


def supervisor_state(pid: int) -> tuple[int, list[str]]:
    """(VmRSS in KiB, the sorted list of open fds) of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss, sorted(os.listdir(f"/proc/{pid}/fd"), key=int)


def nothing_pending(pid: int) -> bool:
    """The supervisor has taken every signal sent to it (none left in its thread or process queue)."""
    status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if line.startswith(("SigPnd", "ShdPnd")))
    return int(status["SigPnd"], 16) == 0 and int(status["ShdPnd"], 16) == 0


def send(pid: int, signals: list[int]) -> float:
    started = time.monotonic()
    for sig in signals:
        os.kill(pid, sig)
    return time.monotonic() - started


def test_signal_storm_then_term() -> None:
    rng = random.Random(7)  # the same storm every run
    warmup = [rng.choice(STORM_SIGNALS) for _ in range(200)]
    storm = [rng.choice(STORM_SIGNALS) for _ in range(STORM)]
    with spawn_pid1(COUNT_SIGNALS) as (proc, pid1, lines):
        assert lines.next().startswith("ready (pid: 2)")
        created = psutil.Process(pid1).create_time()
        # A small storm first, so that what the loop allocates once (code paths, caches) is in "before".
        send(pid1, warmup)
        wait_until(lambda: nothing_pending(pid1), 30, 0.01, "the supervisor to take the first signals")
        rss_before, fds_before = supervisor_state(pid1)
        took = send(pid1, storm)
        wait_until(lambda: nothing_pending(pid1), 60, 0.01, "the supervisor to take the storm")
        rss_after, fds_after = supervisor_state(pid1)
        assert psutil.Process(pid1).create_time() == created and proc.poll() is None
        print(f"storm of {STORM} signals sent in {took:.3f}s; supervisor RSS {rss_before} -> {rss_after} KiB, "
              f"fds {fds_before} -> {fds_after}")
        os.kill(pid1, signal.SIGTERM)
        counts = {int(k): v for k, v in json.loads(lines.until("counts ").removeprefix("counts ")).items()}
        assert proc.wait(30) == 128 + signal.SIGTERM, lines.rest()
    output = lines.rest()
    print(f"the child got {sum(counts.values())} signals of {len(warmup) + len(storm)} sent")
    assert "Traceback" not in output and "error" not in output, output
    sent = {sig: (warmup + storm).count(sig) for sig in set(warmup + storm)}
    for sig, number in sent.items():
        if sig >= signal.SIGRTMIN:  # real-time signals queue: each one is forwarded exactly once
            assert counts.get(sig) == number, f"signal {sig}: sent {number}, the child got {counts.get(sig)}"
        else:  # standard signals coalesce while pending: at least one arrives, never more than were sent
            assert 1 <= counts.get(sig, 0) <= number, f"signal {sig}: sent {number}, the child got {counts.get(sig)}"
    assert set(counts) <= set(sent), f"the child got signals nobody sent: {set(counts) - set(sent)}"
    assert fds_after == fds_before == ["0", "1", "2"]
    # Python keeps freed small objects in its own arenas; 10,000 signals must not show up as growth.
    assert rss_after - rss_before < 256, f"supervisor RSS grew from {rss_before} to {rss_after} KiB"


# (what the main process does, the exit status expected from the container)
CRASHES = [
    (["sh", "-c", "exit 1"], 1),
    (["sh", "-c", "exit 2"], 2),
    (["sh", "-c", "exit 3"], 3),
    (["sh", "-c", "exit 42"], 42),
    (["sh", "-c", "exit 125"], 125),
    (["sh", "-c", "exit 255"], 255),
    (["sh", "-c", "kill -HUP $$"], 129),
    (["sh", "-c", "kill -INT $$"], 130),
    (["sh", "-c", "kill -ABRT $$"], 134),
    (["sh", "-c", "kill -KILL $$"], 137),
    (["sh", "-c", "kill -USR1 $$"], 138),
    (["sh", "-c", "kill -SEGV $$"], 139),
    (["sh", "-c", "kill -PIPE $$"], 141),
    (["sh", "-c", "kill -TERM $$"], 143),
    ([sys.executable, "-c", "raise SystemExit(7)"], 7),
    ([sys.executable, "-c", "1 / 0"], 1),
    ([sys.executable, "-c", "import os; os.abort()"], 134),
    (["/no/such/program"], 127),
    ([str(ROOT / "README.md")], 126),  # exists, not executable
    (["sh", "-c", "sleep 5 & exit 9"], 9),  # leaves a child running: the supervisor TERMs it, reaps it, exits 9
]


def test_main_process_crashes_at_once_start_after_start() -> None:
    wrong = []
    for argv, expected in CRASHES:
        proc = run_pid1(argv, base_env(), timeout=60)
        if proc.returncode != expected:
            wrong.append(f"{argv}: expected {expected}\n{describe(proc)}")
        elif "Traceback" in proc.stderr and argv[0] != sys.executable:
            wrong.append(f"{argv}: a traceback\n{describe(proc)}")
    assert len(CRASHES) == 20
    assert not wrong, "\n\n".join(wrong)


# The main process: a middle process starts five `sleep`s and exits (they become PID 1's orphans); five more
# are our own children, which we reap as they die. Then we wait to be stopped.
FAMILY = """
import os, subprocess, time
middle = os.fork()
if middle == 0:
    for _ in range(5):
        subprocess.Popen(["sleep", "1000"])
    os._exit(0)
os.waitpid(middle, 0)
own = [subprocess.Popen(["sleep", "1000"]) for _ in range(5)]
print("family ready", flush=True)
for child in own:
    print("own child", child.pid, "exit", child.wait(), flush=True)
time.sleep(1000)
"""


def zombies_in(pid1: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid1).children(recursive=True) if p.status() == psutil.STATUS_ZOMBIE]


def test_descendants_killed_behind_the_supervisors_back() -> None:
    with spawn_pid1([sys.executable, "-c", FAMILY]) as (proc, pid1, lines):
        lines.until("family ready")
        supervisor = psutil.Process(pid1)
        sleeps = [p for p in supervisor.children(recursive=True) if p.name() == "sleep"]
        orphans = [p for p in supervisor.children() if p.name() == "sleep"]
        assert len(sleeps) == 10 and len(orphans) == 5, [(p.pid, p.ppid(), p.name()) for p in sleeps]
        for sleeper in sleeps:
            sleeper.send_signal(signal.SIGKILL)  # from outside: neither the supervisor nor the program did it
        for _ in range(5):
            assert lines.until("own child").endswith(f"exit {-signal.SIGKILL}")
        wait_until(lambda: not any(p.name() == "sleep" for p in supervisor.children(recursive=True)), 10,
                   what="the killed orphans to be reaped")
        assert zombies_in(pid1) == []
        assert proc.poll() is None, lines.rest()
        # The supervisor's own fds: 0 (stdin, kept for a terminal's hand-over and inherited by nobody new),
        # 1 and 2 (where its log lines go). No pipe, no /proc handle, no file left open by the console
        # script it replaced (the lean restart exec'd over it; Python opens files close-on-exec).
        fds = {fd: os.readlink(f"/proc/{pid1}/fd/{fd}") for fd in os.listdir(f"/proc/{pid1}/fd")}
        assert sorted(fds, key=int) == ["0", "1", "2"], fds
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM, lines.rest()
