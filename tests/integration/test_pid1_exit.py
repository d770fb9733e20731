"""Exit statuses, stop timeouts, clean-up of leftovers, the three modes and bad settings, through a real PID 1
(prod-entry in a new PID namespace) and a real subreaper."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
from pid1_support import run_inside, run_pid1, spawn_pid1
from support import base_env, describe, draining_markers, free_port, run, spawn, wait_until

PY = sys.executable


def kill_self(sig: int) -> str:
    return f"import os; os.kill(os.getpid(), {int(sig)})"


@pytest.mark.parametrize(("code", "expected"), [
    ("import sys; sys.exit(0)", 0),
    ("import sys; sys.exit(1)", 1),
    ("import sys; sys.exit(2)", 2),
    ("import sys; sys.exit(77)", 77),
    ("import sys; sys.exit(255)", 255),
    (kill_self(signal.SIGTERM), 128 + signal.SIGTERM),
    (kill_self(signal.SIGKILL), 128 + signal.SIGKILL),
    (kill_self(signal.SIGSEGV), 128 + signal.SIGSEGV),
], ids=["0", "1", "2", "77", "255", "TERM", "KILL", "SEGV"])
def test_exit_status_of_the_main_process(code: str, expected: int) -> None:
    proc = run_pid1([PY, "-c", code])
    assert proc.returncode == expected, describe(proc)


def test_exec_failures(tmp_path: Path) -> None:
    not_executable = tmp_path / "script"
    not_executable.write_text("#!/bin/sh\n")
    proc = run_pid1([str(tmp_path / "missing")])
    assert proc.returncode == 127, describe(proc)
    proc = run_pid1([str(not_executable)])
    assert proc.returncode == 126, describe(proc)
    assert "permission denied" in proc.stderr, describe(proc)


def test_exit_remap() -> None:
    env = base_env(PROD_ENTRY_EXIT_REMAP="143:0, 77:5")
    assert run_pid1([PY, "-c", kill_self(signal.SIGTERM)], env).returncode == 0
    assert run_pid1([PY, "-c", "import sys; sys.exit(77)"], env).returncode == 5
    assert run_pid1([PY, "-c", "import sys; sys.exit(3)"], env).returncode == 3


def test_term_reaches_the_child_before_it_execs() -> None:
    """The child is most likely still prod-entry (importing its config) when TERM comes: it must not be lost.
    (Before the fork, PID 1 has no way to take a signal: the kernel drops it. So wait for the fork.)"""
    with spawn_pid1([PY, "-c", "import time; time.sleep(60)"]) as (proc, pid1, _):
        wait_until(lambda: psutil.Process(pid1).children(), 10, 0.001, "the supervisor to fork")
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM


IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); " \
               "time.sleep(120)"


def test_a_child_ignoring_term_is_killed_after_the_stop_timeout() -> None:
    env = base_env(PROD_ENTRY_STOP_TIMEOUT="0.5")
    with spawn_pid1([PY, "-c", IGNORES_TERM], env) as (proc, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGKILL, lines.rest()
    assert "PROD_ENTRY_STOP_TIMEOUT=0.5s" in lines.rest()


def test_without_a_stop_timeout_the_child_is_left_to_the_orchestrator() -> None:
    with spawn_pid1([PY, "-c", IGNORES_TERM]) as (proc, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGTERM)
        with pytest.raises(Exception):
            proc.wait(2)  # still running: nothing killed it
        assert proc.poll() is None


# The main process leaves two grandchildren, once both are ready: one stops on TERM (and says so in a file),
# the other ignores TERM.
LEAVES_GRANDCHILDREN = """
import subprocess, sys
report = sys.argv[1]
polite = "import signal, sys, time\\n" \\
    "def stop(n, f):\\n open(%r, 'w').write('term'); sys.exit(0)\\n" \\
    "signal.signal(signal.SIGTERM, stop); print('polite', flush=True); time.sleep(120)" % report
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \\
    "print('stubborn', flush=True); time.sleep(120)"
for code, session in ((polite, False), (stubborn, True)):
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             start_new_session=session)
    print(child.stdout.readline().strip(), flush=True)
"""


def test_leftovers_are_stopped_then_killed_before_pid1_exits(tmp_path: Path) -> None:
    report = tmp_path / "report"
    env = base_env(PROD_ENTRY_STOP_TIMEOUT="1")
    with spawn_pid1([PY, "-c", LEAVES_GRANDCHILDREN, str(report)], env) as (proc, _, lines):
        assert proc.wait(30) == 0, lines.rest()
    output = lines.rest()
    assert "polite" in output and "stubborn" in output, output
    # Had PID 1 exited first, the kernel would have killed the polite one before it wrote this.
    assert report.read_text() == "term", output
    assert "processes still running 1s after the main process exited: killing them" in output, output


def test_always_mode_outside_pid1_is_a_subreaper_and_cleans_up() -> None:
    """Not PID 1: orphans still come to prod-entry, and none outlives it."""
    script = ("import os, signal, time\n"
              "if os.fork() == 0:\n"
              "    if os.fork() == 0:\n"
              "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "        time.sleep(0.5)\n"  # by now its parent has exited: it is an orphan
              "        print('orphan', os.getpid(), 'parent', os.getppid(), flush=True)\n"
              "        time.sleep(120)\n"
              "    os._exit(0)\n"
              "time.sleep(2)\n")
    env = base_env(PROD_ENTRY_INIT="always", PROD_ENTRY_STOP_TIMEOUT="0.5")
    with spawn([PY, "-c", script], env) as proc:
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    words = next(line for line in out.splitlines() if line.startswith("orphan")).split()
    orphan, parent = int(words[1]), int(words[3])
    assert parent == proc.pid, f"the orphan went to {parent}, not to prod-entry ({proc.pid}):\n{out}"
    assert not psutil.pid_exists(orphan), out


def test_auto_mode_outside_pid1_execs_directly() -> None:
    with spawn([PY, "-c", "import os; print(os.getppid())"]) as proc:
        out, _ = proc.communicate(timeout=30)
    assert out.strip() == str(os.getpid()), f"prod-entry stayed between: {out}"


@pytest.mark.parametrize(("mode", "pid"), [("never", "1"), ("auto", "2"), ("always", "2")])
def test_modes_as_pid1(mode: str, pid: str) -> None:
    proc = run_pid1([PY, "-c", "import os; print(os.getpid())"], base_env(PROD_ENTRY_INIT=mode))
    assert proc.returncode == 0 and proc.stdout.strip() == pid, describe(proc)
    assert ("PROD_ENTRY_INIT=never" in proc.stderr) == (mode == "never"), describe(proc)


@pytest.mark.parametrize(("var", "value"), [
    ("PROD_ENTRY_INIT", "sometimes"),
    ("PROD_ENTRY_SIGNAL_TARGET", "everyone"),
    ("PROD_ENTRY_SIGNAL_REWRITE", "TERM"),
    ("PROD_ENTRY_SIGNAL_REWRITE", "TERM:NOPE"),
    ("PROD_ENTRY_SIGNAL_REWRITE", "CHLD:TERM"),
    ("PROD_ENTRY_EXIT_REMAP", "143:zero"),
    ("PROD_ENTRY_SHUTDOWN_DELAY", "soon"),
    ("PROD_ENTRY_STOP_TIMEOUT", "-1"),
])
def test_bad_settings_are_one_line_and_exit_2(var: str, value: str) -> None:
    proc = run(["true"], base_env(**{var: value}))
    assert proc.returncode == 2, describe(proc)
    assert proc.stderr.startswith(f"prod-entry: error: {var}") and proc.stderr.count("\n") == 1, describe(proc)


HEAVY = ("site", "re", "click", "dotenv", "django", "gunicorn", "typing", "json", "logging", "subprocess", "entrypoint.settings.config",
         "entrypoint.run", "entrypoint.cli", "entrypoint.init.execute")


@pytest.mark.parametrize("health_port", [False, True])
def test_the_supervisor_imports_nothing_heavy(health_port: bool) -> None:
    """Not even what the console script itself loaded (site, re): the supervisor restarts as a bare python. The
    health port adds its own module, _socket, fcntl and errno: not socket.py (selectors, array, math...)."""
    port = {"PROD_ENTRY_HEALTH_PORT": str(free_port())} if health_port else {}
    env = base_env(PROD_ENTRY_LOG_LEVEL="debug", **port)
    proc = run_pid1([PY, "-c", "pass"], env)
    assert proc.returncode == 0, describe(proc)
    line = next(line for line in proc.stderr.splitlines() if "modules loaded:" in line)
    modules = set(line.split("modules loaded:")[1].split())
    assert "entrypoint.init.supervisor" in modules, line
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}, line
    assert ("entrypoint.init.healthport" in modules) == health_port, line
    assert not modules & {"socket", "selectors"}, line


def test_init_settings_in_a_dotenv_file_are_flagged(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PROD_ENTRY_SHUTDOWN_DELAY=5\n")
    proc = run(["true"], base_env(), cwd=tmp_path)
    assert proc.returncode == 0, describe(proc)
    assert "warning: PROD_ENTRY_SHUTDOWN_DELAY is set in the .env file" in proc.stderr, describe(proc)


SLEEPER = "import time; print('ready', flush=True); time.sleep(120)"
SLEEPING = ["command", "sleep", "1000"]


def test_a_second_term_ends_the_shutdown_delay(tmp_path: Path) -> None:
    env = base_env(PROD_ENTRY_SHUTDOWN_DELAY="600", PROD_ENTRY_STATE_DIR=str(tmp_path),
                   PROD_ENTRY_LOG_FORMAT="json")
    with spawn_pid1([PY, "-c", SLEEPER], env) as (proc, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGTERM)
        wait_until(lambda: draining_markers(tmp_path), 10, what="the draining marker")
        assert proc.poll() is None, lines.rest()
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM, lines.rest()
    assert not draining_markers(tmp_path)
    own = [json.loads(line) for line in lines.rest().splitlines() if line.startswith("{")]
    assert own and own[0]["level"] == "info" and "PROD_ENTRY_SHUTDOWN_DELAY=600s" in own[0]["message"], own


def test_an_unwritable_state_dir_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = base_env(PROD_ENTRY_SHUTDOWN_DELAY="0.1", PROD_ENTRY_STATE_DIR=str(blocker / "state"))
    with spawn_pid1([PY, "-c", SLEEPER], env) as (proc, pid1, lines):
        lines.until("ready")
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM, lines.rest()
    assert "warning: cannot write the draining marker" in lines.rest(), lines.rest()


def test_healthcheck_is_never_supervised_outside_pid1(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.write_text("")
    env = base_env(PROD_ENTRY_INIT="always", PROD_ENTRY_LOG_LEVEL="debug", PROD_ENTRY_STATE_DIR=str(tmp_path))
    proc = run(["healthcheck", "--file", str(heartbeat), "--max-age", "60"], env)
    assert proc.returncode == 0, describe(proc)
    assert "supervising" not in proc.stderr, describe(proc)


def test_two_supervisors_on_one_state_directory_keep_their_own_draining_marker(tmp_path: Path) -> None:
    """Two containers sharing the host's /tmp (two replicas, or a web and a worker): one's start or stop must
    not clear the other's marker, or its probe reports ready in the middle of its shutdown delay."""
    beat = tmp_path / "beat"
    beat.touch()
    env = base_env(PROD_ENTRY_STATE_DIR=str(tmp_path), PROD_ENTRY_SHUTDOWN_DELAY="600")
    probe = ["healthcheck", "command", "--file", str(beat), "--max-age", "600"]
    with spawn_pid1(SLEEPING, env) as (first, first_pid1, _):
        assert run_inside(first_pid1, probe, env).returncode == 0
        os.kill(first_pid1, signal.SIGTERM)
        wait_until(lambda: "not ready: draining" in run_inside(first_pid1, probe, env).stderr, 10,
                   what="the first supervisor's draining marker")
        with spawn_pid1(SLEEPING, env) as (second, second_pid1, _):
            wait_until(lambda: psutil.Process(second_pid1).children(), 10, what="the second one's child")
            assert run_inside(second_pid1, probe, env).returncode == 0, "the first one's marker is the second's"
            os.kill(second_pid1, signal.SIGTERM)
            wait_until(lambda: "not ready: draining" in run_inside(second_pid1, probe, env).stderr, 10,
                       what="the second supervisor's draining marker")
            os.kill(second_pid1, signal.SIGTERM)  # through its delay, and gone: its marker with it
            assert second.wait(30) == 128 + signal.SIGTERM
        still = run_inside(first_pid1, probe, env)
        assert still.returncode == 1 and "not ready: draining" in still.stderr, describe(still)
        os.kill(first_pid1, signal.SIGTERM)
        assert first.wait(30) == 128 + signal.SIGTERM
