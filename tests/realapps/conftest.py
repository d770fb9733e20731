"""The real-apps tier's fixtures. `lab` prepares every app the session's tests use, all at once in threads (a
cold cache builds Weblate's virtualenv for minutes while pretix migrates): its virtualenv, its PostgreSQL role,
and two template databases, `full` (every migration applied) and `partial` (one app's migrations left for the
release steps). `deploy` makes one deployment of an app in a fresh site directory on a clone of a template."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest

from realapps_catalog import APPS, App, by_name
from realapps_support import Deployment, Lab, Postgres


def app_param(item: pytest.Item) -> App | None:
    callspec = getattr(item, "callspec", None)
    app = callspec.params.get("app") if callspec else None
    return app if isinstance(app, App) else None


def apps_of(items: list[pytest.Item]) -> list[App]:
    names = {app.name for app in map(app_param, items) if app is not None}
    return [app for app in APPS if app.name in names]


LAB: list[Lab] = []


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, postgres_url: str, redis_url: str) -> Iterator[Lab]:
    made = Lab(Postgres(postgres_url), redis_url, apps_of(request.session.items))
    LAB.append(made)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def deploy(lab: Lab) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(app: App, database: str = "full", **env: str) -> Deployment:
        deployment = lab.deploy(app, database, **env)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        lab.postgres.drop_database(deployment.services.db_name)
        shutil.rmtree(deployment.site, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This tier's tests, app by app (in APPS order), so that the first app's tests run while the others still
    build; their places among the session's other tests are kept."""
    slots = [i for i, item in enumerate(items) if "realapps" in item.nodeid.split("::")[0].split("/")]
    ours = [items[i] for i in slots]
    order = {app.name: n for n, app in enumerate(APPS)}

    def app_of(item: pytest.Item) -> int:
        app = app_param(item)
        return len(APPS) if app is None else order[app.name]

    for i, item in zip(slots, sorted(ours, key=app_of)):
        items[i] = item


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What each fault did, app by app: the table the team reads to see which defects the real apps expose."""
    if not LAB:
        return
    lab = LAB[0]
    write = terminalreporter.write_line
    terminalreporter.section("real apps")
    for name, future in lab.futures.items():
        if future.done() and not future.exception():
            write(f"{name}: {future.result()}")
    for app, fault, outcome, ran in sorted(lab.rows, key=lambda row: APPS.index(by_name(row[0]))):
        code = "killed at its bound" if outcome.code is None else f"exit {outcome.code}"
        served = "" if outcome.served is None else f", served {outcome.served}"
        write(f"{app:8} {fault:26} {code}{served} in {outcome.seconds:.0f}s; {ran}; last line: {outcome.last_line[:300]}")
