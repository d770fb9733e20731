"""What the container tier's tests share besides fixtures: the docker CLI bound to the private engine, and how
a missing tool is reported (a skip outside CI, a failure under CI=true). A module of its own, not conftest.py:
`from conftest import ...` would pick whichever conftest pytest imported last."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import BIN, IN_CI, describe

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
