"""`prod-entry check NAME` runs the very steps a start of NAME runs before exec: for every gate, check and the
start give the same exit status and the same error line (only the port check is left out of check)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from support import EXAMPLE, base_env, describe, example_env, free_port, run

# (id, environment for the example project (None: a bare directory with no Django), NAME, exit status,
#  a piece of the one error line)
GATES = [
    ("undefined name, no Django", None, "web", 127,
     "'web' is neither a defined process nor a command on PATH (defined processes: command, manage)"),
    ("a typo of a defined name", {"PROD_ENTRY_PROCESS_WORKER": "rq"}, "wrker", 127, "did you mean 'worker'?"),
    ("a bad definition", {"PROD_ENTRY_PROCESS_WEB_ARGS": "{nope"}, "web", 2,
     "PROD_ENTRY_PROCESS_WEB_ARGS is not valid JSON"),
    ("a missing secret file", {"DB_PASSWORD_FILE": "/nonexistent/db"}, "web", 2,
     "DB_PASSWORD_FILE=/nonexistent/db: no such file"),
    ("an unknown user", {"PROD_ENTRY_USER": "no-such-user"}, "web", 2, "no user 'no-such-user' on this system"),
    ("check --deploy finds an error", {"PROD_ENTRY_CHECK_DEPLOY": "1", "EXAMPLE_DEPLOY_CHECK_ERROR": "1"}, "web",
     3, "check --deploy found 1 problem(s): example.E001"),
    ("wait-for times out", {"PROD_ENTRY_WAIT_FOR": "127.0.0.1:{closed}", "PROD_ENTRY_WAIT_TIMEOUT": "0.5"}, "web",
     4, "still not accepting connections after 0.5s"),
    ("a release step that is not found", {"PROD_ENTRY_PROCESS_WEB_BEFORE": "migrate"}, "web", 2,
     "PROD_ENTRY_PROCESS_WEB_BEFORE: step 1 (migrate): 'migrate' is neither a defined process"),
    ("a release-steps lock timeout that is no number", {"PROD_ENTRY_PROCESS_WEB_BEFORE": "manage check",
                                                        "PROD_ENTRY_BEFORE_LOCK_TIMEOUT": "soon"}, "web", 2,
     "PROD_ENTRY_BEFORE_LOCK_TIMEOUT='soon'"),
    ("the health URL answers 500", {"PROD_ENTRY_HEALTHCHECK_URL": "/boom"}, "web", 3, "GET /boom"),
    ("the app does not import", {"PROD_ENTRY_PROCESS_WEB_APP": "example.nosuchmodule:application"}, "web", 3,
     "importing example.nosuchmodule"),
]


def closed_port() -> int:
    """A port nothing listens on (bound and released again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("variables", "name", "code", "needle"), [g[1:] for g in GATES], ids=[g[0] for g in GATES])
def test_check_and_start_refuse_alike(variables: dict[str, str] | None, name: str, code: int, needle: str,
                                      tmp_path: Path) -> None:
    if variables is None:
        env, cwd = base_env(), tmp_path
    else:
        port = str(closed_port())
        env = example_env(PORT=str(free_port()), **{k: v.replace("{closed}", port) for k, v in variables.items()})
        cwd = EXAMPLE
    start = run([name], env, cwd)
    check = run(["check", name], env, cwd)
    assert start.returncode == code, describe(start)
    assert check.returncode == code, describe(check)
    error = [line for line in start.stderr.splitlines() if line.startswith("prod-entry: error: ")]
    assert len(error) == 1 and needle in error[0], describe(start)
    assert [line for line in check.stderr.splitlines() if line.startswith("prod-entry: error: ")] == error, \
        describe(check)
    assert check.stdout == "" and "Traceback" not in check.stderr + start.stderr, describe(check)


def test_a_program_on_path_is_checked_as_one(tmp_path: Path) -> None:
    proc = run(["check", "true"], base_env(), tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.startswith("true: ok (not a process: the program ") and "PROD_ENTRY_WAIT_FOR" in proc.stdout, \
        describe(proc)


def test_check_waits_for_what_the_start_waits_for_before_a_program(tmp_path: Path) -> None:
    env = base_env(PROD_ENTRY_WAIT_FOR=f"127.0.0.1:{closed_port()}", PROD_ENTRY_WAIT_TIMEOUT="0.3")
    proc = run(["check", "true"], env, tmp_path)
    assert proc.returncode == 4, describe(proc)


def test_show_refuses_a_word_that_is_neither_a_process_nor_a_program(tmp_path: Path) -> None:
    proc = run(["show", "nosuchthing"], base_env(), tmp_path)
    assert proc.returncode == 127, describe(proc)
    assert proc.stderr.strip() == ("prod-entry: error: 'nosuchthing' is neither a defined process nor a command on "
                                   "PATH (defined processes: command, manage)"), describe(proc)
    found = run(["show", "true"], base_env(), tmp_path)
    assert found.returncode == 0 and "is the program /" in found.stdout, describe(found)


def test_no_name_and_no_default_says_what_is_true(tmp_path: Path) -> None:
    proc = run([], base_env(), tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert "PROD_ENTRY_DEFAULT_PROCESS names it" not in proc.stderr, describe(proc)
    assert "it is what prod-entry runs with no NAME" in proc.stderr, describe(proc)
    named = run([], base_env(PROD_ENTRY_DEFAULT_PROCESS="api"), tmp_path)
    assert named.returncode == 2 and "no process 'api' is defined and PROD_ENTRY_DEFAULT_PROCESS names it" in \
        named.stderr, describe(named)
