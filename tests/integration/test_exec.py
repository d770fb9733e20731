"""The exec path with real programs: gunicorn, uvicorn, celery, sh. prod-entry must replace itself (same
PID), append extra words, fail with 126/127 and one clear line, and reset the signal state Python changed."""

from __future__ import annotations

import json
import signal

import pytest
from support import (EXAMPLE, PROD_ENTRY, Reader, base_env, cmdline, describe, example_env, http_get, proc_status, run,
                     spawn, wait_until)

from entrypoint.manager import ManagedProcess


def test_sh_prints_prod_entrys_own_pid():
    import subprocess

    proc = subprocess.Popen([PROD_ENTRY, "sh", "-c", "echo $$"], env=base_env(), stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    # The shell's PID is the one the test started: prod-entry exec'd, it did not spawn a child.
    assert out == f"{proc.pid}\n"


def test_exec_keeps_the_pid(tmp_path):
    with spawn(["sh", "-c", "echo $$ > pid; exec sleep 30"], cwd=tmp_path) as proc:
        pid_file = tmp_path / "pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the shell to write its pid")
        assert int(pid_file.read_text()) == proc.pid
        wait_until(lambda: cmdline(proc.pid)[:1] == ["sleep"], what="sleep to replace the shell")


def test_extra_words_are_appended():
    env = base_env(PROD_ENTRY_PROCESS_HELLO="command", PROD_ENTRY_PROCESS_HELLO_ARGS='["echo", "a b"]')
    proc = run(["hello", "c", "--d"], env)
    assert (proc.returncode, proc.stdout) == (0, "a b c --d\n"), describe(proc)


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_the_programs_exit_status_is_returned(code):
    proc = run(["sh", "-c", f"exit {code}"])
    assert proc.returncode == code, describe(proc)


def test_not_found_is_127_with_the_defined_names():
    proc = run(["wbe"], example_env(), cwd=EXAMPLE)
    assert proc.returncode == 127, describe(proc)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, describe(proc)
    assert "'wbe' is neither a defined process nor a command on PATH" in proc.stderr
    assert "command, manage, web" in proc.stderr and "did you mean 'web'?" in proc.stderr


def test_command_not_found_is_127():
    proc = run(["command", "no-such-program-xyz"])
    assert proc.returncode == 127 and "no-such-program-xyz: command not found" in proc.stderr, describe(proc)


@pytest.mark.parametrize(("mode", "content", "reason"), [
    (0o644, "#!/bin/sh\necho hi\n", "permission denied"),
    (0o755, "\x7fELF-not-really", "cannot execute"),
])
def test_not_executable_is_126(tmp_path, mode, content, reason):
    path = tmp_path / "prog"
    path.write_text(content)
    path.chmod(mode)
    proc = run([str(path)])
    assert proc.returncode == 126 and reason in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


def test_sigpipe_is_default_after_exec():
    # Python ignores SIGPIPE; the program prod-entry execs must not inherit that.
    # grep reads its own status: it is what prod-entry exec'd (a shell would block signals while it waits).
    proc = run(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"])
    assert proc.returncode == 0, describe(proc)
    fields = dict(line.split(":\t") for line in proc.stdout.splitlines())
    ignored, blocked = int(fields["SigIgn"], 16), int(fields["SigBlk"], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), describe(proc)
    assert not ignored & (1 << (signal.SIGXFSZ - 1)), describe(proc)
    assert blocked == 0, describe(proc)


def test_sigpipe_kills_the_program_like_a_shell_would():
    # `yes | head -1`: with SIGPIPE ignored, yes would complain "Broken pipe" instead of dying quietly.
    proc = run(["sh", "-c", "prod-entry command yes | head -1"])
    assert proc.returncode == 0 and proc.stdout == "y\n", describe(proc)
    assert "Broken pipe" not in proc.stderr, describe(proc)


def test_gunicorn_replaces_prod_entry_and_serves():
    with ManagedProcess("web", env=example_env(), cwd=EXAMPLE, health_path="/healthz", launcher=[PROD_ENTRY]) as web:
        assert http_get(web.url + "/healthz") == (200, "ok\n")
        # The PID that ran prod-entry is now gunicorn's master: exec, not a child.
        words = cmdline(web.pid)
        assert any(w.endswith("gunicorn") for w in words[:2]) and "example.wsgi:application" in words, words
        status, body = http_get(web.url + "/whoami")
        assert status == 200 and int(proc_status(json.loads(body)["pid"])["PPid"]) == web.pid, body


def test_uvicorn_replaces_prod_entry_and_serves():
    env = example_env(PROD_ENTRY_PROCESS_WEB="uvicorn")
    with ManagedProcess("web", ["--log-level", "warning"], env=env, cwd=EXAMPLE, health_path="/healthz",
                        launcher=[PROD_ENTRY]) as web:
        assert http_get(web.url + "/healthz") == (200, "ok\n")
        words = cmdline(web.pid)
        # With worker warmup on, uvicorn serves prod-entry's wrapper around the real app (named in its env).
        assert any(w.endswith("uvicorn") for w in words[:2]) and "entrypoint.warmup.asgi:app" in words, words
        with open(f"/proc/{web.pid}/environ", "rb") as f:
            assert b"PROD_ENTRY_WRAPPED_APP=example.asgi:application" in f.read().split(b"\0")
        assert words[-2:] == ["--log-level", "warning"], words


def test_celery_worker_starts_and_consumes(redis_url):
    env = example_env(CELERY_BROKER_URL=redis_url, PROD_ENTRY_PROCESS_WORKER="celery-worker",
                      PROD_ENTRY_PROCESS_WORKER_ARGS='{"pool": "solo", "without-mingle": true, "without-gossip": true}')
    with spawn(["worker"], env, cwd=EXAMPLE) as proc:
        output = Reader(proc)
        output.wait_for("ready.")
        assert any(w.endswith("celery") for w in cmdline(proc.pid)[:2]), cmdline(proc.pid)
        sent = run(["command", "python", "-c", "from example.tasks import add; add.delay(2, 3)"], env, cwd=EXAMPLE)
        assert sent.returncode == 0, describe(sent)
        output.wait_for("succeeded in")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, output.finish()
        assert "example.tasks.add" in output.text and ": 5" in output.text, output.text


def test_show_masks_secrets_and_names_origins(tmp_path):
    secret = "canary-S3cr3t-value"
    (tmp_path / ".env").write_text(f"PROD_ENTRY_PROCESS_WEB_ARGS='--workers 2'\nAPI_TOKEN={secret}\n")
    env = example_env(DJANGO_SECRET_KEY=secret, PROD_ENTRY_ENV_FILE=str(tmp_path / ".env"),
                      DATABASE_URL=f"postgres://app:{secret}@db/app", PROD_ENTRY_PROCESS_WORKER="rq",
                      REDIS_URL=f"redis://:{secret}@redis:6379/0")
    for args in (["show"], ["show", "web"], ["show", "worker"], ["list"], ["show", "nope"], ["nope"],
                 ["show", "command", f"--token={secret}"]):
        proc = run(args, env, cwd=EXAMPLE)
        assert secret not in proc.stdout + proc.stderr, describe(proc)
    proc = run(["show", "web"], env, cwd=EXAMPLE)
    assert proc.returncode == 0, describe(proc)
    lines = proc.stdout.splitlines()
    assert any("--bind=0.0.0.0:8000" in line and "default" in line for line in lines), proc.stdout
    assert any(line.split()[:1] == ["--workers"] and ".env PROD_ENTRY_PROCESS_WEB_ARGS" in line for line in lines)
    assert any("example.wsgi:application" in line and "WSGI_APPLICATION" in line for line in lines)
    proc = run(["show", "worker"], env, cwd=EXAMPLE)
    assert "--url=redis://:****@redis:6379/0" in proc.stdout, describe(proc)


def test_list(tmp_path):
    env = example_env(PROD_ENTRY_PROCESS_WORKER="celery-worker")
    proc = run(["list"], env, cwd=EXAMPLE)
    assert proc.returncode == 0, describe(proc)
    rows = [line.split(None, 2) for line in proc.stdout.splitlines()]
    assert ["worker", "celery-worker", "env PROD_ENTRY_PROCESS_WORKER"] in rows
    assert ["web", "gunicorn", "built-in"] in rows


def test_config_error_is_one_line_exit_2():
    env = base_env(PROD_ENTRY_PROCESS_WEB="gunicorn", PROD_ENTRY_PROCESS_WEB_ARGS="{broken")
    for args in ([], ["web"], ["list"], ["show", "web"]):
        proc = run(args, env)
        assert proc.returncode == 2, describe(proc)
        assert proc.stderr.startswith("prod-entry: error: PROD_ENTRY_PROCESS_WEB_ARGS is not valid JSON")
        assert proc.stderr.count("\n") == 1 and proc.stdout == "", describe(proc)


def test_debug_shows_the_traceback():
    env = base_env(PROD_ENTRY_PROCESS_WEB="gunicron", PROD_ENTRY_DEBUG="1")
    proc = run(["web"], env)
    assert proc.returncode == 2 and "Traceback" in proc.stderr, describe(proc)
    proc = run(["--traceback", "web"], base_env(PROD_ENTRY_PROCESS_WEB="gunicron"))
    assert proc.returncode == 2 and "Traceback" in proc.stderr, describe(proc)
    proc = run(["web"], base_env(PROD_ENTRY_PROCESS_WEB="gunicron", PROD_ENTRY_DEBUG="false"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, describe(proc)


def test_json_logs():
    env = base_env(PROD_ENTRY_LOG_FORMAT="json", PROD_ENTRY_PROCESS_WEB="gunicron")
    proc = run(["web"], env)
    assert proc.returncode == 2, describe(proc)
    record = json.loads(proc.stderr)
    assert set(record) == {"time", "level", "logger", "message", "process", "pid"}
    assert record["level"] == "error" and record["process"] == "web" and "gunicron" in record["message"]
    assert record["logger"] == "prod-entry" and isinstance(record["pid"], int)


def test_bad_log_settings():
    proc = run(["command", "true"], base_env(PROD_ENTRY_LOG_FORMAT="xml"))
    assert proc.returncode == 2 and "PROD_ENTRY_LOG_FORMAT='xml'" in proc.stderr, describe(proc)


def test_no_web_without_django():
    proc = run([], base_env())
    assert proc.returncode == 2 and "DJANGO_SETTINGS_MODULE" in proc.stderr, describe(proc)


def test_python_dash_m_and_version_and_help():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "entrypoint", "command", "echo", "via -m"], capture_output=True,
                          text=True, env=base_env())
    assert proc.stdout == "via -m\n", describe(proc)
    proc = run(["--version"])
    assert proc.returncode == 0 and "0.1.0" in proc.stdout, describe(proc)
    proc = run(["--help"])
    assert proc.returncode == 0 and "PROD_ENTRY_PROCESS_<NAME>_ARGS" in proc.stdout, describe(proc)


def test_env_file_reaches_the_program(tmp_path):
    (tmp_path / ".env").write_text("GREETING=from-dotenv\nOVERRIDDEN=dotenv\n")
    proc = run(["sh", "-c", 'echo "$GREETING $OVERRIDDEN"'], base_env(OVERRIDDEN="real"), cwd=tmp_path)
    assert proc.stdout == "from-dotenv real\n", describe(proc)


def test_bad_env_file_names_the_line(tmp_path):
    (tmp_path / ".env").write_text("GOOD=1\nnot a valid line\n")
    proc = run(["command", "true"], base_env(), cwd=tmp_path)
    assert proc.returncode == 2 and ".env line 2" in proc.stderr, describe(proc)
