"""Helpers every test tier shares: run the installed console script, spawn and reap real process trees,
poll instead of sleeping, talk HTTP with the standard library."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
BIN = Path(sys.executable).parent
PROD_ENTRY = str(BIN / "prod-entry")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A role of the test PostgreSQL (conftest's postgres_url) that must give its password; its own user is trusted.
GUARDED_ROLE, GUARDED_PASSWORD = "guarded", "guarded-pw-8213"

T = TypeVar("T")


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no PROD_ENTRY_* or Django variables from the caller, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROD_ENTRY_", "DJANGO_", "GUNICORN_", "UVICORN_", "GRANIAN_", "UWSGI_", "FLOWER_", "CELERY_")) and k != "PORT"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def example_env(**extra: str) -> dict[str, str]:
    """The environment for the example project (run with cwd=EXAMPLE)."""
    return base_env(**{"DJANGO_SETTINGS_MODULE": "example.settings", **extra})


def describe(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


# What a server prints before it calls the warmup prod-entry hands over to it (gunicorn's master logs its
# banner before on_starting), and prod-entry's line with the process counts it chose or found (workers: 3
# (auto: ...)): the only lines a failed start may print before its error line.
SERVER_BANNERS = ("Starting gunicorn ",)
SIZING_LINE = re.compile(r"\b(workers|threads|concurrency|autoscale): [\d,]+ \(")


def one_error_line(proc: subprocess.CompletedProcess, prefix: str = "prod-entry: error: ") -> str:
    """The error line of a failed run, asserting it is the only line but for a server's start-up banner and the
    sizing line, and that no traceback was printed."""
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith(prefix), describe(proc)
    assert all(any(banner in line for banner in SERVER_BANNERS) or SIZING_LINE.search(line)
               for line in lines[:-1]), describe(proc)
    assert "Traceback" not in proc.stderr, describe(proc)
    return lines[-1]


def run(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
        timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
    """Run `prod-entry ARGS...` to completion (text output)."""
    return subprocess.run([PROD_ENTRY, *args], env=dict(env or base_env()), cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


def wait_until(check: Callable[[], T], timeout: float = 10, interval: float = 0.05, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def draining_markers(state_dir: Path) -> list[Path]:
    """The supervisors' draining markers in `state_dir`: each named for its instance (draining.NAME.NAMESPACE)."""
    return sorted(Path(state_dir).glob("draining.*"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5) -> tuple[int, str] | None:
    """(status, body), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout):
        return None


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (found through /proc), then reap what is ours."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=5)


@contextlib.contextmanager
def spawn(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
          program: str | None = None, **popen: object) -> Iterator[subprocess.Popen]:
    """Start `prod-entry ARGS...` (or `program ARGS...`) in the background; on exit kill its whole tree."""
    argv = [program or PROD_ENTRY, *args]
    proc = subprocess.Popen(argv, env=dict(env or base_env()), cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    try:
        yield proc
    finally:
        kill_tree(proc.pid)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def output_of(proc: subprocess.Popen) -> str:
    """What a spawned process printed (after it has exited or been killed)."""
    return proc.stdout.read() if proc.stdout and not proc.stdout.closed else ""


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]


def wait_http(url: str, timeout: float = 20, proc: subprocess.Popen | None = None) -> tuple[int, str]:
    """Wait until `url` answers (any status); if `proc` exits first, fail with its output."""
    def answered() -> tuple[int, str] | None:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited {proc.returncode} before {url} answered:\n{output_of(proc)}")
        return http_get(url, timeout=2)

    return wait_until(answered, timeout, 0.1, f"{url} to answer")


class Reader:
    """Collects a spawned process's output in a thread, so a test can wait for a line without blocking."""

    def __init__(self, proc: subprocess.Popen) -> None:
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        return wait_until(lambda: needle in self.text, timeout, what=f"{needle!r} in the output:\n{self.text}") \
            and self.text

    def finish(self, timeout: float = 10) -> str:
        self._thread.join(timeout)
        return self.text


def first_requests(base: str, workers: int, attempts: int = 60) -> dict[int, int]:
    """pid -> how many requests that worker had served before its first real one: /whoami (the example's
    per-process counter) over a new connection each time, until `workers` distinct processes answered. 0 means
    the worker was cold; the per-worker warmup makes it the number of warmup requests."""
    import json

    served: dict[int, int] = {}
    for _ in range(attempts):
        answer = http_get(f"{base}/whoami")
        assert answer and answer[0] == 200, answer
        data = json.loads(answer[1])
        served.setdefault(data["pid"], data["served_before"])
        if len(served) == workers:
            break
    return served
