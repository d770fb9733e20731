"""Warmup before exec, on the example app with real gunicorn/uvicorn/Django processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import psutil
import pytest

import support
from support import (EXAMPLE, PROD_ENTRY, base_env, describe, example_env, free_port, one_error_line, run,
                     spawn, wait_http, wait_until)


def web_env(**extra: str) -> dict[str, str]:
    return example_env(PORT=str(free_port()), **extra)


def test_healthy_warmup_then_the_server_starts() -> None:
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/healthz", PROD_ENTRY_WARMUP_URLS="/,/whoami")
    with spawn(["web"], env, EXAMPLE) as proc:
        status, _ = wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        assert status == 200
        output = printed(proc)
    assert "warmup passed" in output and "3 request(s)" in output, output


def test_a_view_that_raises_exits_3_with_the_exception() -> None:
    proc = run(["web"], web_env(PROD_ENTRY_HEALTHCHECK_URL="/boom"), EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert "GET /boom" in proc.stderr and "answered 500" in proc.stderr, describe(proc)
    assert "RuntimeError: the example app's /boom view always fails" in proc.stderr, describe(proc)
    assert "Listening at" not in proc.stderr, describe(proc)
    one_error_line(proc)


def test_the_traceback_only_when_asked() -> None:
    proc = run(["--traceback", "web"], web_env(PROD_ENTRY_HEALTHCHECK_URL="/boom"), EXAMPLE)
    assert proc.returncode == 3 and "Traceback" in proc.stderr, describe(proc)
    assert "the app's output during warmup" in proc.stderr, describe(proc)


def test_not_found_exits_3() -> None:
    proc = run(["web"], web_env(PROD_ENTRY_HEALTHCHECK_URL="/missing"), EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert "GET /missing" in proc.stderr and "answered 404, expected 200" in proc.stderr, describe(proc)
    assert "Not Found" in proc.stderr, describe(proc)


def test_a_5xx_among_warmup_urls_fails_and_statuses_accept_ranges() -> None:
    env = web_env(PROD_ENTRY_WARMUP_URLS="/boom")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 3 and "GET /boom" in proc.stderr, describe(proc)
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/missing", PROD_ENTRY_PROCESS_WEB_HEALTHCHECK_STATUS="200,400-404")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0, describe(proc)


def test_a_slow_view_beyond_the_timeout_exits_3_in_time() -> None:
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/slow/60", PROD_ENTRY_WARMUP_TIMEOUT="2")
    # The view sleeps 60 s; the subprocess timeout bounds the exit to the warmup timeout plus start-up slack.
    proc = run(["web"], env, EXAMPLE, timeout=2 + 4)
    assert proc.returncode == 3, describe(proc)
    assert "timed out after 2s while GET /slow/60" in proc.stderr, describe(proc)
    assert "PROD_ENTRY_WARMUP_TIMEOUT" in proc.stderr, describe(proc)


def test_import_error_and_system_check_error_exit_3() -> None:
    proc = run(["check"], web_env(PROD_ENTRY_PROCESS_WEB_APP="example.nowhere:application"), EXAMPLE)
    assert proc.returncode == 3 and "importing example.nowhere" in proc.stderr, describe(proc)
    assert "ModuleNotFoundError" in proc.stderr, describe(proc)
    proc = run(["check"], web_env(EXAMPLE_CHECK_ERROR="1"), EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert "Django system check failed" in proc.stderr and "example.E002" in proc.stderr, describe(proc)


def test_a_middleware_wrapped_wsgi_app_warms_up() -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB_APP="example.wrapped:application", PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                  PROD_ENTRY_WARMUP_URLS="/static/app.css")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0 and "2 request(s)" in proc.stderr, describe(proc)


def test_a_wsgi_app_without_django() -> None:
    env = base_env(PORT=str(free_port()), PROD_ENTRY_PROCESS_WEB="gunicorn",
                   PROD_ENTRY_PROCESS_WEB_APP="example.plain:application", PROD_ENTRY_WARMUP_HOST="app.example.org",
                   PROD_ENTRY_HEALTHCHECK_URL="/ping")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0 and "Host app.example.org" in proc.stderr, describe(proc)


def test_host_derived_from_allowed_hosts() -> None:
    env = web_env(DJANGO_ALLOWED_HOSTS=".example.com,other", PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0 and "Host example.com" in proc.stderr, describe(proc)


def test_https_when_the_app_redirects_to_it() -> None:
    env = web_env(DJANGO_SECURE_SSL_REDIRECT="1", PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0 and "https" in proc.stderr, describe(proc)


# One worker: the warmup itself runs in uvicorn's process, in its lifespan startup; several: each replays it.
@pytest.mark.parametrize("app, args, done", [
    ("example.lifespan:application", "[]", "warmup passed in"),
    ("example.lifespan:create", '["--factory"]', "warmup passed in"),
    ("example.lifespan:application", '["--workers", "2"]', "warmed up"),
])
def test_asgi_app_with_lifespan_under_uvicorn(app: str, args: str, done: str) -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_PROCESS_WEB_APP=app, PROD_ENTRY_PROCESS_WEB_ARGS=args,
                  PROD_ENTRY_HEALTHCHECK_URL="/lifespan", PROD_ENTRY_WARMUP_URLS="/healthz")
    with spawn(["web"], env, EXAMPLE) as proc:
        status, body = wait_http(f"http://127.0.0.1:{env['PORT']}/lifespan", proc=proc)
        assert (status, body) == (200, "started\n")
        # The warmup's /lifespan ran after the app's own lifespan startup, in the server's process, and saw its
        # state (else: exit 3, or a worker's 503 warning).
        wait_until(lambda: done in printed(proc), 10, what=f"{done!r} in the output")
        assert "warmup passed" in printed(proc) and "warmup GET" not in printed(proc), printed(proc)


def test_asgi_lifespan_startup_failure_exits_3() -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_PROCESS_WEB_APP="example.lifespan:application",
                  EXAMPLE_LIFESPAN_FAIL="1")
    proc = run(["web"], env, EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert "lifespan startup failed: EXAMPLE_LIFESPAN_FAIL is set" in proc.stderr, describe(proc)


STARLETTE_APP = """
import contextlib

from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def lifespan(app):
    raise RuntimeError("cannot reach the cache at redis://cache:6379")
    yield


app = Starlette(lifespan=lifespan)
"""


# `check` warms up in a child of prod-entry; the start, in uvicorn's process, in its lifespan startup.
@pytest.mark.parametrize("command", [["check", "web"], ["web"]])
def test_a_starlette_lifespan_that_raises_names_the_error_not_the_traceback_header(tmp_path: Path,
                                                                                   command: list[str]) -> None:
    # Starlette answers lifespan.startup.failed with the whole traceback as the message.
    (tmp_path / "app.py").write_text(STARLETTE_APP)
    env = base_env(PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_PROCESS_WEB_APP="app:app", PORT=str(free_port()))
    proc = run(command, env, tmp_path)
    assert proc.returncode == 3, describe(proc)
    assert proc.stderr.strip().splitlines() == [
        "prod-entry: error: warmup: app:app: ASGI lifespan startup failed: "
        "RuntimeError: cannot reach the cache at redis://cache:6379"], describe(proc)
    proc = run(["--traceback", *command], env, tmp_path)
    assert proc.returncode == 3, describe(proc)
    # The app's own traceback, with the frame that raised, only when asked for.
    assert 'app.py", line 9, in lifespan' in proc.stderr and "Traceback (most recent" in proc.stderr, describe(proc)


# gunicorn with an ASGI worker class (uvicorn's, gunicorn's own asgi) serves ASGI_APPLICATION, and the warmup
# calls it as ASGI, with its lifespan (it was called as WSGI: every such start exited 3 with a TypeError).
@pytest.mark.parametrize("worker_class", ["uvicorn.workers.UvicornWorker", "asgi"])
def test_gunicorn_with_an_asgi_worker_class_warms_the_asgi_app(worker_class: str) -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB="gunicorn", PROD_ENTRY_PROCESS_WEB_ARGS=f"-k {worker_class}",
                  PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    show = run(["show", "web"], env, EXAMPLE)
    assert "example.asgi:application" in show.stdout and "ASGI_APPLICATION" in show.stdout, describe(show)
    with spawn(["web"], env, EXAMPLE) as proc:
        assert wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc) == (200, "ok\n")
        assert "warmup passed" in printed(proc), printed(proc)
    # The lifespan ran before the warmup's request; one that fails is the start's one line, exit 3.
    env = web_env(PROD_ENTRY_PROCESS_WEB="gunicorn", PROD_ENTRY_PROCESS_WEB_ARGS=f"-k {worker_class}",
                  PROD_ENTRY_PROCESS_WEB_APP="example.lifespan:application", PROD_ENTRY_HEALTHCHECK_URL="/lifespan")
    check = run(["check", "web"], env, EXAMPLE)
    assert check.returncode == 0, describe(check)
    failing = run(["web"], {**env, "EXAMPLE_LIFESPAN_FAIL": "1"}, EXAMPLE)
    assert failing.returncode == 3, describe(failing)
    assert "lifespan startup failed: EXAMPLE_LIFESPAN_FAIL is set" in one_error_line(failing), describe(failing)
    assert "Listening at" not in failing.stderr, describe(failing)


def test_django_asgi_app_without_lifespan() -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    proc = run(["check"], env, EXAMPLE)
    assert proc.returncode == 0, describe(proc)


def test_warmup_off() -> None:
    proc = run(["check"], web_env(PROD_ENTRY_WARMUP="0", PROD_ENTRY_HEALTHCHECK_URL="/boom"), EXAMPLE)
    assert proc.returncode == 0 and "warmup" not in proc.stderr, describe(proc)


def test_check_reports_configuration_errors_with_2() -> None:
    proc = run(["check"], web_env(PROD_ENTRY_HEALTHCHECK_STATUS="fine"), EXAMPLE)
    assert proc.returncode == 2 and "PROD_ENTRY_HEALTHCHECK_STATUS" in proc.stderr, describe(proc)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is not installed")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_term_during_a_long_warmup_as_pid_1_exits_promptly(sig: signal.Signals, tmp_path: Path) -> None:
    marker = tmp_path / "slow-view-running"
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/slow/120", PROD_ENTRY_WARMUP_TIMEOUT="300",
                  EXAMPLE_SLOW_MARKER=str(marker))
    with spawn(["--pid", "--fork", "--mount-proc", PROD_ENTRY, "web"], env, EXAMPLE,
               program=shutil.which("unshare")) as proc:
        wait_until(marker.exists, 30, what="the warmup to reach the slow view")
        pid_1 = psutil.Process(proc.pid).children()[0]  # what `docker stop` signals
        pid_1.send_signal(sig)
        # Ignored TERM (a PID 1 without a handler) would leave it running for the full 120 s.
        code = proc.wait(timeout=10)
        assert code == 128 + sig, f"exit {code}\n{printed(proc)}"
        assert f"stopped by {sig.name} during warmup" in printed(proc), printed(proc)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_gunicorn_workers_answer_their_first_request_warm(worker_class: str) -> None:
    # Both replayed through the worker's own handle(), over loopback TCP (gthread: on its thread pool).
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/healthz", GUNICORN_CMD_ARGS=f"--worker-class={worker_class}")
    served = first_requests(env, 2)
    assert served and all(before >= 1 for before in served.values()), served


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_each_workers_replay_goes_through_gunicorns_own_request_path_over_tcp(worker_class: str) -> None:
    # gunicorn's access log is written by its request path, not by the app: a replay in memory leaves no line.
    # The peer port is a real TCP connection's (a socketpair's replay had none: 0); the plan's headers are sent.
    log_format = "%(p)s %(a)s %({remote_port}e)s %({x-probe}i)s"
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/healthz", PROD_ENTRY_WARMUP_HEADERS="X-Probe: 1",
                  GUNICORN_CMD_ARGS=f"--worker-class={worker_class} --access-logfile=- --access-logformat='{log_format}'")
    with spawn(["web", "--workers", "2"], env, EXAMPLE) as proc:
        reader = support.Reader(proc)
        wait_until(lambda: reader.text.count("warmed up") == 2 or proc.poll() is not None, 30,
                   what=f"both workers to warm up:\n{reader.text}")
        workers = {child.pid for child in psutil.Process(proc.pid).children()}
    replayed = {line.split()[0].strip("<>"): line.split()[2:] for line in reader.finish().splitlines()
                if " prod-entry-warmup " in line}
    assert len(workers) == 2 and {str(pid) for pid in workers} == set(replayed), reader.text
    assert all(port.isdigit() and port != "0" and probe == "1" for port, probe in replayed.values()), reader.text
    assert "warning" not in reader.text.lower(), reader.text


def test_uvicorn_workers_answer_their_first_request_warm() -> None:
    # uvicorn has no hooks: prod-entry serves the app through a wrapper that replays during lifespan startup.
    env = web_env(PROD_ENTRY_PROCESS_WEB="uvicorn", PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    served = first_requests(env, 2)
    assert served and all(before >= 1 for before in served.values()), served


# gunicorn's worker forks from the master, where the warmup ran: it inherits what the warmup's one request
# left (the example's request count, Django's URL caches), without a request of its own. uvicorn's one process
# ran the warmup itself; its workers (several) are spawned processes that load the app anew.
@pytest.mark.parametrize("backend, workers, inherited", [("gunicorn", 1, 1), ("uvicorn", 1, 1), ("uvicorn", 2, 0)])
def test_without_the_worker_warmup_the_worker_serves_no_request_first(backend: str, workers: int,
                                                                      inherited: int) -> None:
    env = web_env(PROD_ENTRY_PROCESS_WEB=backend, PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                  PROD_ENTRY_WARMUP_WORKERS="0")
    served = first_requests(env, workers)
    assert list(served.values()) == [inherited] * workers, served


@pytest.mark.parametrize("where", ["args", "GUNICORN_CMD_ARGS", "gunicorn.conf.py"])
def test_the_hook_keeps_the_users_gunicorn_config_and_hooks(where: str, tmp_path: Path) -> None:
    marker = tmp_path / "their-hook-ran"
    config = textwrap.dedent(f"""
        workers = 2
        def post_worker_init(worker):
            with open({str(marker)!r}, "a") as f:
                f.write(f"{{worker.pid}}\\n")
    """)
    cwd = EXAMPLE
    env = web_env(PROD_ENTRY_HEALTHCHECK_URL="/healthz")
    if where == "gunicorn.conf.py":
        # gunicorn's default config file is read from the working directory: use a copy of the example.
        cwd = tmp_path / "app"
        shutil.copytree(EXAMPLE, cwd, ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__"))
        (cwd / "gunicorn.conf.py").write_text(config)
    else:
        path = tmp_path / "theirs.py"
        path.write_text(config)
        if where == "args":
            env["PROD_ENTRY_PROCESS_WEB_ARGS"] = json.dumps({"config": str(path)})
        else:
            env["GUNICORN_CMD_ARGS"] = f"--config {path}"
    with spawn(["web"], env, cwd) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", proc=proc)
        wait_until(lambda: marker.exists() and len(marker.read_text().split()) == 2, 20,
                   what="their post_worker_init in both workers")
        wait_until(lambda: len(warmed_pids(proc)) == 2, 20, what="two 'warmed up' lines")
    pids = marker.read_text().split()
    assert sorted(pids) == sorted(warmed_pids(proc)), printed(proc)


# --- helpers ----------------------------------------------------------------------------------------------

_outputs: dict[int, str] = {}


def printed(proc: subprocess.Popen) -> str:
    """Everything a spawned process printed so far, without blocking (spawn closes its pipe on exit, so read
    inside the `with`)."""
    import select

    text = _outputs.get(proc.pid, "")
    if proc.stdout and not proc.stdout.closed:
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text += chunk.decode(errors="replace")
    _outputs[proc.pid] = text
    return text


def warmed_pids(proc: subprocess.Popen) -> list[str]:
    """Worker pids from the hook's 'prod-entry: worker PID warmed up' lines."""
    return [line.split("worker ")[1].split()[0] for line in printed(proc).splitlines() if "warmed up" in line]


def first_requests(env: dict[str, str], workers: int) -> dict[int, int]:
    """pid -> requests that worker had served before its first real one (support.first_requests)."""
    with spawn(["web", "--workers", str(workers)], env, EXAMPLE) as proc:
        # Ready: a 404 goes through no view, so it leaves the workers' counters alone.
        wait_http(f"http://127.0.0.1:{env['PORT']}/nothing-here", proc=proc)
        return support.first_requests(f"http://127.0.0.1:{env['PORT']}", workers, 40)


def test_a_missing_gunicorn_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    env = web_env(GUNICORN_CMD_ARGS=f"--config {tmp_path / 'nowhere.py'}")
    proc = run(["web"], env, EXAMPLE)
    assert proc.returncode == 2 and "nowhere.py" in proc.stderr and "does not exist" in proc.stderr, describe(proc)
