"""pytest plugin (registered through the `pytest11` entry point): fixtures that run your real production
processes, the way the container runs them, on a free port.

    def test_home(prod_entry_web):
        assert urllib.request.urlopen(prod_entry_web.url + "/").status == 200

    def test_asgi(prod_entry_process):
        server = prod_entry_process("asgi", health_path="/healthz")

Processes run in the current working directory with the current environment (set DJANGO_SETTINGS_MODULE);
each is stopped (SIGTERM, then SIGKILL after its grace period) when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def prod_entry_process() -> Iterator[Callable[..., Any]]:
    """A factory: `prod_entry_process(name="web", *extra, timeout=30, **options)` starts the process NAME,
    waits until it serves and returns its `entrypoint.manager.ManagedProcess` (`.url`, `.health()`, `.stop()`,
    `.output()`). Options are ManagedProcess's: env, cwd, host, port, health_path, grace."""
    from entrypoint.manager import ManagedProcess

    started: list[ManagedProcess] = []

    def start(name: str = "web", *extra: str, timeout: float = 30.0, **options: Any) -> ManagedProcess:
        process = ManagedProcess(name, extra, **options)
        started.append(process)
        return process.start(timeout=timeout)

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def prod_entry_web(prod_entry_process: Callable[..., Any]) -> Any:
    """Your `web` process, serving on a free port of 127.0.0.1's (see prod_entry_process)."""
    return prod_entry_process("web")
