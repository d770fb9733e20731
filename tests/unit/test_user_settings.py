"""The rule "prod-entry's defaults apply only where the user set nothing": the shared helpers, gunicorn's config
file and GUNICORN_CMD_ARGS, uvicorn's UVICORN_* variables, and the bind in effect (Launch.bind)."""

import pytest

from entrypoint import backends
from entrypoint.backends import Default, Setting, Word, defaults, given_in_env, given_in_words
from entrypoint.backends.gunicorn import tcp_bind
from entrypoint.settings import config
from entrypoint.settings.config import Environment
from entrypoint.settings.errors import ConfigError

GUNICORN = {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_APP": "myapp:app"}
UVICORN = {"PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_PROCESS_WEB_APP": "myapp:app"}
BIND = {"bind": ("--bind", "-b")}
pytestmark = pytest.mark.usefixtures("fixed_limits")  # auto-sized: --workers=3 where no workers are given


def plan(env, extra=()):
    process = config.processes(Environment(env, frozenset(), None))["web"]
    return backends.plan(process, env, extra)


def words(*texts, origin="ARGS"):
    return [Word(text, origin) for text in texts]


@pytest.mark.parametrize("texts", [["--bind=x:1"], ["--bind", "x:1"], ["-b", "x:1"], ["-bx:1"]])
def test_every_spelling_counts_as_given(texts):
    assert given_in_words(words(*texts), BIND) == {"bind": Setting("bind", ("x:1",), "ARGS")}


def test_a_later_origin_wins_and_unrelated_words_give_nothing():
    given = given_in_words(words("--bind=a:1") + words("-b", "b:2", origin="command line"), BIND)
    assert given["bind"] == Setting("bind", ("b:2",), "command line")
    assert given_in_words(words("--workers=2", "--binder=x"), BIND) == {}


def test_environment_variables_count_unless_empty():
    variables = {"host": "UVICORN_HOST", "port": "UVICORN_PORT"}
    assert given_in_env({"UVICORN_HOST": "", "UVICORN_PORT": "9"}, variables) == {
        "port": Setting("port", ("9",), "UVICORN_PORT")}


def test_a_default_is_left_out_when_its_setting_or_a_moot_one_is_given():
    candidates = [Default("host", ("--host=0.0.0.0",), "default", ("uds",)), Default("port", ("--port=1",), "d")]
    assert [w.text for w in defaults({}, candidates)] == ["--host=0.0.0.0", "--port=1"]
    assert [w.text for w in defaults({"uds": Setting("uds", ("/s",), "x")}, candidates)] == ["--port=1"]
    assert defaults({"host": Setting("host", ("h",), "x"), "port": Setting("port", ("2",), "y")}, candidates) == []


@pytest.mark.parametrize(("addresses", "bind"), [
    (["127.0.0.1:9001"], ("127.0.0.1", 9001)),
    (["unix:/tmp/s.sock", "fd://3", "[::1]:9002"], ("::1", 9002)),
    (["tcp://0.0.0.0:9003"], ("0.0.0.0", 9003)),
    (["localhost"], ("localhost", 8000)),  # gunicorn's default port for a bare host
    (["unix:/tmp/s.sock"], None),
    (["fd://3"], None),
    ([], None),
])
def test_the_first_tcp_address_of_a_gunicorn_bind_list(addresses, bind):
    assert tcp_bind(addresses) == bind


def test_gunicorn_conf_py_replaces_the_default_bind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gunicorn.conf.py").write_text('bind = ["unix:/tmp/x.sock", "127.0.0.1:9001"]\nworkers = 2\n')
    launch = plan(GUNICORN)
    assert launch.argv[1:] == ["myapp:app"] and launch.bind == ("127.0.0.1", 9001)
    assert [(s.name, s.value, s.origin) for s in launch.settings] == [
        ("config", "gunicorn.conf.py", "gunicorn's default, in the working directory"),
        ("bind", "unix:/tmp/x.sock 127.0.0.1:9001", "gunicorn.conf.py"), ("workers", "2", "gunicorn.conf.py")]


def test_the_warmup_addresses_the_bind_in_effect(tmp_path, monkeypatch):
    from entrypoint.warmup import gate as warmup

    monkeypatch.chdir(tmp_path)
    (tmp_path / "gunicorn.conf.py").write_text('bind = "127.0.0.1:9001"\n')
    process = config.processes(Environment(GUNICORN, frozenset(), None))["web"]
    assert warmup.plan(process, GUNICORN, backends.plan(process, GUNICORN, [])).port == 9001


def test_gunicorn_precedence_command_line_then_env_then_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gunicorn.conf.py").write_text('bind = "127.0.0.1:9001"\n')
    env = {**GUNICORN, "GUNICORN_CMD_ARGS": "--bind 127.0.0.1:9002"}
    assert plan(env).bind == ("127.0.0.1", 9002)
    assert [(s.name, s.origin) for s in plan(env).settings] == [("config", "gunicorn's default, in the working "
                                                                 "directory"), ("bind", "GUNICORN_CMD_ARGS")]
    launch = plan({**env, "PROD_ENTRY_PROCESS_WEB_ARGS": "-b 127.0.0.1:9003"})
    assert launch.bind == ("127.0.0.1", 9003) and [s.name for s in launch.settings] == ["config"]


def test_gunicorn_unix_socket_only_has_no_bind_and_no_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gunicorn.conf.py").write_text('bind = "unix:/tmp/x.sock"\n')
    launch = plan(GUNICORN)
    assert launch.argv[1:] == ["--workers=3", "myapp:app"] and launch.bind is None


@pytest.mark.parametrize("how", ["ARGS", "GUNICORN_CMD_ARGS"])
def test_gunicorn_config_named_by_c_or_python_module(how, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "conf_a.py").write_text('bind = "127.0.0.1:9004"\n')
    (tmp_path / "conf_b.py").write_text('bind = "127.0.0.1:9005"\n')
    variable = "PROD_ENTRY_PROCESS_WEB_ARGS" if how == "ARGS" else "GUNICORN_CMD_ARGS"
    assert plan({**GUNICORN, variable: f"-c {tmp_path / 'conf_a.py'}"}).bind == ("127.0.0.1", 9004)
    launch = plan({**GUNICORN, variable: "--config=python:conf_b"})
    assert launch.bind == ("127.0.0.1", 9005) and launch.argv[1] != "--bind=0.0.0.0:8000"
    assert ("bind", "python:conf_b") in [(s.name, s.origin) for s in launch.settings]


@pytest.mark.parametrize(("body", "needle"), [
    ("x = 1\nraise RuntimeError('first\\nsecond')\n", "failed at line 2: RuntimeError: second"),
    ("import sys\nsys.exit(3)\n", "failed at line 2: SystemExit: 3"),
    ("bind = 8000\n", "bind = 8000 is not valid"),
])
def test_a_failing_config_file_is_one_config_error(body, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gunicorn.conf.py").write_text(body)
    with pytest.raises(ConfigError) as caught:
        plan(GUNICORN)
    assert needle in str(caught.value) and "gunicorn.conf.py" in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_python_config_module_is_a_config_error():
    with pytest.raises(ConfigError, match="python:no_such_conf .* cannot be imported: ModuleNotFoundError"):
        plan({**GUNICORN, "GUNICORN_CMD_ARGS": "-c python:no_such_conf"})


@pytest.mark.parametrize(("env", "argv", "bind", "shown"), [
    ({"UVICORN_PORT": "9001"}, ["--host=0.0.0.0", "myapp:app"], ("0.0.0.0", 9001), ["port UVICORN_PORT"]),
    ({"UVICORN_HOST": "127.0.0.2", "UVICORN_PORT": "9001"}, ["myapp:app"], ("127.0.0.2", 9001),
     ["host UVICORN_HOST", "port UVICORN_PORT"]),
    ({"UVICORN_HOST": "127.0.0.2"}, ["--port=8000", "myapp:app"], ("127.0.0.2", 8000), ["host UVICORN_HOST"]),
    ({"UVICORN_UDS": "/tmp/u.sock"}, ["myapp:app"], None, ["uds UVICORN_UDS"]),
    ({"UVICORN_FD": "3"}, ["myapp:app"], None, ["fd UVICORN_FD"]),
    ({"UVICORN_PORT": ""}, ["--host=0.0.0.0", "--port=8000", "myapp:app"], ("0.0.0.0", 8000), []),
    ({"UVICORN_PORT": "9001", "PROD_ENTRY_PROCESS_WEB_ARGS": "--port 9002"}, ["--host=0.0.0.0", "--port", "9002",
                                                                            "myapp:app"], ("0.0.0.0", 9002), []),
])
def test_uvicorn_variables_replace_the_defaults(env, argv, bind, shown):
    launch = plan({**UVICORN, **env})
    assert launch.argv[1:] == argv and launch.bind == bind
    assert [f"{s.name} {s.origin}" for s in launch.settings] == shown


def test_uvicorn_port_that_is_not_a_number():
    with pytest.raises(ConfigError, match="UVICORN_PORT gives uvicorn the port 'http'"):
        plan({**UVICORN, "UVICORN_PORT": "http"})
