"""Deep checks of a Django app, run by the warmup once the app is loaded and before its first request: every
DATABASES alias answers a query with its own credentials, every CACHES backend gives back a value it was given,
and no migration is left unapplied.

Why the requests alone are not enough: real applications answer `/` with 200 while their database is down (the
settings they read on every page are cached in Redis) or while Redis is down (the home page needs no cache, the
pages behind the login do). Each check is one bounded round trip (the warmup's timeout bounds a database that
never answers), and each failure is one line naming the alias and the setting that turns the check off.

The settings (each also per process, PROD_ENTRY_PROCESS_<NAME>_<SETTING>): PROD_ENTRY_CHECK_DATABASES and
PROD_ENTRY_CHECK_CACHES take `1` (every alias, the default), `0` (none) or a list of aliases (`default,replica`);
PROD_ENTRY_CHECK_MIGRATIONS takes `1` (the default: unapplied migrations on the checked databases fail the start)
or `0`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from entrypoint.health import rules
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError, WarmupError
from entrypoint.settings.error_lines import describe
from entrypoint.settings.names import OFF, ON, process_var

ALL = ("*",)
# Messages of errors a retry will not mend: the credentials or the grants are wrong, not the timing.
REFUSED_CREDENTIALS = ("password authentication failed", "authentication failed", "no pg_hba.conf entry",
                       "access denied for user", "role \"", "permission denied")


class Deep(NamedTuple):
    """What the deep checks cover: aliases to check (ALL, or names; empty: off) and whether migrations count."""

    databases: tuple[str, ...] = ALL
    caches: tuple[str, ...] = ALL
    migrations: bool = True
    before_var: str = "PROD_ENTRY_PROCESS_WEB_BEFORE"  # where a migrate step goes, for the message
    databases_var: str = "PROD_ENTRY_CHECK_DATABASES"
    caches_var: str = "PROD_ENTRY_CHECK_CACHES"
    migrations_var: str = "PROD_ENTRY_CHECK_MIGRATIONS"


OFF_DEEP = Deep((), (), False)


def aliases(process: Process | None, env: Mapping[str, str], key: str) -> tuple[str, ...]:
    text = (rules.get(process, env, key) or "").strip()
    if not text or text.lower() in ON:
        return ALL
    if text.lower() in OFF:
        return ()
    return tuple(word for word in text.replace(",", " ").split())


def plan(process: Process | None, env: Mapping[str, str]) -> Deep:
    """The deep checks a web process asks for (all on unless turned off)."""
    return Deep(aliases(process, env, "CHECK_DATABASES"), aliases(process, env, "CHECK_CACHES"),
                rules.flag(process, env, "CHECK_MIGRATIONS", True),
                process_var(process.name, "BEFORE") if process else process_var("<NAME>", "BEFORE"),
                rules.setting_name(process, "CHECK_DATABASES"), rules.setting_name(process, "CHECK_CACHES"),
                rules.setting_name(process, "CHECK_MIGRATIONS"))


def run(deep: Deep, doing: Callable[[str], None]) -> None:
    """Every deep check, in this process, with Django set up. Raises WarmupError (ConfigError for an alias that
    is not in the settings). Off the event loop: Django refuses database calls from a running loop (uvicorn
    imports the app inside one), so there they run in a thread of their own."""
    if not (deep.databases or deep.caches or deep.migrations):
        return
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop: here (outside the except clause, so no failure is chained to this one)
        in_loop = False
    else:
        in_loop = True
    if not in_loop:
        _run(deep, doing)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="prod-entry-deep-checks") as pool:
        pool.submit(_run, deep, doing).result()


def _run(deep: Deep, doing: Callable[[str], None]) -> None:
    from django.conf import settings

    from django.db import connections

    # An empty DATABASES is Django's dummy backend: a project without a database has none to check.
    configured = {alias: connections.settings[alias] for alias in connections.settings
                  if connections.settings[alias].get("ENGINE") != "django.db.backends.dummy"}
    databases = [alias for alias in _selected(deep.databases, configured, deep.databases_var, "DATABASES")
                 if not _no_sqlite_file(alias, configured[alias], deep)]
    for alias in databases:
        database(alias, deep, doing)
    for alias in _selected(deep.caches, settings.CACHES, deep.caches_var, "CACHES"):
        cache(alias, deep, doing)
    if deep.migrations:
        for alias in databases:
            migrations(alias, deep, doing)


def _selected(wanted: tuple[str, ...], configured: Mapping[str, Any], var: str, setting: str) -> list[str]:
    if wanted == ALL:
        return list(configured)
    unknown = [alias for alias in wanted if alias not in configured]
    if unknown:
        raise ConfigError(f"{var} names {', '.join(map(repr, unknown))}, which {setting} does not define (it "
                          f"has {', '.join(configured) or 'none'}): fix {var}, or set it to 1 or 0")
    return list(wanted)


def _no_sqlite_file(alias: str, settings: Mapping[str, Any], deep: Deep) -> bool:
    """True for a SQLite database whose file does not exist yet, left alone: connecting would create it empty
    (`check` must not, and migrate creates it). Unless migrations are left to a migrate step, that is a failure:
    every table is missing."""
    name = str(settings.get("NAME") or "")
    if not str(settings.get("ENGINE", "")).endswith("sqlite3") or name in ("", ":memory:") or name.startswith("file:") \
            or os.path.exists(name):
        return False
    if deep.migrations:
        raise WarmupError(f"warmup: database {alias!r} ({where(settings)}) does not exist: run 'manage migrate' or "
                          f"add it to {deep.before_var}, or turn this check off with {deep.databases_var}=0")
    return True


def where(settings: Mapping[str, Any]) -> str:
    """`postgresql 127.0.0.1:5432/app`: what a database alias points at, never its credentials."""
    engine = str(settings.get("ENGINE", "")).rpartition(".")[2] or "no ENGINE"
    if engine == "sqlite3":
        return f"sqlite3 {settings.get('NAME')}"
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{engine} {host}{port}/{settings.get('NAME') or ''}"


def database(alias: str, deep: Deep, doing: Callable[[str], None]) -> None:
    from django.db import connections

    connection = connections[alias]
    what = f"database {alias!r} ({where(connection.settings_dict)})"
    doing(f"connecting to {what}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        error = describe(exc)
        if any(words in error.lower() for words in REFUSED_CREDENTIALS):
            fix = f"fix the credentials of DATABASES[{alias!r}] (USER, PASSWORD; or DATABASE_URL)"
        else:
            fix = f"start it or fix DATABASES[{alias!r}] (HOST, PORT, NAME); PROD_ENTRY_WAIT_FOR waits for it"
        raise WarmupError(f"warmup: {what}: {error}: {fix}, or turn this check off with {deep.databases_var}=0") \
            from exc
    finally:
        connection.close()


def cache(alias: str, deep: Deep, doing: Callable[[str], None]) -> None:
    """A set, a get and a delete of one key of prod-entry's own. A backend that swallows its errors (django-redis'
    IGNORE_EXCEPTIONS) answers the get with None: that is a failure too. DummyCache stores nothing: skipped."""
    from django.core.cache import caches
    from django.core.cache.backends.dummy import DummyCache

    backend = caches[alias]
    if isinstance(backend, DummyCache):
        return
    what = f"cache {alias!r} ({type(backend).__module__}.{type(backend).__name__})"
    doing(f"setting and getting a key in {what}")
    key, value = f"prod-entry:warmup:{os.getpid()}", os.urandom(8).hex()
    try:
        backend.set(key, value, 30)
        got = backend.get(key)
        backend.delete(key)
    except Exception as exc:
        raise WarmupError(f"warmup: {what}: {describe(exc)}: start it or fix CACHES[{alias!r}] (LOCATION), "
                          f"or turn this check off with {deep.caches_var}=0") from exc
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    if got != value:
        raise WarmupError(f"warmup: {what}: a value set was not read back (a backend that ignores its errors "
                          f"hides an unreachable server): fix CACHES[{alias!r}], or turn this check off with "
                          f"{deep.caches_var}=0")


def migrations(alias: str, deep: Deep, doing: Callable[[str], None]) -> None:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections[alias]
    doing(f"looking for unapplied migrations on database {alias!r}")
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        raise WarmupError(f"warmup: reading the migrations of database {alias!r}: {describe(exc)}") from exc
    finally:
        connection.close()
    if pending:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in pending]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        command = "manage migrate" if alias == "default" else f"manage migrate --database={alias}"
        raise WarmupError(f"warmup: {len(names)} unapplied migration(s) on database {alias!r}: {shown}: run "
                          f"'{command}' or add it to {deep.before_var}, or turn this check off with "
                          f"{deep.migrations_var}=0")

