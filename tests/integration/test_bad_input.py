"""Bad input, table-driven: each case exits with its exact code, prints one line naming the variable at
fault, no traceback, and execs nothing (the debug log line `exec ...` that precedes every exec is absent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import BIN, EXAMPLE, base_env, describe, run

GUNICORN_APP = {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_APP": "x:app"}

# (id, environment, argv, exit code, text the one line must contain)
CASES = [
    ("malformed json", {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 4'},
     ["web"], 2, "PROD_ENTRY_PROCESS_WEB_ARGS is not valid JSON"),
    ("json array of objects", {"PROD_ENTRY_PROCESS_X": "command", "PROD_ENTRY_PROCESS_X_ARGS": '[{"a": 1}]'},
     ["x"], 2, "PROD_ENTRY_PROCESS_X_ARGS item 0"),
    ("json array with null", {"PROD_ENTRY_PROCESS_X": "command", "PROD_ENTRY_PROCESS_X_ARGS": "[null]"},
     ["x"], 2, "PROD_ENTRY_PROCESS_X_ARGS item 0 is null"),
    ("nested object", {"PROD_ENTRY_PROCESS_X": "command", "PROD_ENTRY_PROCESS_X_ARGS": '{"a": {"b": 1}}'},
     ["x"], 2, "PROD_ENTRY_PROCESS_X_ARGS value of 'a' is an object"),
    ("unclosed quote", {"PROD_ENTRY_PROCESS_X": "command", "PROD_ENTRY_PROCESS_X_ARGS": "echo 'oops"},
     ["x"], 2, "PROD_ENTRY_PROCESS_X_ARGS cannot be split"),
    ("unknown backend", {"PROD_ENTRY_PROCESS_WEB": "gunicron"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB='gunicron' is not a backend"),
    ("dotted path not importable", {"PROD_ENTRY_PROCESS_X": "nosuchpkg.backend:build"}, ["x"], 2,
     "PROD_ENTRY_PROCESS_X='nosuchpkg.backend:build' cannot be imported"),
    ("dotted path not a backend", {"PROD_ENTRY_PROCESS_X": "os.path:sep"}, ["x"], 2,
     "PROD_ENTRY_PROCESS_X='os.path:sep' is not a backend"),
    ("dotted path missing attribute", {"PROD_ENTRY_PROCESS_X": "os:nothing_here"}, ["x"], 2,
     "has no attribute 'nothing_here'"),
    ("undefined name lists the defined", {"PROD_ENTRY_PROCESS_WORKER": "rq"}, ["wrker"], 127,
     "defined processes: command, manage, worker"),
    ("empty backend", {"PROD_ENTRY_PROCESS_WEB": ""}, ["web"], 2, "PROD_ENTRY_PROCESS_WEB is empty"),
    ("empty app", {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_APP": " "}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_APP is empty"),
    ("name with a dash", {"PROD_ENTRY_PROCESS_MY-WEB": "gunicorn"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_MY-WEB: 'MY-WEB' is not a process name"),
    ("name with double underscore", {"PROD_ENTRY_PROCESS_A__B": "command"}, ["a"], 2,
     "PROD_ENTRY_PROCESS_A__B: 'A__B' is not a process name"),
    ("reserved name", {"PROD_ENTRY_PROCESS_SHOW": "command"}, ["command", "true"], 2,
     "PROD_ENTRY_PROCESS_SHOW: 'show' is a prod-entry command"),
    ("same name twice", {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_web": "uvicorn"}, ["web"], 2,
     "both define process 'web'"),
    ("args without backend", {"PROD_ENTRY_PROCESS_FOO_ARGS": "-x"}, ["command", "true"], 2,
     "PROD_ENTRY_PROCESS_FOO_ARGS is set but PROD_ENTRY_PROCESS_FOO is not"),
    ("django settings missing", {"PROD_ENTRY_PROCESS_WEB": "gunicorn"}, ["web"], 2,
     "DJANGO_SETTINGS_MODULE is not set"),
    ("django settings not importable", {"DJANGO_SETTINGS_MODULE": "nosuch.settings"}, ["web"], 2,
     "DJANGO_SETTINGS_MODULE=nosuch.settings cannot be imported"),
    ("no default process", {}, [], 2, "no process 'web' is defined"),
    ("bad default process", {"PROD_ENTRY_DEFAULT_PROCESS": "a b"}, [], 2, "PROD_ENTRY_DEFAULT_PROCESS='a b'"),
    ("bad PORT", {"DJANGO_SETTINGS_MODULE": "example.settings", "PORT": "eighty"}, ["web"], 2,
     "PORT='eighty' is not a TCP port"),
    ("PORT out of range", {"DJANGO_SETTINGS_MODULE": "example.settings", "PORT": "0"}, ["web"], 2,
     "PORT='0' is not a TCP port"),
    ("env file missing", {"PROD_ENTRY_ENV_FILE": "/no/such/.env"}, ["command", "true"], 2,
     "PROD_ENTRY_ENV_FILE=/no/such/.env: no such file"),
    ("env file syntax", {"PROD_ENTRY_ENV_FILE": "{bad_env}"}, ["command", "true"], 2, "line 2: cannot parse"),
    ("env file not utf-8", {"PROD_ENTRY_ENV_FILE": "{binary_env}"}, ["command", "true"], 2, "is not UTF-8"),
    ("secret file missing", {"DB_PASSWORD_FILE": "/run/secrets/nope"}, ["command", "true"], 2,
     "DB_PASSWORD_FILE=/run/secrets/nope: no such file"),
    ("secret file unreadable (a directory)", {"API_SECRET_FILE": "/"}, ["command", "true"], 2,
     "API_SECRET_FILE=/: cannot read the file"),
    ("secret and secret file both set", {"DB_PASSWORD": "x", "DB_PASSWORD_FILE": "{secret}"}, ["command", "true"],
     2, "DB_PASSWORD and DB_PASSWORD_FILE are both set"),
    ("secret file empty name", {"DB_PASSWORD_FILE": ""}, ["command", "true"], 2, "DB_PASSWORD_FILE is empty"),
    ("unknown user", {"PROD_ENTRY_USER": "nosuchuser"}, ["command", "true"], 2,
     "PROD_ENTRY_USER='nosuchuser': no user 'nosuchuser'"),
    ("unknown group", {"PROD_ENTRY_USER": "nobody:nosuchgroup"}, ["command", "true"], 2,
     "no group 'nosuchgroup'"),
    ("bad log format", {"PROD_ENTRY_LOG_FORMAT": "xml"}, ["command", "true"], 2, "PROD_ENTRY_LOG_FORMAT='xml'"),
    ("bad log level", {"PROD_ENTRY_LOG_LEVEL": "loud"}, ["command", "true"], 2, "PROD_ENTRY_LOG_LEVEL='loud'"),
    ("bad access log switch", {"PROD_ENTRY_ACCESS_LOG": "maybe"}, ["command", "true"], 2,
     "PROD_ENTRY_ACCESS_LOG='maybe' is not a switch"),
    ("app given to manage", {"PROD_ENTRY_PROCESS_MANAGE_APP": "x"}, ["manage", "check"], 2,
     "PROD_ENTRY_PROCESS_MANAGE_APP is set but backend manage takes no app"),
    ("dramatiq without app", {"PROD_ENTRY_PROCESS_DQ": "dramatiq"}, ["dq"], 2,
     "PROD_ENTRY_PROCESS_DQ_APP is not set"),
    ("app given to django-q2", {"PROD_ENTRY_PROCESS_Q": "django-q2", "PROD_ENTRY_PROCESS_Q_APP": "x"}, ["q"], 2,
     "PROD_ENTRY_PROCESS_Q_APP is set but backend django-q2 takes no app"),
    ("flower without app or django", {"PROD_ENTRY_PROCESS_FLOWER": "flower"}, ["flower"], 2,
     "PROD_ENTRY_PROCESS_FLOWER_APP"),
    ("uwsgi without app or django", {"PROD_ENTRY_PROCESS_WEB": "uwsgi"}, ["web"], 2, "PROD_ENTRY_PROCESS_WEB_APP"),
    ("command without program", {}, ["command"], 2, "process 'command' has nothing to run"),
    ("GUNICORN_CMD_ARGS unbalanced quote", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                            "GUNICORN_CMD_ARGS": "--name 'x"}, ["web"], 2,
     "GUNICORN_CMD_ARGS cannot be split"),
    ("health url not a path", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_HEALTHCHECK_URL": "healthz"},
     ["web"], 2, "PROD_ENTRY_HEALTHCHECK_URL='healthz' is not a URL path"),
    ("bad health status list",
     {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_HEALTHCHECK_STATUS": "200,ok"}, ["web"], 2,
     "PROD_ENTRY_HEALTHCHECK_STATUS='200,ok': 'ok' is not an HTTP status"),
    ("warmup timeout not a number", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_WARMUP_TIMEOUT": "soon"},
     ["web"], 2, "PROD_ENTRY_WARMUP_TIMEOUT='soon' is not a number of seconds"),
    ("warmup timeout negative", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_WARMUP_TIMEOUT": "-5"},
     ["web"], 2, "PROD_ENTRY_WARMUP_TIMEOUT='-5' is not a number of seconds"),
    ("wait timeout negative", {"PROD_ENTRY_WAIT_FOR": "127.0.0.1:9", "PROD_ENTRY_WAIT_TIMEOUT": "-1"},
     ["command", "true"], 2, "PROD_ENTRY_WAIT_TIMEOUT='-1' is not a number of seconds"),
    ("wait-for target malformed", {"PROD_ENTRY_WAIT_FOR": "db:port"}, ["command", "true"], 2,
     "PROD_ENTRY_WAIT_FOR: 'db:port' is neither host:port nor a URL"),
    ("unknown signal in rewrite", {"PROD_ENTRY_SIGNAL_REWRITE": "TERM:NOPE"}, ["command", "true"], 2,
     "PROD_ENTRY_SIGNAL_REWRITE: 'NOPE' is not a signal"),
    ("exit remap out of range", {"PROD_ENTRY_EXIT_REMAP": "143:256"}, ["command", "true"], 2,
     "PROD_ENTRY_EXIT_REMAP: '143:256' is not CODE:CODE with codes 0-255"),
    ("PROD_ENTRY_INIT invalid", {"PROD_ENTRY_INIT": "sometimes"}, ["command", "true"], 2,
     "PROD_ENTRY_INIT='sometimes' is not a mode"),
    ("warmup headers without a colon", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                        "PROD_ENTRY_WARMUP_HEADERS": "Authorization Bearer s3cr3t"}, ["web"], 2,
     "PROD_ENTRY_WARMUP_HEADERS: part 1 has no `:`"),
    ("warmup headers setting Host", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                     "PROD_ENTRY_PROCESS_WEB_WARMUP_HEADERS": "Host: x.org"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_WARMUP_HEADERS: the Host header cannot be set here: set PROD_ENTRY_WARMUP_HOST"),
    ("warmup headers bad json", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_WARMUP_HEADERS": "{oops"},
     ["web"], 2, "PROD_ENTRY_WARMUP_HEADERS starts with { but is not a JSON object"),
    ("headers file missing", {"PROD_ENTRY_WARMUP_HEADERS_FILE": "/run/secrets/nope"}, ["command", "true"], 2,
     "PROD_ENTRY_WARMUP_HEADERS_FILE=/run/secrets/nope: no such file"),
    ("headers and headers file both set", {"PROD_ENTRY_HEALTHCHECK_HEADERS": "A: b",
                                           "PROD_ENTRY_HEALTHCHECK_HEADERS_FILE": "{secret}"}, ["command", "true"], 2,
     "PROD_ENTRY_HEALTHCHECK_HEADERS and PROD_ENTRY_HEALTHCHECK_HEADERS_FILE are both set"),
    ("empty ALLOWED_HOSTS with DEBUG off", {"DJANGO_SETTINGS_MODULE": "example.settings", "DJANGO_ALLOWED_HOSTS": ""},
     ["web"], 3, "ALLOWED_HOSTS is empty in example.settings and DEBUG is off"),
    ("stop timeout not a number", {"PROD_ENTRY_STOP_TIMEOUT": "10s"}, ["command", "true"], 2,
     "PROD_ENTRY_STOP_TIMEOUT='10s' is not a number of seconds"),
    ("args number overflows to inf", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                      "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 1e400}'}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_ARGS value of 'workers' is not a finite number"),
    ("args NaN", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"timeout": NaN}'},
     ["web"], 2, "PROD_ENTRY_PROCESS_WEB_ARGS value of 'timeout' is not a finite number"),
    # The test extra installs neither gevent nor eventlet: gunicorn would fail on them after the warmup. (Not
    # tornado: flower, in the test extra, depends on it.)
    ("gunicorn worker class without its package", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                                   "PROD_ENTRY_PROCESS_WEB_ARGS": '{"worker-class": "gevent"}'},
     ["web"], 2, "PROD_ENTRY_PROCESS_WEB_ARGS sets gunicorn's worker class 'gevent', which needs the Python package "
     "'gevent': install it (pip install 'prod-entry[gevent]')"),
    ("gunicorn worker class in GUNICORN_CMD_ARGS", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                                    "GUNICORN_CMD_ARGS": "-k eventlet"}, ["web"], 2,
     "GUNICORN_CMD_ARGS sets gunicorn's worker class 'eventlet', which needs the Python package 'eventlet'"),
    ("args array Infinity", {"PROD_ENTRY_PROCESS_X": "command", "PROD_ENTRY_PROCESS_X_ARGS": '["sleep", -Infinity]'},
     ["x"], 2, "PROD_ENTRY_PROCESS_X_ARGS item 1 is not a finite number"),
    ("release steps: bad quoting", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                    "PROD_ENTRY_PROCESS_WEB_BEFORE": "manage migrate 'unclosed"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_BEFORE cannot be split like a command line"),
    ("release steps: an empty step", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                      "PROD_ENTRY_PROCESS_WEB_BEFORE": "manage migrate;;manage check"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_BEFORE: step 2 is empty"),
    ("release steps: a missing step name", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                            "PROD_ENTRY_PROCESS_WEB_BEFORE": "migrate"}, ["web"], 2,
     "PROD_ENTRY_PROCESS_WEB_BEFORE: step 1 (migrate): 'migrate' is neither a defined process nor a command"),
    ("release steps: a server as a step", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                           "PROD_ENTRY_PROCESS_API": "gunicorn",
                                           "PROD_ENTRY_PROCESS_WEB_BEFORE": "api"}, ["web"], 2,
     "step 1 (api) is a web process, which never completes"),
    ("release steps: lock timeout not a number", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                                  "PROD_ENTRY_PROCESS_WEB_BEFORE": "manage check",
                                                  "PROD_ENTRY_BEFORE_LOCK_TIMEOUT": "soon"}, ["web"], 2,
     "PROD_ENTRY_BEFORE_LOCK_TIMEOUT='soon' is not a number of seconds"),
    ("gunicorn config file raises", {**GUNICORN_APP, "GUNICORN_CMD_ARGS": "-c {raising_conf}"}, ["web"], 2,
     "(GUNICORN_CMD_ARGS) failed at line 2: ZeroDivisionError: division by zero"),
    ("gunicorn config module missing", {**GUNICORN_APP, "PROD_ENTRY_PROCESS_WEB_ARGS": "-c python:nosuch_conf"},
     ["web"], 2, "gunicorn config module python:nosuch_conf (env PROD_ENTRY_PROCESS_WEB_ARGS) cannot be imported"),
    ("celery: broker timeout not a number", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                             "PROD_ENTRY_PROCESS_WORKER": "celery-worker",
                                             "PROD_ENTRY_BROKER_TIMEOUT": "soon"}, ["worker"], 2,
     "PROD_ENTRY_BROKER_TIMEOUT='soon' is not a number of seconds"),
    ("celery: broker down", {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_PROCESS_WORKER": "celery-worker",
                             "CELERY_BROKER_URL": "redis://:pw-in-url@127.0.0.1:1/0", "PROD_ENTRY_BROKER_TIMEOUT": "0.5"},
     ["worker"], 3, "the Celery app example.celery cannot reach its broker redis://:****@127.0.0.1:1/0 within 0.5s"),
    ("celery: a module with no Celery app", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                             "PROD_ENTRY_PROCESS_WORKER": "celery-worker",
                                             "PROD_ENTRY_PROCESS_WORKER_APP": "example.views"}, ["worker"], 3,
     "example.views has no Celery app (AttributeError: module 'example.views' has no attribute 'celery'"),
    ("celery: an app that is not Celery's", {"DJANGO_SETTINGS_MODULE": "example.settings",
                                             "PROD_ENTRY_PROCESS_WORKER": "celery-worker",
                                             "PROD_ENTRY_PROCESS_WORKER_APP": "example.wsgi:application"},
     ["worker"], 3, "example.wsgi:application is a WSGIHandler, not a Celery app"),
    ("uvicorn port not a number", {"PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_PROCESS_WEB_APP": "x:app",
                                   "UVICORN_PORT": "http"}, ["web"], 2, "UVICORN_PORT gives uvicorn the port 'http'"),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    bad_env = tmp_path / "bad.env"
    bad_env.write_text("GOOD=1\nthis is not a variable\n")
    binary_env = tmp_path / "binary.env"
    binary_env.write_bytes(b"A=\xff\xfe\n")
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    raising_conf = tmp_path / "raising.conf.py"
    raising_conf.write_text("workers = 2\nbind = 1 / 0\n")
    return {"bad_env": str(bad_env), "binary_env": str(binary_env), "secret": str(secret),
            "raising_conf": str(raising_conf)}


@pytest.mark.parametrize(("variables", "args", "code", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(variables, args, code, needle, files, tmp_path):
    for placeholder, path in files.items():
        variables = {key: value.replace("{" + placeholder + "}", path) for key, value in variables.items()}
    env = base_env(PROD_ENTRY_LOG_LEVEL="debug", **variables) if "PROD_ENTRY_LOG_LEVEL" not in variables \
        else base_env(**variables)
    proc = run(args, env, cwd=EXAMPLE if "DJANGO_SETTINGS_MODULE" in variables else tmp_path)
    assert proc.returncode == code, describe(proc)
    lines = proc.stderr.splitlines()
    # Nothing is exec'd, not even tried: a word that is neither a process nor on PATH is refused before.
    assert "prod-entry: exec " not in proc.stderr, describe(proc)
    assert len(lines) == 1 and lines[0].startswith("prod-entry: error: "), describe(proc)
    assert needle in lines[0], describe(proc)
    assert "Traceback" not in proc.stderr and proc.stdout == "", describe(proc)


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_secret_file_is_read_and_reaches_the_program(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("tok-from-file\n")
    proc = run(["sh", "-c", 'printf "%s|" "$API_SECRET"'], base_env(API_SECRET_FILE=str(secret)))
    assert proc.stdout == "tok-from-file|", describe(proc)


def test_secret_file_value_is_masked_in_show(tmp_path):
    secret = tmp_path / "url"
    secret.write_text("redis://:hunter2-from-file@r:6379/0")
    env = base_env(REDIS_URL_FILE=str(secret), PROD_ENTRY_PROCESS_Q="rq")
    proc = run(["show", "q"], env)
    assert proc.returncode == 0 and "hunter2" not in proc.stdout and "--url=redis://:****@r:6379/0" in proc.stdout, \
        describe(proc)


# `prod-entry healthcheck` with a bad PROD_ENTRY_HEALTHCHECK_COMMAND: exit 1 (a probe never answers 2), one line.
HEALTHCHECK_CASES = [
    ("healthcheck command unclosed quote", {"PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND": "test -f 'oops"},
     "PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND cannot be split like a command line"),
    ("healthcheck command empty", {"PROD_ENTRY_HEALTHCHECK_COMMAND": " "}, "PROD_ENTRY_HEALTHCHECK_COMMAND is empty"),
    ("healthcheck command not found", {"PROD_ENTRY_PROCESS_JOB_HEALTHCHECK_COMMAND": "no-such-probe --now"},
     "'no-such-probe' is not found"),
    ("healthcheck command timeout not a number", {"PROD_ENTRY_HEALTHCHECK_COMMAND": "true",
                                                  "PROD_ENTRY_HEALTHCHECK_TIMEOUT": "soon"},
     "PROD_ENTRY_HEALTHCHECK_TIMEOUT='soon' is not a number of seconds"),
]


@pytest.mark.parametrize(("variables", "needle"), [c[1:] for c in HEALTHCHECK_CASES],
                         ids=[c[0] for c in HEALTHCHECK_CASES])
def test_bad_healthcheck_command(variables, needle, tmp_path):
    proc = run(["healthcheck", "job"], base_env(PROD_ENTRY_PROCESS_JOB="command", **variables), cwd=tmp_path)
    assert proc.returncode == 1, describe(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prod-entry: unhealthy: "), describe(proc)
    assert needle in lines[0] and proc.stdout == "", describe(proc)


def test_a_startproject_project_under_uvicorn_is_told_its_own_asgi_module(tmp_path):
    # startproject writes mysite/asgi.py but no ASGI_APPLICATION: the hint must name that module, and work.
    made = subprocess.run([str(BIN / "django-admin"), "startproject", "mysite", str(tmp_path)], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    env = base_env(DJANGO_SETTINGS_MODULE="mysite.settings", PROD_ENTRY_PROCESS_WEB="uvicorn")
    proc = run(["check"], env, tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert proc.stderr.strip() == ("prod-entry: error: ASGI_APPLICATION is not set in mysite.settings, so there is "
                                   "no app to serve: set ASGI_APPLICATION = 'mysite.asgi.application' in "
                                   "mysite.settings (mysite/asgi.py is there), or "
                                   "PROD_ENTRY_PROCESS_WEB_APP=mysite.asgi:application, or serve WSGI_APPLICATION "
                                   "with uvicorn's --interface wsgi in PROD_ENTRY_PROCESS_WEB_ARGS"), \
        describe(proc)
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, env=env)
    assert migrated.returncode == 0, describe(migrated)  # a first deployment migrates: the warmup checks it
    proc = run(["check"], {**env, "PROD_ENTRY_PROCESS_WEB_APP": "mysite.asgi:application"}, tmp_path)
    assert proc.returncode == 0, describe(proc)
