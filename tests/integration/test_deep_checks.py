"""The gate on what real applications meet (issue 23): a page can answer 200 while the database is down, its
password is wrong, its tables are missing or the cache is down; a bad APP must fail before any release step
migrates; settings imported as root leave root-owned files behind. Real PostgreSQL and Redis, the example
project, real `prod-entry` processes; each case both from a start and from `check` (the same path)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from entrypoint.release import steps
from entrypoint.settings.errors import StepFailed
from support import EXAMPLE, GUARDED_PASSWORD, GUARDED_ROLE, Reader, describe, example_env, free_port, one_error_line, run, spawn, wait_http


def manage(env: dict[str, str], *words: str) -> subprocess.CompletedProcess:
    return run(["manage", *words], env, EXAMPLE, timeout=120)


@pytest.fixture
def database(postgres_url: str) -> str:
    """A fresh, empty database of the test PostgreSQL (its own name per test)."""
    name = f"deep_{os.getpid()}_{time.monotonic_ns()}"
    admin = postgres_url.rsplit("/", 1)[0]
    done = subprocess.run(["psql", "-q", f"{admin}/app", "-c", f"CREATE DATABASE {name}"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    subprocess.run(["psql", "-q", f"{admin}/app", "-c", f"GRANT ALL ON DATABASE {name} TO {GUARDED_ROLE}"],
                   check=True, capture_output=True)
    return f"{admin}/{name}"


def web(**variables: str) -> dict[str, str]:
    return example_env(PORT=str(free_port()), PROD_ENTRY_WARMUP_IN_SERVER="0", **variables)


def both(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    return run(["web"], env, EXAMPLE, timeout=120), run(["check", "web"], env, EXAMPLE, timeout=120)


def refused(env: dict[str, str], code: int, *needles: str) -> str:
    """A start and a check both end with `code` and the same one line, naming every needle."""
    start, check = both(env)
    assert start.returncode == code and check.returncode == code, describe(start) + describe(check)
    line = one_error_line(start)
    assert one_error_line(check) == line, describe(check)
    assert all(needle in line for needle in needles), describe(start)
    return line


def test_a_database_that_is_down_fails_the_gate(database: str) -> None:
    # Before: `/` answered 200 (the example's pages need no query), check said ok and the start served.
    closed = database.replace(database.split("@")[1].split("/")[0], f"127.0.0.1:{free_port()}")
    refused(web(DATABASE_URL=closed), 3, "warmup: database 'default' (postgresql 127.0.0.1:", "Connection refused",
            "PROD_ENTRY_CHECK_DATABASES=0")


def test_a_wrong_password_fails_the_gate_naming_the_credentials_and_never_the_password(database: str) -> None:
    wrong = database.replace("postgres@", f"{GUARDED_ROLE}:not-the-{GUARDED_PASSWORD}@")
    line = refused(web(DATABASE_URL=wrong), 3, "password authentication failed", "fix the credentials of "
                   "DATABASES['default']")
    assert GUARDED_PASSWORD not in line


def test_an_unmigrated_database_names_the_migrations_and_a_migrated_one_passes(database: str) -> None:
    env = web(DATABASE_URL=database)
    refused(env, 3, "unapplied migration(s) on database 'default': contenttypes.0001_initial",
            "run 'manage migrate' or add it to PROD_ENTRY_PROCESS_WEB_BEFORE")
    assert manage(env, "migrate", "--noinput").returncode == 0
    checked = run(["check", "web"], env, EXAMPLE, timeout=120)
    assert checked.returncode == 0 and "web: ok" in checked.stdout, describe(checked)


def test_the_checks_turn_off_each_alone(database: str) -> None:
    env = web(DATABASE_URL=database, PROD_ENTRY_CHECK_MIGRATIONS="0")
    checked = run(["check", "web"], env, EXAMPLE, timeout=120)
    assert checked.returncode == 0, describe(checked)
    env = web(DATABASE_URL=database, PROD_ENTRY_PROCESS_WEB_CHECK_DATABASES="replica")
    refused(env, 2, "PROD_ENTRY_PROCESS_WEB_CHECK_DATABASES names 'replica', which DATABASES does not define")


def test_a_cache_that_is_down_fails_the_gate(redis_url: str) -> None:
    port = free_port()
    refused(web(DJANGO_CACHE_URL=f"redis://127.0.0.1:{port}/0"), 3,
            "warmup: cache 'default' (django.core.cache.backends.redis.RedisCache)", "Connection refused",
            "PROD_ENTRY_CHECK_CACHES=0")
    checked = run(["check", "web"], web(DJANGO_CACHE_URL=redis_url), EXAMPLE, timeout=120)
    assert checked.returncode == 0, describe(checked)


def test_a_bad_app_fails_before_any_release_step_runs(database: str, tmp_path: Path) -> None:
    # Before: the migrations ran (and a 25 s asset build), then the start failed at the APP import.
    marker = tmp_path / "step-ran"
    env = web(DATABASE_URL=database, PROD_ENTRY_PROCESS_WEB_APP="example.wsgi:aplication",
              PROD_ENTRY_PROCESS_WEB_BEFORE=f"manage migrate --noinput; command touch {marker}")
    start = run(["web"], env, EXAMPLE, timeout=120)
    assert start.returncode == 3, describe(start)
    assert "module example.wsgi has no attribute 'aplication'" in one_error_line(start), describe(start)
    assert "release steps" not in start.stderr and not marker.exists(), describe(start)
    tables = subprocess.run(["psql", "-tA", database, "-c", "SELECT count(*) FROM pg_tables WHERE "
                             "schemaname = 'public'"], capture_output=True, text=True, check=True)
    assert tables.stdout.strip() == "0", "no migration may run for a release that can never serve"


def test_a_step_typo_is_named_before_any_step_runs(database: str, tmp_path: Path) -> None:
    marker = tmp_path / "step-ran"
    env = web(DATABASE_URL=database, PROD_ENTRY_PROCESS_WEB_BEFORE=f"command touch {marker}; manage migrat")
    line = refused(env, 2, "PROD_ENTRY_PROCESS_WEB_BEFORE: 'manage migrat' is not a command of this project "
                   "(did you mean migrate?)")
    assert not marker.exists(), line


def test_the_steps_then_the_checks_then_serving(database: str) -> None:
    """With the migrate step, a start on an empty database migrates, passes every check and serves; check
    leaves the migrations to the step it does not run, and says so."""
    env = web(DATABASE_URL=database, PROD_ENTRY_PROCESS_WEB_BEFORE="manage migrate --noinput")
    checked = run(["check", "web"], env, EXAMPLE, timeout=120)
    assert checked.returncode == 0 and "left to the 'manage migrate' step" in checked.stderr, describe(checked)
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", 60, proc)
        text = reader.text
    order = [text.index(said) for said in ("preflight passed", "release steps: step 1/1 (manage migrate --noinput) "
                                           "done", "warmup passed")]
    assert order == sorted(order), text


def test_an_empty_before_means_no_steps() -> None:
    # Compose and Helm unset a variable by setting it empty; before, that was 'step 1 is empty', exit 2.
    checked = run(["check", "web"], web(PROD_ENTRY_PROCESS_WEB_BEFORE=""), EXAMPLE)
    assert checked.returncode == 0, describe(checked)


def test_a_wrong_password_under_release_steps_fails_at_once(database: str) -> None:
    # Before: retried as if the lock were busy for PROD_ENTRY_BEFORE_LOCK_TIMEOUT (600 s), then exit 4.
    wrong = database.replace("postgres@", f"{GUARDED_ROLE}:not-the-{GUARDED_PASSWORD}@")
    env = web(DATABASE_URL=wrong, PROD_ENTRY_PROCESS_WEB_BEFORE="manage migrate --noinput",
              PROD_ENTRY_BEFORE_LOCK_TIMEOUT="60")
    started = time.monotonic()
    start = run(["web"], env, EXAMPLE, timeout=120)
    assert start.returncode == 3, describe(start)
    line = one_error_line(start) if "preflight" not in start.stderr else start.stderr.strip().splitlines()[-1]
    assert "release steps: the database refused the lock's connection" in line, describe(start)
    assert "password authentication failed" in line and GUARDED_PASSWORD not in start.stderr, describe(start)
    assert time.monotonic() - started < 30, "an authentication failure is not retried"


def test_settings_are_imported_as_the_user() -> None:
    """A settings module that makes its data directories at import: they belong to PROD_ENTRY_USER, not root.
    Before: prod-entry imported the settings (to derive the app) as root, before the drop."""
    # Not pytest's tmp_path: its parents are private to root, and the user must reach the settings module.
    tmp_path = Path(tempfile.mkdtemp(prefix="prod-entry-owned-"))
    tmp_path.chmod(0o777)
    data = tmp_path / "data"
    (tmp_path / "owned_settings.py").write_text(textwrap.dedent(f"""\
        import os
        from example.settings import *  # noqa: F403
        os.makedirs({str(data / 'logs')!r}, exist_ok=True)
        """))
    env = example_env(DJANGO_SETTINGS_MODULE="owned_settings", PYTHONPATH=f"{tmp_path}:{EXAMPLE}",
                      PROD_ENTRY_USER="nobody")
    shown = run(["show", "web"], env, EXAMPLE)
    assert shown.returncode == 0, describe(shown)
    nobody = pwd.getpwnam("nobody").pw_uid
    try:
        assert data.stat().st_uid == nobody and (data / "logs").stat().st_uid == nobody
    finally:
        shutil.rmtree(tmp_path)


def test_a_step_silent_for_long_says_what_it_waits_on(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step blocked on a lock another session holds: the progress line names the holder (through the release
    lock's own connection), and its failure quotes the step's own error line. Real PostgreSQL sessions; SILENT
    shortened so the test waits seconds, not 30."""
    import psycopg

    monkeypatch.setattr(steps, "SILENT", 1.0)
    holder = psycopg.connect(database, application_name="the-holder")
    holder.execute("CREATE TABLE t (x int)")
    holder.commit()
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")  # held: its transaction stays open
    lines: list[str] = []
    step = steps.Step("blocked", ["psql", "-q", database, "-c", "SET lock_timeout = '4s'", "-c",
                                  "SELECT count(*) FROM t"])
    try:
        with steps.held(steps.Lock("postgresql", "test", database), 10, "V", lines.append) as waiting:
            with pytest.raises(StepFailed) as failed:
                steps.run([step], lines.append, waiting)
    finally:
        holder.close()
    progress = [line for line in lines if "still running" in line]
    assert progress and "waits for a lock held by session" in progress[0] and "the-holder" in progress[0], lines
    assert failed.value.exit_code == steps.STEP_FAILED, failed.value
    assert "exited 1: ERROR:  canceling statement due to lock timeout" in str(failed.value), failed.value


def test_a_probe_with_the_host_and_the_process_given_imports_none_of_the_apps_code(tmp_path: Path) -> None:
    """Before: every `healthcheck` imported the settings module (looking for PRODUCTION_PROCESSES), running its
    import side effects (banners, mkdirs) every few seconds, even with PROD_ENTRY_WARMUP_HOST set."""
    marker = tmp_path / "imported"
    (tmp_path / "marked_settings.py").write_text(textwrap.dedent(f"""\
        import pathlib
        from example.settings import *  # noqa: F403
        pathlib.Path({str(marker)!r}).touch()
        """))
    # One worker: with the warmup out of the server each worker imports the settings itself, and a worker still
    # booting after the first one answered would touch the marker after it is removed.
    env = web(DJANGO_SETTINGS_MODULE="marked_settings", PYTHONPATH=f"{tmp_path}:{EXAMPLE}",
              PROD_ENTRY_PROCESS_WEB="gunicorn", PROD_ENTRY_WARMUP_HOST="localhost", PROD_ENTRY_CONCURRENCY="1")
    with spawn(["web"], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", 60, proc)
        marker.unlink()
        probed = run(["healthcheck"], env, EXAMPLE)
        assert probed.returncode == 0, describe(probed)
        assert not marker.exists(), "the probe imported the settings module"
        del env["PROD_ENTRY_PROCESS_WEB"]  # the built-in web: PRODUCTION_PROCESSES may replace it, so it is read
        assert run(["healthcheck"], env, EXAMPLE).returncode == 0 and marker.exists()
