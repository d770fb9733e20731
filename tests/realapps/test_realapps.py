"""Real applications the team did not write (realapps_catalog.py), deployed as a user would from the README alone:
DJANGO_SETTINGS_MODULE or the app's own config file, PROD_ENTRY_PROCESS_WEB=gunicorn, the release steps in
PROD_ENTRY_PROCESS_WEB_BEFORE, PROD_ENTRY_PROCESS_WORKER=celery-worker; a real PostgreSQL (password auth) and
Redis. Every run is the app virtualenv's own `prod-entry`.

The breakage table asserts what issue 23 ("What to build") asks of each fault: exit 3 with one true line for a
database that is down, refuses the password or is not migrated, and for a cache that is down (deep checks in the
warmup, on by default); a bad APP fails before any release step runs; a failed step exits with a status of its
own, not 1; nothing secret is ever printed; PROD_ENTRY_USER's user owns everything the app's import creates.
The session's summary ("real apps") prints what each row did, pass or fail."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from realapps_catalog import APPS, CELERY_APPS, App
from realapps_support import Deployment, Lab, Outcome, page_status
from support import free_port

CONFIG_SECRET = "hunter2canary91f3"  # the secret on a config file's broken line
WRONG_PASSWORD = "wrong-pw-canary-77d1"
NOBODY = 65534

APP = [pytest.param(app, id=app.name) for app in APPS]
CELERY = [pytest.param(app, id=app.name) for app in CELERY_APPS]

# What the last line of a failed start must not be: a traceback frame, psycopg's query echo and caret, a task
# group's border, logging's wrapper around the real error.
NOT_THE_ERROR = ('File "', "LINE 1:", "+---", "-----", "Unable to configure handler", "Traceback")


def assert_no_secret(deployment: Deployment, *outcomes: Outcome) -> None:
    for outcome in outcomes:
        for secret in deployment.secrets:
            assert secret not in outcome.text, f"the secret {secret!r} was printed\n{outcome}"


def assert_names_the_error(outcome: Outcome, needles: list[str], json_format: bool = False) -> None:
    """stderr's last line is prod-entry's one error line, and it names the real error."""
    line = outcome.last_line
    if json_format:
        record = json.loads(line)
        assert record["level"] == "error" and record["logger"] == "prod-entry", outcome
        line = record["message"]
    else:
        assert line.startswith("prod-entry: error: "), f"stderr's last line is not prod-entry's error line\n{outcome}"
    assert not any(part in line for part in NOT_THE_ERROR) and not line.rstrip().endswith("^"), \
        f"the last line is not the error itself: {line!r}\n{outcome}"
    missing = [needle for needle in needles if needle.lower() not in line.lower()]
    assert not missing, f"the last line does not name {missing}: {line!r}\n{outcome}"


def is_record(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys()


# --- serving, as deployed ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("app", APP)
def test_release_steps_then_web_serves_and_term_exits_0(app: App, lab: Lab, deploy) -> None:
    """A new release on a database one app's migrations behind: the steps apply them, the warmup passes, gunicorn
    serves the page, the probes pass, and TERM stops it with 0."""
    prepared = lab.ready(app)
    d = deploy(app, "partial", PROD_ENTRY_PROCESS_WEB_BEFORE=app.steps)
    with d.launched("web") as running:
        status = running.serving(d.port, app.page, 240)
        probes = [d.run("healthcheck", "web")]
        if app.health:
            probes.append(d.run("healthcheck", "web", "--url", app.health))
        applied = lab.postgres.migrations(d.services.db_name)
        outcome = running.stop()
    assert status == 200, f"{app.page} answered {status}\n{outcome}"
    assert outcome.code == 0, outcome
    assert "release steps: step 1/" in outcome.stderr, outcome
    new = prepared.full_migrations - prepared.partial_migrations
    assert new and applied == prepared.full_migrations, f"not applied: {sorted(new - applied)}\n{outcome}"
    for probe in probes:
        assert probe.code == 0, f"{probe}\n{outcome}"
    assert_no_secret(d, outcome, *probes)


@pytest.mark.parametrize("app", APP)
def test_web_as_pid1_serves_and_term_exits_0(app: App, deploy) -> None:
    """As a container's ENTRYPOINT: PID 1 of a PID namespace of its own; TERM to it stops everything with 0."""
    d = deploy(app)
    with d.launched("web", pid1=True) as running:
        status = running.serving(d.port, app.page, 120)
        outcome = running.stop()
    assert status == 200, f"{app.page} answered {status}\n{outcome}"
    assert outcome.code == 0, outcome
    assert_no_secret(d, outcome)


@pytest.mark.parametrize("app", CELERY)
def test_worker_starts_and_its_healthcheck_passes(app: App, deploy) -> None:
    """`prod-entry worker` runs the app's own Celery app, and `prod-entry healthcheck worker` passes within 20 s of
    the worker meeting its broker (the heartbeat needs no code in an app nobody here can edit)."""
    d = deploy(app)
    probe = None
    with d.launched("worker") as running:
        # Celery logs `mingle:` once connected, just before `ready` (which Weblate's LOGGING does not show).
        connected = running.wait_for("mingle: ", 120)
        for _ in range(20 if connected else 0):
            probe = d.run("healthcheck", "worker")
            if probe.code == 0:
                break
            running.exited(1)
        outcome = running.stop(60)
    assert connected, f"the worker never reached its broker\n{outcome}"
    assert probe is not None and probe.code == 0, f"{probe}\n{outcome}"
    assert outcome.code == 0, outcome
    assert_no_secret(d, outcome, probe)


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("app", APP)
def test_list_show_check_work_and_print_no_secret(app: App, log_format: str, deploy) -> None:
    d = deploy(app, PROD_ENTRY_LOG_FORMAT=log_format)
    names = ["web", *(["worker"] if app.celery else [])]
    outcomes = [d.run("list"), *(d.run("show", name) for name in names), *(d.run("check", name) for name in names)]
    for outcome in outcomes:
        assert outcome.code == 0, outcome
    assert_no_secret(d, *outcomes)
    if log_format == "json":
        for outcome in outcomes:
            bad = [line for line in outcome.stderr.splitlines() if line.strip() and not is_record(line)]
            assert not bad, f"not JSON records: {bad}\n{outcome}"


@pytest.mark.parametrize("app", [pytest.param(app, id=app.name) for app in APPS if app.reads_environment])
def test_settings_see_the_env_files_variables(app: App, deploy) -> None:
    """The same configuration given in ./.env instead of the real environment (README: PROD_ENTRY_ENV_FILE, "the
    exec'd program sees the file's variables too"): settings that read them at import must see them."""
    d = deploy(app)
    moved = {key: value for key, value in d.app_env.items() if key != "DJANGO_SETTINGS_MODULE"}
    (d.site / ".env").write_text("".join(f"{key}={value}\n" for key, value in moved.items()))
    d.app_env = {"DJANGO_SETTINGS_MODULE": d.app_env["DJANGO_SETTINGS_MODULE"]}
    outcome = d.run("check", "web")
    assert outcome.code == 0, f"moved to .env: {sorted(moved)}\n{outcome}"
    assert_no_secret(d, outcome)


@pytest.mark.parametrize("app", APP)
def test_json_logs_every_line_of_a_start_is_one_record(app: App, deploy) -> None:
    d = deploy(app, PROD_ENTRY_LOG_FORMAT="json")
    with d.launched("web") as running:
        status = running.serving(d.port, app.page, 120)
        page_status(d.port, app.page)
        outcome = running.stop()
    assert status == 200 and outcome.code == 0, outcome
    bad = [line for line in outcome.text.splitlines() if line.strip() and not is_record(line)]
    assert not bad, f"{len(bad)} line(s) are not JSON records, the first: {bad[:5]}\n{outcome}"
    assert_no_secret(d, outcome)


# --- the breakage table -----------------------------------------------------------------------------------------

def closed_port(d: Deployment, what: str) -> list[str]:
    port = free_port()
    d.reconfigure(d.services.but(**{what: port}) if what == "db_port" else
                  d.services.but(cache_url=f"redis://127.0.0.1:{port}/0"))
    return ["refused", str(port)]


def wrong_password(d: Deployment, lab: Lab) -> list[str]:
    d.reconfigure(d.services.but(db_password=WRONG_PASSWORD))
    return ["password authentication failed"]


def conflicting_table(d: Deployment, lab: Lab) -> list[str]:
    """A table the new migrations create is already there (a half-applied earlier attempt, a hand-made fix)."""
    prepared = lab.ready(d.app)
    table = sorted(lab.postgres.tables(prepared.full) - lab.postgres.tables(prepared.partial))[0]
    lab.postgres.sql(f"CREATE TABLE {table} (id integer)", d.services.db_name)
    lab.postgres.sql(f"ALTER TABLE {table} OWNER TO {prepared.role}", d.services.db_name)
    return ["already exists", table]


def site_owned_by_nobody(d: Deployment, lab: Lab) -> list[str]:
    """The app's volume, handed to the user it runs as."""
    for where, dirs, files in os.walk(d.site):
        for name in [*dirs, *files]:
            os.chown(os.path.join(where, name), NOBODY, NOBODY, follow_symlinks=False)
    os.chown(d.site, NOBODY, NOBODY)
    return []


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: Callable[[Deployment, Lab], list[str]]  # changes the deployment; returns what the line must name
    database: str = "full"          # the template it starts from: full, partial (new migrations pending), empty
    steps: Callable[[App], str] | None = None  # PROD_ENTRY_PROCESS_WEB_BEFORE
    env: Callable[[App], dict[str, str]] = lambda app: {}
    warm: bool = False              # served once before it broke: the app's cache holds what it read
    code: int | None = 3            # the exit status; None: any but those in `not_codes`
    not_codes: tuple[int, ...] = ()
    serves: bool = False
    migrates: bool = False          # the release steps' migrations are all applied (else: none of them)
    check_code: int | None = None   # `prod-entry check web` in JSON too: its status, the same line, no secret
    before_steps: bool = False      # fails before the release steps start
    bound: float = 120
    why: str = ""
    extra_secrets: tuple[str, ...] = ()


STEPS = lambda app: app.steps  # noqa: E731

FAULTS = [
    Fault("database down", lambda d, lab: closed_port(d, "db_port"), warm=True,
          why="a deep database check in the warmup, not the cached settings' 200"),
    Fault("wrong db password", wrong_password, warm=True, why="a deep database check, naming the credentials"),
    Fault("wrong password under steps", wrong_password, database="partial", steps=STEPS, code=None,
          not_codes=(0, 1, 4), bound=20, why="an authentication failure at the lock fails at once, not after 600 s"),
    Fault("unmigrated database", lambda d, lab: ["unapplied migration"], database="empty",
          why="unapplied migrations named in the warmup"),
    Fault("cache down", lambda d, lab: closed_port(d, "cache_url"), why="a cache round trip in the warmup"),
    Fault("bad APP", lambda d, lab: ["aplication"], database="partial", steps=STEPS,
          env=lambda app: {"PROD_ENTRY_PROCESS_WEB_APP": app.wsgi.replace("application", "aplication")},
          before_steps=True, why="the APP import before any release step"),
    Fault("config syntax error", lambda d, lab: [d.app.break_config(d.site, CONFIG_SECRET)], code=2, check_code=2,
          extra_secrets=(CONFIG_SECRET,), why="the error named, its secret masked"),
    Fault("step typo", lambda d, lab: ["manage migrat"], database="partial",
          steps=lambda app: app.steps.replace("migrate", "migrat"), code=None, not_codes=(0, 1), check_code=2,
          why="check validates the step's command (and so does the start, before any step); a failed step is not "
              "exit 1"),
    Fault("failing migration", conflicting_table, database="partial", steps=STEPS, code=None, not_codes=(0, 1),
          why="a failed step is not exit 1 and its line quotes the step's error"),
    Fault("PROD_ENTRY_USER", site_owned_by_nobody, database="partial", steps=STEPS, code=0, serves=True,
          migrates=True, env=lambda app: {"PROD_ENTRY_USER": "nobody:nogroup"},
          why="the settings, the app and the steps run as the user: nothing root-owned left behind"),
]


@pytest.mark.parametrize("fault", [pytest.param(fault, id=fault.name.replace(" ", "-")) for fault in FAULTS])
@pytest.mark.parametrize("app", APP)
def test_breakage(app: App, fault: Fault, lab: Lab, deploy) -> None:
    prepared = lab.ready(app)
    env = {**fault.env(app), **({"PROD_ENTRY_PROCESS_WEB_BEFORE": fault.steps(app)} if fault.steps else {})}
    d = deploy(app, fault.database, **env)
    d.secrets.extend(fault.extra_secrets)
    healthy = d.run("check", "web") if fault.warm else None
    needles = fault.breaks(d, lab)
    before = lab.postgres.migrations(d.services.db_name)
    outcome = d.start_web(fault.bound)
    after = lab.postgres.migrations(d.services.db_name)
    started = "release steps: step 1/" in outcome.stderr
    new = prepared.full_migrations - prepared.partial_migrations
    ran = ("no steps" if not fault.steps else
           f"steps {'started' if started else 'not started'}, {len(after - before)}/{len(new)} new migrations applied")
    lab.record(app, fault.name, outcome, ran)
    checked = d.run("check", "web", PROD_ENTRY_LOG_FORMAT="json") if fault.check_code is not None else None
    if checked is not None:
        lab.record(app, f"{fault.name}: check web, JSON", checked, "check")

    if healthy is not None:
        assert healthy.code == 0, f"the deployment did not pass before it broke\n{healthy}"
    assert_no_secret(d, outcome, *([checked] if checked else []))
    if fault.code is not None:
        assert outcome.code == fault.code, f"expected exit {fault.code} ({fault.why})\n{outcome}"
    else:
        assert outcome.code is not None and outcome.code not in fault.not_codes, \
            f"expected an exit status other than {fault.not_codes} within {fault.bound:.0f}s ({fault.why})\n{outcome}"
    if fault.serves:
        assert outcome.served == 200, outcome
    else:
        assert outcome.served is None, f"it served ({fault.why})\n{outcome}"
        assert_names_the_error(outcome, needles)
    if fault.steps:
        expected = new if fault.migrates else set()
        assert after - before == expected, f"{ran} ({fault.why})\n{outcome}"
        if fault.before_steps:
            assert not started, f"the release steps ran before the APP import failed\n{outcome}"
    if checked is not None:
        assert checked.code == fault.check_code, f"prod-entry check web: expected {fault.check_code}\n{checked}"
        assert_names_the_error(checked, needles, json_format=True)
    if fault.name == "PROD_ENTRY_USER":
        owned = [os.path.relpath(os.path.join(where, name), d.site) for where, dirs, files in os.walk(d.site)
                 for name in [*dirs, *files] if os.lstat(os.path.join(where, name)).st_uid == 0]
        assert not owned, f"root-owned in the user's site after the start: {owned[:20]}\n{outcome}"


# --- workers of apps nobody here can edit -------------------------------------------------------------------------

@pytest.mark.parametrize("app", CELERY)
def test_worker_app_found_as_celery_users_name_it(app: App, lab: Lab, deploy) -> None:
    """No PROD_ENTRY_PROCESS_WORKER_APP: the Celery app is looked up where Celery users put it (<package>.celery,
    <package>.celery_app): pretix's (pretix.celery_app) is found, `check worker` passes and the worker runs; for
    Weblate (settings package weblate_site, its app in weblate.utils.celery) `check worker` exits 2 naming what it
    tried."""
    assert app.worker_app
    d = deploy(app, PROD_ENTRY_PROCESS_WORKER_APP=None)
    package = d.env["DJANGO_SETTINGS_MODULE"].rsplit(".", 1)[0]
    findable = app.worker_app.split(":")[0] in (f"{package}.celery", f"{package}.celery_app")
    outcome = d.run("check", "worker", timeout=60)
    lab.record(app, "worker APP derived: check", outcome, "check worker")
    assert_no_secret(d, outcome)
    if not findable:
        assert outcome.code == 2, outcome
        assert_names_the_error(outcome, [f"{package}.celery", f"{package}.celery_app"])
        return
    assert outcome.code == 0, outcome
    with d.launched("worker") as running:  # and the start runs what check passed
        connected = running.wait_for("mingle: ", 60)
        started = running.stop(60)
    lab.record(app, "worker APP derived: start", started, "worker")
    assert connected and started.code == 0, f"the worker with the derived APP did not run\n{started}"
    assert_no_secret(d, started)


@pytest.mark.parametrize("app", CELERY)
def test_check_worker_reaches_the_broker(app: App, lab: Lab, deploy) -> None:
    d = deploy(app)
    port = free_port()
    d.reconfigure(d.services.but(broker_url=f"redis://127.0.0.1:{port}/0"))
    outcome = d.run("check", "worker", timeout=60)
    lab.record(app, "broker down (check worker)", outcome, "check worker")
    assert_no_secret(d, outcome)
    assert outcome.code not in (None, 0, 1), f"check worker must reach the broker, bounded\n{outcome}"
    assert_names_the_error(outcome, ["refused", str(port)])
