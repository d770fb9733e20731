"""`prod-entry healthcheck NAME` for every backend that serves no HTTP, against real workers: healthy while the
worker takes work, one honest line and exit 1 once it is stopped or stuck (SIGSTOP: its heartbeat goes stale)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from support import EXAMPLE, base_env, describe, example_env, run, spawn, wait_until

MAX_AGE = "3"


def probe(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = run(["healthcheck", name], env, cwd)
    assert len((proc.stdout + proc.stderr).strip().splitlines()) == 1, describe(proc)  # one line, always
    return proc


def check_lifecycle(name: str, env: dict[str, str], cwd: Path, beat: Path, stop_within: float = 60) -> None:
    """Start `prod-entry NAME`; healthy once it beats; stale when frozen; unhealthy after TERM, which it obeys
    within `stop_within` seconds."""
    with spawn([name], env, cwd) as proc:
        wait_until(lambda: beat.exists() or proc.poll() is not None, 90, what=f"{name}'s first heartbeat")
        assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{proc.stdout.read() if proc.stdout else ''}"
        first = beat.stat().st_mtime
        # Fresh again and again: the worker's loop keeps touching it, not a one-off at start.
        wait_until(lambda: beat.stat().st_mtime > first, 20, what=f"a second heartbeat from {name}")
        healthy = probe(name, env, cwd)
        assert healthy.returncode == 0 and "healthy: heartbeat" in healthy.stdout, describe(healthy)

        # A worker that no longer runs (frozen: as a deadlock would leave it) lets the heartbeat go stale.
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            p.send_signal(signal.SIGSTOP)
        try:
            stale = wait_until(lambda: (r := probe(name, env, cwd)).returncode == 1 and r, 30,
                               interval=0.5, what=f"{name}'s heartbeat to go stale")
            assert "stale heartbeat" in stale.stderr and f"max {MAX_AGE}s" in stale.stderr, describe(stale)
        finally:
            for p in tree:
                p.send_signal(signal.SIGCONT)
        wait_until(lambda: probe(name, env, cwd).returncode == 0, 30, interval=0.5,
                   what=f"{name} to beat again after SIGCONT")

        proc.send_signal(signal.SIGTERM)
        proc.wait(stop_within)
    # Removed at shutdown where the library runs a shutdown hook; else stale within MAX_AGE.
    stopped = wait_until(lambda: (r := probe(name, env, cwd)).returncode == 1 and r, 30, interval=0.5,
                         what=f"the probe to fail after {name} stopped")
    assert "no heartbeat" in stopped.stderr or "stale heartbeat" in stopped.stderr, describe(stopped)


def worker_env(tmp_path: Path, name: str, backend: str, **extra: str) -> tuple[dict[str, str], Path]:
    beat = tmp_path / "state" / "beat"
    env = base_env(**{f"PROD_ENTRY_PROCESS_{name.upper()}": backend, "PROD_ENTRY_HEARTBEAT_FILE": str(beat),
                      "PROD_ENTRY_HEARTBEAT_INTERVAL": "1", "PROD_ENTRY_HEARTBEAT_MAX_AGE": MAX_AGE,
                      "PROD_ENTRY_STATE_DIR": str(tmp_path / "state"),
                      "PYTHONPATH": f"{tmp_path}{os.pathsep}{EXAMPLE}", **extra})
    return env, beat


def worker_settings(tmp_path: Path, settings: str) -> None:
    """A settings module over the example's, with no line of prod-entry's in the project: prod-entry installs
    each worker's heartbeat itself."""
    (tmp_path / "worker_settings.py").write_text("from example.settings import *  # noqa\n" + textwrap.dedent(settings))


def test_celery_worker(redis_url: str, tmp_path: Path) -> None:
    env, beat = worker_env(tmp_path, "worker", "celery-worker", CELERY_BROKER_URL=redis_url,
                           DJANGO_SETTINGS_MODULE="example.settings", PROD_ENTRY_PROCESS_WORKER_ARGS="--concurrency=1")
    check_lifecycle("worker", env, EXAMPLE, beat)


def test_rq_worker(redis_url: str, tmp_path: Path) -> None:
    # Idle, it leaves within docker stop's 10 s grace. Before: rq's pubsub thread could hold it 60 s after TERM
    # (a race, 7 of 30 runs on a loaded machine; see entrypoint/health/heartbeats/rq.py, unsubscribe).
    env, beat = worker_env(tmp_path, "q", "rq", REDIS_URL=redis_url)
    check_lifecycle("q", env, tmp_path, beat, stop_within=10)


def test_dramatiq_worker(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "dq_app.py").write_text(textwrap.dedent(f"""\
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        dramatiq.set_broker(RedisBroker(url={redis_url!r}))


        @dramatiq.actor
        def add(x, y):
            return x + y
        """))
    env, beat = worker_env(tmp_path, "dq", "dramatiq", PROD_ENTRY_PROCESS_DQ_APP="dq_app",
                           PROD_ENTRY_PROCESS_DQ_ARGS="--processes 1 --threads 1")
    check_lifecycle("dq", env, tmp_path, beat)


def test_huey_consumer(redis_url: str, tmp_path: Path) -> None:
    # Before: no heartbeat without huey.install(HUEY) in the project's AppConfig.ready().
    worker_settings(tmp_path, f"""
        INSTALLED_APPS = [*INSTALLED_APPS, "huey.contrib.djhuey"]
        HUEY = {{"huey_class": "huey.RedisHuey", "name": "probe-test", "url": {redis_url!r}, "immediate": False}}
        """)
    env, beat = worker_env(tmp_path, "tasks", "huey", DJANGO_SETTINGS_MODULE="worker_settings")
    check_lifecycle("tasks", env, EXAMPLE, beat)


def test_django_tasks_db_worker(tmp_path: Path) -> None:
    # Before: no heartbeat without django_tasks.install() in the project's AppConfig.ready().
    worker_settings(tmp_path, """
        INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks", "django_tasks_db"]
        TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        """)
    env, beat = worker_env(tmp_path, "tasks", "django-tasks", DJANGO_SETTINGS_MODULE="worker_settings",
                           DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    migrated = run(["manage", "migrate", "--verbosity=0"], env, EXAMPLE)
    assert migrated.returncode == 0, describe(migrated)
    check_lifecycle("tasks", env, EXAMPLE, beat)


@pytest.mark.parametrize("backend", ["rq", "dramatiq", "huey", "django-tasks", "celery-worker"])
def test_a_worker_that_never_beat_is_one_honest_line(backend: str, tmp_path: Path) -> None:
    # Before: rq/huey/django-tasks claimed an APP was set; dramatiq answered with a KeyError's bare `'app'`.
    env, beat = worker_env(tmp_path, "q", backend)
    proc = probe("q", env, tmp_path)
    assert proc.returncode == 1 and f"no heartbeat: {beat} does not exist" in proc.stderr, describe(proc)
    assert "_APP" not in proc.stderr and "'app'" not in proc.stderr, describe(proc)


@pytest.mark.parametrize("backend", ["command", "celery-beat", "manage"])
def test_a_backend_without_a_probe_says_how_to_give_it_one(backend: str, tmp_path: Path) -> None:
    env = base_env(PROD_ENTRY_PROCESS_JOB=backend, PROD_ENTRY_STATE_DIR=str(tmp_path))
    proc = probe("job", env, tmp_path)
    assert proc.returncode == 1, describe(proc)
    assert f"process 'job' (backend {backend}) has no probe of its own" in proc.stderr, describe(proc)
    assert "PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND" in proc.stderr, describe(proc)
    assert "PROD_ENTRY_PROCESS_JOB_HEARTBEAT_FILE" in proc.stderr, describe(proc)


def test_a_command_process_with_the_probe_the_user_names(tmp_path: Path) -> None:
    from support import free_port

    port = free_port()
    serve = f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(600)"
    knock = f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\""
    env = base_env(PROD_ENTRY_PROCESS_JOB="command", PROD_ENTRY_PROCESS_JOB_ARGS=f"{sys.executable} -c \"{serve}\"",
                   PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND=knock)
    with spawn(["job"], env, tmp_path) as proc:
        healthy = wait_until(lambda: (r := probe("job", env, tmp_path)).returncode == 0 and r, 30, interval=0.2,
                             what="the user's probe to pass")
        assert "healthy: PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND" in healthy.stdout, describe(healthy)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    down = probe("job", env, tmp_path)
    # The traceback's last line says why, not its first ("Traceback (most recent call last):").
    assert down.returncode == 1 and "exited 1: ConnectionRefusedError" in down.stderr, describe(down)


def test_a_command_process_with_a_heartbeat_file_of_its_own(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    env = base_env(PROD_ENTRY_PROCESS_JOB="command", PROD_ENTRY_PROCESS_JOB_HEARTBEAT_FILE=str(beat),
                   PROD_ENTRY_PROCESS_JOB_HEARTBEAT_MAX_AGE="30")
    missing = probe("job", env, tmp_path)
    assert missing.returncode == 1 and f"no heartbeat: {beat} does not exist" in missing.stderr, describe(missing)
    beat.touch()
    fresh = probe("job", env, tmp_path)
    assert fresh.returncode == 0 and f"healthy: heartbeat {beat}" in fresh.stdout, describe(fresh)
    old = fresh_mtime = beat.stat().st_mtime - 120
    os.utime(beat, (old, fresh_mtime))
    stale = probe("job", env, tmp_path)
    assert stale.returncode == 1 and "raise PROD_ENTRY_PROCESS_JOB_HEARTBEAT_MAX_AGE" in stale.stderr, describe(stale)


def test_the_global_heartbeat_file_is_not_a_probe_for_celery_beat(tmp_path: Path) -> None:
    # The worker's file, fresh, must not make the beat beside it look healthy.
    beat = tmp_path / "beat"
    beat.touch()
    env = example_env(PROD_ENTRY_PROCESS_SCHEDULER="celery-beat", PROD_ENTRY_HEARTBEAT_FILE=str(beat))
    proc = probe("scheduler", env, EXAMPLE)
    assert proc.returncode == 1 and "has no probe of its own" in proc.stderr, describe(proc)
