"""How each backend is probed (declared, never by building an argv it may refuse) and the heartbeat pulse."""

import os
import time

import pytest
from support import EXAMPLE

from entrypoint import backends
from entrypoint.backends import HEARTBEAT, HTTP, NAMED
from entrypoint.health import probes
from entrypoint.health.heartbeats import Pulse
from entrypoint.settings import config
from entrypoint.settings.config import Environment


@pytest.fixture(autouse=True)
def in_example(monkeypatch):
    monkeypatch.chdir(EXAMPLE)


def kind(env, name="q"):
    process = config.processes(Environment(env, frozenset(), None))[name]
    return backends.probe_kind(process, env)[0]


@pytest.mark.parametrize(("backend", "expected"), [
    ("gunicorn", HTTP), ("uvicorn", HTTP), ("celery-worker", HEARTBEAT), ("celery-beat", NAMED),
    ("rq", HEARTBEAT), ("dramatiq", HEARTBEAT), ("huey", HEARTBEAT), ("django-tasks", HEARTBEAT),
    ("command", NAMED), ("manage", NAMED),
])
def test_every_builtin_declares_its_probe_without_app_or_settings(backend, expected):
    # No APP and no DJANGO_SETTINGS_MODULE: building these argvs would fail (dramatiq needs an app, rq refuses
    # one), and the kind must not depend on it.
    assert kind({"PROD_ENTRY_PROCESS_Q": backend}) == expected


def test_every_probe_declared_is_a_known_kind():
    import importlib

    for module in set(backends.BUILTIN.values()):
        declared = getattr(importlib.import_module(f"entrypoint.backends.{module}"), "PROBE", HTTP)
        for value in declared.values() if isinstance(declared, dict) else [declared]:
            assert value in (HTTP, HEARTBEAT, NAMED), (module, value)


def test_a_heartbeat_backend_tells_how_its_heartbeat_is_made():
    process = config.processes(Environment({"PROD_ENTRY_PROCESS_Q": "huey"}, frozenset(), None))["q"]
    assert "entrypoint.health.heartbeats.huey.install" in backends.probe_kind(process, {})[1]


def test_custom_backends_are_probed_by_http_when_they_serve_web_else_as_named():
    assert kind({"PROD_ENTRY_PROCESS_Q": "custom_backends.launch"}) == HTTP
    assert kind({"PROD_ENTRY_PROCESS_Q": "custom_backends:words"}) == NAMED


def test_pulse_touches_at_most_once_a_second_and_stop_removes_the_file(tmp_path):
    path = tmp_path / "state" / "beat"
    pulse = Pulse(str(path))
    pulse()
    assert path.exists()
    old = time.time() - 100
    os.utime(path, (old, old))
    pulse()  # within the same second: no second touch
    assert path.stat().st_mtime == old
    pulse.last -= 1.0  # as if a second had passed
    pulse()
    assert path.stat().st_mtime > old
    pulse.stop()
    pulse()
    assert not path.exists()


def test_a_pulse_that_never_beat_leaves_the_file_alone(tmp_path):
    # A web process that installed the hook too must not remove the worker's file when it exits.
    path = tmp_path / "beat"
    path.touch()
    Pulse(str(path)).stop()
    assert path.exists()


def test_heartbeat_messages_say_what_writes_the_file_and_what_to_raise(tmp_path):
    path = tmp_path / "beat"
    with pytest.raises(probes.Unhealthy, match=r"does not exist .*call install\(\)"):
        probes.heartbeat(str(path), 30, "call install()")
    path.touch()
    old = time.time() - 120
    os.utime(path, (old, old))
    with pytest.raises(probes.Unhealthy, match=r"stale heartbeat: .* \(max 30s\).*raise PROD_ENTRY_PROCESS_Q_HEA"):
        probes.heartbeat(str(path), 30, "", "PROD_ENTRY_PROCESS_Q_HEARTBEAT_MAX_AGE")
    assert probes.heartbeat(str(path), 300).startswith("healthy: heartbeat")
