"""The supervisor's settings: PROD_ENTRY_INIT and friends, parsed from a plain mapping."""

from __future__ import annotations

import json
import os
import signal

import pytest

from entrypoint.init.healthport import quote, settle
from entrypoint.init.supervisor import Settings, parse_exit_remap, parse_rewrite
from entrypoint.settings.errors import ConfigError


def test_defaults() -> None:
    settings = Settings({})
    assert (settings.mode, settings.group, settings.rewrite, settings.exit_remap) == ("auto", False, {}, {})
    assert (settings.shutdown_delay, settings.stop_timeout, settings.grace) == (0.0, None, 5.0)
    assert settings.state_dir == "/tmp/prod-entry"


def test_values() -> None:
    settings = Settings({"PROD_ENTRY_INIT": " Always ", "PROD_ENTRY_SIGNAL_TARGET": "group",
                         "PROD_ENTRY_SHUTDOWN_DELAY": "2.5", "PROD_ENTRY_STOP_TIMEOUT": "20",
                         "PROD_ENTRY_STATE_DIR": "/run/pe"})
    assert (settings.mode, settings.group, settings.shutdown_delay) == ("always", True, 2.5)
    assert (settings.stop_timeout, settings.grace, settings.state_dir) == (20.0, 20.0, "/run/pe")


def test_rewrite_accepts_names_numbers_and_drops() -> None:
    assert parse_rewrite("TERM:QUIT, sigwinch:0,10:SIGUSR2,") == {
        signal.SIGTERM: signal.SIGQUIT, signal.SIGWINCH: 0, signal.SIGUSR1: signal.SIGUSR2}
    assert parse_rewrite("") == {}


@pytest.mark.parametrize("raw", ["TERM", "TERM:", "NOPE:TERM", "TERM:99", "KILL:TERM", "SEGV:TERM", "CHLD:0"])
def test_bad_rewrites(raw: str) -> None:
    with pytest.raises(ConfigError, match="PROD_ENTRY_SIGNAL_REWRITE"):
        parse_rewrite(raw)


def test_exit_remap() -> None:
    assert parse_exit_remap("143:0, 137:0") == {143: 0, 137: 0}
    for raw in ("143", "143:-1", "256:0", "a:b"):
        with pytest.raises(ConfigError, match="PROD_ENTRY_EXIT_REMAP"):
            parse_exit_remap(raw)


@pytest.mark.parametrize("raw", ["x", "-1", "inf", "nan"])
def test_bad_seconds(raw: str) -> None:
    with pytest.raises(ConfigError, match=f"PROD_ENTRY_SHUTDOWN_DELAY={raw!r}"):
        Settings({"PROD_ENTRY_SHUTDOWN_DELAY": raw})


def test_health_port() -> None:
    assert Settings({}).health_port is None
    assert Settings({"PROD_ENTRY_HEALTH_PORT": " 8081 "}).health_port == 8081
    for raw in ("0", "65536", "http", "-1"):
        with pytest.raises(ConfigError, match=f"PROD_ENTRY_HEALTH_PORT={raw!r} is not a TCP port"):
            Settings({"PROD_ENTRY_HEALTH_PORT": raw})
    with pytest.raises(ConfigError, match="PROD_ENTRY_INIT=never"):
        Settings({"PROD_ENTRY_HEALTH_PORT": "8081", "PROD_ENTRY_INIT": "never"})


def test_markers_are_named_for_the_instance() -> None:
    """The process name and the PID namespace: two containers sharing a state directory never share a marker."""
    namespace = os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    settings = Settings({"PROD_ENTRY_LOG_PROCESS": "worker", "PROD_ENTRY_STATE_DIR": "/run/pe"})
    assert settings.draining_file == f"/run/pe/draining.worker.{namespace}"
    assert settings.serving_file == f"/run/pe/serving.worker.{namespace}"
    assert Settings({"PROD_ENTRY_LOG_PROCESS": "/usr/bin/my.worker"}).draining_file == \
        f"/tmp/prod-entry/draining.my_worker.{namespace}"


def test_a_health_answer_is_one_line_of_json() -> None:
    assert json.loads(quote('a "quoted" \\ line\nand\ttab')) == 'a "quoted" \\ line\nand\ttab'
    assert settle("ready", False, 404, "why") == (True, "why")  # the server answers: below 500 is ready
    assert settle("ready", False, 500, "why") == (False, "why")
    assert settle("live", False, 500, "why") == (True, "why")  # but alive
    assert settle("live", False, None, "why") == (False, "why")
    assert settle("ready", True, 200, "why")[0] is False  # TERM arrived while the server was asked
