"""error_lines.describe and error_lines.last_line over real exceptions, really raised by the libraries real apps use:
the line each gives must name the error, never a wrapper's, a border's, a frame's or a pointer's."""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import logging.config
import os
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from entrypoint.settings.error_lines import describe, last_line
from entrypoint.warmup.appclient import Lifespan, LifespanFailed


def raised(make: Callable[[], object]) -> BaseException:
    try:
        make()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def unwritable_log(tmp_path: Path) -> str:
    """A log file path that cannot be opened: in a read-only directory; as root, which ignores file modes,
    in sysfs, which refuses everyone."""
    if os.geteuid() == 0:
        return "/sys/prod-entry-test.log"
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o500, exist_ok=True)
    return str(logs / "app.log")


def bad_config(tmp_path: Path) -> None:
    path = tmp_path / "app.cfg"
    path.write_text("[db]\nuser = app\npassword hunter2\n")
    configparser.ConfigParser().read(str(path))


def bad_log_handler(tmp_path: Path) -> None:
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "handlers": {
        "file": {"class": "logging.FileHandler", "filename": unwritable_log(tmp_path)}}})


async def cache() -> None:
    raise RuntimeError("cannot reach the cache at redis://cache:6379")


async def database() -> None:
    raise ValueError("DATABASE_URL is not a URL")


def asyncio_task_group(tmp_path: Path) -> None:
    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(cache())

    asyncio.run(main())


def anyio_task_group(tmp_path: Path) -> None:
    async def main() -> None:
        async with anyio.create_task_group() as group:
            for task in (database, cache, database):
                group.start_soon(task)

    anyio.run(main)


def django_missing_driver(tmp_path: Path) -> None:
    from django.db.utils import load_backend

    load_backend("django.db.backends.mysql")  # mysqlclient is not installed


def django_unknown_backend(tmp_path: Path) -> None:
    from django.db.utils import load_backend

    load_backend("nosuch.backend")


def group_of_chained_wrappers(tmp_path: Path) -> None:
    def handler(name: str) -> None:
        try:
            open(f"/nonexistent/{name}.log")
        except OSError as exc:
            raise ValueError(f"Unable to configure handler {name!r}") from exc

    raise ExceptionGroup("two handlers", [raised(lambda: handler("a")), raised(lambda: handler("b"))])


# (what raises, describe(exc), last_line(the formatted traceback)); `{log}` is unwritable_log's path.
ROWS: list[tuple[Callable[[Path], None], str, str]] = [
    (bad_config,
     "ParsingError: Source contains parsing errors: '{tmp}/app.cfg': [line  3]: 'password hunter2\\n'",
     "configparser.ParsingError: Source contains parsing errors: '{tmp}/app.cfg'"),
    (bad_log_handler,
     "PermissionError: [Errno 13] Permission denied: '{log}' (ValueError: Unable to configure handler 'file')",
     "PermissionError: [Errno 13] Permission denied: '{log}' (ValueError: Unable to configure handler 'file')"),
    (asyncio_task_group,
     "RuntimeError: cannot reach the cache at redis://cache:6379",
     "RuntimeError: cannot reach the cache at redis://cache:6379"),
    # anyio cancels the other tasks when the first fails: they still all ran to their raise
    (anyio_task_group,
     "ValueError: DATABASE_URL is not a URL; RuntimeError: cannot reach the cache at redis://cache:6379",
     "ValueError: DATABASE_URL is not a URL; RuntimeError: cannot reach the cache at redis://cache:6379"),
    (django_missing_driver,
     "ModuleNotFoundError: No module named 'MySQLdb' (ImproperlyConfigured: Did you install mysqlclient?)",
     "ModuleNotFoundError: No module named 'MySQLdb' "
     "(django.core.exceptions.ImproperlyConfigured: Error loading MySQLdb module.)"),
    (django_unknown_backend,
     "ModuleNotFoundError: No module named 'nosuch' (ImproperlyConfigured: 'nosuch.backend' isn't an available "
     "database backend or couldn't be imported. Check the above exception. To use one of the built-in backends, "
     "use 'django.db.backends.XXX', where XXX is one of: 'mysql', 'oracle', 'postgresql', 'sqlite3')",
     "ModuleNotFoundError: No module named 'nosuch' (django.core.exceptions.ImproperlyConfigured: 'nosuch.backend' "
     "isn't an available database backend or couldn't be imported. Check the above exception. To use one of the "
     "built-in backends, use 'django.db.backends.XXX', where XXX is one of:)"),
    (group_of_chained_wrappers,
     "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/a.log' (ValueError: Unable to "
     "configure handler 'a'); FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/b.log' "
     "(ValueError: Unable to configure handler 'b')",
     "FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/a.log' (ValueError: Unable to "
     "configure handler 'a'); FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/b.log' "
     "(ValueError: Unable to configure handler 'b')"),
]


@pytest.mark.parametrize("make, described, line", ROWS, ids=[row[0].__name__ for row in ROWS])
def test_real_exceptions(tmp_path: Path, make: Callable[[Path], None], described: str, line: str) -> None:
    exc = raised(lambda: make(tmp_path))
    known = {"tmp": str(tmp_path), "log": unwritable_log(tmp_path)}
    assert describe(exc) == described.format(**known)
    assert last_line(formatted(exc)) == line.format(**known)


@pytest.fixture(scope="module")
def connection(postgres_url: str) -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")  # the test venv has psycopg 3, not psycopg2
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS app_user (email text UNIQUE)")
        connection.execute("INSERT INTO app_user VALUES ('a@example.com') ON CONFLICT DO NOTHING")
        yield connection


@pytest.mark.parametrize("query, error", [
    # an unmigrated database: the server's error, then LINE 1: and the ^ under the name
    ('SELECT "value" FROM "app_settings" WHERE "key" = %s', 'UndefinedTable: relation "app_settings" does not exist'),
    # the pointer, then a HINT after it
    ("SELECT emial FROM app_user", 'UndefinedColumn: column "emial" does not exist'),
    ("INSERT INTO app_user VALUES ('a@example.com')",
     'UniqueViolation: duplicate key value violates unique constraint "app_user_email_key"'),
])
def test_psycopg_errors_give_the_servers_error_not_the_pointer(connection: Any, query: str, error: str) -> None:
    exc = raised(lambda: connection.execute(query, ("site_name",) if "%s" in query else None))
    assert "\n" in str(exc)  # the annotations are there to be skipped
    assert describe(exc) == error
    assert last_line(formatted(exc)) == f"psycopg.errors.{error}"


def test_djangos_database_error_says_the_drivers_error(connection: Any) -> None:
    """What an app sees: Django's ProgrammingError, raised from psycopg's by Django's DatabaseErrorWrapper."""
    import psycopg
    from django.db.utils import DatabaseErrorWrapper

    def query() -> None:
        with DatabaseErrorWrapper(SimpleNamespace(Database=psycopg, errors_occurred=False)):
            connection.execute('SELECT "value" FROM "app_settings"')

    exc = raised(query)
    assert describe(exc) == 'ProgrammingError: relation "app_settings" does not exist'
    assert last_line(formatted(exc)) == 'django.db.utils.ProgrammingError: relation "app_settings" does not exist'


def lifespan_failure(app: Any) -> str:
    async def start() -> None:
        lifespan = Lifespan(app)
        try:
            await lifespan.start()
        finally:  # the app re-raises after its failed message: retrieved, so asyncio does not print it
            if lifespan.task is not None:
                await asyncio.wait({lifespan.task})
                lifespan.task.exception()

    exc = raised(lambda: asyncio.run(start()))
    assert isinstance(exc, LifespanFailed), formatted(exc)
    return exc.text


def test_a_starlette_lifespan_failing_in_a_task_group_gives_the_tasks_error() -> None:
    """FastAPI and Starlette send the whole traceback as lifespan.startup.failed's message; with a TaskGroup
    in the lifespan, that is an exception group's box, whose last line is a border."""
    from starlette.applications import Starlette

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with asyncio.TaskGroup() as group:
            group.create_task(cache())
        yield

    text = lifespan_failure(Starlette(lifespan=lifespan))
    assert text.rstrip().endswith("+------------------------------------")
    assert last_line(text) == "RuntimeError: cannot reach the cache at redis://cache:6379"


def test_a_litestar_shaped_lifespan_failure_gives_the_hooks_error() -> None:
    """Litestar is not installed; its shape is rebuilt from its source (litestar 2.x): `Litestar.lifespan`
    (litestar/app.py) enters its event emitter in an AsyncExitStack before calling the on_startup hooks, the
    emitter (litestar/events/emitter.py, SimpleEventEmitter.__aenter__) holds an anyio task group open with a
    worker in it, so a failing hook leaves through that task group and comes out as an ExceptionGroup; and
    ASGIRouter.lifespan (litestar/_asgi/asgi_router.py) sends `format_exc()` as lifespan.startup.failed's
    message. The same steps here, with the real anyio."""
    async def worker() -> None:
        await anyio.sleep(3600)

    async def app(scope: dict, receive: Any, send: Any) -> None:
        await receive()
        try:
            async with contextlib.AsyncExitStack() as stack:
                group = anyio.create_task_group()
                await stack.enter_async_context(group)
                group.start_soon(worker)
                await database()  # the on_startup hook
        except BaseException:
            await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
            raise

    text = lifespan_failure(app)
    assert "Exception Group Traceback" in text
    assert last_line(text) == "ValueError: DATABASE_URL is not a URL"


def test_a_nested_group_gives_every_leaf_once_and_counts_past_three() -> None:
    def group() -> None:
        inner = ExceptionGroup("inner", [raised(lambda: {}["REDIS_URL"]), raised(lambda: 1 / 0)])
        same = [raised(lambda: {}["REDIS_URL"]) for _ in range(3)]
        raise ExceptionGroup("outer", [inner, *same, raised(lambda: int("x")), raised(lambda: [][0])])

    exc = raised(group)
    expected = ("KeyError: 'REDIS_URL'; ZeroDivisionError: division by zero; ValueError: invalid literal for int() "
                "with base 10: 'x' (and 1 more)")
    assert describe(exc) == expected
    assert last_line(formatted(exc)) == expected


def test_a_chain_that_loops_back_ends() -> None:
    first, second = RuntimeError(), RuntimeError()
    first.__cause__, second.__cause__ = second, first
    assert describe(first) == "RuntimeError (RuntimeError)"


def test_an_exception_that_quotes_the_one_behind_it_stands_for_itself() -> None:
    def load() -> None:
        try:
            import nosuchmodule  # noqa: F401
        except ImportError as exc:
            raise RuntimeError(f"Error loading app: {exc}") from exc

    exc = raised(load)
    assert describe(exc) == "RuntimeError: Error loading app: No module named 'nosuchmodule'"
    assert last_line(formatted(exc)) == "RuntimeError: Error loading app: No module named 'nosuchmodule'"
