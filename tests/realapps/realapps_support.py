"""The real-apps tier's machinery: each app's virtualenv, built once and cached under a hash of its lock file; its
databases (a migrated template per app, its dump cached beside the virtualenv, cloned for each test); and runs of
the app virtualenv's own `prod-entry`, stdout and stderr kept apart (a failed start's verdict is stderr's last
line)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from realapps_catalog import APPS, HOST, App, Services
from support import ROOT, free_port, kill_tree, wait_until

CACHE = Path(os.environ.get("PROD_ENTRY_TEST_CACHE", "/var/cache/prod-entry-tests")) / "realapps"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
DB_PASSWORD = "pw-canary-3f9a61c2"  # recognizable: no output may ever carry it


# --- virtualenvs ----------------------------------------------------------------------------------------------

def cache_dir(app: App) -> Path:
    """Keyed by the lock file, the interpreter, and this checkout (prod-entry is installed editable from it)."""
    key = hashlib.sha256(app.lock.read_bytes() + sys.version.encode() + str(ROOT).encode()).hexdigest()[:16]
    return CACHE / f"{app.name}-{key}"


def _step(argv: Sequence[str], what: str, **kwargs: object) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}): {' '.join(argv)}\n{done.stdout[-3000:]}\n"
                           f"{done.stderr[-3000:]}")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One builder per cache entry at a time (two test sessions of this checkout may start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass
class Built:
    venv: Path
    seconds: float      # how long the install took when it was built
    reused: bool        # found in the cache by this session

    def __str__(self) -> str:
        how = "reused from the cache" if self.reused else "built now"
        return f"{self.venv} ({how}; its install took {self.seconds:.0f} s)"


def build_venv(app: App) -> Built:
    """The app's virtualenv from /usr/bin/python3: its lock file, then prod-entry (editable, from this checkout)."""
    where = cache_dir(app)
    done = where / ".built"
    with locked(where.with_suffix(".lock")):
        if done.exists():
            return Built(where, json.loads(done.read_text())["seconds"], reused=True)
        shutil.rmtree(where, ignore_errors=True)
        if app.apt:
            _step(["bash", str(ROOT / "scripts" / "apt-need.sh"), *app.apt], f"{app}: apt-get install")
        started = time.monotonic()
        _step(["/usr/bin/python3", "-m", "venv", str(where)], f"{app}: venv")
        pip = [str(where / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        _step([*pip, "-r", str(app.lock)], f"{app}: pip install -r {app.lock.name}")
        _step([*pip, "--no-deps", "-e", str(ROOT)], f"{app}: pip install -e prod-entry")
        seconds = time.monotonic() - started
        done.write_text(json.dumps({"seconds": round(seconds, 1), "lock": app.lock.name}))
        return Built(where, seconds, reused=False)


# --- PostgreSQL -------------------------------------------------------------------------------------------------

class Postgres:
    """The session's PostgreSQL (tests/conftest.py's, trust for its superuser), administered as `postgres`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1].split("/")[0])
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))[-1]).parent

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as connection:
            cursor = connection.execute(statement)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def require_passwords(self, roles: Sequence[str]) -> None:
        """The fixture trusts everyone; the apps' roles must give a password (or the wrong-password fault could
        not happen): a scram-sha-256 line for each, ahead of the trust lines."""
        hba = Path(self.sql("SHOW hba_file")[0][0])
        text = hba.read_text()
        lines = "".join(f"host all {role} 127.0.0.1/32 scram-sha-256\n" for role in roles
                        if f" {role} 127.0.0.1/32 scram" not in text)
        if lines:
            hba.write_text(lines + text)
            self.sql("SELECT pg_reload_conf()")

    def create_role(self, role: str) -> None:
        if not self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
            self.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}'")

    def create_database(self, name: str, owner: str, template: str | None = None) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.sql(f"CREATE DATABASE {name} OWNER {owner}" + (f" TEMPLATE {template}" if template else ""))

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def dump(self, database: str, to: Path) -> None:
        _step([str(self.bin / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-Fc",
               "--no-owner", "-f", str(to), database], f"pg_dump {database}")

    def restore(self, dump: Path, database: str, owner: str) -> None:
        self.create_database(database, owner)
        _step([str(self.bin / "pg_restore"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
               "--no-owner", f"--role={owner}", "-d", database, str(dump)], f"pg_restore {database}")

    def migrations(self, database: str) -> set[str]:
        """The migrations recorded as applied (none: no django_migrations table yet)."""
        if not self.sql("SELECT 1 FROM pg_tables WHERE tablename = 'django_migrations'", database):
            return set()
        return {f"{app}.{name}" for app, name in self.sql("SELECT app, name FROM django_migrations", database)}

    def tables(self, database: str) -> set[str]:
        return {name for (name,) in self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database)}


# --- runs -------------------------------------------------------------------------------------------------------

@dataclass(repr=False)
class Outcome:
    """What one run of `prod-entry ...` did."""

    argv: list[str]
    code: int | None            # None: still running at its bound, then killed
    stdout: str
    stderr: str
    seconds: float
    served: int | None = None   # the page's status, when it answered while the process ran

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        code = "still running at its time bound (killed)" if self.code is None else f"exit {self.code}"
        served = "" if self.served is None else f", served the page with {self.served}"
        return (f"$ {' '.join(self.argv)}\n{code}{served} after {self.seconds:.1f}s\n--- stdout ---\n"
                f"{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-6000:]}")

    __repr__ = __str__  # pytest shows an assertion message's repr


def page_status(port: int, path: str, timeout: float = 5) -> int | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": HOST})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


class Running:
    """A started `prod-entry NAME`: its output read by threads, so a test can probe it while it runs."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, pid1: bool) -> None:
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()
        self.pid1 = pid1
        self.served: int | None = None

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    def target(self) -> int:
        """Who gets our signals: prod-entry, or as PID 1 the process unshare started (the real PID 1)."""
        if not self.pid1:
            return self.proc.pid
        return wait_until(lambda: psutil.Process(self.proc.pid).children(), 10, what="unshare's child")[0].pid

    def serving(self, port: int, path: str, timeout: float) -> int | None:
        """The page's status once the server answers; None when the process exited first (or never answered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            status = page_status(port, path)
            if status is not None:
                self.served = status
                return status
            time.sleep(0.2)
        return None

    def wait_for(self, needle: str, timeout: float) -> bool:
        """Whether `needle` appeared in its output within `timeout` (False at once when it exited without it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in "".join(self.out) + "".join(self.err):
                return True
            if self.proc.poll() is not None:
                return self.exited(0) and needle in "".join(self.out) + "".join(self.err)
            time.sleep(0.2)
        return False

    def exited(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, grace: float = 30) -> Outcome:
        """TERM (if still running), wait up to `grace`, KILL the whole tree after that."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess, AssertionError):
                os.kill(self.target(), signal.SIGTERM)
        code: int | None = self.proc.returncode
        if not self.exited(grace):
            kill_tree(self.proc.pid)
            self.proc.wait(10)
            code = None
        else:
            code = self.proc.returncode
        return self.outcome(code)

    def outcome(self, code: int | None) -> Outcome:
        for reader in self.readers:
            reader.join(10)
        return Outcome(self.argv, code, "".join(self.out), "".join(self.err), time.monotonic() - self.started,
                       self.served)

    def kill(self) -> None:
        kill_tree(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


@dataclass
class Deployment:
    """One app deployed in a site directory of its own, as a user would: its configuration files, its database,
    and the environment a .env file would hold."""

    app: App
    venv: Path
    site: Path
    services: Services
    port: int = field(default_factory=free_port)
    extra: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app_env = self.app.configure(self.site, self.services, self.venv)
        self.secrets = [DB_PASSWORD, *self.app.secrets, *self.secrets]

    def reconfigure(self, services: Services) -> None:
        """The same site with its services changed (the database gone, the password rotated wrongly...)."""
        self.services = services
        self.app_env = self.app.configure(self.site, services, self.venv)
        if services.db_password not in self.secrets:
            self.secrets.append(services.db_password)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PROD_ENTRY_", "DJANGO_", "GUNICORN_", "CELERY_", "PRETIX_")) and k != "PORT"}
        env.update(PATH=f"{self.venv / 'bin'}:{SYSTEM_PATH}", PYTHONUNBUFFERED="1", PORT=str(self.port),
                   PROD_ENTRY_STATE_DIR=str(self.site / "state"), PROD_ENTRY_PROCESS_WEB="gunicorn")
        if self.app.web_app:
            env["PROD_ENTRY_PROCESS_WEB_APP"] = self.app.web_app
        if self.app.worker_app:
            env.update(PROD_ENTRY_PROCESS_WORKER="celery-worker", PROD_ENTRY_PROCESS_WORKER_APP=self.app.worker_app,
                       PROD_ENTRY_PROCESS_WORKER_ARGS="--concurrency=1")
        env.update(self.app_env)
        env.update(self.extra)
        return {k: v for k, v in env.items() if v is not None}

    def argv(self, args: Sequence[str], pid1: bool = False) -> list[str]:
        return [*(UNSHARE if pid1 else []), str(self.venv / "bin" / "prod-entry"), *args]

    def run(self, *args: str, timeout: float = 90, **env: str) -> Outcome:
        """`prod-entry ARGS...` to completion (killed, with its whole tree, at `timeout`)."""
        running = Running(self.argv(args), {**self.env, **env}, self.site, pid1=False)
        if running.exited(timeout):
            return running.outcome(running.proc.returncode)
        running.kill()
        return running.outcome(None)

    @contextlib.contextmanager
    def launched(self, *args: str, pid1: bool = False, **env: str) -> Iterator[Running]:
        running = Running(self.argv(args, pid1), {**self.env, **env}, self.site, pid1)
        try:
            yield running
        finally:
            running.kill()

    def start_web(self, timeout: float = 120) -> Outcome:
        """A start of `prod-entry web` to its end: it exits by itself (a failed start), or it serves the page,
        then gets TERM."""
        with self.launched("web") as running:
            if running.serving(self.port, self.app.page, timeout) is None and not running.exited(1):
                running.kill()  # neither served nor exited within the bound
                return running.outcome(None)
            return running.stop()


# --- the session's apps ----------------------------------------------------------------------------------------

@dataclass
class Prepared:
    built: Built
    role: str
    full: str            # template database names
    partial: str
    full_migrations: set[str]
    partial_migrations: set[str]
    cache_db: int        # this app's Redis databases (cache, broker)
    broker_db: int
    seconds: float       # making the two templates: migrations on a cold cache, else restoring their dumps
    restored: bool

    def __str__(self) -> str:
        how = "restored from the cached dumps" if self.restored else "migrated now, dumps cached"
        return f"virtualenv {self.built}; templates {how} in {self.seconds:.0f} s"


class Lab:
    def __init__(self, postgres: Postgres, redis_url: str, apps: list[App]) -> None:
        self.postgres = postgres
        self.redis_base = redis_url.rsplit("/", 1)[0]
        self.sites = Path(tempfile.mkdtemp(prefix="prod-entry-realapps-", dir="/tmp"))
        self.sites.chmod(0o755)  # PROD_ENTRY_USER's user must reach its site
        self.postgres.require_passwords([self.role(app) for app in APPS])
        # A pipeline: one thread installs the virtualenvs one after the other, a second migrates each app's
        # template as soon as its virtualenv is there (pretix's two minutes of migrations overlap Weblate's
        # compiles). Everything at once on two cores took 17 minutes from a cold cache instead of about 6.
        self.installs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realapps-install")
        self.databases = ThreadPoolExecutor(max_workers=1, thread_name_prefix="realapps-databases")
        self.futures: dict[str, Future[Prepared]] = {}
        for app in apps:
            self.ready_later(app)
        self.counter = itertools.count()
        self.rows: list[tuple[str, str, Outcome, str]] = []
        self.lock = threading.Lock()

    @staticmethod
    def role(app: App) -> str:
        return f"ra_{app.name}"

    def ready_later(self, app: App) -> Future[Prepared]:
        if app.name not in self.futures:
            built = self.installs.submit(build_venv, app)
            self.futures[app.name] = self.databases.submit(self._prepare, app, built)
        return self.futures[app.name]

    def ready(self, app: App) -> Prepared:
        return self.ready_later(app).result()

    def services(self, app: App, database: str) -> Services:
        index = APPS.index(app)
        return Services(db_name=database, db_user=self.role(app), db_password=DB_PASSWORD,
                        db_port=self.postgres.port, cache_url=f"{self.redis_base}/{1 + 2 * index}",
                        broker_url=f"{self.redis_base}/{2 + 2 * index}")

    def _prepare(self, app: App, building: Future[Built]) -> Prepared:
        built = building.result()
        role = self.role(app)
        self.postgres.create_role(role)
        full, partial = f"{role}_full", f"{role}_partial"
        dumps = cache_dir(app)
        started = time.monotonic()
        with locked(dumps.with_suffix(".dumps.lock")):
            restored = (dumps / "partial.dump").exists()
            if restored:
                self.postgres.restore(dumps / "full.dump", full, role)
                self.postgres.restore(dumps / "partial.dump", partial, role)
            else:
                self.postgres.create_database(full, role)
                self._manage(app, built, full, "migrate", "--noinput")
                self.postgres.dump(full, dumps / "full.dump")
                self.postgres.create_database(partial, role, template=full)
                self._manage(app, built, partial, "migrate", app.new_migrations, "zero", "--noinput")
                self.postgres.dump(partial, dumps / "partial.dump")
        index = APPS.index(app)
        return Prepared(built, role, full, partial, self.postgres.migrations(full),
                        self.postgres.migrations(partial), 1 + 2 * index, 2 + 2 * index,
                        time.monotonic() - started, restored)

    def _manage(self, app: App, built: Built, database: str, *args: str) -> None:
        site = Path(tempfile.mkdtemp(prefix=f"{app.name}-prepare-", dir=self.sites))
        try:
            deployment = Deployment(app, built.venv, site, self.services(app, database))
            done = deployment.run("manage", *args, timeout=900)
            if done.code != 0:
                raise RuntimeError(f"{app}: preparing {database} failed\n{done}")
        finally:
            shutil.rmtree(site, ignore_errors=True)

    def deploy(self, app: App, database: str = "full", **env: str) -> Deployment:
        """A deployment on a new database: a clone of the `full` or `partial` template, or `empty`."""
        prepared = self.ready(app)
        name = f"{prepared.role}_t{next(self.counter)}"
        template = {"full": prepared.full, "partial": prepared.partial, "empty": None}[database]
        self.postgres.create_database(name, prepared.role, template=template)
        import redis

        for db in (prepared.cache_db, prepared.broker_db):  # a cold cache and an empty queue for every test
            redis.Redis.from_url(f"{self.redis_base}/{db}").flushdb()
        site = Path(tempfile.mkdtemp(prefix=f"{app.name}-", dir=self.sites))
        site.chmod(0o755)
        return Deployment(app, prepared.built.venv, site, self.services(app, name), extra=dict(env))

    def record(self, app: App, fault: str, outcome: Outcome, ran: str) -> None:
        with self.lock:
            self.rows.append((app.name, fault, outcome, ran))

    def close(self) -> None:
        for pool in (self.installs, self.databases):
            pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.sites, ignore_errors=True)
