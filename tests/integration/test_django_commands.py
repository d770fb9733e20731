"""django-prodserver users switch by changing only the entrypoint: PRODUCTION_PROCESSES read from settings,
`python manage.py server|worker NAME` on prod-entry's exec path, environment definitions winning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from entrypoint.manager import ManagedProcess
from support import EXAMPLE, PROD_ENTRY, base_env, cmdline, describe, free_port, http_get, run, wait_until

SETTINGS = "example.settings_prodserver"


def prodserver_env(**extra: str) -> dict[str, str]:
    return base_env(DJANGO_SETTINGS_MODULE=SETTINGS, **extra)


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env or prodserver_env(),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_manage_py_server_web_serves_the_example_app_in_the_same_process() -> None:
    port = free_port()
    # The settings bind 127.0.0.1:8000; the environment's ARGS replace the settings' ARGS for `web`.
    env = prodserver_env(PROD_ENTRY_PROCESS_WEB_ARGS=json.dumps({"bind": f"127.0.0.1:{port}", "workers": 1}))
    with ManagedProcess("web", env=env, cwd=EXAMPLE, port=port, health_path="/healthz",
                        launcher=[sys.executable, "manage.py", "server"]) as server:
        assert http_get(server.url + "/") == (200, "prod-entry example app\n"), server.output()
        # exec'd: the manage.py process *is* the gunicorn master now, with gunicorn's argv only.
        argv = cmdline(server.pid or 0)
        assert "gunicorn" in " ".join(argv[:2]) and "server" not in argv, argv
    assert server.graceful and server.returncode == 0, server.output()


def test_manage_py_worker_refuses_a_server_process_with_the_hint() -> None:
    proc = manage("worker", "web")
    assert proc.returncode == 2, describe(proc)
    assert "process 'web' (backend gunicorn) is not a worker process: run `python manage.py server web` instead" \
        in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


def test_manage_py_server_refuses_a_worker_process_with_the_hint() -> None:
    proc = manage("server", "worker")
    assert proc.returncode == 2, describe(proc)
    assert "run `python manage.py worker worker` instead" in proc.stderr, describe(proc)


def test_manage_py_server_refuses_an_unknown_name() -> None:
    proc = manage("server", "nope")
    assert proc.returncode == 2, describe(proc)
    assert "no process named 'nope'" in proc.stderr and "web, asgi, wsgi_uvicorn" in proc.stderr, describe(proc)


def test_list_shows_each_commands_own_kind() -> None:
    servers, workers = manage("server", "--list"), manage("worker", "--list")
    assert servers.returncode == 0 and workers.returncode == 0, describe(servers) + describe(workers)
    assert [line.split()[0] for line in servers.stdout.splitlines()] == ["web", "asgi", "wsgi_uvicorn"]
    assert [line.split()[0] for line in workers.stdout.splitlines()] == ["worker", "beat", "tasks"]
    assert "settings PRODUCTION_PROCESSES['worker']" in workers.stdout


def test_prod_entry_list_and_show_read_production_processes() -> None:
    listed = run(["list"], prodserver_env(), cwd=EXAMPLE)
    assert listed.returncode == 0, describe(listed)
    assert "worker        celery-worker  settings PRODUCTION_PROCESSES['worker']" in listed.stdout, describe(listed)
    shown = run(["show", "worker"], prodserver_env(), cwd=EXAMPLE)
    assert "app:     example.celery:app  (settings PRODUCTION_PROCESSES['worker']['APP'])" in shown.stdout, \
        describe(shown)
    assert "--app=entrypoint.backends.celery:app" in shown.stdout, describe(shown)  # the heartbeat's wrapper


def test_environment_definitions_win_over_settings() -> None:
    shown = run(["show", "worker"], prodserver_env(PROD_ENTRY_PROCESS_WORKER="rq"), cwd=EXAMPLE)
    assert shown.returncode == 0, describe(shown)
    assert "backend: rq  (env PROD_ENTRY_PROCESS_WORKER)" in shown.stdout, describe(shown)


def test_environment_args_replace_the_settings_args_only() -> None:
    shown = run(["show", "wsgi_uvicorn"], prodserver_env(PROD_ENTRY_PROCESS_WSGI_UVICORN_ARGS='{"port": 9100}'),
                cwd=EXAMPLE)
    assert shown.returncode == 0, describe(shown)
    assert "backend: uvicorn  (settings PRODUCTION_PROCESSES['wsgi_uvicorn'])" in shown.stdout, describe(shown)
    words = [line.split()[0] for line in shown.stdout.split("argv:\n")[1].splitlines()]
    assert words[1:] == ["--host=0.0.0.0", "--interface=wsgi", "--port=9100", "example.wsgi:application"], words


def test_unknown_backend_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "badsettings.py").write_text(
        "PRODUCTION_PROCESSES = {'web': {'BACKEND': 'myproject.servers.FancyServer'}}\n")
    proc = run(["web"], base_env(DJANGO_SETTINGS_MODULE="badsettings"), cwd=tmp_path)
    assert proc.returncode == 2, describe(proc)
    assert "PRODUCTION_PROCESSES['web']['BACKEND'] = 'myproject.servers.FancyServer' is not a django-prodserver " \
        "built-in backend" in proc.stderr, describe(proc)
    assert "Traceback" not in proc.stderr


def test_prod_entry_web_runs_the_settings_web_process() -> None:
    """The same definition through the console script: what a Dockerfile's ENTRYPOINT runs."""
    port = free_port()
    env = prodserver_env(PROD_ENTRY_PROCESS_WEB_ARGS=f"--bind 127.0.0.1:{port} --workers 1")
    with ManagedProcess("web", env=env, cwd=EXAMPLE, port=port, launcher=[PROD_ENTRY]) as server:
        assert server.health()
        assert cmdline(server.pid or 0)[1].endswith("gunicorn"), cmdline(server.pid or 0)


def test_manage_py_server_without_a_name_runs_the_default_process() -> None:
    port = free_port()
    env = prodserver_env(PROD_ENTRY_DEFAULT_PROCESS="wsgi_uvicorn",
                         PROD_ENTRY_PROCESS_WSGI_UVICORN_ARGS=json.dumps({"host": "127.0.0.1", "port": port}))
    # `manage.py server` with no NAME: the manager hands "server" to `python manage.py`.
    with ManagedProcess("server", env=env, cwd=EXAMPLE, port=port, health_path="/healthz",
                        launcher=[sys.executable, "manage.py"]) as server:
        assert "--interface=wsgi" in cmdline(server.pid or 0), cmdline(server.pid or 0)


def test_manage_py_worker_without_a_name_runs_the_first_worker(redis_url: str) -> None:
    """The settings' CeleryWorker, through `manage.py worker`, consuming from a real redis."""
    env = prodserver_env(CELERY_BROKER_URL=redis_url)
    with ManagedProcess("worker", env=env, cwd=EXAMPLE, port=None, health_path=None, grace=30,
                        launcher=[sys.executable, "manage.py"]) as worker:
        wait_until(lambda: " ready." in worker.output() or not worker.running(), 60, what="celery to be ready")
        assert worker.running(), worker.output()
        argv = cmdline(worker.pid or 0)
        assert "--app=entrypoint.backends.celery:app" in argv and "--pool=solo" in argv, argv
        with open(f"/proc/{worker.pid}/environ", "rb") as f:  # what the wrapper serves
            assert b"PROD_ENTRY_CELERY_APP=example.celery:app\0" in f.read()
    assert worker.returncode == 0 and worker.graceful, worker.output()  # celery's warm shutdown on TERM
