"""Shared fixtures. Under CI=true a skipped test fails the run: skips are for machines that truly cannot run
a tool, and CI is not one of them."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator

import os

import pytest
from hypothesis import HealthCheck, settings

from support import GUARDED_PASSWORD, GUARDED_ROLE, IN_CI, free_port, wait_until

# Property tests: a small profile in the normal run, 10,000 examples each with HYPOTHESIS_PROFILE=slow.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("slow", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI=true: {skipped} test(s) skipped; skips are not allowed in CI", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private redis-server on a free loopback port, for the Celery and RQ tests."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (scripts/test.sh installs it)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import socket

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, 10, what="redis-server to listen")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL (Debian's package) in a temporary data directory on a free loopback port, run as
    the `postgres` user (it refuses root) and stopped by its PID; yields a URL for database `app`."""
    import glob
    import pwd
    import tempfile
    from pathlib import Path

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql)")
    bin_dir = os.path.dirname(found[-1])
    owner = pwd.getpwnam("postgres")
    # Not under pytest's own temporary directory: that one is private to root, and PostgreSQL refuses root.
    data = Path(tempfile.mkdtemp(prefix="prod-entry-pg-"))
    os.chown(data, owner.pw_uid, owner.pw_gid)
    as_postgres = {"user": owner.pw_uid, "group": owner.pw_gid, "cwd": data}
    subprocess.run([f"{bin_dir}/initdb", "-D", str(data / "db"), "-A", "trust", "-U", "postgres"], check=True,
                   stdout=subprocess.DEVNULL, **as_postgres)  # type: ignore[arg-type]
    # One role whose password is checked (every other connection is trusted): the tests' wrong-password cases.
    hba = data / "db" / "pg_hba.conf"
    hba.write_text(f"host all {GUARDED_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    port = free_port()
    proc = subprocess.Popen([f"{bin_dir}/postgres", "-D", str(data / "db"), "-p", str(port), "-h", "127.0.0.1",
                             "-k", str(data), "-c", "fsync=off"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, **as_postgres)  # type: ignore[arg-type]
    try:
        def ready() -> bool:
            done = subprocess.run([f"{bin_dir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL)
            return done.returncode == 0

        wait_until(ready, 30, 0.1, "PostgreSQL to accept connections")
        subprocess.run([f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "app"],
                       check=True)
        subprocess.run([f"{bin_dir}/psql", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "app",
                        "-c", f"CREATE ROLE {GUARDED_ROLE} LOGIN PASSWORD '{GUARDED_PASSWORD}'"], check=True)
        yield f"postgres://postgres@127.0.0.1:{port}/app"
    finally:
        proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)
