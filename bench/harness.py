"""What every figure needs: the programs under test, interleaved timing runs, statistics, PID namespaces,
process trees and a bare HTTP client. Figures build a `Figure` and return its dict."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
HELPERS = Path(__file__).resolve().parent / "helpers"
PEERS = Path(__file__).resolve().parent / "peers"
BIN = Path(sys.executable).parent
PYTHON = sys.executable
PROD_ENTRY = str(BIN / "prod-entry")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]

T = TypeVar("T")


class BenchError(Exception):
    """A figure could not be measured: one line saying why (recorded in the results, never hidden)."""


@dataclass(frozen=True)
class Plan:
    """How much to measure. The smoke plan runs every code path once, briefly; its numbers mean nothing."""

    smoke: bool
    startup_runs: int = 30  # figures 1 and 2, per command
    memory_runs: int = 5  # figure 3, per init
    signals: int = 1000  # figure 4, per init
    orphans: int = 10_000  # figure 5, per run
    reap_runs: int = 3  # figure 5, per init
    idle_seconds: float = 60.0  # figure 6
    ready_runs: int = 10  # figure 7, per server
    first_request_runs: int = 5  # figure 8, per server
    warm_requests: int = 3  # figure 8, after the first, per run
    request_idle: float = 1.0  # figure 8: seconds of idle before each request
    in_flight: int = 200  # figure 9
    drain_runs: int = 3  # figure 9, per init
    slow_seconds: float = 3.0  # figure 9: how long each in-flight request takes
    late_window: float = 1.0  # figure 9: how long new requests keep coming after TERM
    rollout_requests: int = 5000  # figure 10, per variant (at least)
    rollout_runs: int = 1  # figure 10, per variant
    log_runs: int = 5  # figure 11, per server and format
    log_seconds: float = 5.0  # figure 11: wrk's duration

    @classmethod
    def full(cls) -> Plan:
        return cls(smoke=False)

    @classmethod
    def smoke_plan(cls) -> Plan:
        return cls(smoke=True, startup_runs=1, memory_runs=1, signals=20, orphans=100, reap_runs=1,
                   idle_seconds=1.0, ready_runs=1, first_request_runs=1, warm_requests=1,
                   request_idle=0.05, in_flight=20,
                   drain_runs=1, slow_seconds=1.0, late_window=0.3, log_runs=1, log_seconds=1.0)


# --- statistics -----------------------------------------------------------------------------------------

def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), defined for a single value too."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * q
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summary(samples: Sequence[float]) -> dict[str, float | int]:
    """Median and spread: quartiles, p99, min and max."""
    values = sorted(samples)
    return {"n": len(values), "median": statistics.median(values), "q1": quantile(values, 0.25),
            "q3": quantile(values, 0.75), "p99": quantile(values, 0.99), "min": values[0], "max": values[-1]}


@dataclass
class Figure:
    """One figure's results: a series per program (prod-entry's first), ratios against peers, the verdict."""

    id: int
    title: str
    unit: str
    goal: str
    runs: int
    series: list[dict[str, Any]] = field(default_factory=list)
    ratios: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "no goal"  # met | missed | no goal
    detail: str = ""
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, samples: Sequence[float], role: str = "peer", **extra: Any) -> dict[str, Any]:
        """A series: role is prod-entry, peer or reference (neither: a floor to read the others against)."""
        entry: dict[str, Any] = {"name": name, "role": role, **summary(samples), **extra,
                                 "samples": [round(value, 4) for value in samples]}
        self.series.append(entry)
        return entry

    def get(self, name: str) -> dict[str, Any]:
        return next(entry for entry in self.series if entry["name"] == name)

    def ratio(self, name: str, numerator: float, denominator: float) -> float:
        value = numerator / denominator if denominator else float("inf")
        self.ratios.append({"name": name, "value": round(value, 3)})
        return value

    def judge(self, met: bool, detail: str) -> None:
        self.verdict = "met" if met else "missed"
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "unit": self.unit, "goal": self.goal, "runs": self.runs,
                "verdict": self.verdict, "detail": self.detail, "series": self.series, "ratios": self.ratios,
                "notes": self.notes}


# --- programs -------------------------------------------------------------------------------------------

def tool(name: str) -> str:
    """The absolute path of a peer program, from the venv first (dumb-init), else PATH (tini, curl)."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} is not installed: `make bench` installs every peer (scripts/bench.sh)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without prod-entry, Django or server settings; the venv first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROD_ENTRY_", "DJANGO_", "GUNICORN_", "UVICORN_", "WEBSERVER_")) and k != "PORT"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


def example_env(**extra: str) -> dict[str, str]:
    return clean_env(DJANGO_SETTINGS_MODULE="example.settings", **extra)


def check_runs(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> None:
    """Run a command once and fail the figure, with its output, unless it exits 0."""
    proc = subprocess.run(list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().replace("\n", " | ")[:400]
        raise BenchError(f"`{' '.join(argv)}` exited {proc.returncode}: {output}")


def time_once(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> float:
    """Wall time of one run in ms, from spawn to reaped exit (posix_spawn: no Python between the two)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    cwd_before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)  # posix_spawn has no cwd argument in Python 3.10
        started = time.perf_counter()
        pid = os.posix_spawnp(argv[0], list(argv), dict(env), file_actions=actions)
        _, status = os.waitpid(pid, 0)
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        os.chdir(cwd_before)
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError(f"`{' '.join(argv)}` exited {os.waitstatus_to_exitcode(status)} during timing")
    return elapsed


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None = None
    role: str = "peer"


def time_commands(commands: Sequence[Command], runs: int) -> dict[str, list[float]]:
    """Wall times (ms) of each command, interleaved run by run so that the machine's noise falls on all of
    them alike. Each is checked once and run once untimed first (page cache, .pyc files)."""
    for command in commands:
        check_runs(command.argv, command.env, command.cwd)
        time_once(command.argv, command.env, command.cwd)
    samples: dict[str, list[float]] = {command.name: [] for command in commands}
    for _ in range(runs):
        for command in commands:
            samples[command.name].append(time_once(command.argv, command.env, command.cwd))
    return samples


# --- prod-entry as the image installs it ----------------------------------------------------------------

WHEEL_CACHE = ROOT / ".cache" / "bench"


def source_digest() -> str:
    """A digest of everything that goes into prod-entry's wheel, so that a cached install is never stale."""
    digest = hashlib.sha256()
    for path in sorted([ROOT / "pyproject.toml", *(ROOT / "entrypoint").rglob("*")]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def wheel_install(extras: Sequence[str] = (), also: Sequence[str] = ()) -> Path:
    """The bin directory of a virtualenv holding prod-entry as the Dockerfile installs it: `pip wheel` of this
    source tree (with `extras`) and its requirements (and the requirements `also`), `pip install --no-index`
    from those wheels (pip compiles every module to bytecode as it installs, whatever PYTHONDONTWRITEBYTECODE
    says), then pip and setuptools removed (their .pth file would be imported by every start). Cached under
    .cache/bench/ by a digest of the source and of what else is installed; old digests are left there (a few
    MB each, more with servers) for whoever cleans .cache/."""
    wanted = hashlib.sha256("\0".join([*extras, "", *also]).encode()).hexdigest()[:8] if extras or also else ""
    target = WHEEL_CACHE / f"wheel-{source_digest()}{'-' + wanted if wanted else ''}"
    venv_bin = target / "venv" / "bin"
    done = target / "installed"
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    spec = f"prod-entry[{','.join(extras)}]" if extras else "prod-entry"
    # Built in place (a virtualenv's scripts name their interpreter by absolute path, so it cannot be moved),
    # under a lock: two bench runs at once would otherwise build into the same directory.
    with open(WHEEL_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return venv_bin
        shutil.rmtree(target, ignore_errors=True)  # a build that was interrupted
        # The same interpreter as the bench's own virtualenv, so that `python -c pass` is the same program.
        base = getattr(sys, "_base_executable", sys.executable)
        steps = [
            [PYTHON, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--wheel-dir",
             str(target / "wheels"), f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT), *also],
            [base, "-m", "venv", str(target / "venv")],
            [str(venv_bin / "pip"), "install", "-q", "--disable-pip-version-check", "--no-index", "--find-links",
             str(target / "wheels"), spec, *also],
            [str(venv_bin / "pip"), "uninstall", "-q", "--yes", "pip", "setuptools"],
        ]
        # Without PYTHONPATH: a checkout on it (its prod_entry.egg-info) makes pip think prod-entry is installed.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                                  env=env)
            if proc.returncode != 0:
                last = ((proc.stdout + proc.stderr).strip().splitlines() or ["no output"])[-1]
                raise BenchError(f"installing prod-entry's wheel: `{' '.join(step)}` exited {proc.returncode}: "
                                 f"{last[:300]}")
        if not (venv_bin / "prod-entry").exists():
            raise BenchError(f"installing prod-entry's wheel: no {venv_bin / 'prod-entry'} after pip install")
        done.touch()
    return venv_bin


def served_install(big: bool) -> Path:
    """wheel_install with the servers, the example's requirements and, for the big project, Wagtail: where
    figures 7 and 8 run prod-entry and the plain servers, both as an image installs them (bytecode compiled)."""
    also = [line.split("#")[0].strip() for line in (EXAMPLE / "requirements.txt").read_text().splitlines()]
    return wheel_install(("servers",), [*filter(None, also), *(["wagtail>=6"] if big else [])])


def loaded_from_source(argv: Sequence[str], env: Mapping[str, str], package: str) -> list[str]:
    """The modules of `package` that a run of argv compiled from source instead of loading cached bytecode
    (`python -v` names the file each code object comes from)."""
    proc = subprocess.run([argv[0], "-v", *argv[1:]], env=dict(env), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    return [line.split("from ", 1)[1] for line in proc.stderr.splitlines()
            if line.startswith("# code object from ") and f"/{package}/" in line and line.endswith(".py")]


# --- processes ------------------------------------------------------------------------------------------

def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.01) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant and wait until all are dead. Orphaned zombies are left to the
    machine's init (psutil.wait_procs would wait for it to reap them: over a second on some VMs); the caller
    reaps its own child."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    wait_until(lambda: all(dead(proc) for proc in procs), 10, f"the process tree of {pid} to die")


@contextlib.contextmanager
def started(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None,
            output: int | None = subprocess.DEVNULL) -> Iterator[subprocess.Popen]:
    """A background process whose whole tree is killed on the way out."""
    proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT if output is not None else None)
    try:
        yield proc
    finally:
        kill_tree(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def require_unshare() -> None:
    if shutil.which("unshare") is None:
        raise BenchError("unshare (util-linux) is not installed")
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise BenchError(f"cannot create a PID namespace here (needs root): {probe.stderr.strip()}")


@contextlib.contextmanager
def as_pid1(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None,
            output: int | None = subprocess.DEVNULL) -> Iterator[tuple[subprocess.Popen, int]]:
    """`argv` as the real PID 1 of a new PID namespace: yields (unshare's Popen, the PID 1's host pid)."""
    with started([*UNSHARE, *argv], env, cwd, output) as proc:
        unshare = psutil.Process(proc.pid)
        pid1 = wait_until(unshare.children, 10, f"unshare to start {argv[0]}")[0].pid
        yield proc, pid1


def status_fields(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def kilobytes(value: str) -> int:
    return int(value.split()[0])


# --- HTTP -----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, timeout: float = 5) -> int | None:
    """The status of a GET on a fresh connection, or None when nothing answers."""
    return http_answer(port, path, timeout)[0]


def http_answer(port: int, path: str, timeout: float = 5) -> tuple[int | None, bytes]:
    """(status, body) of a GET on a fresh connection; (None, b"") when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        connection.close()


def timed_get(port: int, path: str, timeout: float = 30) -> tuple[int | None, float]:
    """(status, ms) of one GET on a fresh connection."""
    status, elapsed, _ = timed_answer(port, path, timeout)
    return status, elapsed


def timed_answer(port: int, path: str, timeout: float = 30) -> tuple[int | None, float, bytes]:
    """(status, ms, body) of one GET on a fresh connection."""
    begin = time.perf_counter()
    status, body = http_answer(port, path, timeout)
    return status, (time.perf_counter() - begin) * 1000, body


def wait_for_200(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> float:
    """Poll every 5 ms until GET path answers 200; the monotonic time it did. Fails if `proc` exits."""
    def answered() -> float | None:
        if proc.poll() is not None:
            raise BenchError(f"the server exited {proc.returncode} before {path} answered 200")
        return time.monotonic() if http_status(port, path, timeout=2) == 200 else None

    return wait_until(answered, timeout, f"{path} on port {port} to answer 200", interval=0.005)
