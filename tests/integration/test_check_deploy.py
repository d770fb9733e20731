"""PROD_ENTRY_CHECK_DEPLOY: Django's real `check --deploy` before exec; a failing check stops the start with exit
3 and the check ids, before any server runs."""

from __future__ import annotations

import pytest

from entrypoint.manager import ManagedProcess
from support import EXAMPLE, base_env, describe, example_env, run


def test_an_error_stops_the_start_with_exit_3_and_its_id() -> None:
    proc = run(["web"], example_env(PROD_ENTRY_CHECK_DEPLOY="1", EXAMPLE_DEPLOY_CHECK_ERROR="1"), cwd=EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert "check --deploy found 1 problem(s): example.E001" in proc.stderr, describe(proc)
    assert "gunicorn" not in proc.stderr and "Traceback" not in proc.stderr, describe(proc)


def test_warning_level_fails_on_djangos_own_security_warnings() -> None:
    proc = run(["web"], example_env(PROD_ENTRY_CHECK_DEPLOY="warning"), cwd=EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    # The example's development SECRET_KEY and missing HSTS are real Django deploy warnings.
    assert "security.W009" in proc.stderr and "security.W004" in proc.stderr, describe(proc)


def test_warnings_are_logged_and_do_not_stop_the_start_at_level_1() -> None:
    with ManagedProcess("web", env=example_env(PROD_ENTRY_CHECK_DEPLOY="1"), cwd=EXAMPLE,
                        health_path="/healthz") as server:
        assert server.health()
    assert "check --deploy: " in server.output() and "warning(s): " in server.output(), server.output()


def test_workers_are_not_checked() -> None:
    proc = run(["show", "manage"], example_env(PROD_ENTRY_CHECK_DEPLOY="1", EXAMPLE_DEPLOY_CHECK_ERROR="1"),
               cwd=EXAMPLE)
    assert proc.returncode == 0, describe(proc)
    done = run(["manage", "check"], example_env(PROD_ENTRY_CHECK_DEPLOY="1", EXAMPLE_DEPLOY_CHECK_ERROR="1"),
               cwd=EXAMPLE)
    assert done.returncode == 0, describe(done)


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_value_is_a_config_error(value: str) -> None:
    proc = run(["web"], example_env(PROD_ENTRY_CHECK_DEPLOY=value), cwd=EXAMPLE)
    assert proc.returncode == 2, describe(proc)
    assert f"PROD_ENTRY_CHECK_DEPLOY={value!r}: set 1" in proc.stderr, describe(proc)


def test_manage_py_server_runs_the_same_check() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "manage.py", "server", "web"], cwd=EXAMPLE, capture_output=True, text=True,
                          env=base_env(DJANGO_SETTINGS_MODULE="example.settings_prodserver",
                                       PROD_ENTRY_CHECK_DEPLOY="1", EXAMPLE_DEPLOY_CHECK_ERROR="1"), timeout=60)
    assert proc.returncode == 3, describe(proc)
    assert "example.E001" in proc.stderr, describe(proc)
