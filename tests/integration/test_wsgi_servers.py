"""waitress and uWSGI serving the example Django app through `prod-entry web`, as PID 1 of a real PID
namespace: 200 on /healthz, `prod-entry healthcheck`, TERM with requests in flight (none lost, exit 0), a
broken app refused before the server binds (exit 3, one line), and warm workers against a cold control.
Then the django-q2 and Flower workers: a task consumed through the ORM broker, Flower's UI and healthcheck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pid1_support import spawn_pid1
import support
from support import EXAMPLE, describe, example_env, free_port, http_get, run, spawn, wait_http, wait_until

IN_FLIGHT = 12
# One process with more threads than requests, so every slow request is inside the view at once and
# /inflight (a per-process count) sees them all.
SERVERS = {
    "waitress": [f"--threads={IN_FLIGHT + 4}"],
    "uwsgi": ["--processes=1", f"--threads={IN_FLIGHT + 4}"],
}
# What each server prints once it has bound: must never appear when the warmup refused the app.
STARTED = {"waitress": "Serving on", "uwsgi": "bound to TCP address"}


def web_env(backend: str, **extra: str) -> dict[str, str]:
    return example_env(PROD_ENTRY_PROCESS_WEB=backend, PORT=str(free_port()), PROD_ENTRY_HEALTHCHECK_URL="/healthz",
                       **extra)


@pytest.mark.parametrize("backend", SERVERS)
def test_term_as_pid_1_drains_the_requests_in_flight_and_exits_0(backend: str, tmp_path: Path) -> None:
    env = web_env(backend, PROD_ENTRY_STATE_DIR=str(tmp_path / "state"))
    base = f"http://127.0.0.1:{env['PORT']}"
    results: list[tuple[int, str] | None] = []

    def slow_request() -> None:
        results.append(http_get(f"{base}/slow/3", timeout=60))

    with spawn_pid1(["web", *SERVERS[backend]], env, EXAMPLE) as (proc, pid1, lines):
        assert wait_http(f"{base}/healthz", proc=proc) == (200, "ok\n")
        probe = run(["healthcheck"], env, cwd=EXAMPLE)
        assert probe.returncode == 0 and f"GET http://127.0.0.1:{env['PORT']}/healthz answered 200" in probe.stdout, \
            describe(probe)
        clients = [threading.Thread(target=slow_request) for _ in range(IN_FLIGHT)]
        for client in clients:
            client.start()
        wait_until(lambda: http_get(f"{base}/inflight") == (200, f"{IN_FLIGHT}\n"), 30,
                   what=f"{IN_FLIGHT} requests in flight")
        os.kill(pid1, signal.SIGTERM)
        for client in clients:
            client.join(60)
        assert proc.wait(60) == 0, lines.rest()
    statuses = [result[0] if result else None for result in results]
    assert statuses == [200] * IN_FLIGHT, f"{statuses.count(200)} of {IN_FLIGHT} answered 200:\n{lines.rest()}"


@pytest.mark.parametrize("backend", SERVERS)
@pytest.mark.parametrize(("fault", "expected"), [
    ({"PROD_ENTRY_PROCESS_WEB_APP": "example.nowhere:application"}, "importing example.nowhere"),
    ({"PROD_ENTRY_HEALTHCHECK_URL": "/boom"}, "GET /boom (Host localhost) answered 500"),
])
def test_a_broken_app_fails_the_start_with_3_before_the_server_binds(backend: str, fault: dict, expected: str) -> None:
    proc = run(["web"], {**web_env(backend), **fault}, EXAMPLE)
    assert proc.returncode == 3, describe(proc)
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, describe(proc)
    assert STARTED[backend] not in proc.stdout + proc.stderr, describe(proc)


@pytest.mark.parametrize(("backend", "extra", "processes"), [
    ("waitress", [], 1),
    ("uwsgi", ["--processes=2"], 2),  # the app loaded in the master, the replay in each forked worker
    ("uwsgi", ["--processes=2", "--lazy-apps"], 2),  # the app and the hook imported in each worker
])
def test_the_serving_processes_answer_their_first_request_warm(backend: str, extra: list[str], processes: int) -> None:
    served = first_requests(web_env(backend), extra, processes)
    assert served and all(before >= 1 for before in served.values()), served


# The warmup handed over ran in waitress's one process, and in uWSGI's master before the worker forked from it:
# the warmup's own request was counted there, without a replay. With --lazy-apps the worker loads the app itself.
@pytest.mark.parametrize(("backend", "extra", "inherited"), [("waitress", [], 1), ("uwsgi", ["--processes=1"], 1),
                                                             ("uwsgi", ["--processes=1", "--lazy-apps"], 0)])
def test_without_the_worker_warmup_the_worker_serves_no_request_first(backend: str, extra: list[str],
                                                                      inherited: int) -> None:
    served = first_requests(web_env(backend, PROD_ENTRY_WARMUP_WORKERS="0"), extra, 1)
    assert list(served.values()) == [inherited], served


def first_requests(env: dict[str, str], extra: list[str], processes: int) -> dict[int, int]:
    """pid -> requests that process had served before its first /whoami (support.first_requests)."""
    with spawn(["web", *extra], env, EXAMPLE) as proc:
        wait_http(f"http://127.0.0.1:{env['PORT']}/nothing-here", proc=proc)  # a 404 counts nothing
        return support.first_requests(f"http://127.0.0.1:{env['PORT']}", processes, 40)


# --- django-q2 and Flower ----------------------------------------------------------------------------------

ENQUEUE = """
import django
django.setup()
from django_q.tasks import async_task, result
print(result(async_task("operator.add", 2, 3), wait=30000))
"""


def test_django_q2_consumes_a_task_through_the_orm_broker(tmp_path: Path) -> None:
    env = example_env(EXAMPLE_DJANGO_Q="1", DATABASE_URL=f"sqlite:///{tmp_path / 'q.sqlite3'}",
                      PROD_ENTRY_PROCESS_TASKS="django-q2")
    migrate = run(["manage", "migrate", "--noinput"], env, EXAMPLE)
    assert migrate.returncode == 0, describe(migrate)
    with spawn_pid1(["tasks"], env, EXAMPLE) as (proc, pid1, lines):
        enqueued = subprocess.run([sys.executable, "-c", ENQUEUE], env=env, cwd=EXAMPLE, capture_output=True,
                                  text=True, timeout=60)
        assert enqueued.returncode == 0 and enqueued.stdout.strip() == "5", describe(enqueued)
        # TERM: the cluster stops its pusher, lets its workers finish, and exits 0.
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(60) == 0, lines.rest()


def test_flower_serves_its_ui_and_answers_prod_entrys_healthcheck(redis_url: str, tmp_path: Path) -> None:
    env = example_env(CELERY_BROKER_URL=redis_url, PROD_ENTRY_PROCESS_FLOWER="flower", PORT=str(free_port()),
                      PROD_ENTRY_PROCESS_FLOWER_HEALTHCHECK_URL="/healthcheck")
    with spawn_pid1(["flower"], env, EXAMPLE) as (proc, pid1, lines):
        status, body = wait_http(f"http://127.0.0.1:{env['PORT']}/", 30, proc=proc)
        assert status == 200 and "Flower" in body, body[:200]
        probe = run(["healthcheck", "flower"], env, cwd=EXAMPLE)
        assert probe.returncode == 0 and "/healthcheck answered 200" in probe.stdout, describe(probe)
        os.kill(pid1, signal.SIGTERM)
        assert proc.wait(30) == 0, lines.rest()
    probe = run(["healthcheck", "flower"], env, cwd=EXAMPLE)
    assert probe.returncode == 1 and "unhealthy" in probe.stderr, describe(probe)
