"""Process definitions from a Mapping: names, attributes, built-ins, precedence env > .env > defaults."""

import os

import pytest

from entrypoint.settings import config
from entrypoint.settings.config import Environment
from entrypoint.settings.errors import ConfigError


def processes(env, dotenv_keys=()):
    return config.processes(Environment(env, frozenset(dotenv_keys), None))


def test_backend_args_and_app():
    procs = processes({"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 2}',
                       "PROD_ENTRY_PROCESS_WEB_APP": "app:wsgi"})
    web = procs["web"]
    assert (web.backend, web.args, web.app) == ("gunicorn", {"workers": 2}, "app:wsgi")
    assert web.origins == {"backend": "env PROD_ENTRY_PROCESS_WEB", "args": "env PROD_ENTRY_PROCESS_WEB_ARGS",
                           "app": "env PROD_ENTRY_PROCESS_WEB_APP"}


@pytest.mark.parametrize(("variables", "name", "attribute_values"), [
    ({"PROD_ENTRY_PROCESS_HIGH_PRIO": "celery-worker"}, "high_prio", {}),
    ({"PROD_ENTRY_PROCESS_HIGH_PRIO": "celery-worker", "PROD_ENTRY_PROCESS_HIGH_PRIO_ARGS": "-Q high"},
     "high_prio", {"args": ["-Q", "high"]}),
    ({"PROD_ENTRY_PROCESS_CELERY": "celery-worker", "PROD_ENTRY_PROCESS_CELERY_APP": "proj"},
     "celery", {"app": "proj"}),
    ({"PROD_ENTRY_PROCESS_A_B_C": "command", "PROD_ENTRY_PROCESS_A_B_C_ARGS": "true"}, "a_b_c",
     {"args": ["true"]}),
    ({"PROD_ENTRY_PROCESS_Web2": "uvicorn"}, "web2", {}),
    ({"PROD_ENTRY_PROCESS_ARGS": "command"}, "args", {}),
])
def test_names_with_underscores(variables, name, attribute_values):
    process = processes(variables)[name]
    for attribute, value in attribute_values.items():
        assert getattr(process, attribute) == value


def test_builtins_exist_without_definitions():
    assert set(processes({})) == {"manage", "command"}
    procs = processes({"DJANGO_SETTINGS_MODULE": "proj.settings"})
    assert procs["web"].backend == "gunicorn" and procs["web"].origins["backend"] == "built-in"


def test_builtin_web_takes_args_without_redefinition():
    procs = processes({"DJANGO_SETTINGS_MODULE": "proj.settings", "PROD_ENTRY_PROCESS_WEB_ARGS": "-w 3"})
    assert procs["web"].backend == "gunicorn" and procs["web"].args == ["-w", "3"]


def test_defined_process_overrides_builtin():
    procs = processes({"DJANGO_SETTINGS_MODULE": "p.settings", "PROD_ENTRY_PROCESS_WEB": "uvicorn"})
    assert procs["web"].backend == "uvicorn"


def test_dotenv_origin():
    procs = processes({"PROD_ENTRY_PROCESS_WORKER": "rq"}, dotenv_keys={"PROD_ENTRY_PROCESS_WORKER"})
    assert procs["worker"].origins["backend"] == ".env PROD_ENTRY_PROCESS_WORKER"


@pytest.mark.parametrize(("variables", "message"), [
    ({"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_Web": "uvicorn"}, "names are case-insensitive"),
    ({"PROD_ENTRY_PROCESS_FOO_ARGS": "x"}, "PROD_ENTRY_PROCESS_FOO is not"),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "x"}, "PROD_ENTRY_PROCESS_WEB is not"),
    ({"PROD_ENTRY_PROCESS_A__B": "command"}, "is not a process name"),
    ({"PROD_ENTRY_PROCESS_A-B": "command"}, "is not a process name"),
    ({"PROD_ENTRY_PROCESS__X": "command"}, "is not a process name"),
    ({"PROD_ENTRY_PROCESS_": "command"}, "is not a process name"),
    ({"PROD_ENTRY_PROCESS_LIST": "command"}, "is a prod-entry command"),
    ({"PROD_ENTRY_PROCESS_WEB": "  "}, "PROD_ENTRY_PROCESS_WEB is empty"),
    ({"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_APP": ""}, "PROD_ENTRY_PROCESS_WEB_APP is empty"),
    ({"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": "{bad"}, "PROD_ENTRY_PROCESS_WEB_ARGS is not valid JSON"),
])
def test_definition_errors(variables, message):
    with pytest.raises(ConfigError, match=message):
        processes(variables)


def test_selected_name():
    assert config.selected_name({}, None) == "web"
    assert config.selected_name({"PROD_ENTRY_DEFAULT_PROCESS": "Worker"}, None) == "worker"
    assert config.selected_name({}, "WEB") == "web"
    with pytest.raises(ConfigError, match="PROD_ENTRY_DEFAULT_PROCESS"):
        config.selected_name({"PROD_ENTRY_DEFAULT_PROCESS": "no good"}, None)


def test_env_file_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("A=from-dotenv\nB=from-dotenv\n# comment\nexport C='quoted value'\n")
    environment = config.load_environment({"A": "from-env"})
    assert environment.values["A"] == "from-env"
    assert environment.values["B"] == "from-dotenv"
    assert environment.values["C"] == "quoted value"
    assert environment.dotenv_keys == {"B", "C"} and environment.env_file == ".env"


def test_env_file_named_by_variable(tmp_path):
    path = tmp_path / "prod.env"
    path.write_text("X=1\n")
    assert config.load_environment({"PROD_ENTRY_ENV_FILE": str(path)}).values["X"] == "1"


def test_no_env_file_is_fine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config.load_environment({"A": "1"}).env_file is None


@pytest.mark.parametrize(("content", "message"), [
    ("A=1\nthis line is wrong\n", "line 2"),
    ("A='unclosed\n", "line 1"),
])
def test_env_file_syntax_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / ".env"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        config.load_environment({"PROD_ENTRY_ENV_FILE": str(path)})


def test_env_file_missing_or_unreadable(tmp_path):
    with pytest.raises(ConfigError, match="PROD_ENTRY_ENV_FILE=.*no such file"):
        config.load_environment({"PROD_ENTRY_ENV_FILE": str(tmp_path / "nope")})
    path = tmp_path / ".env"
    path.write_text("A=1\n")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything; a directory is unreadable as a file for root too
        path = tmp_path / "dir.env"
        path.mkdir()
        with pytest.raises(ConfigError, match="PROD_ENTRY_ENV_FILE=.*no such file"):
            config.load_environment({"PROD_ENTRY_ENV_FILE": str(path)})
    else:
        with pytest.raises(ConfigError, match="cannot read"):
            config.load_environment({"PROD_ENTRY_ENV_FILE": str(path)})


def test_header_settings_are_read_from_their_secret_files_globally_and_per_process(tmp_path):
    (tmp_path / "global").write_text("Authorization: Bearer g\n")
    (tmp_path / "web").write_text("Authorization: Bearer w\n")
    environment = config.load_environment({"PROD_ENTRY_WARMUP_HEADERS_FILE": str(tmp_path / "global"),
                                           "PROD_ENTRY_PROCESS_WEB": "gunicorn",
                                           "PROD_ENTRY_PROCESS_WEB_HEALTHCHECK_HEADERS_FILE": str(tmp_path / "web")})
    assert environment.values["PROD_ENTRY_WARMUP_HEADERS"] == "Authorization: Bearer g"
    assert "PROD_ENTRY_WARMUP_HEADERS" in environment.file_keys
    web = config.processes(environment)["web"]
    assert web.setting(environment.values, "HEALTHCHECK_HEADERS") == "Authorization: Bearer w"
    # prod-entry's other *_FILE settings stay paths.
    assert "PROD_ENTRY_HEARTBEAT" not in config.load_environment({"PROD_ENTRY_HEARTBEAT_FILE": "/x"}).values
