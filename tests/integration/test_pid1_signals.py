"""Signals through a real PID 1 (prod-entry in a new PID namespace): every forwardable signal arrives, in
order; rewrites and drops apply; SIGCHLD and fault signals stay with the supervisor; a terminal is handed
over to the program."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time

import pytest

from pid1_support import PRINT_SIGNALS, require_unshare, spawn_pid1
from support import PROD_ENTRY, base_env, proc_status, wait_until

NOT_FORWARDED = [signal.SIGCHLD, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT,
                 signal.SIGTRAP, signal.SIGSYS]
FORWARDED = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP, *NOT_FORWARDED})


def name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"


def test_every_forwardable_signal_arrives_in_order() -> None:
    with spawn_pid1(PRINT_SIGNALS) as (proc, pid1, lines):
        assert lines.next().startswith("ready (pid: 2)")
        for sig in FORWARDED:
            os.kill(pid1, sig)
            assert lines.next() == name(sig), f"after sending {name(sig)}"
        assert proc.poll() is None


def test_rewrite_and_drop() -> None:
    env = base_env(PROD_ENTRY_SIGNAL_REWRITE="USR1:USR2, TERM:QUIT, WINCH:0")
    with spawn_pid1(PRINT_SIGNALS, env) as (_, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGUSR1)
        assert lines.next() == "SIGUSR2"
        os.kill(pid1, signal.SIGTERM)
        assert lines.next() == "SIGQUIT"
        os.kill(pid1, signal.SIGWINCH)  # dropped: the next line is the HUP sent after it
        os.kill(pid1, signal.SIGHUP)
        assert lines.next() == "SIGHUP"


def test_sigchld_and_fault_signals_are_not_forwarded() -> None:
    with spawn_pid1(PRINT_SIGNALS) as (proc, pid1, lines):
        lines.until("ready")
        for sig in NOT_FORWARDED:
            os.kill(pid1, sig)
        os.kill(pid1, signal.SIGUSR1)
        assert lines.next() == "SIGUSR1"
        assert proc.poll() is None, "the supervisor died of a fault signal sent with kill()"


def test_group_target_reaches_the_whole_process_group() -> None:
    # sh ignores USR1 and runs the printer in its own process group: only a group signal reaches it.
    script = f"trap '' USR1; {' '.join(PRINT_SIGNALS)}; true"
    env = base_env(PROD_ENTRY_SIGNAL_TARGET="group")
    with spawn_pid1(["sh", "-c", script], env) as (_, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGUSR1)
        assert lines.next() == "SIGUSR1"


def read_until(fd: int, text: str, seen: bytearray, timeout: float = 15) -> str:
    """Read the pty master until `text` has appeared; returns everything read so far."""
    def found() -> bool:
        if text.encode() in seen:
            return True
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen.extend(os.read(fd, 4096))
            except OSError:  # EIO: the other side is closed
                raise AssertionError(f"terminal closed before {text!r}:\n{seen.decode(errors='replace')}")
        return False

    try:
        wait_until(found, timeout, 0, f"{text!r} on the terminal")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{seen.decode(errors='replace')}") from None
    return seen.decode(errors="replace")


TTY_PROGRAM = """
import os, signal, sys
print("foreground", os.tcgetpgrp(0) == os.getpgrp(), "leader", os.getsid(0) == os.getpid(), flush=True)
for sig in (signal.SIGHUP, signal.SIGCONT, signal.SIGINT):
    signal.signal(sig, lambda n, f: print("signal", signal.Signals(n).name, flush=True))
print("ready", flush=True)
print("line", repr(sys.stdin.readline().strip()), flush=True)
signal.pause()
print("bye", flush=True)
"""


@pytest.mark.parametrize("as_pid1", [False, True], ids=["subreaper", "pid1"])
def test_terminal_goes_to_the_program(as_pid1: bool) -> None:
    """In a pseudo-terminal: the program gets its own session with the terminal in the foreground, reads it,
    and ^C reaches it from the terminal itself; the SIGHUP/SIGCONT of the hand-over are not passed on."""
    argv = [PROD_ENTRY, sys.executable, "-c", TTY_PROGRAM]
    env = base_env(PROD_ENTRY_INIT="always")
    if as_pid1:
        require_unshare()
        # setsid -c: PID 1 leads its session and owns the terminal, as in `docker run -it`.
        argv = ["unshare", "--pid", "--fork", "--mount-proc", "setsid", "-c", *argv]
    pid, fd = pty.fork()
    if pid == 0:  # the child only execs: nothing of pytest runs here
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    seen = bytearray()
    try:
        read_until(fd, "ready", seen)
        os.write(fd, b"hello\n")
        read_until(fd, "line 'hello'", seen)
        os.write(fd, b"\x03")  # ^C: the terminal sends SIGINT to its foreground group, the program's
        out = read_until(fd, "bye", seen)
        _, status = os.waitpid(pid, 0)
        with_rest = read_rest(fd, seen)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)
    assert "foreground True leader True" in out, with_rest
    assert "signal SIGINT" in out, with_rest
    assert "SIGHUP" not in with_rest and "SIGCONT" not in with_rest, with_rest
    assert os.waitstatus_to_exitcode(status) == 0, with_rest


def read_rest(fd: int, seen: bytearray) -> str:
    while select.select([fd], [], [], 0.5)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen.extend(chunk)
    return seen.decode(errors="replace")


def test_an_idle_supervisor_never_wakes_up() -> None:
    """sigwaitinfo without a timeout: no periodic wake-ups (tini wakes every second)."""
    def switches(pid: int) -> tuple[str, str]:
        status = proc_status(pid)
        return status["voluntary_ctxt_switches"], status["nonvoluntary_ctxt_switches"]

    with spawn_pid1(PRINT_SIGNALS) as (_, pid1, lines):
        lines.until("ready")
        before = switches(pid1)
        time.sleep(2.5)  # an observation window, not a wait for anything
        assert switches(pid1) == before
