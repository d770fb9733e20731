"""Figures 7 to 9: the example Django app served by gunicorn through prod-entry, against plain gunicorn,
django-webserver and the two C inits: time to the first 200, the first request after ready, and requests
lost when TERM hits PID 1 with hundreds in flight."""

from __future__ import annotations

import http.client
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

import psutil

from bench.harness import (EXAMPLE, PEERS, PROD_ENTRY, PYTHON, BenchError, Figure, Plan, as_pid1, example_env,
                           free_port, http_status, require_unshare, started, timed_get, tool, wait_for_200,
                           wait_until)

HEALTH = "/healthz"
PROD_WARM = "prod-entry web (warmup on)"
PROD_COLD = "prod-entry web (PROD_ENTRY_WARMUP=0)"
GUNICORN = "gunicorn"
WEBSERVER = "django-webserver (manage.py gunicorn)"
SERVERS = (PROD_WARM, PROD_COLD, GUNICORN, WEBSERVER)


def server(name: str, port: int) -> tuple[list[str], dict[str, str]]:
    """argv and environment of each way to serve the example app: one sync worker on loopback, and the same
    health URL for every warmup."""
    bind = [f"--bind=127.0.0.1:{port}", "--workers=1"]
    if name == PROD_WARM:
        return [PROD_ENTRY, "web", *bind], example_env(PROD_ENTRY_HEALTHCHECK_URL=HEALTH)
    if name == PROD_COLD:
        return [PROD_ENTRY, "web", *bind], example_env(PROD_ENTRY_HEALTHCHECK_URL=HEALTH, PROD_ENTRY_WARMUP="0")
    if name == GUNICORN:
        return [tool("gunicorn"), *bind, "example.wsgi:application"], example_env()
    if name == WEBSERVER:
        pythonpath = os.pathsep.join(filter(None, [str(PEERS), os.environ.get("PYTHONPATH", "")]))
        env = example_env(PYTHONPATH=pythonpath)
        env["DJANGO_SETTINGS_MODULE"] = "webserver_settings"
        return [PYTHON, "manage.py", "gunicorn", *bind], env
    raise ValueError(name)


def role(name: str) -> str:
    return "prod-entry" if name.startswith("prod-entry") else "peer"


# --- 7. time to the first 200 ---------------------------------------------------------------------------

def time_to_ready(plan: Plan) -> dict[str, Any]:
    figure = Figure(7, f"Start to the first 200 on {HEALTH}", "ms", "none set (compared with the peers)",
                    plan.ready_runs)
    samples: dict[str, list[float]] = {name: [] for name in SERVERS}
    for _ in range(plan.ready_runs):
        for name in SERVERS:  # interleaved: the machine's noise falls on all of them alike
            port = free_port()
            argv, env = server(name, port)
            begin = time.monotonic()
            with started(argv, env, EXAMPLE) as proc:
                samples[name].append((wait_for_200(port, HEALTH, proc) - begin) * 1000)
    for name in SERVERS:
        figure.add(name, samples[name], role(name))
    gunicorn = figure.get(GUNICORN)["median"]
    for name in (PROD_WARM, PROD_COLD):
        figure.ratio(f"{name} / {GUNICORN}", figure.get(name)["median"], gunicorn)
    figure.ratio(f"{PROD_WARM} / {WEBSERVER}", figure.get(PROD_WARM)["median"], figure.get(WEBSERVER)["median"])
    figure.notes.append("Warmup is meant to cost start-up time (the app is loaded and asked before the port "
                        "opens); the figure shows how much.")
    return figure.as_dict()


# --- 8. first request after ready ----------------------------------------------------------------------

def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def wait_ready_without_asking(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    """Ready as an orchestrator would see it, without sending a request (that would be the first one): the
    server listens and its worker has been idle for 0.3 s (booted, app loaded, warmup done)."""
    master = psutil.Process(proc.pid)

    def listening() -> bool:
        if proc.poll() is not None:
            raise BenchError(f"the server exited {proc.returncode} before it was ready")
        return any(conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
                   for conn in master.net_connections(kind="tcp"))

    wait_until(listening, timeout, f"the server to listen on {port}", interval=0.02)
    worker = wait_until(master.children, timeout, "gunicorn's worker", interval=0.02)[0]
    readings = [cpu_seconds(worker)]
    while len(readings) < 4 or len(set(readings[-4:])) > 1:
        if len(readings) > timeout * 10:
            raise BenchError("the worker never went idle")
        time.sleep(0.1)
        readings.append(cpu_seconds(worker))


def first_request(plan: Plan) -> dict[str, Any]:
    figure = Figure(8, f"First request right after ready vs steady state (GET {HEALTH}, new connection each)",
                    "ms", "first ≤ 1.2× steady state with worker warmup", plan.first_request_runs)
    first: dict[str, list[float]] = {name: [] for name in SERVERS}
    steady: dict[str, list[float]] = {name: [] for name in SERVERS}
    for _ in range(plan.first_request_runs):
        for name in SERVERS:
            port = free_port()
            argv, env = server(name, port)
            with started(argv, env, EXAMPLE) as proc:
                wait_ready_without_asking(proc, port)
                status, elapsed = timed_get(port, HEALTH)
                if status != 200:
                    raise BenchError(f"{name}: the first GET {HEALTH} answered {status}")
                first[name].append(elapsed)
                steady[name].append(statistics.median(timed_get(port, HEALTH)[1]
                                                      for _ in range(plan.steady_requests)))
    ratios = {}
    for name in SERVERS:
        figure.add(f"{name}: first", first[name], role(name))
        figure.add(f"{name}: steady", steady[name], role(name))
        ratios[name] = figure.ratio(f"{name}: first / steady", statistics.median(first[name]),
                                    statistics.median(steady[name]))
    figure.judge(ratios[PROD_WARM] <= 1.2, f"{ratios[PROD_WARM]:.2f}× steady state with warmup (goal ≤ 1.2×), "
                                           f"{ratios[PROD_COLD]:.2f}× without")
    return figure.as_dict()


# --- 9. graceful drain ----------------------------------------------------------------------------------

PROD_DELAY = "prod-entry, PROD_ENTRY_SHUTDOWN_DELAY"
INITS = ("prod-entry", PROD_DELAY, "tini", "dumb-init", "gunicorn as PID 1")


def drain_argv(init: str, port: int, threads: int) -> list[str]:
    # One gthread worker with more threads than requests: every request is inside the view at once.
    options = [f"--bind=127.0.0.1:{port}", "--worker-class=gthread", "--workers=1", f"--threads={threads}",
               "--graceful-timeout=30"]
    if init.startswith("prod-entry"):
        return [PROD_ENTRY, "web", *options]
    gunicorn = [tool("gunicorn"), *options, "example.wsgi:application"]
    if init == "tini":
        return [tool("tini"), "--", *gunicorn]
    if init == "dumb-init":
        return [tool("dumb-init"), *gunicorn]
    return gunicorn


def drain_once(init: str, plan: Plan, state_dir: str) -> dict[str, Any]:
    """One TERM to PID 1 with plan.in_flight requests in flight, and new requests for plan.late_window
    seconds after it (a load balancer that has not yet noticed). Returns the in-flight requests lost, the
    late ones failed and sent, seconds from TERM to exit, and the exit status."""
    port = free_port()
    count = plan.in_flight
    path = f"/slow/{plan.slow_seconds:g}"
    env = example_env(PROD_ENTRY_STATE_DIR=state_dir)
    if init == PROD_DELAY:
        env["PROD_ENTRY_SHUTDOWN_DELAY"] = f"{plan.late_window + 0.5:g}"
    statuses: list[int | None] = []
    with tempfile.TemporaryFile() as log, \
            as_pid1(drain_argv(init, port, count + 16), env, EXAMPLE, output=log.fileno()) as (proc, pid1):
        def fail(why: str) -> BenchError:
            log.seek(0)
            return BenchError(f"{init}: {why}; output: {log.read().decode(errors='replace')[-600:]}")

        try:
            wait_for_200(port, HEALTH, proc)
            clients = [threading.Thread(target=lambda: statuses.append(http_status(port, path, timeout=60)))
                       for _ in range(count)]
            for client in clients:
                client.start()
            wait_until(lambda: in_flight(port) >= count, 30, f"{count} requests in flight", interval=0.05)
        except BenchError as exc:
            raise fail(str(exc)) from None
        term = time.monotonic()
        os.kill(pid1, signal.SIGTERM)
        late = []
        while time.monotonic() - term < plan.late_window:
            late.append(http_status(port, HEALTH, timeout=2))
        for client in clients:
            client.join(plan.slow_seconds + 60)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            raise fail("still running 60 s after TERM") from None
        drained = time.monotonic() - term
    return {"lost": count - statuses.count(200), "late_failed": len(late) - late.count(200), "late_sent": len(late),
            "seconds": drained, "code": code}
def in_flight(port: int) -> int:
    """The example app's count of /slow requests inside the view right now."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/inflight")
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"GET /inflight answered {response.status}: the example app needs its /inflight view")
    return int(body.strip() or 0)


def drain(plan: Plan) -> dict[str, Any]:
    require_unshare()
    figure = Figure(9, f"Graceful drain: requests lost when TERM hits PID 1 with {plan.in_flight} in flight",
                    "requests lost", "0 lost", plan.drain_runs)
    runs: dict[str, list[dict[str, Any]]] = {init: [] for init in INITS}
    with tempfile.TemporaryDirectory() as state_dir:
        for _ in range(plan.drain_runs):
            for init in INITS:
                runs[init].append(drain_once(init, plan, state_dir))
    for init in INITS:
        results = runs[init]
        figure.add(init, [result["lost"] for result in results], "prod-entry" if init.startswith("prod") else "peer",
                   late_failed=f"{sum(r['late_failed'] for r in results)} of {sum(r['late_sent'] for r in results)}",
                   drain_seconds=round(statistics.median(r["seconds"] for r in results), 2),
                   exit_codes=sorted({r["code"] for r in results}))
    ours = max(max(figure.get(name)["samples"]) for name in ("prod-entry", PROD_DELAY))
    figure.ratio("prod-entry lost / tini lost", ours, max(max(figure.get("tini")["samples"]), 1))
    figure.judge(ours == 0, f"{ours:g} of {plan.in_flight} lost in the worst of {plan.drain_runs} run(s) (goal 0)")
    figure.notes.append(
        f"Each in-flight request is GET /slow/{plan.slow_seconds:g} on a fresh connection from a Python client "
        "thread on loopback; TERM is sent once /inflight reports them all inside the view. `late_failed`: new "
        f"GET {HEALTH} requests sent one after another for {plan.late_window:g} s after TERM (a load balancer "
        "that has not noticed yet) that did not get a 200; PROD_ENTRY_SHUTDOWN_DELAY is "
        f"{plan.late_window + 0.5:g} s in its row. `drain_seconds`: TERM to PID 1's exit.")
    return figure.as_dict()
