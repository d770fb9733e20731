"""PROD_ENTRY_LOG_FORMAT=json: every line the real servers write, on stdout and on stderr, is one JSON object of
one schema (prod-entry, its supervisor, gunicorn's master and workers, uvicorn, hypercorn, granian, waitress,
daphne, a Celery worker and the Django app inside them; under uWSGI the app's records, uWSGI's own being text); a view that raises is one error record holding the whole traceback; access records carry
their fields; PROD_ENTRY_ACCESS_LOG=0 turns them off; a project's own console format is kept; text is unchanged."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import EXAMPLE, PROD_ENTRY, example_env, free_port, kill_tree, wait_http, wait_until

REQUIRED = {"time", "level", "logger", "message", "process", "pid"}
ACCESS = {"method", "path", "status", "duration_ms", "remote", "user_agent", "request_id"}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SECRET = "canary-secret-value-8d1f"  # DJANGO_SECRET_KEY: it must never appear, not even in an access path

SERVERS = {
    "gunicorn-sync": {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": "--workers=2"},
    # The warmup's hook is off here: the logs still need gunicorn to load our config module.
    "gunicorn-sync-no-worker-warmup": {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_WARMUP_WORKERS": "0"},
    "gunicorn-gthread": {"PROD_ENTRY_PROCESS_WEB": "gunicorn",
                         "PROD_ENTRY_PROCESS_WEB_ARGS": "--worker-class=gthread --threads=4"},
    "uvicorn": {"PROD_ENTRY_PROCESS_WEB": "uvicorn"},
    "hypercorn": {"PROD_ENTRY_PROCESS_WEB": "hypercorn"},
    "granian-wsgi": {"PROD_ENTRY_PROCESS_WEB": "granian"},
    "granian-asgi": {"PROD_ENTRY_PROCESS_WEB": "granian", "PROD_ENTRY_PROCESS_WEB_ARGS": "--interface=asgi --workers=2"},
    "waitress": {"PROD_ENTRY_PROCESS_WEB": "waitress"},
    # The example's LOGGING puts the root logger at WARNING, which drops daphne's own info lines ("Starting server
    # at"): at INFO they show, as JSON through the root handler the wrapper made JSON.
    "daphne": {"PROD_ENTRY_PROCESS_WEB": "daphne", "DJANGO_LOG_LEVEL": "INFO"},
}

# Servers whose every worker must have started before TERM: granian (like uWSGI, below) can wait forever for a
# worker that the shutdown reached while it was still starting (seen: still running 30 s after TERM).
STARTED = {"granian-asgi": ("Started worker-", 2)}


class Captured:
    """A process's stdout and stderr, each in its own file (never merged, so no two writers share a pipe)."""

    def __init__(self, directory: Path) -> None:
        self.out, self.err = directory / "stdout", directory / "stderr"

    def lines(self) -> list[tuple[str, str]]:
        return [(name, line) for name, path in (("stdout", self.out), ("stderr", self.err))
                for line in path.read_text().splitlines()]

    def text(self) -> str:
        return f"--- stdout ---\n{self.out.read_text()}\n--- stderr ---\n{self.err.read_text()}"

    def records(self) -> list[dict]:
        """Every line as a JSON record of the schema; fails naming the first line that is not."""
        found = []
        for stream, line in self.lines():
            try:
                record = json.loads(line)
            except ValueError:
                pytest.fail(f"a line on {stream} is not JSON: {line!r}\n{self.text()}")
            assert isinstance(record, dict) and REQUIRED <= record.keys(), f"{stream}: {line}\n{self.text()}"
            assert RFC3339_UTC.match(record["time"]), line
            assert isinstance(record["pid"], int), line
            found.append(record)
        return found


@pytest.fixture
def started(tmp_path: Path) -> Iterator:
    procs: list[subprocess.Popen] = []

    def start(args: list[str], **env: str) -> tuple[subprocess.Popen, Captured]:
        captured = Captured(tmp_path)
        with open(captured.out, "w") as out, open(captured.err, "w") as err:
            proc = subprocess.Popen([PROD_ENTRY, *args], env=example_env(**env), cwd=EXAMPLE,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        procs.append(proc)
        return proc, captured

    yield start
    for proc in procs:
        kill_tree(proc.pid)
        proc.wait(10)


def get(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def stop(proc: subprocess.Popen, captured: Captured) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 30 s after TERM\n{captured.text()}")


def serve(started, server: dict[str, str], **env: str) -> tuple[subprocess.Popen, Captured, str]:
    port = free_port()
    proc, captured = started(["web"], PORT=str(port), PROD_ENTRY_INIT="always", PROD_ENTRY_LOG_LEVEL="debug",
                             DJANGO_SECRET_KEY=SECRET, **server, **env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: proc.poll() is not None or captured.out.exists(), 5)
    try:
        wait_http(f"{base}/healthz", 30)
    except AssertionError:
        pytest.fail(f"the server never answered (exit {proc.poll()})\n{captured.text()}")
    return proc, captured, base


@pytest.mark.parametrize("server", list(SERVERS))
def test_every_line_is_one_json_record(started, server: str) -> None:
    proc, captured, base = serve(started, SERVERS[server], PROD_ENTRY_LOG_FORMAT="json")
    if server in STARTED:
        line, count = STARTED[server]
        wait_until(lambda: captured.err.read_text().count(line) == count, 30, what=f"{count} workers\n"
                   f"{captured.text()}")
    assert get(f"{base}/", **{"X-Request-ID": "req-7f3a", "User-Agent": "json-logs-test"}) == 200
    assert get(f"{base}/boom") == 500
    assert get(f"{base}/whoami?token={SECRET}") == 200
    # granian's ASGI access record is written once the app's coroutine returns, after the client has its
    # answer: a TERM sent at once can stop the worker first (seen in CI), so the record is awaited here.
    wait_until(lambda: "/whoami?token=****" in captured.text(), 10, what="the /whoami access record")
    stop(proc, captured)
    records = captured.records()
    text = captured.text()
    assert SECRET not in text

    assert {r["process"] for r in records} == {"web"}, text
    loggers = {r["logger"] for r in records}
    assert {"prod-entry", "prod-entry.init"} <= loggers, loggers  # prod-entry itself and its supervisor
    assert any(name.startswith(server.split("-")[0]) for name in loggers), loggers  # the server's own

    errors = [r for r in records if r.get("exc_type")]
    assert len(errors) == 1, text
    boom = errors[0]
    assert boom["exc_type"] == "RuntimeError" and boom["logger"] == "django.request", boom
    lines = boom["exc_text"].splitlines()
    assert lines[0] == "Traceback (most recent call last):", boom
    assert lines[-1] == "RuntimeError: the example app's /boom view always fails", boom
    assert any("in boom" in line for line in lines), boom
    assert not any("Traceback" in r["message"] for r in records), text  # never a traceback split into lines

    access = [r for r in records if "method" in r]
    assert all(ACCESS <= r.keys() for r in access), access
    assert all(isinstance(r["duration_ms"], (int, float)) and r["duration_ms"] >= 0 for r in access), access
    index = [r for r in access if r["path"] == "/" and r["user_agent"] == "json-logs-test"]
    assert len(index) == 1, access
    assert index[0]["method"] == "GET" and index[0]["status"] == 200 and index[0]["request_id"] == "req-7f3a"
    assert index[0]["remote"] == "127.0.0.1", index
    assert [r["status"] for r in access if r["path"] == "/boom"] == [500], access
    assert [r["path"] for r in access if r["path"].startswith("/whoami")] == ["/whoami?token=****"], access


@pytest.mark.parametrize("server", ["gunicorn-sync", "uvicorn", "hypercorn", "granian-wsgi", "waitress", "daphne"])
def test_access_log_off_for_every_server(started, server: str) -> None:
    proc, captured, base = serve(started, SERVERS[server], PROD_ENTRY_LOG_FORMAT="json", PROD_ENTRY_ACCESS_LOG="0")
    assert get(f"{base}/") == 200
    assert get(f"{base}/boom") == 500
    stop(proc, captured)
    records = captured.records()
    assert not [r for r in records if "method" in r], captured.text()
    assert [r["exc_type"] for r in records if r.get("exc_type")] == ["RuntimeError"], captured.text()


@pytest.mark.parametrize("server, own, access", [("uvicorn", "Uvicorn running on", '"GET / HTTP/1.1" 200'),
                                                  ("daphne", "", '"GET /" 200')])
def test_text_access_log_off(started, server: str, own: str, access: str) -> None:
    """Text: the server's own format, and PROD_ENTRY_ACCESS_LOG=0 turns off the access lines it writes by
    default (uvicorn's --no-access-log; daphne's to /dev/null). (daphne's own info lines are not checked: the
    example project's LOGGING sets the root level to WARNING, and daphne logs through the root.)"""
    proc, captured, base = serve(started, SERVERS[server], PROD_ENTRY_ACCESS_LOG="0")
    assert get(f"{base}/") == 200
    stop(proc, captured)
    assert own in captured.text()
    assert access not in captured.text(), captured.text()


@pytest.mark.parametrize("server", ["gunicorn-sync", "uvicorn"])
def test_text_keeps_each_servers_own_format(started, server: str) -> None:
    proc, captured, base = serve(started, SERVERS[server])
    assert get(f"{base}/") == 200
    stop(proc, captured)
    text = captured.text()
    assert not any(line.startswith("{") for _, line in captured.lines()), text
    own = "] [INFO] Starting gunicorn" if server.startswith("gunicorn") else "INFO:     Uvicorn running on"
    assert own in text, text


@pytest.mark.parametrize("server, line", [("gunicorn-sync", '"GET / HTTP/1.1" 200'), ("hypercorn", '"GET / 1.1" 200')])
def test_text_access_log_on(started, server: str, line: str) -> None:
    """gunicorn and hypercorn log no access by default; PROD_ENTRY_ACCESS_LOG=1 gives their own (Apache) lines
    on stdout."""
    proc, captured, base = serve(started, SERVERS[server], PROD_ENTRY_ACCESS_LOG="1")
    assert get(f"{base}/", **{"User-Agent": "json-logs-test"}) == 200
    stop(proc, captured)
    assert line in captured.out.read_text(), captured.text()


def test_the_projects_own_console_format_is_kept(started) -> None:
    """A LOGGING handler with a formatter of the project's stays as it is (its lines are its own), and one
    prod-entry record says so; gunicorn's own lines are JSON still."""
    proc, captured, base = serve(started, SERVERS["gunicorn-sync"], PROD_ENTRY_LOG_FORMAT="json",
                                 DJANGO_SETTINGS_MODULE="example.settings_ownlogging")
    assert get(f"{base}/boom") == 500
    stop(proc, captured)
    out = captured.out.read_text()
    assert "OWN-FORMAT ERROR django.request: Internal Server Error: /boom" in out, captured.text()
    json_lines = [json.loads(line) for _, line in captured.lines() if line.startswith("{")]
    said = [r for r in json_lines if r["logger"] == "prod-entry" and "format of their own" in r["message"]]
    assert said and "root (StreamHandler with Formatter)" in said[0]["message"], captured.text()
    assert any(r["logger"] == "gunicorn.error" for r in json_lines), captured.text()


def test_celery_worker(started, redis_url: str) -> None:
    proc, captured = started(["worker"], PROD_ENTRY_PROCESS_WORKER="celery-worker",
                             PROD_ENTRY_PROCESS_WORKER_ARGS="--concurrency=1", PROD_ENTRY_INIT="always",
                             PROD_ENTRY_LOG_LEVEL="debug", PROD_ENTRY_LOG_FORMAT="json", CELERY_BROKER_URL=redis_url)
    wait_until(lambda: proc.poll() is not None or " ready." in captured.err.read_text(), 60,
               what="the worker's ready line")
    assert proc.poll() is None, captured.text()
    send = ("from example.tasks import add; add.delay(2, 3); add.delay('two', 3)")
    subprocess.run([sys.executable, "-c", send], env=example_env(CELERY_BROKER_URL=redis_url), cwd=EXAMPLE,
                   check=True, timeout=60)
    wait_until(lambda: "raised unexpected" in captured.err.read_text(), 60, what=f"the task's failure\n"
               f"{captured.text()}")
    stop(proc, captured)
    records = captured.records()
    assert {r["process"] for r in records} == {"worker"}
    assert any(r["message"].startswith("Task example.tasks.add[") and "succeeded" in r["message"]
               for r in records), captured.text()
    errors = [r for r in records if r.get("exc_type")]
    assert len(errors) == 1 and errors[0]["exc_type"] == "TypeError", captured.text()
    lines = errors[0]["exc_text"].splitlines()
    assert lines[0] == "Traceback (most recent call last):" and lines[-1].startswith("TypeError: "), errors
    assert any(r["message"] == "worker: Warm shutdown (MainProcess)" for r in records), captured.text()
    assert {"prod-entry", "prod-entry.init"} <= {r["logger"] for r in records}


def test_uwsgi_app_records_are_json(started) -> None:
    """uWSGI's own lines are text (written from C), but the app's logging in each worker is JSON: /boom is one
    record holding the whole traceback, never a traceback across lines; PROD_ENTRY_ACCESS_LOG=0 is
    --disable-logging (no request lines)."""
    proc, captured, base = serve(started, {"PROD_ENTRY_PROCESS_WEB": "uwsgi", "PROD_ENTRY_PROCESS_WEB_ARGS":
                                           "--processes=2"}, PROD_ENTRY_LOG_FORMAT="json", PROD_ENTRY_ACCESS_LOG="0")
    # Both workers up before TERM: a graceful shutdown that reaches a worker still in its postfork functions
    # can leave uWSGI waiting for it (seen: still running 30 s after TERM).
    wait_until(lambda: captured.err.read_text().count("warmed up") == 2, 30, what=f"both workers\n{captured.text()}")
    assert get(f"{base}/") == 200
    assert get(f"{base}/boom") == 500
    stop(proc, captured)
    text = captured.text()
    records = [json.loads(line) for _, line in captured.lines() if line.startswith("{")]
    assert all(REQUIRED <= r.keys() for r in records), text
    errors = [r for r in records if r.get("exc_type")]
    assert len(errors) == 1 and errors[0]["logger"] == "django.request", text
    lines = errors[0]["exc_text"].splitlines()
    assert lines[0] == "Traceback (most recent call last):", errors
    assert lines[-1] == "RuntimeError: the example app's /boom view always fails", errors
    assert "Traceback" not in "\n".join(line for _, line in captured.lines() if not line.startswith("{")), text
    assert "*** Starting uWSGI" in text, text  # uWSGI's own, text
    assert "GET /boom =>" not in text, text  # uWSGI's request line format


def test_flower(started, redis_url: str) -> None:
    """Flower (tornado, run by celery's CLI): every line JSON, and access records, which Flower writes none of."""
    port = free_port()
    proc, captured = started(["flower"], PROD_ENTRY_PROCESS_FLOWER="flower", PORT=str(port),
                             PROD_ENTRY_INIT="always", PROD_ENTRY_LOG_LEVEL="debug", PROD_ENTRY_LOG_FORMAT="json",
                             CELERY_BROKER_URL=redis_url, DJANGO_SECRET_KEY=SECRET)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthcheck", 30)
    except AssertionError:
        pytest.fail(f"flower never answered (exit {proc.poll()})\n{captured.text()}")
    assert get(f"{base}/healthcheck", **{"X-Request-ID": "req-f1", "User-Agent": "json-logs-test"}) == 200
    assert get(f"{base}/no-such-page?token={SECRET}") == 404
    # tornado writes the record after the response: TERM (Flower's handler exits at once) must not overtake it
    wait_until(lambda: "no-such-page" in captured.out.read_text(), 10, what=f"the 404's record\n{captured.text()}")
    stop(proc, captured)
    records = captured.records()
    text = captured.text()
    assert SECRET not in text
    assert {r["process"] for r in records} == {"flower"}, text
    assert any(r["logger"].startswith("flower") for r in records), text
    access = [r for r in records if "method" in r]
    assert all(ACCESS <= r.keys() and r["duration_ms"] >= 0 for r in access), access
    ours = [r for r in access if r["request_id"] == "req-f1"]
    assert len(ours) == 1 and ours[0]["path"] == "/healthcheck" and ours[0]["status"] == 200, access
    assert ours[0]["user_agent"] == "json-logs-test" and ours[0]["remote"] == "127.0.0.1", access
    assert [r["status"] for r in access if r["path"] == "/no-such-page?token=****"] == [404], access


def test_django_q2_cluster(started, tmp_path: Path) -> None:
    """A django-q2 cluster (its own processes, forked): every line JSON, its records among them."""
    env = {"EXAMPLE_DJANGO_Q": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}"}
    migrate = subprocess.run([PROD_ENTRY, "manage", "migrate", "--noinput"], env=example_env(**env), cwd=EXAMPLE,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    proc, captured = started(["tasks"], PROD_ENTRY_PROCESS_TASKS="django-q2", PROD_ENTRY_INIT="always",
                             PROD_ENTRY_LOG_LEVEL="debug", PROD_ENTRY_LOG_FORMAT="json", DJANGO_LOG_LEVEL="INFO",
                             **env)
    send = ("import django; django.setup(); from django_q.tasks import async_task, result; "
            "print(result(async_task('operator.add', 2, 3), wait=30000))")
    sent = subprocess.run([sys.executable, "-c", send], env=example_env(**env), cwd=EXAMPLE, capture_output=True,
                          text=True, timeout=60)
    assert sent.stdout.strip() == "5", f"{sent.stderr}\n{captured.text()}"
    wait_until(lambda: "Processed" in captured.err.read_text(), 30, what=f"the task's record\n{captured.text()}")
    stop(proc, captured)
    assert proc.returncode == 0, captured.text()
    records = captured.records()
    assert {r["process"] for r in records} == {"tasks"}, captured.text()
    assert any(r["logger"] == "django-q" and "Processed" in r["message"] for r in records), captured.text()
    assert {"prod-entry", "prod-entry.init"} <= {r["logger"] for r in records}
