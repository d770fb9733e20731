"""The projects figures 7 and 8 serve: the small example app, and a big one, the project `wagtail start` makes
(Wagtail from PyPI: some twenty installed apps, a CMS's imports, a page tree in SQLite), generated and
migrated once, cached under .cache/bench/ by Wagtail's version."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from bench.harness import BIN, EXAMPLE, PYTHON, WHEEL_CACHE, BenchError, clean_env


@dataclass(frozen=True)
class Project:
    name: str
    cwd: Path
    settings: str  # DJANGO_SETTINGS_MODULE
    wsgi: str
    asgi: str
    health: str  # the URL every server is asked, and every warmup asks
    variables: tuple[tuple[str, str], ...] = ()  # what the project itself needs in its environment

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(DJANGO_SETTINGS_MODULE=self.settings, **{**dict(self.variables), **extra})


EXAMPLE_PROJECT = Project("example", EXAMPLE, "example.settings", "example.wsgi:application",
                          "example.asgi:application", "/healthz")
SITE = "bigsite"


def example_with_database() -> Project:
    """The example with a migrated SQLite database (it has none unless DATABASE_URL names one), so that every
    gate of figure 7 (prod-entry's deep checks, the hand-written script's checks) has a database to ask."""
    path = WHEEL_CACHE / "example-db" / "db.sqlite3"
    project = replace(EXAMPLE_PROJECT, name="example (SQLite)", variables=(("DATABASE_URL", f"sqlite:///{path}"),))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path.parent / "migrated").exists():
            proc = subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=EXAMPLE, env=project.env(),
                                  capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise BenchError(f"migrating the example's database failed:\n{proc.stdout}{proc.stderr}")
            (path.parent / "migrated").touch()
    return project


def wagtail() -> Project:
    """The `wagtail start` project, with its database migrated. Its production settings need a SECRET_KEY
    and ALLOWED_HOSTS, so it is served with its dev settings (DEBUG on): the imports, the URL conf and the
    home page's queries are the same."""
    try:
        version = metadata.version("wagtail")
    except metadata.PackageNotFoundError:
        raise BenchError("wagtail is not installed: `make bench` installs it (scripts/bench.sh, the "
                         "bench-big extra)") from None
    target = WHEEL_CACHE / f"wagtail-{version}"
    project = Project(f"wagtail {version} (`wagtail start`)", target / SITE, f"{SITE}.settings.dev",
                      f"{SITE}.wsgi:application", f"{SITE}.asgi:application", "/")
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    with open(WHEEL_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two bench runs at once must not generate into the same directory
        if (target / "migrated").exists():
            return project
        shutil.rmtree(target, ignore_errors=True)
        (target / SITE).mkdir(parents=True)
        env = clean_env()
        for step in ([str(BIN / "wagtail"), "start", SITE, str(target / SITE)],
                     [PYTHON, "manage.py", "migrate", "--noinput"]):
            proc = subprocess.run(step, cwd=target / SITE, env=project.env() if step[0] == PYTHON else env,
                                  capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                last = ((proc.stdout + proc.stderr).strip().splitlines() or ["no output"])[-1]
                raise BenchError(f"generating the Wagtail project: `{' '.join(step)}` exited {proc.returncode}: "
                                 f"{last[:300]}")
        (target / "migrated").touch()
    return project
