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


# --- granian, hypercorn, daphne ----------------------------------------------------------------------------

def granian(args="", **env):
    return plan({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "granian", "PROD_ENTRY_PROCESS_WEB_ARGS": args, **env}, "web")


def test_granian_zero_config_is_wsgi_not_granians_rsgi():
    launch = granian(PORT="8200")
    assert launch.argv[0].endswith("granian")
    assert tail(launch) == ["--interface=wsgi", "--host=0.0.0.0", "--port=8200", "example.wsgi:application"]
    assert (launch.interface, launch.lifespan, launch.bind) == ("wsgi", False, ("0.0.0.0", 8200))


@pytest.mark.parametrize("interface, lifespan", [("asgi", True), ("asginl", False)])
def test_granian_asgi_interfaces_serve_asgi_application(interface, lifespan):
    launch = granian(f"--interface {interface} --workers 2")
    assert tail(launch) == ["--host=0.0.0.0", "--port=8000", "--interface", interface, "--workers", "2",
                            "example.asgi:application"]
    assert (launch.interface, launch.lifespan) == ("asgi", lifespan)


def test_granian_reads_its_own_environment_variables():
    launch = granian(GRANIAN_INTERFACE="asgi", GRANIAN_HOST="127.0.0.1", GRANIAN_PORT="9300", GRANIAN_FACTORY="true")
    assert tail(launch) == ["example.asgi:application"]
    assert (launch.interface, launch.bind, launch.factory) == ("asgi", ("127.0.0.1", 9300), True)
    launch = granian(GRANIAN_UDS="/tmp/granian.sock")
    assert tail(launch) == ["--interface=wsgi", "example.wsgi:application"] and launch.bind is None


def test_granian_app_attribute_defaults_to_app_and_rsgi_needs_an_app():
    assert tail(granian(PROD_ENTRY_PROCESS_WEB_APP="myapp"))[-1] == "myapp:app"
    assert granian("--interface rsgi", PROD_ENTRY_PROCESS_WEB_APP="myapp:rsgi").interface == "rsgi"
    with pytest.raises(ConfigError, match="rsgi needs the app: set PROD_ENTRY_PROCESS_WEB_APP"):
        granian("--interface rsgi")
    with pytest.raises(ConfigError, match="'wsgl' .* is not one of"):
        granian("--interface=wsgl")


def hypercorn(args="", **env):
    return plan({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "hypercorn", "PROD_ENTRY_PROCESS_WEB_ARGS": args, **env}, "web")


def test_hypercorn_zero_config_and_a_bind_in_any_spelling():
    launch = hypercorn(PORT="8300")
    assert tail(launch) == ["--bind=0.0.0.0:8300", "example.asgi:application"]
    assert (launch.interface, launch.lifespan, launch.bind) == ("asgi", True, ("0.0.0.0", 8300))
    for args in ("-b 127.0.0.1:7000", "--bind=127.0.0.1:7000", "-b127.0.0.1:7000", "--insecure-bind 127.0.0.1:7000"):
        launch = hypercorn(args)
        assert not any(w.startswith("--bind=0.0.0.0") for w in launch.argv) and launch.bind == ("127.0.0.1", 7000)


@pytest.mark.parametrize("name, text, spec_prefix, bind", [
    ("h.toml", 'bind = ["127.0.0.1:7100"]\nworkers = 2\n', "", ("127.0.0.1", 7100)),
    ("h.toml", 'workers = 2\n', "", ("0.0.0.0", 8000)),
    ("h.py", 'bind = "127.0.0.1:7200"\n', "file:", ("127.0.0.1", 7200)),
    ("h.py", 'import os\nbind = os.environ["BIND"]\n', "file:", None),  # set, but not a literal: left alone
])
def test_hypercorn_config_file_bind_wins_over_the_default(tmp_path, name, text, spec_prefix, bind):
    path = tmp_path / name
    path.write_text(text)
    launch = hypercorn(f"-c {spec_prefix}{path}")
    default = ["--bind=0.0.0.0:8000"] if bind == ("0.0.0.0", 8000) else []
    assert tail(launch) == [*default, "-c", f"{spec_prefix}{path}", "example.asgi:application"]
    assert launch.bind == bind


def test_hypercorn_missing_config_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        hypercorn(f"--config {tmp_path / 'nowhere.toml'}")


def daphne(args="", **env):
    return plan({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "daphne", "PROD_ENTRY_PROCESS_WEB_ARGS": args, **env}, "web")


@pytest.mark.parametrize("args, expected, bind", [
    ("", ["--bind=0.0.0.0", "--port=8400"], ("0.0.0.0", 8400)),
    ("-b 127.0.0.1", ["--port=8400", "-b", "127.0.0.1"], ("127.0.0.1", 8400)),
    ("--port=7400", ["--bind=0.0.0.0", "--port=7400"], ("0.0.0.0", 7400)),
    ("-u /tmp/d.sock", ["-u", "/tmp/d.sock"], None),
    ("-e tcp:port=7500", ["-e", "tcp:port=7500"], None),
])
def test_daphne_host_and_port_defaults(args, expected, bind):
    launch = daphne(args, PORT="8400")
    assert tail(launch) == [*expected, "example.asgi:application"]
    assert (launch.interface, launch.lifespan, launch.bind) == ("asgi", False, bind)


@pytest.mark.parametrize("backend, args, wrapper", [
    ("granian", "", "entrypoint.wsgi_wrapper:app"),
    ("granian", "--interface asgi", "entrypoint.asgi_wrapper:app"),
    ("granian", "--interface asginl --factory", "entrypoint.asgi_wrapper:factory"),
    ("hypercorn", "", "entrypoint.asgi_wrapper:app"),
    ("daphne", "", "entrypoint.asgi_wrapper:app"),
])
def test_worker_warmup_swaps_the_app_for_a_wrapper(backend, args, wrapper):
    from entrypoint import warmup

    env = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": backend, "PROD_ENTRY_PROCESS_WEB_ARGS": args}
    process = config.processes(Environment(env, frozenset(), None))["web"]
    launch = backends.plan(process, env)
    wired = warmup.with_worker_warmup(process, env, launch)
    assert wrapper in wired.argv and launch.app not in wired.argv[1:] and wired.worker_warmup
    assert len(wired.argv) == len(launch.argv)
