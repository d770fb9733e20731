"""A Celery worker's prefork pool sized by prod-entry, inside the worker by its --app wrapper: the count applies
only where the app's own configuration sets none (its Django settings here), so the project's worker_concurrency
always wins, wherever it is set. A real worker on real Redis; its pool's processes counted with psutil."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import psutil
import pytest

from support import EXAMPLE, base_env, spawn, wait_until


def pool_size(tmp_path: Path, redis_url: str, settings: str) -> int:
    (tmp_path / "sized_settings.py").write_text("from example.settings import *  # noqa\n" + textwrap.dedent(settings))
    beat = tmp_path / "beat"
    env = base_env(DJANGO_SETTINGS_MODULE="sized_settings", PYTHONPATH=f"{tmp_path}{os.pathsep}{EXAMPLE}",
                   PROD_ENTRY_PROCESS_WORKER="celery-worker", PROD_ENTRY_PROCESS_WORKER_APP="example.celery",
                   PROD_ENTRY_HEARTBEAT_FILE=str(beat),
                   PROD_ENTRY_CONCURRENCY="3", CELERY_BROKER_URL=redis_url, PROD_ENTRY_INIT="never")
    with spawn(["worker"], env, EXAMPLE) as proc:
        wait_until(lambda: beat.exists() or proc.poll() is not None, 90, what="the worker to be ready")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        return len(psutil.Process(proc.pid).children())


@pytest.mark.parametrize(("settings", "size"), [
    ("", 3),  # PROD_ENTRY_CONCURRENCY's count (this machine has 2 CPUs: not celery's own default)
    ("CELERY_WORKER_CONCURRENCY = 1\n", 1),  # the project's own, not seen by planning: the wrapper leaves it
])
def test_the_pool_is_sized_unless_the_app_sets_its_own(tmp_path: Path, redis_url: str, settings: str,
                                                        size: int) -> None:
    assert pool_size(tmp_path, redis_url, settings) == size
