"""The container tier's fixtures: the offline tools (hadolint, helm, kubernetes-validate, Compose v2), a private
Docker engine started by scripts/dockerd.sh and always stopped by its PID, a local base image standing in for
python:3.11-slim-bookworm, and the project's image built once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import BIN, IN_CI, ROOT, describe

# The engine's images and build cache persist between runs here (the base image takes a minute to make).
DATA_DIR = ROOT / ".cache" / "docker"
BASE_IMAGE = "prod-entry-base:bookworm"
IMAGE = "prod-entry-example:test"


def tool(name: str, installed_by: str = "scripts/test.sh") -> str:
    """The path of a command-line tool (the virtualenv's first), or a skip outside CI saying what installs it."""
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is not installed; {installed_by} installs it")
        pytest.skip(f"{name} is not installed ({installed_by} installs it)")
    return path


@dataclass
class Docker:
    """The docker CLI bound to the private engine."""

    host: str
    cli: str
    started: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def __call__(self, *args: str, timeout: float = 120, check: bool = False,
                 cwd: Path | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.cli, *args], env=self.env, cwd=cwd, timeout=timeout, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL)
        if check:
            assert proc.returncode == 0, f"docker {' '.join(args)}\n{describe(proc)}"
        return proc

    def start(self, *args: str) -> str:
        """`docker run -d --network host` with a unique name; removed at session end at the latest."""
        name = f"pe-test-{uuid.uuid4().hex[:8]}"
        self("run", "-d", "--name", name, "--network", "host", *args, check=True)
        self.started.append(name)
        return name

    def remove(self, name: str) -> None:
        self("rm", "-f", name)
        if name in self.started:
            self.started.remove(name)


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    """A dockerd of our own (networking left alone: containers use the host network), stopped by its PID even
    when tests fail."""
    tool("dockerd")
    # Prefer Debian's CLI (the engine's own version) over any other docker on PATH.
    cli = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else tool("docker")
    run_dir = tempfile.mkdtemp(prefix="pe-dockerd-", dir="/tmp")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(["bash", str(ROOT / "scripts" / "dockerd.sh"), "start", run_dir, str(DATA_DIR)],
                             capture_output=True, text=True, timeout=60)
    if started.returncode != 0:
        subprocess.run(["bash", str(ROOT / "scripts" / "dockerd.sh"), "stop", run_dir], timeout=60)
        pytest.fail(f"dockerd did not start:\n{describe(started)}")
    engine = Docker(host=started.stdout.strip(), cli=cli)
    try:
        yield engine
    finally:
        for name in list(engine.started):
            engine.remove(name)
        subprocess.run(["bash", str(ROOT / "scripts" / "dockerd.sh"), "stop", run_dir], timeout=120)


@pytest.fixture(scope="session")
def base_image(docker: Docker) -> str:
    tool("debootstrap")
    made = subprocess.run(["bash", str(ROOT / "scripts" / "docker-base-image.sh"), BASE_IMAGE], env=docker.env,
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, f"building the local base image failed:\n{describe(made)}"
    return BASE_IMAGE


@pytest.fixture(scope="session")
def image(docker: Docker, base_image: str) -> str:
    """The project's Dockerfile, built as it is; only the base image is swapped for the local stand-in."""
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image}", "-t", IMAGE, ".",
           cwd=ROOT, timeout=900, check=True)
    return IMAGE
