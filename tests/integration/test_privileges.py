"""PROD_ENTRY_USER: the exec'd program runs as the target user and cannot get root back (tests run as root)."""

from __future__ import annotations

import os

import pytest

from support import EXAMPLE, base_env, describe, example_env, free_port, proc_status, run, spawn, wait_http

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
