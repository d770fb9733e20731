"""prod-entry installs the workers' heartbeats itself (the Celery --app wrapper, the huey and django-tasks
runners); a project that also calls install() must not get a second hook: install() is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_celery_install_twice_connects_once(tmp_path: Path) -> None:
    from celery import signals

    from entrypoint.health.heartbeats import celery

    def ours() -> list[object]:
        return [r for r in signals.worker_ready.receivers if "prod-entry-heartbeat-ready" in str(r[0])]

    celery.install(str(tmp_path / "first"))
    celery.install(str(tmp_path / "second"))  # the wrapper's, after the app module's own
    assert len(ours()) == 1


def test_huey_install_twice_wraps_dequeue_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huey import MemoryHuey

    from entrypoint.health.heartbeats import huey

    monkeypatch.setenv("PROD_ENTRY_HEARTBEAT_FILE", str(tmp_path / "beat"))
    instance = MemoryHuey("hooks-test")
    huey.install(instance)
    wrapped = instance.dequeue
    huey.install(instance)
    assert instance.dequeue is wrapped
    instance.dequeue()
    assert (tmp_path / "beat").exists()
