"""Figures 3 to 6: prod-entry as a container's PID 1 (a real PID namespace) against tini and dumb-init doing
the same job: memory, signal forwarding latency, reaping a storm of orphans, idle wake-ups."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psutil

from bench.harness import (HELPERS, PROD_ENTRY, PYTHON, UNSHARE, BenchError, Figure, Plan, as_pid1, clean_env,
                           kilobytes, require_unshare, started, status_fields, tool, wait_until)

PROD = "prod-entry"
INITS = (PROD, "tini", "dumb-init")
SLEEP = ["sleep", "1000"]  # a child that does nothing
ECHO = [PYTHON, str(HELPERS / "signal_echo.py")]


def init_argv(init: str, child: list[str]) -> list[str]:
    """The argv that runs `child` under `init`, as a Dockerfile ENTRYPOINT would."""
    if init == PROD:
        return [PROD_ENTRY, "command", *child]
    if init == "tini":
        return [tool("tini"), "--", *child]
    return [tool("dumb-init"), *child]


def role(init: str) -> str:
    return "prod-entry" if init == PROD else "peer"


def is_argv(words: list[str], argv: list[str]) -> bool:
    """Whether a process's command line is `argv` (the program found on PATH or not)."""
    return len(words) == len(argv) and os.path.basename(words[0]) == os.path.basename(argv[0]) and \
        words[1:] == argv[1:]


def child_up(init: str, pid1: int, child: list[str]) -> None:
    """Wait until `child` runs below PID 1; PID 1 must still be the init then, not exec'd into the child."""
    def up() -> bool:
        words = psutil.Process(pid1).cmdline()
        if not words or words[0].endswith("unshare"):
            return False  # forked by unshare, not yet exec'd
        if is_argv(words, child):
            raise BenchError(f"{init} did not stay as PID 1 (it exec'd `{' '.join(child)}`): is the PID-1 "
                             "supervisor (PROD_ENTRY_INIT) in this build?")
        return any(is_argv(proc.cmdline(), child) for proc in psutil.Process(pid1).children())

    wait_until(up, 15, f"`{' '.join(child)}` to start under {init}")


class Lines:
    """Lines from a pipe, read with a timeout (a lost signal must fail the figure, not hang it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.seen: list[bytes] = []

    def next(self, timeout: float = 5) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise BenchError(f"no line within {timeout:g}s; last lines: {self.seen[-5:]}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise BenchError(f"the output ended; last lines: {self.seen[-5:]}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.seen = [*self.seen[-9:], line]
        return line

    def number(self, timeout: float = 5) -> int:
        while True:
            line = self.next(timeout)
            if line.strip().isdigit():  # the init's own log lines are skipped
                return int(line)

    def until(self, text: bytes, timeout: float = 15) -> None:
        while text not in self.next(timeout):
            pass


# --- 3. memory ------------------------------------------------------------------------------------------

def memory(plan: Plan) -> dict[str, Any]:
    require_unshare()
    figure = Figure(3, "Supervisor memory as PID 1 (child up)", "MB", "≤ 10 MB RSS, ≤ 4 MB anonymous RSS",
                    plan.memory_runs)
    rss: dict[str, list[float]] = {init: [] for init in INITS}
    anon: dict[str, list[float]] = {init: [] for init in INITS}
    for _ in range(plan.memory_runs):
        for init in INITS:
            with as_pid1(init_argv(init, SLEEP), clean_env()) as (_, pid1):
                child_up(init, pid1, SLEEP)
                time.sleep(0.3)  # settle: nothing more is loaded once the child runs
                fields = status_fields(pid1)
                rss[init].append(kilobytes(fields["VmRSS"]) / 1024)
                anon[init].append(kilobytes(fields["RssAnon"]) / 1024)
    for init in INITS:
        figure.add(f"{init} RSS", rss[init], role(init))
        figure.add(f"{init} anon RSS", anon[init], role(init))
    ours_rss, ours_anon = figure.get(f"{PROD} RSS")["median"], figure.get(f"{PROD} anon RSS")["median"]
    figure.ratio("prod-entry RSS / tini RSS", ours_rss, figure.get("tini RSS")["median"])
    figure.ratio("prod-entry RSS / dumb-init RSS", ours_rss, figure.get("dumb-init RSS")["median"])
    figure.ratio("prod-entry anon RSS / tini anon RSS", ours_anon, figure.get("tini anon RSS")["median"])
    figure.judge(ours_rss <= 10 and ours_anon <= 4,
                 f"{ours_rss:.1f} MB RSS (goal ≤ 10), {ours_anon:.1f} MB anonymous (goal ≤ 4)")
    return figure.as_dict()


# --- 4. signal forwarding latency -----------------------------------------------------------------------

def output_of(proc: subprocess.Popen) -> int:
    assert proc.stdout is not None, "started with output=PIPE"
    return proc.stdout.fileno()


@contextlib.contextmanager
def echo_child(init: str | None) -> Iterator[tuple[int, Lines]]:
    """The signal-echo child under `init` as PID 1 (yields PID 1's pid), or alone (yields its own pid)."""
    if init is None:
        with started(ECHO, clean_env(), output=subprocess.PIPE) as proc:
            yield proc.pid, Lines(output_of(proc))
        return
    with as_pid1(init_argv(init, ECHO), clean_env(), output=subprocess.PIPE) as (proc, pid1):
        child_up(init, pid1, ECHO)
        yield pid1, Lines(output_of(proc))


def latencies(target: int, lines: Lines, count: int) -> list[float]:
    """µs from kill(target, USR1) to the child's handler, one signal at a time."""
    lines.until(b"ready")
    samples = []
    for _ in range(count):
        sent = time.monotonic_ns()
        os.kill(target, signal.SIGUSR1)
        samples.append((lines.number() - sent) / 1000)
        time.sleep(0.001)  # let the init go back to waiting: the idle path is the one that matters
    return samples


def signal_latency(plan: Plan) -> dict[str, Any]:
    require_unshare()
    figure = Figure(4, f"Signal forward latency ({plan.signals} × SIGUSR1, kill() to the child's handler)",
                    "µs", "p99 ≤ 1 ms and ≤ 3× tini's p99", plan.signals)
    for init in INITS:
        with echo_child(init) as (pid1, lines):
            figure.add(init, latencies(pid1, lines, plan.signals), role(init))
    with echo_child(None) as (pid, lines):
        figure.add("no init (kill the child directly)", latencies(pid, lines, plan.signals), "reference")
    ours, tini = figure.get(PROD), figure.get("tini")
    ratio = figure.ratio("prod-entry p99 / tini p99", ours["p99"], tini["p99"])
    figure.ratio("prod-entry p50 / tini p50", ours["median"], tini["median"])
    figure.ratio("prod-entry p99 / dumb-init p99", ours["p99"], figure.get("dumb-init")["p99"])
    figure.judge(ours["p99"] <= 1000 and ratio <= 3,
                 f"p50 {ours['median']:.0f} µs, p99 {ours['p99']:.0f} µs (goal ≤ 1000), {ratio:.2f}× tini's p99 "
                 "(goal ≤ 3×)")
    return figure.as_dict()


# --- 5. reaping -----------------------------------------------------------------------------------------

def reaping(plan: Plan) -> dict[str, Any]:
    require_unshare()
    figure = Figure(5, f"Reaping {plan.orphans:,} orphans left at once", "orphans/s",
                    "≥ 0.5× tini's rate, 0 zombies left", plan.reap_runs)
    rates: dict[str, list[float]] = {init: [] for init in INITS}
    left: dict[str, int] = {init: 0 for init in INITS}
    child = [PYTHON, str(HELPERS / "orphans.py"), str(plan.orphans), "60"]
    for _ in range(plan.reap_runs):
        for init in INITS:
            proc = subprocess.run([*UNSHARE, *init_argv(init, child)],
                                  env=clean_env(), capture_output=True, text=True, timeout=300,
                                  stdin=subprocess.DEVNULL)
            results = [line for line in proc.stdout.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not results:
                raise BenchError(f"{init}: the orphan storm exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
            result = json.loads(results[-1])
            rates[init].append(result["orphans"] / result["seconds"])
            left[init] = max(left[init], result["zombies_left"])
    for init in INITS:
        figure.add(init, rates[init], role(init), zombies_left=left[init])
    ours, tini = figure.get(PROD)["median"], figure.get("tini")["median"]
    ratio = figure.ratio("prod-entry rate / tini rate", ours, tini)
    figure.ratio("prod-entry rate / dumb-init rate", ours, figure.get("dumb-init")["median"])
    figure.judge(ratio >= 0.5 and left[PROD] == 0,
                 f"{ratio:.2f}× tini's rate (goal ≥ 0.5×), {left[PROD]} zombies left (goal 0)")
    figure.notes.append("Time from the moment the orphans' parent exits until the namespace's /proc lists no "
                        "process but PID 1 and the measuring child (polled every 1 ms by that child, each poll "
                        "stopping at the first process it finds, so that it costs the init little CPU).")
    return figure.as_dict()


# --- 6. idle wake-ups -----------------------------------------------------------------------------------

def switches(pid: int) -> int:
    fields = status_fields(pid)
    return int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])


def idle_wakeups(plan: Plan) -> dict[str, Any]:
    """All three idle side by side for the same window, each with a sleeping child."""
    require_unshare()
    figure = Figure(6, f"Idle wake-ups of PID 1 over {plan.idle_seconds:g} s (context switches)", "wake-ups",
                    "0", 1)
    with contextlib.ExitStack() as stack:
        pids = {}
        for init in INITS:
            _, pid1 = stack.enter_context(as_pid1(init_argv(init, SLEEP), clean_env()))
            child_up(init, pid1, SLEEP)
            pids[init] = pid1
        time.sleep(0.5)  # start-up is over
        before = {init: switches(pid) for init, pid in pids.items()}
        time.sleep(plan.idle_seconds)
        after = {init: switches(pid) for init, pid in pids.items()}
    for init in INITS:
        figure.add(init, [after[init] - before[init]], role(init))
    ours = after[PROD] - before[PROD]
    per_minute = ours * 60 / plan.idle_seconds
    # tini wakes every second; max(…, 1) keeps the ratio defined if it ever does not.
    figure.ratio("prod-entry / tini wake-ups", ours, max(after["tini"] - before["tini"], 1))
    figure.judge(ours == 0, f"{ours} wake-ups in {plan.idle_seconds:g} s ({per_minute:.0f}/min; goal 0)")
    return figure.as_dict()
