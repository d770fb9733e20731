"""Each built-in backend: definition -> argv, defaults derived, ARGS and the command line overriding."""

import sys

import pytest
from support import EXAMPLE

from entrypoint import backends
from entrypoint.settings import config
from entrypoint.settings.config import Environment
from entrypoint.settings.errors import ConfigError

DJANGO = {"DJANGO_SETTINGS_MODULE": "example.settings"}
pytestmark = pytest.mark.usefixtures("fixed_limits")  # auto-sized: --workers=3 for gunicorn, --concurrency=1


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
    assert tail(launch) == ["--bind=0.0.0.0:8000", "--workers=3", "example.wsgi:application"]
    assert (launch.kind, launch.interface, launch.bind) == ("web", "wsgi", ("0.0.0.0", 8000))


@pytest.mark.parametrize("args, lifespan", [
    ("-k uvicorn.workers.UvicornWorker", True),
    ('{"worker-class": "uvicorn_worker.UvicornWorker"}', True),
    ("-k asgi", True),
    ("--worker-class=egg:gunicorn#asgi --asgi-lifespan=off", False),
])
def test_gunicorn_with_an_asgi_worker_class_serves_asgi_application(args, lifespan):
    launch = plan({**DJANGO, "PROD_ENTRY_PROCESS_WEB_ARGS": args}, "web")
    assert (launch.app, launch.interface, launch.lifespan) == ("example.asgi:application", "asgi", lifespan)


def test_an_asgi_server_without_asgi_application_is_told_what_fits_it(tmp_path, monkeypatch):
    (tmp_path / "wsgionly.py").write_text('WSGI_APPLICATION = "wsgionly.application"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {"DJANGO_SETTINGS_MODULE": "wsgionly"}
    hints = {"uvicorn": "uvicorn's --interface wsgi", "gunicorn": "a WSGI worker class (sync, gthread)",
             "granian": "granian's --interface=wsgi", "hypercorn": None}
    asgi = {"gunicorn": "-k uvicorn.workers.UvicornWorker", "granian": "--interface=asgi"}
    for backend, hint in hints.items():
        args = asgi.get(backend, "")
        with pytest.raises(ConfigError) as raised:
            plan({**env, "PROD_ENTRY_PROCESS_WEB": backend, "PROD_ENTRY_PROCESS_WEB_ARGS": args}, "web")
        message = str(raised.value)
        assert message.startswith("ASGI_APPLICATION is not set in wsgionly"), message
        if hint:
            assert message.endswith(f"or serve WSGI_APPLICATION with {hint} in PROD_ENTRY_PROCESS_WEB_ARGS"), message
        else:  # hypercorn serves ASGI only: no word of uvicorn's options
            assert "WSGI_APPLICATION with" not in message and "uvicorn" not in message, message


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
    assert tail(plan(env, "api")) == ["--bind=0.0.0.0:8000", "--workers=3", "myapp:app"]


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
    # The worker is served through prod-entry's --app wrapper (the heartbeat); beat is not.
    worker = plan(env, "worker")
    assert tail(worker) == ["--app=entrypoint.backends.celery:app", "worker", "--loglevel=INFO", "--pool=solo",
                            "-Q", "a", "-Q", "b"]
    assert (worker.kind, worker.app) == ("worker", "example.celery")
    assert worker.app_origin.startswith("found example/celery.py in DJANGO_SETTINGS_MODULE's package")
    assert tail(plan(env, "beat", ["-l", "DEBUG"])) == ["--app=example.celery", "beat", "-l", "DEBUG"]
    given = plan({**env, "PROD_ENTRY_PROCESS_BEAT_APP": "proj.tasks:app"}, "beat")
    assert tail(given)[0] == "--app=proj.tasks:app" and given.app_origin == "env PROD_ENTRY_PROCESS_BEAT_APP"


CELERY_APP = "import celery\napp = celery.Celery('shopx')\n"


@pytest.mark.parametrize(("files", "found"), [
    ({"celery_app.py": CELERY_APP}, "shopx.celery_app"),  # pretix
    ({"celery.py": CELERY_APP}, "shopx.celery"),  # Celery's documented layout
    ({"celery.py": CELERY_APP, "celery_app.py": CELERY_APP}, "shopx.celery"),
    ({"celery/__init__.py": CELERY_APP}, "shopx.celery"),
])
def test_the_celery_app_is_found_on_disk_not_imported(files, found, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, text in {"__init__.py": "raise RuntimeError('imported')\n", **files}.items():
        (tmp_path / "shopx" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shopx" / name).write_text(text)
    launch = plan({"DJANGO_SETTINGS_MODULE": "shopx.settings", "PROD_ENTRY_PROCESS_WORKER": "celery-worker"}, "worker")
    assert launch.app == found and "shopx" not in sys.modules


def test_no_celery_app_module_names_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shopx").mkdir()
    (tmp_path / "shopx" / "__init__.py").write_text("")
    env = {"DJANGO_SETTINGS_MODULE": "shopx.settings", "PROD_ENTRY_PROCESS_WORKER": "celery-worker"}
    with pytest.raises(ConfigError, match=r"no Celery app module was found: tried shopx.celery and shopx.celery_app: "
                                          r"set PROD_ENTRY_PROCESS_WORKER_APP"):
        plan(env, "worker")
    with pytest.raises(ConfigError, match=r"the package nopkg itself is not found"):
        plan({**env, "DJANGO_SETTINGS_MODULE": "nopkg.settings"}, "worker")


def test_django_commands_use_manage_py_here():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_TASKS": "django-tasks", "PROD_ENTRY_PROCESS_HUEY": "huey"}
    assert plan(env, "manage", ["migrate", "--noinput"]).argv == [sys.executable, "manage.py", "migrate",
                                                                  "--noinput"]
    # Run by prod-entry's module, which installs the heartbeat once Django is set up.
    assert plan(env, "tasks").argv == [sys.executable, "-m", "entrypoint.backends.django_tasks", "manage.py",
                                       "db_worker"]
    assert plan(env, "huey").argv == [sys.executable, "-m", "entrypoint.backends.huey", "manage.py", "run_huey"]


def test_django_commands_without_manage_py(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert plan(DJANGO, "manage", ["check"]).argv == [sys.executable, "-m", "django", "check"]
    assert plan({**DJANGO, "PROD_ENTRY_PROCESS_HUEY": "huey"}, "huey").argv == \
        [sys.executable, "-m", "entrypoint.backends.huey", "-m", "django", "run_huey"]


# --- waitress, uwsgi, django-q2, flower ---------------------------------------------------------------------

WAITRESS = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": "waitress"}


def test_waitress_zero_config_runs_waitress_serves_parser_through_prod_entrys_runner():
    launch = plan({**WAITRESS, "PORT": "9002"}, "web", ["--threads=8"])
    assert launch.argv[:3] == [sys.executable, "-m", "entrypoint.backends.waitress.serve"]
    # EXTRA before the app: waitress-serve's getopt stops at the first word that is not an option.
    assert launch.argv[3:] == ["--listen=0.0.0.0:9002", "--threads=8", "example.wsgi:application"]
    assert (launch.kind, launch.app, launch.interface, launch.bind) == \
        ("web", "example.wsgi:application", "wsgi", ("0.0.0.0", 9002))


def test_waitress_call_means_a_factory_for_the_warmup_too():
    assert plan(WAITRESS, "web", ["--call"]).factory and not plan(WAITRESS, "web").factory


@pytest.mark.parametrize(("args", "defaults", "bind"), [
    ('{"listen": "127.0.0.1:7000"}', [], ("127.0.0.1", 7000)),
    ("--listen *:7000", [], ("0.0.0.0", 7000)),
    ('{"port": 7001}', [], ("0.0.0.0", 7001)),  # waitress's host default is 0.0.0.0 already
    ('{"host": "127.0.0.1"}', ["--port=8000"], ("127.0.0.1", 8000)),  # not waitress's own 8080
    ('{"unix-socket": "/tmp/w.sock"}', [], None),
])
def test_waitress_user_address_replaces_the_default(args, defaults, bind):
    launch = plan({**WAITRESS, "PROD_ENTRY_PROCESS_WEB_ARGS": args}, "web")
    assert launch.argv[3:3 + len(defaults)] == defaults and not any("0.0.0.0:8000" in w for w in launch.argv)
    assert launch.bind == bind


UWSGI = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": "uwsgi"}
TERM_HOOK = "--hook-master-start=unix_signal:15 gracefully_kill_them_all"


def test_uwsgi_zero_config():
    launch = plan({**UWSGI, "PORT": "9003"}, "web", ["--processes", "2"])
    assert launch.argv[0].endswith("uwsgi")
    assert tail(launch) == ["--master", "--http-socket=0.0.0.0:9003", "--need-app", TERM_HOOK,
                            "--module=example.wsgi:application", "--processes", "2"]
    assert (launch.kind, launch.interface, launch.bind) == ("web", "wsgi", ("0.0.0.0", 9003))


@pytest.mark.parametrize("where", ["args", "short", "env", "ini", "ini-env", "ini-word"])
def test_uwsgi_options_set_anywhere_uwsgi_reads_them_replace_the_defaults(where, tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[uwsgi]\nmaster = true\nhttp-socket = 127.0.0.1:7002\nneed_app = true\nmy-placeholder = x\n")
    env = {"args": {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"M": true, "http-socket": "127.0.0.1:7002", "need-app": true}'},
           "short": {"PROD_ENTRY_PROCESS_WEB_ARGS": "-M --http-socket 127.0.0.1:7002 --need-app"},
           "env": {"UWSGI_MASTER": "1", "UWSGI_HTTP_SOCKET": "127.0.0.1:7002", "UWSGI_NEED_APP": "1"},
           "ini": {"PROD_ENTRY_PROCESS_WEB_ARGS": f"--ini {ini}"},
           "ini-env": {"UWSGI_INI": str(ini)},
           "ini-word": {"PROD_ENTRY_PROCESS_WEB_ARGS": str(ini)}}[where]
    launch = plan({**UWSGI, **env}, "web")
    assert [w.text for w in launch.words if w.origin.startswith("default")] == [], launch.argv
    assert TERM_HOOK in launch.argv and launch.bind == ("127.0.0.1", 7002)
    # `prod-entry show` lists what uWSGI reads itself, and from where.
    shown = {s.name: (s.value, s.origin) for s in launch.settings}
    origin = {"env": "UWSGI_HTTP_SOCKET"}.get(where, str(ini) if where.startswith("ini") else None)
    assert shown.get("http-socket") == (("127.0.0.1:7002", origin) if origin else None), shown


@pytest.mark.parametrize("args", ["--socket 127.0.0.1:3031", "-s /tmp/u.sock", "--http :7003", "--yaml app.yml"])
def test_uwsgi_other_sockets_and_unread_configs_get_no_http_socket(args):
    launch = plan({**UWSGI, "PROD_ENTRY_PROCESS_WEB_ARGS": args}, "web")
    assert not any(w.startswith("--http-socket") for w in launch.argv)


def test_uwsgi_ini_section_and_a_missing_file(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[uwsgi]\nmaster = true\n[prod]\nhttp-socket = 127.0.0.1:7004\n")
    launch = plan({**UWSGI, "PROD_ENTRY_PROCESS_WEB_ARGS": f"--ini={ini}:prod"}, "web")
    assert "--master" in launch.argv and launch.bind == ("127.0.0.1", 7004)
    launch = plan({**UWSGI, "UWSGI_INI": str(tmp_path / "nowhere.ini")}, "web")  # uWSGI's to report
    assert launch.bind == ("0.0.0.0", 8000)


def test_django_q2_runs_qcluster_and_takes_no_app():
    env = {**DJANGO, "PROD_ENTRY_PROCESS_Q": "django-q2", "PROD_ENTRY_PROCESS_Q_ARGS": '{"verbosity": 2}'}
    launch = plan(env, "q")
    assert launch.argv == [sys.executable, "manage.py", "qcluster", "--verbosity=2"] and launch.kind == "worker"
    with pytest.raises(ConfigError, match="takes no app.*Q_CLUSTER"):
        plan({**env, "PROD_ENTRY_PROCESS_Q_APP": "x"}, "q")


FLOWER = {**DJANGO, "PROD_ENTRY_PROCESS_FLOWER": "flower"}


def test_flower_is_a_web_process_with_no_app_to_warm_up():
    launch = plan({**FLOWER, "PORT": "5600"}, "flower", ["--basic-auth=u:p"])
    assert tail(launch) == ["--app=example.celery", "flower", "--address=0.0.0.0", "--port=5600", "--basic-auth=u:p"]
    assert (launch.kind, launch.app, launch.bind) == ("web", None, ("0.0.0.0", 5600))


@pytest.mark.parametrize("where", ["args", "env", "flowerconfig.py", "--conf"])
def test_flower_address_and_port_set_anywhere_flower_reads_them(where, tmp_path, monkeypatch):
    env = dict(FLOWER)
    config = "address = '127.0.0.1'\nport: int = 5601\nbasic_auth = ['u:p']\n"
    if where == "args":
        env["PROD_ENTRY_PROCESS_FLOWER_ARGS"] = '{"address": "127.0.0.1", "port": 5601}'
    elif where == "env":
        env.update(FLOWER_ADDRESS="127.0.0.1", FLOWER_PORT="5601")
    elif where == "flowerconfig.py":
        monkeypatch.chdir(tmp_path)
        (tmp_path / "flowerconfig.py").write_text(config)
    else:
        (tmp_path / "mine.py").write_text(config)
        env["PROD_ENTRY_PROCESS_FLOWER_ARGS"] = f"--conf={tmp_path / 'mine.py'}"
    launch = plan(env, "flower")
    assert not any(w.startswith(("--address=0", "--port=8000")) for w in launch.argv), launch.argv
    assert launch.bind == ("127.0.0.1", 5601)
    origin = {"env": "FLOWER_PORT", "flowerconfig.py": "flowerconfig.py", "--conf": str(tmp_path / "mine.py")}
    assert [(s.name, s.value, s.origin) for s in launch.settings if s.name == "port"] == \
        ([("port", "5601", origin[where])] if where in origin else [])


def test_rq_and_dramatiq():
    env = {"PROD_ENTRY_PROCESS_RQ": "rq", "REDIS_URL": "redis://:pw@r:6379/0", "PROD_ENTRY_PROCESS_RQ_ARGS": "high low",
           "PROD_ENTRY_PROCESS_DQ": "dramatiq", "PROD_ENTRY_PROCESS_DQ_APP": "proj.tasks proj.more"}
    assert tail(plan(env, "rq")) == ["worker", "--url=redis://:pw@r:6379/0",
                                     "--worker-class=entrypoint.health.heartbeats.rq.Worker", "high", "low"]
    # The heartbeat's worker class gives way to one the user names, on the command line or in rq's own variable.
    assert tail(plan(env, "rq", ["-w", "my.Worker"]))[2:] == ["high", "low", "-w", "my.Worker"]
    assert "--worker-class=entrypoint.health.heartbeats.rq.Worker" not in plan({**env, "RQ_WORKER_CLASS": "my.W"}, "rq").argv
    # The heartbeat module comes right after the app's modules: dramatiq's CLI takes them as one run of words.
    assert tail(plan(env, "dq", ["-p", "2"])) == ["proj.tasks", "proj.more", "entrypoint.health.heartbeats.dramatiq", "-p", "2"]


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
    ("granian", "", "entrypoint.warmup.wsgi:app"),
    ("granian", "--interface asgi", "entrypoint.warmup.asgi:app"),
    ("granian", "--interface asginl --factory", "entrypoint.warmup.asgi:factory"),
    ("hypercorn", "", "entrypoint.warmup.asgi:app"),
    ("daphne", "", "entrypoint.warmup.asgi:app"),
])
def test_worker_warmup_swaps_the_app_for_a_wrapper(backend, args, wrapper):
    from entrypoint.warmup import gate as warmup

    # Without the handover (daphne's wrapper would run the warmup itself, and have nothing to replay).
    env = {**DJANGO, "PROD_ENTRY_PROCESS_WEB": backend, "PROD_ENTRY_PROCESS_WEB_ARGS": args,
           "PROD_ENTRY_WARMUP_IN_SERVER": "0"}
    process = config.processes(Environment(env, frozenset(), None))["web"]
    launch = warmup.in_server(process, env, backends.plan(process, env))
    wired = warmup.with_worker_warmup(process, env, launch)
    assert wrapper in wired.argv and launch.app not in wired.argv[1:] and wired.worker_warmup
    assert len(wired.argv) == len(launch.argv)


@pytest.mark.parametrize("env, in_master", [
    ({}, True),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": '{"worker-class": "gthread", "threads": 4}'}, True),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": '{"preload": true}'}, False),
    ({"GUNICORN_CMD_ARGS": "--reload"}, False),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "-k uvicorn.workers.UvicornWorker"}, False),
])
def test_gunicorn_warms_up_in_its_master_unless_each_worker_must_import_the_app(env, in_master):
    launch = plan({**DJANGO, **env}, "web")
    assert (launch.warmup_in is not None) == in_master, launch


UVICORN = {"PROD_ENTRY_PROCESS_WEB": "uvicorn"}


@pytest.mark.parametrize("env, in_process", [
    ({}, True),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--workers 1"}, True),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--workers 2"}, False),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--workers=3"}, False),
    ({"UVICORN_WORKERS": "2"}, False),
    ({"WEB_CONCURRENCY": "4"}, False),
    ({"WEB_CONCURRENCY": "4", "PROD_ENTRY_PROCESS_WEB_ARGS": "--workers 1"}, True),  # uvicorn: --workers wins
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--reload"}, False),
    ({"UVICORN_RELOAD": "true"}, False),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--lifespan off"}, False),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "--interface wsgi"}, False),
])
def test_uvicorn_warms_up_in_its_process_when_that_process_serves(env, in_process):
    from entrypoint.warmup import gate as warmup

    env = {**DJANGO, **UVICORN, **env}
    launch = plan(env, "web")
    assert (launch.warmup_in is not None) == in_process, launch
    process = config.processes(Environment(env, frozenset(), None))["web"]
    wired = warmup.with_worker_warmup(process, env, warmup.in_server(process, env, launch))
    # Handed over: the wrapper runs the warmup and nothing replays it; else each worker replays it.
    assert ("entrypoint.warmup.asgi:app" in wired.argv) == (in_process or wired.worker_warmup is not None)
    assert (wired.worker_warmup is None) == (in_process or launch.interface == "wsgi" or not launch.lifespan)


@pytest.mark.parametrize("text, in_master", [("preload_app = True\n", False), ("preload_app = False\n", True),
                                             ("reload = True\n", False), ("workers = 2\n", True)])
def test_gunicorn_config_files_preload_or_reload_keep_the_warmup_out_of_the_master(tmp_path, text, in_master):
    path = tmp_path / "conf.py"
    path.write_text(text)
    launch = plan({**DJANGO, "PROD_ENTRY_PROCESS_WEB_ARGS": f"--config={path}"}, "web")
    assert (launch.warmup_in is not None) == in_master, launch


def wired(env):
    """The Launch as a start resolves it: planned, the warmup handed over where it can be, then the replay."""
    from entrypoint.warmup import gate as warmup

    process = config.processes(Environment(env, frozenset(), None))["web"]
    launch = warmup.in_server(process, env, backends.plan(process, env))
    return warmup.with_worker_warmup(process, env, launch)


@pytest.mark.parametrize("backend, head, replay", [
    ("waitress", [sys.executable, "-m", "entrypoint.backends.waitress.serve"], None),
    ("uwsgi", [sys.executable, "-m", "entrypoint.backends.uwsgi.serve"], "postfork hook"),
])
def test_waitress_and_uwsgi_run_the_warmup_in_their_runner(backend, head, replay):
    launch = wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": backend})
    assert launch.warmup_in and launch.argv[:3] == head, launch
    # waitress's one process is the one the warmup warmed; uWSGI's workers replay after they fork.
    assert launch.worker_warmup == replay, launch


def test_daphne_runs_the_warmup_in_its_wrapper_and_replays_nothing():
    launch = wired({**DJANGO, "PROD_ENTRY_PROCESS_WEB": "daphne"})
    assert launch.warmup_in and "entrypoint.warmup.asgi:app" in launch.argv and launch.worker_warmup is None


@pytest.mark.parametrize("env", [{"PROD_ENTRY_PROCESS_WEB_ARGS": "--lazy-apps"},
                                 {"PROD_ENTRY_PROCESS_WEB_ARGS": '{"lazy": true}'},
                                 {"PROD_ENTRY_PROCESS_WEB_ARGS": "--chdir=/srv"},
                                 {"UWSGI_PYTHONPATH": "/srv/lib"},
                                 {"PROD_ENTRY_PROCESS_WEB_ARGS": "--env=DJANGO_SETTINGS_MODULE=example.settings"},
                                 {"PROD_ENTRY_PROCESS_WEB_ARGS": "--virtualenv=/venv"},
                                 {"PROD_ENTRY_PROCESS_WEB_ARGS": "--yaml app.yml"},
                                 {"PROD_ENTRY_WARMUP_IN_SERVER": "0"}])
def test_uwsgi_keeps_the_child_warmup_where_the_app_must_load_in_each_worker_or_after_uwsgis_options(env):
    launch = wired({**UWSGI, **env})
    assert launch.warmup_in is None and launch.argv[0].endswith("uwsgi"), launch
    assert launch.worker_warmup == "postfork hook", launch


def test_uwsgi_ini_lazy_apps_keeps_the_child_warmup(tmp_path):
    ini = tmp_path / "app.ini"
    ini.write_text("[uwsgi]\nlazy-apps = true\n")
    assert wired({**UWSGI, "UWSGI_INI": str(ini)}).warmup_in is None
