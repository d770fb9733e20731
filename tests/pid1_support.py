"""Helpers for the PID-1 tests: run prod-entry as the real PID 1 of a new PID namespace and read what its
tree prints, line by line, with timeouts."""

from __future__ import annotations

import contextlib
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psutil
import pytest

from support import PROD_ENTRY, ROOT, base_env, cmdline, spawn, wait_until

PRINT_SIGNALS = [sys.executable, str(ROOT / "tests" / "helpers" / "print_signals.py")]
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def require_unshare() -> None:
    """Skip (never under CI) when this machine cannot make PID namespaces."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here (needs root): {probe.stderr.strip()}")


def in_namespace(args: Sequence[str]) -> list[str]:
    """argv running `prod-entry ARGS...` as PID 1 of a new PID namespace."""
    return [*UNSHARE, PROD_ENTRY, *args]


def run_inside(pid1: int, args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
           mount: bool = False) -> subprocess.CompletedProcess:
    """Run `prod-entry ARGS...` inside PID 1's PID namespace (and its mount namespace with `mount`), as `docker
    exec` runs a probe in a container: the supervisor's markers are named for that namespace."""
    enter = ["nsenter", f"--target={pid1}", "--pid", *(["--mount"] if mount else [])]
    return subprocess.run([*enter, PROD_ENTRY, *args], env=dict(env or base_env()), cwd=cwd, timeout=60,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def run_pid1(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `prod-entry ARGS...` as PID 1 to completion. Its exit status passes through unshare because the
    supervisor always exits normally (unshare reports 1 for a PID 1 killed by a signal)."""
    require_unshare()
    return subprocess.run(in_namespace(args), env=dict(env or base_env()), cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


class Lines:
    """The lines a spawned process prints, read by a thread so that waiting for one can time out."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def next(self, timeout: float = 30, skip_own: bool = True) -> str:
        """The next line (prod-entry's own `prod-entry:` lines skipped unless asked for)."""
        while True:
            try:
                line = self.queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line within {timeout}s; so far:\n" + "\n".join(self.seen)) from None
            if line is None:
                raise AssertionError("the output ended; so far:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if not (skip_own and line.startswith("prod-entry:")):
                return line

    def until(self, prefix: str, timeout: float = 30) -> str:
        while True:
            line = self.next(timeout)
            if line.startswith(prefix):
                return line

    def rest(self, timeout: float = 30) -> str:
        """Everything until the output ends."""
        with contextlib.suppress(AssertionError):
            while True:
                self.next(timeout, skip_own=False)
        return "\n".join(self.seen)


@contextlib.contextmanager
def spawn_pid1(args: Sequence[str], env: Mapping[str, str] | None = None,
               cwd: Path | str | None = None) -> Iterator[tuple[subprocess.Popen, int, Lines]]:
    """Start `prod-entry ARGS...` as PID 1; yields (unshare's Popen, prod-entry's pid as seen from here, its
    output lines). The whole tree is killed on exit."""
    require_unshare()
    with spawn(in_namespace(args)[1:], env, cwd, program=UNSHARE[0]) as proc:
        lines = Lines(proc)
        unshare = psutil.Process(proc.pid)
        pid1 = wait_until(lambda: unshare.children(), 10, what="unshare to start prod-entry")[0].pid
        # Wait for the supervisor's restart as a bare python: a SIGPIPE or SIGXFSZ sent during those few
        # milliseconds is lost (Python ignores both at start-up), and the tests send every signal there is.
        wait_until(lambda: restarted(pid1), 20, 0.01, "the supervisor to restart lean")
        yield proc, pid1, lines


def restarted(pid: int) -> bool:
    try:
        return "supervise(" in " ".join(cmdline(pid))
    except (OSError, UnicodeDecodeError):
        return True  # already gone: the test will see how it exited
