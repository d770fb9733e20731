"""prod-entry installs the workers' heartbeats itself (the Celery --app wrapper); a project that also calls
install() must not get a second hook: install() is idempotent."""

from __future__ import annotations

from pathlib import Path


def test_celery_install_twice_connects_once(tmp_path: Path) -> None:
    from celery import signals

    from entrypoint.health.heartbeats import celery

    def ours() -> list[object]:
        return [r for r in signals.worker_ready.receivers if "prod-entry-heartbeat-ready" in str(r[0])]

    celery.install(str(tmp_path / "first"))
    celery.install(str(tmp_path / "second"))  # the wrapper's, after the app module's own
    assert len(ours()) == 1

