"""PROD_ENTRY_PROCESS_<NAME>_BEFORE: release steps before the server, once per rollout, with a real PostgreSQL
advisory lock taken by replicas that start at the same moment."""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (EXAMPLE, Reader, describe, example_env, free_port, http_get, kill_tree, run, spawn,
                     wait_until)

STEPS = "manage migrate --noinput; manage collectstatic --noinput"


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh database on the test's PostgreSQL, dropped afterwards."""
    import psycopg

    name = f"release_{free_port()}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def applied(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as connection:
        return [f"{app}.{name}" for app, name in
                connection.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall()]


def test_three_replicas_starting_together_migrate_once_then_all_serve(database: str, tmp_path: Path) -> None:
    ports = [free_port() for _ in range(3)]
    procs = [subprocess.Popen([str(Path(sys.executable).parent / "prod-entry"), "web"], cwd=EXAMPLE,
                              env=example_env(PORT=str(port), DATABASE_URL=database, PROD_ENTRY_PROCESS_WEB_BEFORE=STEPS,
                                              DJANGO_STATIC_ROOT=str(tmp_path / f"static{port}"),
                                              PROD_ENTRY_HEALTHCHECK_URL="/healthz"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for port in ports]
    readers = [Reader(proc) for proc in procs]
    try:
        for port, proc, reader in zip(ports, procs, readers):
            def serving(port: int = port, proc: subprocess.Popen = proc, reader: Reader = reader) -> bool:
                assert proc.poll() is None, f"replica exited {proc.returncode}:\n{reader.text}"
                return (http_get(f"http://127.0.0.1:{port}/healthz", 2) or (0, ""))[0] == 200

            wait_until(serving, 90, 0.2, f"replica on {port} to serve /healthz")
    finally:
        for proc in procs:
            kill_tree(proc.pid)
            proc.wait(10)
    outputs = [reader.text for reader in readers]
    everything = "\n".join(outputs)
    rows = applied(database)
    applying = re.findall(r"Applying (\S+)\.\.\.", everything)
    assert rows and sorted(applying) == sorted(rows), everything  # each migration applied once, by one replica
    assert sum("Applying " in out for out in outputs) == 1, everything
    waited = [out for out in outputs if "release steps: waiting for the lock (PostgreSQL advisory lock" in out]
    assert len(waited) >= 1, everything  # the other two found the lock taken (or one of them after the first)
    for out in outputs:
        assert "release steps: holding the lock (PostgreSQL advisory lock" in out, out
        assert "step 1/2 (manage migrate --noinput) done" in out and "step 2/2 (manage collectstatic" in out, out
    nothing_to_do = [out for out in outputs if "No migrations to apply." in out]
    assert len(nothing_to_do) == 2, everything


def test_a_failing_step_stops_the_start_with_exit_5_its_status_and_error_line_and_nothing_runs(tmp_path: Path) -> None:
    # Before: the start exited 1 (migrate's own status, which the README keeps for prod-entry's bugs), and the last
    # line did not say what the step said.
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_PROCESS_WEB_BEFORE="manage migrate nosuchapp; command touch "
                      f"{tmp_path / 'second'}", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    proc = run(["web"], env, EXAMPLE)
    assert proc.returncode == 5, describe(proc)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("prod-entry: error: ")]
    assert errors == ["prod-entry: error: release steps: step 1/2 (manage migrate nosuchapp) exited 1: CommandError: "
                      "No installed app with label 'nosuchapp'.: nothing was started; fix the step (its output is "
                      "above)"], describe(proc)
    assert proc.stderr.splitlines()[-1] == errors[0], describe(proc)
    assert "No installed app with label 'nosuchapp'" in proc.stderr, describe(proc)  # the step's output passed
    assert not (tmp_path / "second").exists() and "warmup passed" not in proc.stderr, describe(proc)
    assert "Listening at" not in proc.stdout + proc.stderr, describe(proc)


def test_term_during_a_step_reaches_the_step_and_ends_the_start_with_143(tmp_path: Path) -> None:
    # The step says what it received and exits 0: the start still ends with 128+TERM, as a shell's would.
    step = "trap 'echo step got TERM; exit 0' TERM; echo step ready; while :; do sleep 0.1; done"
    env = example_env(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      PROD_ENTRY_PROCESS_WEB_BEFORE=f"sh -c {shlex.quote(step)}")
    with spawn(["web"], env, EXAMPLE) as proc:
        reader = Reader(proc)
        reader.wait_for("step ready")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 143, reader.text
    wait_until(lambda: "stopped by SIGTERM during release step 1/1" in reader.text, 5, what="the stop line")
    assert "step got TERM" in reader.text and "warmup passed" not in reader.text, reader.text


def test_sqlite_replicas_share_a_file_lock_and_check_runs_no_step(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    env = example_env(DATABASE_URL=f"sqlite:///{db}", PROD_ENTRY_PROCESS_WEB_BEFORE=STEPS)
    shown = run(["show", "web"], env, EXAMPLE)
    assert shown.returncode == 0, describe(shown)
    assert "1. " in shown.stdout and "manage.py migrate --noinput" in shown.stdout, describe(shown)
    assert f"lock:   file lock {db}.prod-entry-lock" in shown.stdout, describe(shown)
    checked = run(["check", "web"], env, EXAMPLE)
    assert checked.returncode == 0 and "release steps" not in checked.stderr, describe(checked)
    assert not db.exists(), "check must not run migrate"


def test_no_database_means_a_warning_that_every_replica_runs_the_steps(tmp_path: Path) -> None:
    env = {**example_env(), "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    env.update(PROD_ENTRY_PROCESS_JOB="command", PROD_ENTRY_PROCESS_JOB_ARGS="true",
               PROD_ENTRY_PROCESS_JOB_BEFORE=f"touch {tmp_path / 'ran'}")
    proc = run(["job"], env, tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "release steps: no lock: none (no Django DATABASES and no postgres:// DATABASE_URL)" in proc.stderr, \
        describe(proc)
    assert (tmp_path / "ran").exists()


def test_as_pid_1_term_reaches_the_step_through_the_supervisor(tmp_path: Path) -> None:
    from pid1_support import spawn_pid1

    step = "trap 'echo step got TERM; exit 0' TERM; echo step ready; while :; do sleep 0.1; done"
    env = example_env(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      PROD_ENTRY_PROCESS_WEB_BEFORE=f"sh -c {shlex.quote(step)}")
    with spawn_pid1(["web"], env, EXAMPLE) as (proc, pid1, lines):
        lines.until("step ready")
        import os

        os.kill(pid1, signal.SIGTERM)  # to PID 1, as `docker stop` sends it
        assert proc.wait(20) == 143, lines.rest(1)
        assert "step got TERM" in lines.rest(5)
