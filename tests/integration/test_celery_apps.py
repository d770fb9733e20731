"""Celery apps laid out as real projects lay them out (pretix: `pretix/celery_app.py`), none of which calls
prod-entry's heartbeat: found without APP, imported by `check`, their broker reached, their worker healthy.
Each project is written to tmp_path; a real celery worker and a real Redis run it."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
from support import base_env, describe, free_port, one_error_line, run, spawn, wait_until

SETTINGS = """\
import os

SECRET_KEY = "not-a-secret"
INSTALLED_APPS = []
CELERY_BROKER_URL = os.environ["SHOP_BROKER"]
"""


def project(root: Path, module: str | None = "celery_app", attribute: str = "app") -> Path:
    """`shop/` with its settings and, unless `module` is None, `shop/<module>.py` creating the app as
    `attribute`, with no line of prod-entry's in it."""
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "settings.py").write_text(SETTINGS)
    if module:
        (root / "shop" / f"{module}.py").write_text(textwrap.dedent(f"""\
            import os

            from celery import Celery

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
            {attribute} = Celery("shop")
            {attribute}.config_from_object("django.conf:settings", namespace="CELERY")


            @{attribute}.task
            def add(x, y):
                return x + y
            """))
    return root


def shop_env(broker: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return base_env(DJANGO_SETTINGS_MODULE="shop.settings", PROD_ENTRY_PROCESS_WORKER="celery-worker",
                    SHOP_BROKER=broker, PROD_ENTRY_STATE_DIR=str(tmp_path / "state"),
                    PROD_ENTRY_HEARTBEAT_INTERVAL="1", PROD_ENTRY_HEARTBEAT_MAX_AGE="5", **extra)


@pytest.mark.parametrize(("module", "attribute"), [("celery_app", "app"), ("celery", "app"),
                                                   ("celery_app", "celery"), ("celery_app", "tasks_app")])
def test_check_finds_and_imports_the_app(module: str, attribute: str, redis_url: str, tmp_path: Path) -> None:
    cwd = project(tmp_path, module, attribute)
    env = shop_env(redis_url, tmp_path)
    checked = run(["check", "worker"], env, cwd)
    assert checked.returncode == 0 and "worker: ok" in checked.stdout, describe(checked)
    assert f"the Celery app shop.{module} reached its broker {redis_url}" in checked.stderr, describe(checked)
    shown = run(["show", "worker"], env, cwd)
    assert f"app:     shop.{module}  (found shop/{module}.py in DJANGO_SETTINGS_MODULE's package" in shown.stdout, \
        describe(shown)


def test_the_worker_of_a_celery_app_module_starts_and_is_healthy(redis_url: str, tmp_path: Path) -> None:
    # Before: --app=shop, and celery's "Module 'shop' has no attribute 'celery'"; no heartbeat without install().
    cwd = project(tmp_path)
    env = shop_env(redis_url, tmp_path)
    beat = tmp_path / "state" / "heartbeat"
    with spawn(["worker", "--concurrency=1"], env, cwd) as proc:
        wait_until(lambda: beat.exists() or proc.poll() is not None, 90, what="the worker's first heartbeat")
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        healthy = run(["healthcheck", "worker"], env, cwd)
        assert healthy.returncode == 0 and "healthy: heartbeat" in healthy.stdout, describe(healthy)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    gone = run(["healthcheck", "worker"], env, cwd)
    assert gone.returncode == 1 and "no heartbeat" in gone.stderr, describe(gone)  # removed at shutdown


@pytest.mark.parametrize("command", [["check", "worker"], ["worker"]])
def test_no_app_module_is_exit_2_naming_what_was_tried(command: list[str], tmp_path: Path) -> None:
    cwd = project(tmp_path, module=None)
    proc = run(command, shop_env("redis://127.0.0.1:1/0", tmp_path), cwd)
    line = one_error_line(proc)
    assert proc.returncode == 2, describe(proc)
    assert "tried shop.celery and shop.celery_app" in line and "set PROD_ENTRY_PROCESS_WORKER_APP" in line, line


@pytest.mark.parametrize("command", [["check", "worker"], ["worker"]])
def test_a_broker_that_is_down_is_exit_3_with_the_url_masked(command: list[str], tmp_path: Path) -> None:
    password = "hunter2-broker-pw"
    closed = free_port()
    cwd = project(tmp_path)
    # The password is in the app's settings only, not a variable prod-entry would know to mask by name.
    proc = run(command, shop_env(f"redis://:{password}@127.0.0.1:{closed}/0", tmp_path,
                                 PROD_ENTRY_BROKER_TIMEOUT="1"), cwd)
    line = one_error_line(proc)
    assert proc.returncode == 3, describe(proc)
    assert f"cannot reach its broker redis://:****@127.0.0.1:{closed}/0 within 1s" in line, line
    assert "Connection refused" in line and "PROD_ENTRY_BROKER_TIMEOUT" in line, line
    assert password not in proc.stdout + proc.stderr, describe(proc)
    assert "celery@" not in proc.stdout + proc.stderr, describe(proc)  # the worker never started


def test_an_app_module_that_raises_is_exit_3(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    (cwd / "shop" / "celery_app.py").write_text("import shop.nothing_here\n")
    proc = run(["check", "worker"], shop_env("redis://127.0.0.1:1/0", tmp_path), cwd)
    line = one_error_line(proc)
    assert proc.returncode == 3, describe(proc)
    assert "the Celery app shop.celery_app cannot be loaded: ModuleNotFoundError: No module named " \
           "'shop.nothing_here'" in line, line
