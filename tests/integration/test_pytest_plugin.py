"""The pytest plugin, as a user's test suite meets it: installed with prod-entry, registered through the
`pytest11` entry point, starting the project's real `web` process on a free port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import EXAMPLE, describe, example_env

USER_TESTS = '''
import json, os, urllib.request

def test_home(prod_entry_web):
    with urllib.request.urlopen(prod_entry_web.url + "/healthz") as response:
        assert response.status == 200
    assert prod_entry_web.health()

def test_asgi_and_wsgi_side_by_side(prod_entry_process):
    wsgi = prod_entry_process("web")
    asgi = prod_entry_process("asgi", health_path="/healthz")
    assert wsgi.port != asgi.port
    with urllib.request.urlopen(asgi.url + "/whoami") as response:
        assert json.load(response)["pid"] == asgi.pid  # a single uvicorn process serves in place of prod-entry
'''


def user_suite(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_user.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           str(tmp_path / "test_user.py")], cwd=EXAMPLE, env=example_env(**env),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_user_suite_gets_its_real_web_process(tmp_path: Path) -> None:
    proc = user_suite(tmp_path, USER_TESTS, PROD_ENTRY_PROCESS_ASGI="uvicorn")
    assert proc.returncode == 0, describe(proc)
    assert "2 passed" in proc.stdout, describe(proc)


def test_a_web_process_that_fails_errors_the_test_with_its_output(tmp_path: Path) -> None:
    proc = user_suite(tmp_path, "def test_home(prod_entry_web):\n    pass\n", PROD_ENTRY_PROCESS_WEB="nonsense")
    assert proc.returncode == 1, describe(proc)
    assert "ManagerError: process 'web' exited 2 before it was ready" in proc.stdout, describe(proc)
    assert "PROD_ENTRY_PROCESS_WEB='nonsense' is not a backend" in proc.stdout, describe(proc)
