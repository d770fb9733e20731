"""PROD_ENTRY_USER: the exec'd program runs as the target user and cannot get root back (tests run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (EXAMPLE, ROOT, base_env, describe, example_env, free_port, proc_status, run, spawn,
                     wait_http)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI runs as root)")

NOBODY = 65534


def ids(status_text: str) -> dict[str, list[int]]:
    fields = dict(line.split(":\t") for line in status_text.splitlines())
    return {key: [int(v) for v in fields[key].split()] for key in ("Uid", "Gid", "Groups")}


def test_program_runs_as_the_user_and_cannot_regain_root():
    script = ('grep -E "^(Uid|Gid|Groups):" /proc/$$/status; echo "HOME=$HOME"; '
              'python3 -c "import os; os.setuid(0)" 2>/dev/null && echo REGAINED || echo refused')
    proc = run(["sh", "-c", script], base_env(PROD_ENTRY_USER="nobody"))
    assert proc.returncode == 0, describe(proc)
    lines = proc.stdout.splitlines()
    found = ids("\n".join(lines[:3]))
    assert found["Uid"] == [NOBODY] * 4 and found["Gid"] == [NOBODY] * 4, describe(proc)
    assert found["Groups"] == [NOBODY], describe(proc)
    assert lines[3] == "HOME=/nonexistent" and lines[4] == "refused", describe(proc)


def test_uid_and_gid_numbers():
    proc = run(["sh", "-c", "id -u; id -g; id -G"], base_env(PROD_ENTRY_USER="12345:23456"))
    assert proc.stdout.split() == ["12345", "23456", "23456"], describe(proc)


def test_gunicorn_master_runs_as_the_user():
    port = free_port()
    env = example_env(PORT=str(port), PROD_ENTRY_USER="nobody:nogroup")
    with spawn([], env, cwd=EXAMPLE) as proc:
        assert wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)[0] == 200
        status = proc_status(proc.pid)
        assert status["Uid"].split() == [str(NOBODY)] * 4 and status["Gid"].split() == [str(NOBODY)] * 4


@pytest.mark.parametrize(("spec", "needle"), [
    ("no-such-user", "no user 'no-such-user'"),
    ("nobody:no-such-group", "no group 'no-such-group'"),
    (":12", "give a user name or uid"),
])
def test_bad_user(spec, needle):
    proc = run(["command", "true"], base_env(PROD_ENTRY_USER=spec))
    assert proc.returncode == 2 and f"PROD_ENTRY_USER={spec!r}" in proc.stderr and needle in proc.stderr, \
        describe(proc)


def test_not_root_asking_for_another_user():
    # First become nobody, then ask prod-entry (now unprivileged) for root.
    inner = "PROD_ENTRY_USER=root prod-entry command true; echo status=$?"
    proc = run(["sh", "-c", inner], base_env(PROD_ENTRY_USER="nobody"))
    assert "status=2" in proc.stdout and "only root can switch users" in proc.stderr, describe(proc)
    inner = "PROD_ENTRY_USER=nobody prod-entry command true; echo status=$?"
    proc = run(["sh", "-c", inner], base_env(PROD_ENTRY_USER="nobody"))
    assert "status=0" in proc.stdout, describe(proc)


# --- what the user must still be able to read after the drop --------------------------------------------

@pytest.fixture
def shut() -> Iterator[Path]:
    """A directory only root can enter (as /root is, where pyenv installs Python), under a world-readable one
    (pytest's own tmp_path is under the 0700 /tmp/pytest-of-root, which would hide everything)."""
    top = Path(tempfile.mkdtemp(prefix="prod-entry-privileges-"))
    top.chmod(0o755)
    (top / "root-only").mkdir(mode=0o700)
    try:
        yield top / "root-only"
    finally:
        shutil.rmtree(top)


def hidden_python(where: Path) -> Path:
    """A Python whose standard library sits behind `where`: the real binary copied in, its stdlib linked in
    beside it (Python finds lib/pythonX.Y next to its binary and imports through that path, as nobody too)."""
    (where / "bin").mkdir()
    (where / "lib").mkdir()
    python = where / "bin" / "python3"
    shutil.copy2(os.path.realpath(getattr(sys, "_base_executable", sys.executable)), python)
    (where / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}").symlink_to(os.path.dirname(os.__file__))
    return python


def assert_one_line_naming(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, describe(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prod-entry: error: PROD_ENTRY_USER='nobody': "), describe(proc)
    assert all(needle in lines[0] for needle in needles), describe(proc)
    assert "Traceback" not in proc.stderr and "ModuleNotFoundError" not in proc.stderr, describe(proc)


def test_a_python_the_user_cannot_read_is_named_not_a_missing_module(shut: Path) -> None:
    python = hidden_python(shut)
    # prod-entry and its dependencies from this checkout and venv, the standard library from behind `shut`.
    env = base_env(PROD_ENTRY_USER="nobody", PYTHONPATH=f"{ROOT}{os.pathsep}{sysconfig.get_path('purelib')}")
    proc = subprocess.run([str(python), "-m", "entrypoint", "command", "true"], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert_one_line_naming(proc, f"nobody cannot read {shut},", "Python's standard library",
                           "or unset PROD_ENTRY_USER")


def test_a_program_on_path_the_user_cannot_reach(shut: Path) -> None:
    script = shut / "serve"
    script.write_text("#!/bin/sh\necho served\n")
    script.chmod(0o755)
    env = base_env(PROD_ENTRY_USER="nobody")
    env["PATH"] = f"{shut}{os.pathsep}{env['PATH']}"
    proc = run(["command", "serve"], env)
    # As the user (dropped before the settings are imported), the PATH directory it cannot search is what it knows.
    assert_one_line_naming(proc, f"nobody cannot read {shut},", f"the program 'serve' on PATH in {shut}")


def test_a_script_whose_interpreter_the_user_cannot_reach(shut: Path) -> None:
    # A venv's bin/python linking to a Python under /root: the script is readable, its #! interpreter is not.
    venv_bin = shut.parent / "venv-bin"
    venv_bin.mkdir(mode=0o755)
    (venv_bin / "python").symlink_to(hidden_python(shut))
    script = venv_bin / "serve"
    script.write_text(f"#!{venv_bin / 'python'}\nprint('served')\n")
    script.chmod(0o755)
    proc = run(["command", str(script)], base_env(PROD_ENTRY_USER="nobody"))
    assert_one_line_naming(proc, f"nobody cannot read {shut},", "the interpreter of", str(venv_bin / "python"))
