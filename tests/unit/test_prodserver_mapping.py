"""PRODUCTION_PROCESSES (django-prodserver 3.0's format) -> prod-entry Process objects. Pure: no settings
module is imported here; the integration tests run the real settings file."""

from __future__ import annotations

import pytest

from entrypoint.settings import prodserver
from entrypoint.settings.config import Process
from entrypoint.settings.errors import ConfigError

P = "django_prodserver.backends."

# Every django-prodserver 3.0 built-in prod-entry drives, under its 3.0 path and its deprecated 2.x path.
SUPPORTED = [
    ("servers.gunicorn.GunicornServer", "gunicorn.GunicornServer", "gunicorn", {}),
    ("servers.uvicorn.UvicornServer", "uvicorn.UvicornServer", "uvicorn", {}),
    ("servers.uvicorn.UvicornWSGIServer", "uvicorn.UvicornWSGIServer", "uvicorn", {"interface": "wsgi"}),
    ("servers.granian.GranianASGIServer", "granian.GranianASGIServer", "granian", {"interface": "asgi"}),
    ("servers.granian.GranianWSGIServer", "granian.GranianWSGIServer", "granian", {"interface": "wsgi"}),
    ("workers.celery.CeleryWorker", "celery.CeleryWorker", "celery-worker", {}),
    ("workers.celery.CeleryBeat", "celery.CeleryBeat", "celery-beat", {}),
    ("workers.django_tasks.DjangoTasksWorker", "django_tasks.DjangoTasksWorker", "django-tasks", {}),
    ("servers.waitress.WaitressServer", "waitress.WaitressServer", "waitress", {}),
    ("workers.django_q2.DjangoQ2Worker", "django_q2.DjangoQ2Worker", "django-q2", {}),
    ("servers.flower.CeleryFlower", "servers.flower.CeleryFlower", "flower", {}),  # new in 3.0: no 2.x path
]


def one(definition: dict, name: str = "web") -> Process:
    return prodserver.from_settings({name: definition})[name]


@pytest.mark.parametrize("path, old_path, backend, prefix", SUPPORTED)
def test_every_supported_builtin_maps_to_its_backend(path: str, old_path: str, backend: str, prefix: dict) -> None:
    for full in (P + path, P + old_path):
        process = one({"BACKEND": full, "ARGS": {"workers": 2}})
        assert process.backend == backend, full
        assert process.args == {**prefix, "workers": 2}, full
        assert process.origins["backend"] == "settings PRODUCTION_PROCESSES['web']"


def test_the_supported_table_is_the_module_table() -> None:
    assert {P + s[0] for s in SUPPORTED} | {P + s[1] for s in SUPPORTED} == set(prodserver.BACKENDS)


def test_origins_name_the_setting_keys() -> None:
    process = one({"BACKEND": P + "workers.celery.CeleryWorker", "APP": "proj.celery.app", "ARGS": {"pool": "solo"}},
                  "worker")
    assert process.origins == {"backend": "settings PRODUCTION_PROCESSES['worker']",
                               "args": "settings PRODUCTION_PROCESSES['worker']['ARGS']",
                               "app": "settings PRODUCTION_PROCESSES['worker']['APP']"}


@pytest.mark.parametrize("app, expected", [("proj.celery.app", "proj.celery:app"), ("proj.celery:app", "proj.celery:app"),
                                           ("proj", "proj")])
def test_app_dotted_path_becomes_module_attr(app: str, expected: str) -> None:
    assert one({"BACKEND": P + "workers.celery.CeleryWorker", "APP": app}).app == expected


@pytest.mark.parametrize("args, expected", [
    ({"bind": "0.0.0.0:80", "preload": None}, {"bind": "0.0.0.0:80", "preload": None}),
    ("--preload", ["--preload"]),
    ("--workers=4 --preload", ["--workers=4", "--preload"]),  # django-prodserver passes this as ONE word
    (["--workers", 4], ["--workers", "4"]),
    (("--workers", "4"), ["--workers", "4"]),
    (None, {}),
])
def test_args_forms(args: object, expected: object) -> None:
    assert one({"BACKEND": P + "servers.gunicorn.GunicornServer", "ARGS": args}).args == expected


def test_granian_args_keys_become_granians_options() -> None:
    # django-prodserver hands these to Granian(address=..., websockets=...); granian's CLI spells them so.
    process = one({"BACKEND": P + "servers.granian.GranianWSGIServer",
                   "ARGS": {"address": "0.0.0.0", "threads": "2", "websockets": "false", "log_access": True,
                            "backlog": 256}})
    assert process.args == {"interface": "wsgi", "host": "0.0.0.0", "blocking-threads": "2", "no-ws": None,
                            "access-log": None, "backlog": 256}


def test_uvicorn_wsgi_keeps_its_interface_before_string_args() -> None:
    process = one({"BACKEND": P + "servers.uvicorn.UvicornWSGIServer", "ARGS": "--port 9000"})
    assert process.args == ["--interface=wsgi", "--port", "9000"]


def test_names_are_case_insensitive_and_lower_cased() -> None:
    assert list(prodserver.from_settings({"Web": {"BACKEND": P + "servers.gunicorn.GunicornServer"}})) == ["web"]
    with pytest.raises(ConfigError, match="defined twice"):
        prodserver.from_settings({"web": {"BACKEND": P + "servers.gunicorn.GunicornServer"},
                                  "WEB": {"BACKEND": P + "servers.gunicorn.GunicornServer"}})


@pytest.mark.parametrize("defined, message", [
    ({"web": {"BACKEND": "myproject.backends.Custom"}},
     r"PRODUCTION_PROCESSES\['web'\]\['BACKEND'\] = 'myproject.backends.Custom' is not a django-prodserver built-in"),
    ({"dev": {"BACKEND": P + "dev.django_runserver.DjangoRunserver"}}, "is a development server"),
    ({"web": {"ARGS": {}}}, r"PRODUCTION_PROCESSES\['web'\] has no BACKEND"),
    ({"web": "gunicorn"}, r"PRODUCTION_PROCESSES\['web'\] is a str: it must be a dict"),
    (["web"], "PRODUCTION_PROCESSES is a list"),
    ({"list": {"BACKEND": P + "servers.gunicorn.GunicornServer"}}, "'list' cannot be a prod-entry process name"),
    ({"web": {"BACKEND": P + "servers.gunicorn.GunicornServer", "ARGS": {"bind": object()}}},
     r"\['ARGS'\] holds a value that is not"),
    ({"web": {"BACKEND": P + "servers.gunicorn.GunicornServer", "ARGS": {"env": {"A": "b"}}}},
     r"\['ARGS'\] value of 'env' is an object"),
    ({"w": {"BACKEND": P + "workers.celery.CeleryWorker", "APP": ""}}, r"\['APP'\] is ''"),
])
def test_bad_definitions_are_config_errors_naming_the_setting(defined: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        prodserver.from_settings(defined)


def test_environment_attributes_of_a_builtin_apply_to_the_settings_process() -> None:
    builtin = Process("web", "gunicorn", {"workers": 8}, "env.wsgi:app",
                      {"backend": "built-in", "args": "env PROD_ENTRY_PROCESS_WEB_ARGS", "app": "env PROD_ENTRY_PROCESS_WEB_APP"},
                      {"WARMUP": "0"})
    process = prodserver.from_settings({"web": {"BACKEND": P + "servers.uvicorn.UvicornWSGIServer",
                                                "ARGS": {"port": 1}}}, {"web": builtin})["web"]
    assert (process.backend, process.args, process.app) == ("uvicorn", {"interface": "wsgi", "workers": 8}, "env.wsgi:app")
    assert process.origins["app"] == "env PROD_ENTRY_PROCESS_WEB_APP"
    assert process.settings == {"WARMUP": "0"}
