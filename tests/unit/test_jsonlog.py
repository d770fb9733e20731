"""The JSON schema (jsonlog.JsonFormatter), the rule for the project's own handlers (jsonlog.configure), and the
per-server `logs` adapters' words (the real servers are in tests/integration/test_json_logs.py)."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from support import EXAMPLE

from entrypoint.backends import plan
from entrypoint.backends.gunicorn import HOOK_WORD
from entrypoint.logs import jsonlog
from entrypoint.logs import servers as server_logs
from entrypoint.settings import config
from entrypoint.settings.config import Environment

DJANGO = {"DJANGO_SETTINGS_MODULE": "example.settings"}


def record(message: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    made = logging.LogRecord("app.views", logging.ERROR, __file__, 1, message, args, exc_info)
    made.__dict__.update(extra)
    return made


def test_the_schema(monkeypatch) -> None:
    monkeypatch.setenv(jsonlog.PROCESS_VAR, "web")
    line = json.loads(jsonlog.JsonFormatter().format(record("%d items", 3)))
    assert set(line) == {"time", "level", "logger", "message", "process", "pid"}
    assert (line["level"], line["logger"], line["message"], line["process"]) == ("error", "app.views", "3 items",
                                                                                 "web")
    assert line["time"].endswith("Z") and "T" in line["time"]


def test_an_exception_is_one_record_with_the_whole_traceback() -> None:
    try:
        raise ValueError("first line\nlast line")
    except ValueError as caught:
        exc = caught
    text = jsonlog.JsonFormatter().format(record("failed", exc=exc))
    assert "\n" not in text  # one line
    line = json.loads(text)
    assert line["exc_type"] == "ValueError"
    assert line["exc_text"].startswith("Traceback (most recent call last):")
    assert line["exc_text"].endswith("ValueError: first line\nlast line")


def test_access_fields_and_masking(monkeypatch) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-1234567890")
    access = {"method": "GET", "path": "/x?t=tok-1234567890", "status": 200, "duration_ms": 1.5,
              "remote": "10.0.0.1", "user_agent": "ua", "request_id": None}
    line = json.loads(jsonlog.JsonFormatter().format(record("GET %s", "tok-1234567890", access=access)))
    assert line["path"] == "/x?t=****" and line["message"] == "GET ****"
    assert {key: line[key] for key in jsonlog.ACCESS_FIELDS if key != "path"} == \
        {key: access[key] for key in jsonlog.ACCESS_FIELDS if key != "path"}


@pytest.fixture
def clean_logging():
    root = logging.getLogger()
    saved = list(root.handlers)
    root.handlers = []
    yield
    root.handlers = saved  # pytest's own capture handlers come and go around the test itself
    jsonlog._reported.clear()


def test_configure_formats_plain_console_handlers_and_keeps_the_projects_own(clean_logging) -> None:
    plain = logging.StreamHandler(sys.stderr)
    own = logging.StreamHandler(sys.stdout)
    own.setFormatter(logging.Formatter("OWN %(message)s"))
    to_file = logging.StreamHandler(io.StringIO())  # not the console: not the container's output
    logging.getLogger("t.plain").addHandler(plain)
    logging.getLogger("t.own").addHandler(own)
    logging.getLogger("t.file").addHandler(to_file)
    try:
        theirs = jsonlog.configure()
        assert isinstance(plain.formatter, jsonlog.JsonFormatter)
        assert own.formatter is not None and own.formatter._fmt == "OWN %(message)s"
        assert to_file.formatter is None
        assert theirs == ["t.own (StreamHandler with Formatter)"]
        # The root logger had no handler: it gets one, JSON on stderr.
        assert [h.stream for h in logging.getLogger().handlers
                if isinstance(h.formatter, jsonlog.JsonFormatter)] == [sys.stderr]
    finally:
        for name, handler in (("t.plain", plain), ("t.own", own), ("t.file", to_file)):
            logging.getLogger(name).removeHandler(handler)


def wired(env: dict[str, str], name: str) -> list[str]:
    process = config.processes(Environment(env, frozenset(), None))[name]
    return server_logs.with_logs(process, env, plan(process, env)).argv[1:]


@pytest.fixture
def in_example(monkeypatch):
    monkeypatch.chdir(EXAMPLE)


@pytest.mark.usefixtures("in_example")
def test_gunicorn_words() -> None:
    words = wired({**DJANGO, "PROD_ENTRY_LOG_FORMAT": "json"}, "web")
    assert words.count(HOOK_WORD) == 1
    assert "--access-logfile=-" not in wired({**DJANGO}, "web")  # gunicorn's own default: no access log
    assert "--access-logfile=-" in wired({**DJANGO, "PROD_ENTRY_ACCESS_LOG": "1"}, "web")
    mine = {**DJANGO, "PROD_ENTRY_ACCESS_LOG": "1", "GUNICORN_CMD_ARGS": "--access-logfile=/tmp/a.log"}
    assert "--access-logfile=-" not in wired(mine, "web")  # the user's own access log wins


@pytest.mark.usefixtures("in_example")
def test_uvicorn_words() -> None:
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_LOG_FORMAT": "json"}
    words = wired(env, "web")
    assert "entrypoint.warmup.asgi:app" in words and "--no-access-log" in words
    assert any(w.startswith("--log-config=") and w.endswith("log_config.json") for w in words)
    theirs = wired({**env, "PROD_ENTRY_PROCESS_WEB_ARGS": "--log-config=mine.json"}, "web")
    assert "--no-access-log" not in theirs and "example.asgi:application" in theirs  # their config: untouched
    text_off = wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_ACCESS_LOG": "0"}, "web")
    assert text_off[-1] == "--no-access-log" and "example.asgi:application" in text_off


@pytest.mark.usefixtures("in_example")
def test_celery_words() -> None:
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WORKER": "celery-worker"}
    assert wired(env, "worker")[:2] == ["--app=entrypoint.backends.celery:app", "worker"]  # the heartbeat's wrapper
    assert wired({**env, "PROD_ENTRY_LOG_FORMAT": "json"}, "worker")[:3] == \
        ["--app=entrypoint.backends.celery:app", "--quiet", "worker"]


@pytest.mark.usefixtures("in_example")
def test_hypercorn_granian_daphne_uwsgi_words() -> None:
    json_on = {**DJANGO, "PROD_ENTRY_LOG_FORMAT": "json"}
    hypercorn = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "hypercorn"}, "web")
    assert "entrypoint.warmup.asgi:app" in hypercorn
    assert any(w.startswith("--log-config=json:") and w.endswith("hypercorn/log_config.json") for w in hypercorn)
    theirs = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "hypercorn", "PROD_ENTRY_PROCESS_WEB_ARGS":
                    "--log-config=json:mine.json"}, "web")
    assert not any("log_config.json" in w for w in theirs)
    assert wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "hypercorn", "PROD_ENTRY_ACCESS_LOG": "1"}, "web")[-1] == \
        "--access-logfile=-"

    granian = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "granian"}, "web")
    assert "entrypoint.warmup.wsgi:app" in granian and "--access-log" in granian
    assert any(w.startswith("--access-log-fmt=") and "header{user-agent}" in w for w in granian)
    off = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "granian", "PROD_ENTRY_ACCESS_LOG": "0"}, "web")
    assert "--access-log" not in off
    assert "--access-log" in wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "granian", "PROD_ENTRY_ACCESS_LOG": "1"},
                                   "web")

    daphne = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "daphne"}, "web")
    assert daphne[:2] == ["--log-fmt=%(message)s", "--access-log=/dev/null"] and "entrypoint.warmup.asgi:app" in daphne

    uwsgi = wired({**json_on, "PROD_ENTRY_PROCESS_WEB": "uwsgi"}, "web")
    assert uwsgi.count("--import=entrypoint.backends.uwsgi.hook") == 1  # the warmup's and the logs' hook: once
    assert "--disable-logging" in wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uwsgi", "PROD_ENTRY_ACCESS_LOG": "0"},
                                        "web")


@pytest.mark.usefixtures("in_example")
def test_flower_and_django_q2_runner_words() -> None:
    flower = {**DJANGO, "PROD_ENTRY_PROCESS_FLOWER": "flower"}
    assert wired(flower, "flower")[:2] == ["--app=example.celery", "flower"]  # text: celery's own CLI, unchanged
    assert wired({**flower, "PROD_ENTRY_LOG_FORMAT": "json"}, "flower")[:4] == \
        ["-m", "entrypoint.backends.flower", "--app=example.celery", "flower"]
    tasks = {**DJANGO, "PROD_ENTRY_PROCESS_TASKS": "django-q2"}
    assert wired(tasks, "tasks") == ["manage.py", "qcluster"]
    assert wired({**tasks, "PROD_ENTRY_LOG_FORMAT": "json"}, "tasks") == \
        ["-m", "entrypoint.backends.django_q2", "manage.py", "qcluster"]
