"""Each built-in backend: definition -> argv, defaults derived, ARGS and the command line overriding."""

import sys

import pytest

from entrypoint import backends, config
from entrypoint.config import Environment
from entrypoint.errors import ConfigError
from support import EXAMPLE

DJANGO = {"DJANGO_SETTINGS_MODULE": "example.settings"}


@pytest.fixture(autouse=True)
def in_example(monkeypatch):
    monkeypatch.chdir(EXAMPLE)


def plan(env, name, extra=()):
    process = config.processes(Environment(env, frozenset(), None))[name]
    return backends.plan(process, env, extra)


def tail(launch):
    """argv without the program path (which depends on the venv)."""
    return launch.argv[1:]


def test_gunicorn_zero_config():
    launch = plan(DJANGO, "web")
    assert launch.argv[0].endswith("gunicorn")
    assert tail(launch) == ["--bind=0.0.0.0:8000", "example.wsgi:application"]
    assert (launch.kind, launch.interface, launch.bind) == ("web", "wsgi", ("0.0.0.0", 8000))


def test_gunicorn_port_args_and_extra():
    env = {**DJANGO, "PORT": "9001", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 3, "preload": true}'}
    assert tail(plan(env, "web", ["--timeout", "5"])) == [
        "--bind=0.0.0.0:9001", "--workers=3", "--preload", "example.wsgi:application", "--timeout", "5"]


@pytest.mark.parametrize("env", [
    {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"bind": "127.0.0.1:7000"}'},
    {"PROD_ENTRY_PROCESS_WEB_ARGS": "-b 127.0.0.1:7000"},
    {"GUNICORN_CMD_ARGS": "--bind=127.0.0.1:7000 --workers=2"},
])
def test_gunicorn_user_bind_replaces_default(env):
    launch = plan({**DJANGO, **env}, "web")
    assert not any(w.startswith("--bind=0.0.0.0") for w in launch.argv)
    assert launch.bind == ("127.0.0.1", 7000)


def test_gunicorn_explicit_app_needs_no_django():
    env = {"PROD_ENTRY_PROCESS_API": "gunicorn", "PROD_ENTRY_PROCESS_API_APP": "myapp:app"}
    assert tail(plan(env, "api")) == ["--bind=0.0.0.0:8000", "myapp:app"]


def test_uvicorn_asgi_and_wsgi_interface():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uvicorn", "PORT": "8100"}
    launch = plan(env, "web")
    assert tail(launch) == ["--host=0.0.0.0", "--port=8100", "example.asgi:application"]
    assert (launch.interface, launch.bind) == ("asgi", ("0.0.0.0", 8100))
    launch = plan({**env, "PROD_ENTRY_PROCESS_WEB_ARGS": '{"interface": "wsgi", "port": 7001}'}, "web")
    assert tail(launch) == ["--host=0.0.0.0", "--interface=wsgi", "--port=7001", "example.wsgi:application"]
    assert (launch.interface, launch.bind) == ("wsgi", ("0.0.0.0", 7001))


def test_uvicorn_unix_socket_has_no_bind():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": "--uds /tmp/s.sock"}
    launch = plan(env, "web")
    assert tail(launch) == ["--uds", "/tmp/s.sock", "example.asgi:application"] and launch.bind is None


def test_celery_worker_and_beat():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WORKER": "celery-worker", "PROD_ENTRY_PROCESS_BEAT": "celery_beat",
           "PROD_ENTRY_PROCESS_WORKER_ARGS": '{"pool": "solo", "Q": ["a", "b"]}'}
    assert tail(plan(env, "worker")) == ["--app=example", "worker", "--loglevel=INFO", "--pool=solo",
                                         "-Q", "a", "-Q", "b"]
    assert tail(plan(env, "beat", ["-l", "DEBUG"])) == ["--app=example", "beat", "-l", "DEBUG"]
    assert plan(env, "worker").kind == "worker"


def test_django_commands_use_manage_py_here():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_TASKS": "django-tasks", "PROD_ENTRY_PROCESS_HUEY": "huey"}
    assert plan(env, "manage", ["migrate", "--noinput"]).argv == [sys.executable, "manage.py", "migrate",
                                                                  "--noinput"]
    assert plan(env, "tasks").argv == [sys.executable, "manage.py", "db_worker"]
    assert plan(env, "huey").argv == [sys.executable, "manage.py", "run_huey"]


def test_django_commands_without_manage_py(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert plan(DJANGO, "manage", ["check"]).argv == [sys.executable, "-m", "django", "check"]


def test_rq_and_dramatiq():
    env = {"PROD_ENTRY_PROCESS_RQ": "rq", "REDIS_URL": "redis://:pw@r:6379/0", "PROD_ENTRY_PROCESS_RQ_ARGS": "high low",
           "PROD_ENTRY_PROCESS_DQ": "dramatiq", "PROD_ENTRY_PROCESS_DQ_APP": "proj.tasks proj.more"}
    assert tail(plan(env, "rq")) == ["worker", "--url=redis://:pw@r:6379/0",
                                     "--worker-class=entrypoint.workers.rq.Worker", "high", "low"]
    # The heartbeat's worker class gives way to one the user names, on the command line or in rq's own variable.
    assert tail(plan(env, "rq", ["-w", "my.Worker"]))[2:] == ["high", "low", "-w", "my.Worker"]
    assert "--worker-class=entrypoint.workers.rq.Worker" not in plan({**env, "RQ_WORKER_CLASS": "my.W"}, "rq").argv
    # The heartbeat module comes right after the app's modules: dramatiq's CLI takes them as one run of words.
    assert tail(plan(env, "dq", ["-p", "2"])) == ["proj.tasks", "proj.more", "entrypoint.workers.dramatiq", "-p", "2"]


def test_command():
    env = {"PROD_ENTRY_PROCESS_HELLO": "command", "PROD_ENTRY_PROCESS_HELLO_ARGS": '["echo", "hi there"]'}
    assert plan(env, "hello", ["again"]).argv == ["echo", "hi there", "again"]
    assert plan({}, "command", ["true"]).argv == ["true"]


def test_custom_backends():
    env = {"PROD_ENTRY_PROCESS_A": "custom_backends:words", "PROD_ENTRY_PROCESS_B": "custom_backends.launch",
           "PROD_ENTRY_PROCESS_B_APP": "x:y"}
    assert plan(env, "a", ["z"]).argv == ["myprog", "--name", "a", "z"]
    launch = plan(env, "b")
    assert launch.argv == ["myserver", "x:y"] and launch.bind == ("127.0.0.1", 9000)


@pytest.mark.parametrize(("env", "name", "message"), [
    ({"PROD_ENTRY_PROCESS_X": "gunicron"}, "x", "PROD_ENTRY_PROCESS_X='gunicron' is not a backend"),
    ({"PROD_ENTRY_PROCESS_X": "no_such_module:build"}, "x", "cannot be imported"),
    ({"PROD_ENTRY_PROCESS_X": "custom_backends:missing"}, "x", "has no attribute 'missing'"),
    ({"PROD_ENTRY_PROCESS_X": "custom_backends:NOT_CALLABLE"}, "x", "must be a callable"),
    ({"PROD_ENTRY_PROCESS_X": "custom_backends:bad"}, "x", "must return a non-empty list"),
    ({"PROD_ENTRY_PROCESS_X": "gunicorn"}, "x", "DJANGO_SETTINGS_MODULE is not set.*PROD_ENTRY_PROCESS_X_APP"),
    ({"PROD_ENTRY_PROCESS_X": "gunicorn", "DJANGO_SETTINGS_MODULE": "nope.settings"}, "x",
     "DJANGO_SETTINGS_MODULE=nope.settings cannot be imported"),
    ({"PROD_ENTRY_PROCESS_X": "celery-worker", "DJANGO_SETTINGS_MODULE": "settings"}, "x",
     "PROD_ENTRY_PROCESS_X_APP is not set"),
    ({"PROD_ENTRY_PROCESS_X": "dramatiq"}, "x", "PROD_ENTRY_PROCESS_X_APP is not set"),
    ({"PROD_ENTRY_PROCESS_X": "manage", "PROD_ENTRY_PROCESS_X_APP": "a"}, "x", "takes no app"),
    ({"PROD_ENTRY_PROCESS_X": "command"}, "x", "nothing to run"),
    ({"PROD_ENTRY_PROCESS_X": "gunicorn", "PROD_ENTRY_PROCESS_X_APP": "a:b", "PORT": "http"}, "x",
     "PORT='http' is not a TCP port"),
    ({"PROD_ENTRY_PROCESS_X": "gunicorn", "PROD_ENTRY_PROCESS_X_APP": "a:b", "PORT": "70000"}, "x",
     "PORT='70000' is not a TCP port"),
])
def test_backend_errors(env, name, message):
    with pytest.raises(ConfigError, match=message):
        plan(env, name)


def test_wrong_wsgi_application_setting(tmp_path, monkeypatch):
    (tmp_path / "badsettings.py").write_text("WSGI_APPLICATION = None\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="WSGI_APPLICATION in badsettings is None"):
        plan({"DJANGO_SETTINGS_MODULE": "badsettings"}, "web")
