"""The argv prod-entry builds from a django-prodserver definition, side by side with the argv django-prodserver
3.0 itself builds (its backends' `prep_server_args()`, what it hands to gunicorn, uvicorn, celery, call_command).
Same where django-prodserver is right; the documented differences where it is not (README, "Django")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import EXAMPLE, base_env

P = "django_prodserver.backends."

# Runs in the example project with django-prodserver installed: for each definition, django-prodserver's own
# argv (from its backend class) and prod-entry's (from its real resolve path, as `prod-entry show` builds it).
SCRIPT = r"""
import json, sys
from django.utils.module_loading import import_string
from entrypoint.settings import prodserver
from entrypoint import run
from entrypoint.backends import plan

definitions = json.loads(sys.argv[1])
out = {}
if definitions is None:  # the settings file's own PRODUCTION_PROCESSES, unchanged, through prod-entry's resolve
    from django.conf import settings
    definitions = settings.PRODUCTION_PROCESSES
    ours = {name: run.resolve(name).launch.argv for name in definitions}
else:
    ours = {name: plan(p, {"DJANGO_SETTINGS_MODULE": "example.settings", "PROD_ENTRY_CONCURRENCY": "off"}).argv
            for name, p in prodserver.from_settings(definitions).items()}
for name, definition in definitions.items():
    backend = import_string(definition["BACKEND"])(**definition)
    out[name] = {"prodserver": backend.prep_server_args(), "prod_entry": ours[name]}
print(json.dumps(out))
"""


def both(definitions: dict | None, settings: str = "example.settings_prodserver", **env: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(definitions)], cwd=EXAMPLE, capture_output=True,
                          text=True, timeout=60,
                          # The warmup's hooks and wrapper apps (in the server's process, per worker) and the
                          # auto-sized counts are prod-entry's own additions to the argv: compare without them.
                          env=base_env(DJANGO_SETTINGS_MODULE=settings, PROD_ENTRY_WARMUP="0",
                                       PROD_ENTRY_CONCURRENCY="off", **env))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def after_program(argv: list[str], backend: str) -> list[str]:
    assert argv[0].endswith("/" + backend), argv
    return argv[1:]


def test_the_prodserver_settings_file_unchanged_gives_django_prodservers_argv() -> None:
    result = both(None)
    web = result["web"]
    # gunicorn: django-prodserver appends ARGS to sys.argv and forces WSGI_APPLICATION as the app.
    assert after_program(web["prod_entry"], "gunicorn") == [*web["prodserver"], "example.wsgi:application"]
    # uvicorn: [app, *ARGS]; the app goes last in ours, where uvicorn's CLI takes it just the same.
    asgi = result["asgi"]
    assert after_program(asgi["prod_entry"], "uvicorn") == [*asgi["prodserver"][1:], asgi["prodserver"][0]]
    # UvicornWSGIServer: [app, --interface=wsgi, *ARGS]. Difference: with no host in ARGS, prod-entry binds
    # 0.0.0.0 (reachable in a container); django-prodserver leaves uvicorn's 127.0.0.1.
    wsgi = result["wsgi_uvicorn"]
    assert wsgi["prodserver"] == ["example.wsgi:application", "--interface=wsgi", "--port=8002"]
    assert after_program(wsgi["prod_entry"], "uvicorn") == ["--host=0.0.0.0", "--interface=wsgi", "--port=8002",
                                                            "example.wsgi:application"]
    # celery: django-prodserver runs app.start(["worker", *ARGS]) on the APP it imports; prod-entry execs the
    # celery CLI with that app. Differences: --loglevel=INFO unless ARGS set a level (celery's WARNING default
    # hides its own start-up lines); the worker's app is served through prod-entry's --app wrapper, which adds
    # the heartbeat (run.resolve's Launch.app, exported for the wrapper, is the same APP).
    for name, command, app in (("worker", "worker", "entrypoint.backends.celery:app"),
                               ("beat", "beat", "example.celery:app")):
        entry = result[name]
        assert after_program(entry["prod_entry"], "celery") == [f"--app={app}", command, "--loglevel=INFO",
                                                                 *entry["prodserver"]]
    # django-tasks: call_command("db_worker", *ARGS) in-process; prod-entry execs manage.py db_worker.
    tasks = result["tasks"]
    assert tasks["prod_entry"][1:] == ["-m", "entrypoint.backends.django_tasks", "manage.py", "db_worker",
                                       *tasks["prodserver"]]


@pytest.mark.parametrize("args, prodserver_words, prod_entry_words", [
    # Right in both: plain options and flags.
    ({"bind": "127.0.0.1:9000", "preload": None, "workers": 3},
     ["--bind=127.0.0.1:9000", "--preload", "--workers=3"], ["--bind=127.0.0.1:9000", "--preload", "--workers=3"]),
    # Lists: django-prodserver writes the Python repr; prod-entry repeats the option.
    ({"bind": ["127.0.0.1:9000", "127.0.0.1:9001"]},
     ["--bind=['127.0.0.1:9000', '127.0.0.1:9001']"], ["--bind=127.0.0.1:9000", "--bind=127.0.0.1:9001"]),
    # One-letter keys: `--w=4` is no gunicorn option; `-w 4` is.
    ({"w": 4}, ["--w=4"], ["-w", "4"]),
    # Booleans: `--preload=True` / `--preload=False` are errors for a flag; prod-entry writes or omits it.
    ({"preload": True, "reload": False}, ["--preload=True", "--reload=False"], ["--preload"]),
    # A string: django-prodserver passes it as one word; prod-entry splits it like a shell.
    ("--workers=2 --preload", ["--workers=2 --preload"], ["--workers=2", "--preload"]),
])
def test_documented_differences_in_args_formatting(args: object, prodserver_words: list[str],
                                                   prod_entry_words: list[str]) -> None:
    result = both({"web": {"BACKEND": P + "servers.gunicorn.GunicornServer", "ARGS": args}}, "example.settings")["web"]
    assert result["prodserver"] == prodserver_words
    ours = after_program(result["prod_entry"], "gunicorn")
    defaults = [] if any(w.startswith("--bind") for w in prod_entry_words) else ["--bind=0.0.0.0:8000"]
    assert ours == [*defaults, *prod_entry_words, "example.wsgi:application"]


# django-prodserver's granian classes call granian's Python API, Granian(target, interface, **kwargs); prod-entry
# execs granian's CLI. Both sides, in the example project: the kwargs django-prodserver would pass, and the
# parameters granian's own click command parses from prod-entry's argv.
GRANIAN_SCRIPT = r"""
import json, sys
from django.utils.module_loading import import_string
from granian.cli import cli
from entrypoint.settings import prodserver
from entrypoint.backends import plan

definitions = json.loads(sys.argv[1])
ours = {name: plan(p, {"DJANGO_SETTINGS_MODULE": "example.settings"}).argv
        for name, p in prodserver.from_settings(definitions).items()}
out = {}
for name, definition in definitions.items():
    backend = import_string(definition["BACKEND"])(**definition)
    theirs = {"target": backend._get_app_target(), "interface": backend._get_interface().value,
              **backend._parse_granian_kwargs()}
    params = cli.make_context("granian", ours[name][1:]).params
    out[name] = {"prodserver": theirs, "granian_cli": {k: getattr(v, "value", v) for k, v in params.items()
                                                        if isinstance(v, (str, int, bool, type(None))) or hasattr(v, "value")}}
print(json.dumps(out))
"""


@pytest.mark.parametrize("path", [P + "servers.granian.GranianASGIServer", P + "servers.granian.GranianWSGIServer",
                                  P + "granian.GranianWSGIServer"])  # the deprecated 2.x path too
def test_granian_classes_give_granian_the_same_settings(path: str) -> None:
    args = {"address": "0.0.0.0", "port": "8123", "workers": "3", "threads": "2", "websockets": "false",
            "log_level": "warning", "backlog": 256}
    proc = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", GRANIAN_SCRIPT,
                           json.dumps({"web": {"BACKEND": path, "ARGS": args}})], cwd=EXAMPLE, capture_output=True,
                          text=True, timeout=60,
                          env=base_env(DJANGO_SETTINGS_MODULE="example.settings", PROD_ENTRY_WARMUP_WORKERS="0"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["web"]
    theirs, cli = result["prodserver"], result["granian_cli"]
    assert cli["app"] == theirs["target"] and cli["interface"] == theirs["interface"]
    assert (cli["host"], cli["port"], cli["workers"], cli["blocking_threads"], cli["websockets"], cli["log_level"],
            cli["backlog"]) == (theirs["address"], theirs["port"], theirs["workers"], theirs["blocking_threads"],
                                theirs["websockets"], theirs["log_level"], theirs["backlog"])


@pytest.mark.parametrize("path", ["servers.waitress.WaitressServer", "waitress.WaitressServer"])
def test_waitress_server(path: str) -> None:
    args = {"threads": 8, "ident": "example"}
    entry = both({"web": {"BACKEND": P + path, "ARGS": args}}, "example.settings")["web"]
    # django-prodserver: waitress.runner.run(["waitress", *ARGS, app]). prod-entry: the same runner through its
    # own module (whose TERM drains). Difference: with no address in ARGS, prod-entry listens on 0.0.0.0:$PORT
    # (8000 when unset), not waitress's 0.0.0.0:8080.
    assert entry["prodserver"] == ["waitress", "--threads=8", "--ident=example", "example.wsgi:application"]
    assert entry["prod_entry"][:3] == [sys.executable, "-m", "entrypoint.backends.waitress.serve"]
    assert entry["prod_entry"][3:] == ["--listen=0.0.0.0:8000", *entry["prodserver"][1:]]


@pytest.mark.parametrize("path", ["workers.django_q2.DjangoQ2Worker", "django_q2.DjangoQ2Worker"])
def test_django_q2_worker(path: str) -> None:
    entry = both({"q": {"BACKEND": P + path, "ARGS": {"verbosity": 2}}}, "example.settings", EXAMPLE_DJANGO_Q="1")["q"]
    # django-prodserver: call_command("qcluster", *ARGS) in-process; prod-entry execs manage.py qcluster.
    assert entry["prodserver"] == ["--verbosity=2"]
    assert entry["prod_entry"] == [sys.executable, "manage.py", "qcluster", *entry["prodserver"]]


def test_celery_flower() -> None:
    definition = {"BACKEND": P + "servers.flower.CeleryFlower", "APP": "example.celery.app",
                  "ARGS": {"basic_auth": "u:p", "url_prefix": "flower"}}
    entry = both({"flower": definition}, "example.settings")["flower"]
    # django-prodserver: app.start(["flower", *ARGS]) on the APP it imports; prod-entry execs the celery CLI
    # with that app. Difference: with no address/port in ARGS, prod-entry serves on 0.0.0.0:$PORT (8000 when
    # unset), not Flower's own port 5555.
    assert entry["prodserver"] == ["--basic_auth=u:p", "--url_prefix=flower"]
    assert after_program(entry["prod_entry"], "celery") == ["--app=example.celery:app", "flower", "--address=0.0.0.0",
                                                            "--port=8000", *entry["prodserver"]]
