"""Start a defined process as a subprocess, wait until it serves, probe it, stop it: servermgr's interface
(start, ready_wait, health, stop, wait, address_in_use, address_free_check) for Python 3. The pytest plugin
(`entrypoint.pytest_plugin`) and prod-entry's own integration tests build on it.

The process is started as a container would start it (`python -m entrypoint NAME EXTRA...`: resolve, warmup,
exec), in a session of its own so that stop() can reach every process it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType

_POLL = 0.05  # seconds between readiness probes: short enough not to add latency, long enough not to spin


class ManagerError(Exception):
    """The one failure type: the address is taken, the process exited or never became ready, or it would not
    stop. The message carries the tail of the process's output."""


def address_in_use(host: str, port: int) -> bool:
    """Whether a server could not listen on (host, port) now (a port held only by connections in TIME_WAIT
    counts as free). The check prod-entry itself makes before it starts a server."""
    from entrypoint.release import waitfor

    try:
        return waitfor.address_in_use(host, port)
    except OSError as exc:
        raise ManagerError(f"cannot check {host}:{port}: {exc.strerror or exc}") from None


def address_free_check(host: str, port: int) -> None:
    """Raise ManagerError if (host, port) is in use."""
    if address_in_use(host, port):
        raise ManagerError(f"{host}:{port} is already in use: stop what listens there or pick another port")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free on `host` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ManagedProcess:
    """One defined process (`web`, `worker`, ...) run as `prod-entry NAME EXTRA...` in a subprocess.

    Web processes get PORT set to `port` (a free one by default), which the built-in web backends bind to
    unless ARGS say otherwise; readiness is `GET health_path` answering below 400 on (host, port). With
    `health_path=None` a TCP connect is enough; with `port=None` and `health_path=None` (a worker), the process
    is healthy while it runs. `launcher` is the command NAME is given to: `python -m entrypoint` by default;
    `["prod-entry"]` or `[sys.executable, "manage.py", "server"]` start it those ways.
    """

    def __init__(self, name: str = "web", extra: Sequence[str] = (), *, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, host: str = "127.0.0.1", port: int | None = 0,
                 health_path: str | None = "/", grace: float = 10.0, launcher: Sequence[str] = ()) -> None:
        self.name, self.extra, self.cwd = name, list(extra), cwd
        self.launcher = list(launcher) or [sys.executable, "-m", "entrypoint"]
        self.host, self.health_path, self.grace = host, health_path, grace
        self.port = free_port(host) if port == 0 else port
        self.env = dict(os.environ if env is None else env)
        if self.port is not None:
            self.env["PORT"] = str(self.port)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc: subprocess.Popen[bytes] | None = None
        # After stop(): whether it exited by itself within the grace period, with 0 or by the SIGTERM it was
        # sent (uvicorn re-raises the signal after a clean shutdown, so its status is -15, not 0).
        self.graceful: bool | None = None
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on a full pipe

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr, interleaved)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def start(self, wait: bool = True, timeout: float = 30.0) -> ManagedProcess:
        if self.proc is not None:
            raise ManagerError(f"process {self.name!r} was already started (pid {self.proc.pid})")
        if self.port is not None:
            address_free_check(self.host, self.port)
        self.proc = subprocess.Popen([*self.launcher, self.name, *self.extra], env=self.env,
                                     cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.ready_wait(timeout)
        return self

    def health(self) -> bool:
        """Running, and answering: HTTP below 400 on health_path, or a TCP connect when health_path is None."""
        if not self.running():
            return False
        if self.port is None:
            return True
        if self.health_path is None:
            with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET) as sock:
                sock.settimeout(2)
                return sock.connect_ex((self.host, self.port)) == 0
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=5) as response:
                return int(response.status) < 400
        except urllib.error.HTTPError as exc:
            return exc.code < 400
        except (urllib.error.URLError, OSError):
            return False

    def ready_wait(self, timeout: float = 30.0) -> None:
        """Return once health() is true. If the process exits first, or is not healthy within `timeout`
        seconds, kill it and raise ManagerError."""
        deadline = time.monotonic() + timeout
        while not self.health():
            if self.proc is None:
                raise ManagerError(f"process {self.name!r} was not started: call start() first")
            if self.proc.poll() is not None:
                self._kill_group()
                raise ManagerError(f"process {self.name!r} exited {self.proc.returncode} before it was ready:\n"
                                   f"{self._tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ManagerError(f"process {self.name!r} was not ready within {timeout}s (probing "
                                   f"{self._probe()}); killed it:\n{self._tail()}")
            time.sleep(_POLL)

    def stop(self, wait: bool = True, timeout: float | None = None) -> int | None:
        """SIGTERM the process (servers shut down gracefully on it). With `wait`, wait up to `timeout` seconds
        (default: grace) for it to exit, then SIGKILL everything it left; return its exit status (negative:
        killed by that signal, as subprocess reports it) and set `graceful`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        if not wait:
            return None
        try:
            status = self.proc.wait(self.grace if timeout is None else timeout)
            self.graceful = status in (0, -signal.SIGTERM)
        except subprocess.TimeoutExpired:
            self.graceful = False
            self.kill()
        self._kill_group()  # workers a crashed master left behind
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the process and its whole session; return its exit status."""
        if self.proc is None:
            return None
        self._kill_group()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        return self.proc.wait()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit by itself; ManagerError after `timeout` seconds (it keeps running)."""
        if self.proc is None:
            raise ManagerError(f"process {self.name!r} was not started: call start() first")
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ManagerError(f"process {self.name!r} (pid {self.proc.pid}) still runs after {timeout}s") from None

    def _kill_group(self) -> None:
        if self.proc is not None:
            # start_new_session made the process group id the process's own pid.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def _probe(self) -> str:
        if self.port is None:
            return "nothing: no port"
        return self.url + self.health_path if self.health_path is not None else f"TCP {self.host}:{self.port}"

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def __enter__(self) -> ManagedProcess:
        return self if self.proc is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()  # the output stays readable after the block
