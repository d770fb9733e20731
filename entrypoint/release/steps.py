"""PROD_ENTRY_PROCESS_<NAME>_BEFORE: release steps (migrate, collectstatic, ...) run to completion, in order,
before NAME's warmup and exec, under one lock, so that replicas starting together run them one at a time.

The lock is the project's own database: a session-level PostgreSQL advisory lock (connection settings from
Django's DATABASES["default"], else DATABASE_URL), a file lock beside a SQLite database, else no lock at all,
said in a warning. A replica that waits says so every few seconds and gives up after
PROD_ENTRY_BEFORE_LOCK_TIMEOUT; once it holds the lock it runs the steps itself (migrate then finds nothing
to do). Parsing and the lock's description are pure; only run() starts processes.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from entrypoint.health.deep import REFUSED_CREDENTIALS
from entrypoint.settings.errors import ConfigError, StepFailed, Stopped, WaitTimeout, WarmupError
from entrypoint.settings.error_lines import describe, last_line

SEPARATOR = ";"
DEFAULT_LOCK_TIMEOUT = 600.0
PROGRESS_EVERY = 5.0
POLL = 0.5
# pg_advisory_lock's 64-bit key, fixed so that every replica, and every process kind, shares one lock:
# int.from_bytes(b"prodntry", "big"). It shows in pg_locks as classid 1886547812, objid 1853125241.
LOCK_KEY = 8102661156733481593
HELD = "another replica holds it"
# A failed step ends the start with this status (its own status is in the message): not the step's own, which
# would be 1 for most commands, the status prod-entry keeps for its own bugs.
STEP_FAILED = 5
# Seconds a step may stay silent before prod-entry says it is still running (and, where it can tell, on what).
SILENT = 30.0


def parse(text: str, var: str) -> list[list[str]]:
    """`manage migrate --noinput; manage collectstatic --noinput` -> [["manage", ...], ["manage", ...]]: steps
    separated by `;` (a quoted `;` stays in its word), each split like a shell command line."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=SEPARATOR)
    lexer.whitespace_split = True
    steps: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) == {SEPARATOR}:
                steps.extend([] for _ in token)
            else:
                steps[-1].append(token)
    except ValueError as exc:
        raise ConfigError(f"{var} cannot be split like a command line ({exc}): fix its quoting") from None
    if steps and not steps[-1] and len(steps) > 1:
        steps.pop()  # a trailing `;`
    for number, step in enumerate(steps, 1):
        if not step:
            raise ConfigError(f"{var}: step {number} is empty: write steps like 'manage migrate --noinput; "
                              "manage collectstatic --noinput'")
    return steps


class Lock(NamedTuple):
    """What serializes the steps across replicas: kind postgresql (connect holds the connection keyword
    arguments or a URL), sqlite (path of the lock file) or none (why, for the warning)."""

    kind: str
    where: str  # for messages: host:port/db, a path, or the reason there is none
    connect: dict[str, Any] | str | None = None

    def describe(self) -> str:
        if self.kind == "postgresql":
            return f"PostgreSQL advisory lock {LOCK_KEY} on {self.where}"
        if self.kind == "sqlite":
            return f"file lock {self.where}"
        return f"none ({self.where}): every replica runs the steps, at the same time if they start together"


def lock_for(env: Mapping[str, str]) -> Lock:
    """The lock for this environment, from Django's DATABASES["default"] (settings module imported, never
    django.setup()) or DATABASE_URL."""
    if env.get("DJANGO_SETTINGS_MODULE", "").strip():
        from entrypoint.settings.django_settings import settings_module

        databases = getattr(settings_module(env, "the release-steps lock"), "DATABASES", None) or {}
        default = databases.get("default") if isinstance(databases, Mapping) else None
        if isinstance(default, Mapping):
            return _from_django(default)
    url = env.get("DATABASE_URL", "").strip()
    if url.startswith(("postgres://", "postgresql://")):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return Lock("postgresql", f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}", url)
    return Lock("none", "no Django DATABASES and no postgres:// DATABASE_URL")


def _from_django(db: Mapping[str, Any]) -> Lock:
    engine = str(db.get("ENGINE", ""))
    if "postgresql" in engine or "postgis" in engine:
        keywords = {"dbname": db.get("NAME") or "postgres", "user": db.get("USER") or None,
                    "password": db.get("PASSWORD") or None, "host": db.get("HOST") or None,
                    "port": str(db.get("PORT") or "") or None, **dict(db.get("OPTIONS") or {})}
        connect = {key: value for key, value in keywords.items() if value is not None and isinstance(value, (str, int))}
        return Lock("postgresql", f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{keywords['dbname']}",
                    connect)
    if "sqlite3" in engine:
        name = str(db.get("NAME") or "")
        if not name or name == ":memory:" or name.startswith("file:"):
            return Lock("none", f"the SQLite database {name or '(unnamed)'} is not a file")
        return Lock("sqlite", f"{name}.prod-entry-lock")
    return Lock("none", f"DATABASES['default'] uses {engine or 'no ENGINE'}, which has no lock here")


# --- holding the lock ------------------------------------------------------------------------------------

def _connect_postgresql(connect: dict[str, Any] | str) -> Any:
    try:
        import psycopg as driver
    except ImportError:
        try:
            import psycopg2 as driver  # type: ignore[no-redef]
        except ImportError:
            raise ConfigError("the release-steps lock needs a PostgreSQL driver: pip install psycopg (or set "
                              "DATABASES to a database prod-entry can lock)") from None
    connection = driver.connect(connect, connect_timeout=5) if isinstance(connect, str) else \
        driver.connect(connect_timeout=5, **connect)
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def held(lock: Lock, timeout: float, timeout_var: str, log: Callable[[str], None],
         clock: Callable[[], float] = time.monotonic) -> Iterator[Callable[[], str | None]]:
    """Hold `lock` for the block, waiting at most `timeout` seconds for it (and for the database to answer).
    Yields a function that says, while a step runs, what another session holds that a session of this
    database waits for (PostgreSQL; None elsewhere or when nothing waits)."""
    nothing: Callable[[], str | None] = lambda: None  # noqa: E731
    if lock.kind == "none":
        yield nothing
        return
    started = clock()
    next_progress = started  # the first refusal is said at once, then every PROGRESS_EVERY seconds
    release: Callable[[], None]
    while True:
        problem = HELD
        try:
            if lock.kind == "postgresql":
                assert lock.connect is not None
                connection = _connect_postgresql(lock.connect)
                cursor = connection.cursor()
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                if cursor.fetchone()[0]:
                    release = connection.close  # a session lock ends with its session
                    waiting = _blocked_session(connection)
                    break
                connection.close()
            else:
                import fcntl

                stream = open(lock.where, "a")
                try:
                    fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    release, waiting = stream.close, nothing
                    break
                except BlockingIOError:
                    stream.close()
        except ConfigError:
            raise
        except Exception as exc:  # the database is not up yet: retried within the bound
            if any(words in str(exc).lower() for words in REFUSED_CREDENTIALS):  # a retry will not mend these
                raise WarmupError(f"release steps: the database refused the lock's connection ({lock.describe()}): "
                                  f"{describe(exc)}: fix the credentials of DATABASES['default'] (USER, PASSWORD; "
                                  "or DATABASE_URL)") from None
            problem = f"cannot take it: {describe(exc)}"
        now = clock()
        if now - started >= timeout:
            cause = "find the replica stuck in its steps" if problem == HELD else "start the database or fix its address"
            raise WaitTimeout(f"release steps: the lock ({lock.describe()}) was not ours after {timeout:g}s "
                              f"({problem}): {cause}, or raise {timeout_var}")
        if now >= next_progress:
            log(f"release steps: waiting for the lock ({lock.describe()}): {problem} ({now - started:.0f}s of "
                f"{timeout:g}s)")
            next_progress = now + PROGRESS_EVERY
        time.sleep(POLL)
    waited = clock() - started
    log(f"release steps: holding the lock ({lock.describe()})" + (f" after waiting {waited:.1f}s" if waited >= 1 else ""))
    try:
        yield waiting
    finally:
        release()


def _blocked_session(connection: Any) -> Callable[[], str | None]:
    """Through the lock's own connection: a session of this database that waits for a lock, and the session
    that holds it (a migration behind an open transaction, say)."""
    def blocked() -> str | None:
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT waiting.pid, holder.pid, holder.state, holder.application_name, "
                           "extract(epoch FROM now() - holder.state_change)::int FROM pg_stat_activity waiting "
                           "JOIN pg_stat_activity holder ON holder.pid = ANY(pg_blocking_pids(waiting.pid)) "
                           "WHERE waiting.datname = current_database() LIMIT 1")
            row = cursor.fetchone()
        except Exception:  # only a hint: never let it fail the step
            return None
        if row is None:
            return None
        waiter, holder, state, application, seconds = row
        return (f"database session {waiter} waits for a lock held by session {holder} ({state or 'unknown state'}"
                f"{f', {application}' if application else ''}, for {seconds}s)")

    return blocked


# --- running the steps -----------------------------------------------------------------------------------

class Step(NamedTuple):
    text: str  # as written, for messages
    argv: list[str]
    django_command: str | None = None  # the command of a `manage X` step, checked before any step runs


def run(steps: Sequence[Step], log: Callable[[str], None], waiting: Callable[[], str | None] = lambda: None) -> None:
    """Each step to completion, in order, its output passed through (and its last lines kept, to quote the error
    line when it fails). TERM/INT reach the running step and end the start with 128+N; a failing step ends it
    with STEP_FAILED (StepFailed), its own status in the message. A step silent for SILENT seconds is said to be
    still running, with what `waiting` can tell it waits on (a lock another database session holds)."""
    import subprocess  # here: every start imports this module, few have steps (subprocess costs ~4 ms)

    for number, step in enumerate(steps, 1):
        name = f"step {number}/{len(steps)} ({step.text})"
        log(f"release steps: {name} started")
        started = time.monotonic()
        received: list[int] = []
        child = None

        def forward(signum: int, frame: Any) -> None:
            received.append(signum)
            if child is not None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            try:
                # The step gets the default SIGPIPE and an empty mask, as an exec'd program does.
                child = subprocess.Popen(step.argv, restore_signals=True, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
            except FileNotFoundError:
                raise StepFailed(f"release steps: {name}: {step.argv[0]}: command not found (status 127): nothing "
                                 "was started; fix the step", STEP_FAILED) from None
            except PermissionError:
                raise StepFailed(f"release steps: {name}: {step.argv[0]}: permission denied (status 126): nothing "
                                 "was started; fix the step", STEP_FAILED) from None
            if received:  # a signal before the child existed: give it to the child now
                child.send_signal(received[0])
            errors = _pass_through(child, lambda silent: log(
                f"release steps: {name} still running after {time.monotonic() - started:.0f}s, silent for "
                f"{silent:.0f}s" + (f": {found}" if (found := waiting()) else "")))
            code = child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if received:
            raise Stopped(f"stopped by {signal.Signals(received[0]).name} during release {name}", received[0])
        if code != 0:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            said = error_line(errors)
            raise StepFailed(f"release steps: {name} {how}" + (f": {said}" if said else "") +
                             ": nothing was started; fix the step (its output is above)", STEP_FAILED)
        log(f"release steps: {name} done in {time.monotonic() - started:.1f}s")


def _pass_through(child: Any, still: Callable[[float], None]) -> list[str]:
    """Copy the child's stdout and stderr to ours as they come, until both close; call `still(silent)` every
    SILENT seconds of silence. Returns the last lines of its stderr (of its stdout when stderr said nothing)."""
    import os
    import select
    import sys

    out, err = child.stdout.fileno(), child.stderr.fileno()
    outputs = {out: sys.stdout, err: sys.stderr}
    kept: dict[int, list[bytes]] = {fd: [] for fd in outputs}
    last = time.monotonic()
    while outputs:
        ready, _, _ = select.select(list(outputs), [], [], 1.0)
        now = time.monotonic()
        if not ready and now - last >= SILENT:
            still(now - last)
            last = now
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                del outputs[fd]
                continue
            last = now
            stream = outputs[fd]
            stream.flush()
            stream.buffer.write(chunk)
            stream.buffer.flush()
            kept[fd] = (kept[fd] + [chunk])[-64:]
    child.stdout.close()
    child.stderr.close()
    errors, output = (b"".join(kept[fd]).decode("utf-8", "replace") for fd in (err, out))
    return (errors if errors.strip() else output).splitlines()[-200:]


# Lines a failing command prints after its error that only point elsewhere (Django's, npm's, pip's hints).
_HINTS = ("Type '", "Run '", "For more information", "See '", "npm ERR! A complete log", "npm error A complete log",
          "npm ERR! Log files", "npm error Log files", "hint:")


def error_line(lines: Sequence[str]) -> str:
    """The line of a failed step's output that names its error: a traceback's exception line, else the last
    line that is not a hint pointing elsewhere (`Type 'manage.py help' for usage.`)."""
    kept = [line for line in lines if not line.strip().startswith(_HINTS)]
    return last_line("\n".join(kept))
