"""Figure 10: a rolling restart behind a real load balancer. HAProxy on 127.0.0.1 in front of two replicas of the
example image (host network, one port each), checking them every second (`fall 2 rise 1`): prod-entry's own
health port (GET /ready, PROD_ENTRY_HEALTH_PORT: no readiness view in the app), the peers GET /healthz; under a
constant load of fast and slow requests; replica A is replaced (`docker stop -t 30`, a new one on its port,
until HAProxy sees it up), then replica B. Every failed request counts: a status >= 500, a connection error, a
timeout. The container tier (tests/container/test_container_rollout.py) runs the same harness, smaller."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchError, Figure, Plan, free_port, tool, wait_until

HEALTH_INTERVAL = 1.0  # HAProxy's `inter`: one check a second, down after 2 failures, up after 1 success
SHUTDOWN_DELAY = 2 * HEALTH_INTERVAL + 1.0  # two failed checks, plus a margin for a check already under way
STOP_GRACE = 30  # docker stop -t: docker-compose.yml's stop_grace_period for web
# docker-compose.yml's web settings: gunicorn drains within 20 s, prod-entry KILLs after 25 s, Docker after 30 s.
GUNICORN_OPTIONS = ("--workers=2", "--graceful-timeout=20")
SLOW_PATH = "/slow/0.2"  # one request in SLOW_EVERY is slow, so some are always in flight when TERM arrives
FAST_PATH = "/whoami"
SLOW_EVERY = 10
CLIENT_TIMEOUT = 10.0  # a request with no answer after this long counts as failed

PROD_DELAY = f"prod-entry, delay {SHUTDOWN_DELAY:g} s"
VARIANTS = (PROD_DELAY, "prod-entry, no delay", "tini + gunicorn", "gunicorn as PID 1")


@dataclass(frozen=True)
class Ports:
    """One replica's ports: the app's, and prod-entry's health port beside it."""

    app: int
    health: int


def health_check(variant: str, ports: Ports) -> tuple[int, str]:
    """(port, path) HAProxy checks a replica on, and a new replica must pass before it counts as started:
    prod-entry's own health port, GET /ready (503 from the first moment of the shutdown delay, with no view in the
    app); the peers have nothing of the kind, so GET /healthz on the app's port."""
    return (ports.health, "/ready") if variant.startswith("prod-entry") else (ports.app, "/healthz")


def docker_run_args(variant: str, image: str, ports: Ports) -> list[str]:
    """`docker run` arguments after `-d --name N --network host`, for one replica of a variant on `ports`."""
    if variant.startswith("prod-entry"):
        delay = ["-e", f"PROD_ENTRY_SHUTDOWN_DELAY={SHUTDOWN_DELAY:g}"] if variant == PROD_DELAY else []
        return ["-e", f"PORT={ports.app}", "-e", f"PROD_ENTRY_HEALTH_PORT={ports.health}",
                "-e", f"GUNICORN_CMD_ARGS={' '.join(GUNICORN_OPTIONS)}", "-e", "PROD_ENTRY_STOP_TIMEOUT=25", *delay,
                image, "web"]
    # The peers run the same gunicorn on the same image; docker's --init is the engine's docker-init (tini).
    init = ["--init"] if variant == "tini + gunicorn" else []
    return [*init, "--entrypoint", "gunicorn", image, f"--bind=0.0.0.0:{ports.app}", *GUNICORN_OPTIONS,
            "example.wsgi:application"]


@dataclass
class Engine:
    """The docker CLI bound to one engine; every container it starts is removed by `close` at the latest."""

    host: str
    cli: str = "docker"
    started: list[str] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([self.cli, *args], env={**os.environ, "DOCKER_HOST": self.host}, timeout=timeout,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def run(self, *args: str) -> str:
        name = f"pe-rollout-{uuid.uuid4().hex[:8]}"
        self.started.append(name)
        proc = self("run", "-d", "--name", name, "--network", "host", *args)
        if proc.returncode != 0:
            raise BenchError(f"docker run {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return name

    def logs(self, name: str) -> str:
        proc = self("logs", name)
        return (proc.stdout + proc.stderr).strip()[-800:]

    def remove(self, name: str) -> None:
        self("rm", "-f", name)
        if name in self.started:
            self.started.remove(name)

    def close(self) -> None:
        for name in list(self.started):
            self.remove(name)


# --- HAProxy --------------------------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    stats socket {socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    # HAProxy's defaults otherwise: `retries 3` on the same server, no `option redispatch`.
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend web
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri {path} ver HTTP/1.1 hdr Host localhost
{servers}
"""


def haproxy_version() -> str:
    words = subprocess.run([tool("haproxy"), "-v"], capture_output=True, text=True).stdout.split()
    return words[2] if len(words) > 2 else "?"


@dataclass
class HAProxy:
    port: int
    socket: str

    def command(self, line: str) -> str:
        """One command on the stats socket (`show stat`, `show servers state`), its whole answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(self.socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def status(self, server: str) -> str:
        """HAProxy's view of a server in the `replicas` backend: UP, DOWN, or a transition (`UP 1/2`)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname") == server:
                return row["status"]
        raise BenchError(f"HAProxy has no server {server}: {lines[:3]}")


@contextlib.contextmanager
def haproxy(servers: dict[str, tuple[int, int]], path: str) -> Iterator[HAProxy]:
    """HAProxy in the foreground with a temporary config, stopped by its PID even when the body fails. `servers`:
    name -> (the port it serves on, the port HAProxy checks GET `path` on)."""
    binary = tool("haproxy")
    with tempfile.TemporaryDirectory(prefix="pe-haproxy-") as tmp:
        port = free_port()
        lines = [f"    server {name} 127.0.0.1:{serve} check port {check} inter {HEALTH_INTERVAL:g}s fall 2 rise 1"
                 for name, (serve, check) in servers.items()]
        config = Path(tmp) / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(socket=f"{tmp}/admin.sock", port=port, path=path,
                                                servers="\n".join(lines)))
        log = open(Path(tmp) / "haproxy.log", "w+")
        proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            proxy = HAProxy(port, f"{tmp}/admin.sock")

            def answering() -> bool:
                if proc.poll() is not None:
                    log.seek(0)
                    raise BenchError(f"haproxy exited {proc.returncode}: {log.read()[-600:]}")
                return os.path.exists(proxy.socket)

            wait_until(answering, 10, "haproxy's stats socket", interval=0.05)
            yield proxy
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# --- the load -------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    started: float  # monotonic
    seconds: float
    status: int | None  # None: a connection error, a reset or a timeout
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


def one_request(port: int, path: str) -> Outcome:
    """A GET on a fresh connection to the balancer, so that every error is the rollout's, not a stale socket's."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return Outcome(began, time.monotonic() - began, response.status)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(began, time.monotonic() - began, None, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


class Load:
    """`clients` threads sending back to back until told to stop, or `limit` seconds at the latest: the load
    always stops by itself."""

    def __init__(self, port: int, clients: int, limit: float) -> None:
        self.port, self.deadline = port, time.monotonic() + limit
        self.outcomes: list[Outcome] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(clients)]

    def client(self, number: int) -> None:
        sent = number  # the clients' slow requests are spread out, not all at once
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            path = SLOW_PATH if sent % SLOW_EVERY == 0 else FAST_PATH
            self.outcomes.append(one_request(self.port, path))  # list.append is atomic
            sent += 1

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)


# --- the rollout ----------------------------------------------------------------------------------------------

@dataclass
class Rollout:
    variant: str
    sent: int
    failed: int
    sent_during_switch: int
    failed_during_switch: int
    longest_ms: float  # the longest response among the requests sent during the switch
    switch_seconds: float
    errors: list[str]  # a few failures, as examples

    def as_dict(self) -> dict[str, Any]:
        return vars(self)


def serving(engine: Engine, name: str, port: int, path: str, timeout: float = 120) -> None:
    """Until the replica answers GET `path` on `port` with 200 itself; fails if its container exits."""
    def answered() -> bool:
        state = engine("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "running":
            raise BenchError(f"replica {name} is {state or 'gone'}: {engine.logs(name)}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    wait_until(answered, timeout, f"replica {name} to answer {path} on port {port}", interval=0.1)


def seen_up(proxy: HAProxy, server: str, timeout: float = 30) -> None:
    wait_until(lambda: proxy.status(server) == "UP", timeout, f"HAProxy to see server {server} UP", interval=0.05)


def rollout(engine: Engine, image: str, variant: str, min_requests: int, clients: int = 4) -> Rollout:
    """Two replicas behind HAProxy, replaced one after the other under load; the load goes on until at least
    `min_requests` have been sent in all (and stops by itself after ten minutes whatever happens)."""
    ports = {"a": Ports(free_port(), free_port()), "b": Ports(free_port(), free_port())}
    checks = {server: health_check(variant, replica) for server, replica in ports.items()}
    replicas = {server: engine.run(*docker_run_args(variant, image, replica)) for server, replica in ports.items()}
    try:
        path = checks["a"][1]
        with haproxy({server: (ports[server].app, checks[server][0]) for server in ports}, path) as proxy:
            for server in ports:
                serving(engine, replicas[server], checks[server][0], path)
                seen_up(proxy, server)
            with Load(proxy.port, clients, limit=600) as load:
                time.sleep(1.0)  # the load is steady before the first TERM
                switch_began = time.monotonic()
                for server, replica in ports.items():
                    stopped = engine("stop", "-t", str(STOP_GRACE), replicas[server], timeout=STOP_GRACE + 30)
                    if stopped.returncode != 0:
                        raise BenchError(f"docker stop {replicas[server]}: {stopped.stderr.strip()}")
                    engine.remove(replicas[server])
                    replicas[server] = engine.run(*docker_run_args(variant, image, replica))
                    serving(engine, replicas[server], checks[server][0], path)
                    seen_up(proxy, server)
                switch_ended = time.monotonic()
                wait_until(lambda: len(load.outcomes) >= min_requests or None, 600,
                           f"{min_requests} requests through HAProxy", interval=0.1)
    finally:
        for name in replicas.values():
            engine.remove(name)
    outcomes = list(load.outcomes)
    during = [o for o in outcomes if switch_began <= o.started <= switch_ended]
    failures = [o for o in outcomes if o.failed]
    return Rollout(variant, len(outcomes), len(failures), len(during), sum(o.failed for o in during),
                   round(max((o.seconds for o in during), default=0.0) * 1000, 1),
                   round(switch_ended - switch_began, 2),
                   sorted({o.error or f"status {o.status}" for o in failures})[:5])


def rollouts(engine: Engine, image: str, min_requests: int, variants: Sequence[str] = VARIANTS) -> list[Rollout]:
    return [rollout(engine, image, variant, min_requests) for variant in variants]


# --- the figure: its own Docker engine and image, as the container tier makes them ---------------------------

@contextlib.contextmanager
def private_engine() -> Iterator[Engine]:
    """scripts/dockerd.sh's engine on the container tier's data directory (its base image and build cache),
    stopped by its PID afterwards; then the stand-in base image and the project's image, built as the tier does."""
    for program in ("dockerd", "debootstrap", "haproxy"):
        tool(program)
    cli = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else tool("docker")
    run_dir = tempfile.mkdtemp(prefix="pe-dockerd-", dir="/tmp")
    data_dir = ROOT / ".cache" / "docker"
    data_dir.mkdir(parents=True, exist_ok=True)
    script = str(ROOT / "scripts" / "dockerd.sh")
    started = subprocess.run(["bash", script, "start", run_dir, str(data_dir)], capture_output=True, text=True,
                             timeout=60)
    if started.returncode != 0:
        subprocess.run(["bash", script, "stop", run_dir], timeout=60)
        raise BenchError(f"dockerd did not start: {started.stderr.strip()[-400:]}")
    engine = Engine(started.stdout.strip(), cli)
    try:
        yield engine
    finally:
        engine.close()
        subprocess.run(["bash", script, "stop", run_dir], timeout=120)


def build_image(engine: Engine) -> str:
    base, image = "prod-entry-base:bookworm", "prod-entry-example:test"
    made = subprocess.run(["bash", str(ROOT / "scripts" / "docker-base-image.sh"), base], capture_output=True,
                          text=True, timeout=900, env={**os.environ, "DOCKER_HOST": engine.host})
    if made.returncode != 0:
        raise BenchError(f"building the base image failed: {made.stderr.strip()[-400:]}")
    built = subprocess.run([engine.cli, "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}", "-t",
                            image, "."], cwd=ROOT, capture_output=True, text=True, timeout=900,
                           env={**os.environ, "DOCKER_HOST": engine.host, "DOCKER_BUILDKIT": "0"})
    if built.returncode != 0:
        raise BenchError(f"docker build failed: {(built.stdout + built.stderr).strip()[-400:]}")
    return image


def figure(plan: Plan) -> dict[str, Any]:
    fig = Figure(10, f"Rolling restart behind HAProxy: failed requests, {plan.rollout_requests:,} or more per "
                 "variant", "requests failed", "0 failed with PROD_ENTRY_SHUTDOWN_DELAY", plan.rollout_runs)
    results: dict[str, list[Rollout]] = {variant: [] for variant in VARIANTS}
    with private_engine() as engine:
        image = build_image(engine)
        for _ in range(plan.rollout_runs):
            for result in rollouts(engine, image, plan.rollout_requests):
                results[result.variant].append(result)
    for variant, runs in results.items():
        fig.add(variant, [run.failed for run in runs], "prod-entry" if variant.startswith("prod") else "peer",
                sent=sum(run.sent for run in runs), failed=sum(run.failed for run in runs),
                sent_during_switch=sum(run.sent_during_switch for run in runs),
                longest_ms=max(run.longest_ms for run in runs),
                switch_seconds=round(max(run.switch_seconds for run in runs), 1),
                errors="; ".join(sorted({e for run in runs for e in run.errors}))[:300] or "none")
    ours = sum(run.failed for run in results[PROD_DELAY])
    worst_peer = max(sum(run.failed for run in results[v]) for v in VARIANTS[2:])
    fig.ratio("prod-entry (delay) failed / worst peer failed", ours, max(worst_peer, 1))
    sent = sum(run.sent for run in results[PROD_DELAY])
    fig.judge(ours == 0, f"{ours} of {sent:,} failed with a {SHUTDOWN_DELAY:g} s delay (goal 0)")
    fig.notes.append(
        f"HAProxy {haproxy_version()} on 127.0.0.1, defaults (`retries 3`, no `option redispatch`), checks every "
        f"{HEALTH_INTERVAL:g} s, `fall 2 rise 1`: prod-entry's health port (GET /ready), the peers GET /healthz on "
        "the app's port; two replicas of the example image, host network, "
        f"gunicorn {' '.join(GUNICORN_OPTIONS)}. Load: 4 Python client threads, a fresh connection per request, "
        f"GET {FAST_PATH} with one in {SLOW_EVERY} GET {SLOW_PATH}; a failure is a status >= 500, a connection "
        f"error or no answer within {CLIENT_TIMEOUT:g} s. Each replica is replaced by `docker stop -t {STOP_GRACE}`,"
        " a new container on its port, and a wait until HAProxy reports it UP. `longest_ms`: the slowest "
        "response among requests sent during the switch. prod-entry's /ready answers 503 from the TERM that starts "
        "its shutdown delay, with no readiness view in the app; the peers have no such state.")
    return fig.as_dict()
