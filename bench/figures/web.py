"""Figures 7 to 9: the example Django app served by gunicorn through prod-entry, against plain gunicorn,
django-webserver and the two C inits: time to the first 200, the first request after ready, and requests
lost when TERM hits PID 1 with hundreds in flight."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import bigproject
from bench.bigproject import EXAMPLE_PROJECT, Project
from bench.harness import (EXAMPLE, PEERS, PROD_ENTRY, PYTHON, BenchError, Figure, Plan, as_pid1, example_env,
                           free_port, http_status, require_unshare, served_install, started, timed_answer, timed_get,
                           tool, wait_for_200, wait_until)

HEALTH = "/healthz"
PROD_WARM = "prod-entry web (warmup on)"
PROD_COLD = "prod-entry web (PROD_ENTRY_WARMUP=0)"
GUNICORN = "gunicorn"
WEBSERVER = "django-webserver (manage.py gunicorn)"
SCRIPT = "entrypoint.sh (manage.py check --database, migrate --check, exec gunicorn)"
SERVERS = (PROD_WARM, PROD_COLD, GUNICORN, WEBSERVER)
BIG_SERVERS = (PROD_WARM, PROD_COLD, GUNICORN)  # django-webserver's peer settings extend the example's
# Figure 7's goals, against the hand-written gates (bench/peers/entrypoint.sh) and against no gate at all.
SCRIPT_GOAL, BARE_GOAL = 0.6, 1.3
BIG = " · big project"


@dataclass(frozen=True)
class Other:
    """One of the other servers prod-entry runs (PROD_ENTRY_PROCESS_WEB=backend), each measured against itself
    started bare: the options prod-entry is given, on the bare command line too, with the app named directly
    and no warmup. `prod-entry show web` prints the argv prod-entry execs; `own` holds the words it adds
    itself (its defaults) that the bare command needs to serve the same way."""

    backend: str
    interface: str  # wsgi | asgi: which of the project's callables the bare server is given
    forks: bool  # requests served by a forked worker rather than by the process started
    options: Callable[[int], list[str]]  # loopback, the port, one worker
    own: tuple[str, ...] = ()
    program: str = ""  # the bare command, when it is not named after the backend
    app_option: str = ""  # how the bare command is given the app, when not as its last word


OTHERS = {
    "granian wsgi": Other("granian", "wsgi", True, lambda port: ["--host=127.0.0.1", f"--port={port}",
                                                                 "--workers=1"], own=("--interface=wsgi",)),
    "hypercorn": Other("hypercorn", "asgi", True, lambda port: [f"--bind=127.0.0.1:{port}", "--workers=1"]),
    "daphne": Other("daphne", "asgi", False, lambda port: ["--bind=127.0.0.1", f"--port={port}"]),
    # prod-entry runs waitress through its own `python -m entrypoint.backends.waitress.serve` (waitress-serve
    # with a draining TERM); bare, it is waitress-serve.
    "waitress": Other("waitress", "wsgi", False, lambda port: [f"--listen=127.0.0.1:{port}"],
                      program="waitress-serve"),
    "uwsgi": Other("uwsgi", "wsgi", True, lambda port: [f"--http-socket=127.0.0.1:{port}", "--processes=1"],
                   own=("--master", "--need-app"), app_option="--module="),
}
SMOKE_OTHERS = ("waitress",)  # the smoke run (part of `make test`) runs one of them, to keep it fast
OURS = "prod-entry, {} (warmup on)"


# Figures 7 and 8 run prod-entry and the plain servers from one virtualenv installed from wheels, bytecode
# compiled, as an image installs them (harness.served_install); set by each figure before its first row.
SERVED: dict[str, Path] = {}


def serve_from(plan: Plan) -> None:
    SERVED["bin"] = served_install(big=not plan.smoke)


def served(program: str) -> str:
    """The served virtualenv's `program` (prod-entry, gunicorn, ...)."""
    return str(SERVED["bin"] / program)


def others(plan: Plan) -> tuple[str, ...]:
    return SMOKE_OTHERS if plan.smoke else tuple(OTHERS)


def other_rows(plan: Plan) -> tuple[str, ...]:
    """Series names of the other servers, each prod-entry's row then the bare server's."""
    return tuple(row for name in others(plan) for row in (OURS.format(name), name))


def other_server(series: str, port: int, project: Project) -> tuple[list[str], dict[str, str], bool] | None:
    """argv, environment and whether a worker serves, for a row of OTHERS; None for any other row."""
    name = series.removeprefix("prod-entry, ").removesuffix(" (warmup on)")
    if name not in OTHERS:
        return None
    other = OTHERS[name]
    if series.startswith("prod-entry"):
        env = project.env(PROD_ENTRY_HEALTHCHECK_URL=project.health, PROD_ENTRY_PROCESS_WEB=other.backend)
        return [served("prod-entry"), "web", *other.options(port)], env, other.forks
    app = project.wsgi if other.interface == "wsgi" else project.asgi
    argv = [served(other.program or other.backend), *other.own, *other.options(port), other.app_option + app]
    return argv, project.env(), other.forks


def server(name: str, port: int, project: Project = EXAMPLE_PROJECT) -> tuple[list[str], dict[str, str]]:
    """argv and environment of each way to serve a project: one sync worker on loopback, and the same
    health URL for every warmup."""
    bind = [f"--bind=127.0.0.1:{port}", "--workers=1"]
    other = other_server(name, port, project)
    if other:
        return other[0], other[1]
    if name == PROD_WARM:
        return [served("prod-entry"), "web", *bind], project.env(PROD_ENTRY_HEALTHCHECK_URL=project.health)
    if name == PROD_COLD:
        return [served("prod-entry"), "web", *bind], project.env(PROD_ENTRY_HEALTHCHECK_URL=project.health,
                                                                 PROD_ENTRY_WARMUP="0")
    if name == GUNICORN:
        return [served("gunicorn"), *bind, project.wsgi], project.env()
    if name == SCRIPT:
        return ["sh", str(PEERS / "entrypoint.sh"), *bind, project.wsgi], project.env(
            PYTHON=served("python"), GUNICORN=served("gunicorn"))
    if name == WEBSERVER and project.settings == EXAMPLE_PROJECT.settings:
        pythonpath = os.pathsep.join(filter(None, [str(PEERS), os.environ.get("PYTHONPATH", "")]))
        env = example_env(PYTHONPATH=pythonpath, **dict(project.variables))
        env["DJANGO_SETTINGS_MODULE"] = "webserver_settings"
        return [PYTHON, "manage.py", "gunicorn", *bind], env
    raise ValueError(name)


def role(name: str) -> str:
    return "prod-entry" if name.startswith("prod-entry") else "peer"


def projects(plan: Plan) -> list[tuple[Project, tuple[str, ...], str]]:
    """(project, servers, suffix of its series' names): the example always, the big project in full runs
    (its one-time generation and migration take minutes; the smoke run must stay fast)."""
    found: list[tuple[Project, tuple[str, ...], str]] = [(EXAMPLE_PROJECT, SERVERS + other_rows(plan), "")]
    if not plan.smoke:
        found.append((bigproject.wagtail(), BIG_SERVERS, BIG))
    return found


# --- 7. time to the first 200 ---------------------------------------------------------------------------

def time_to_ready(plan: Plan) -> dict[str, Any]:
    figure = Figure(7, f"Start to the first 200 on {HEALTH}", "ms",
                    f"prod-entry (warmup on, its deep checks included) <= {SCRIPT_GOAL}x the hand-written gates "
                    f"(bench/peers/entrypoint.sh) and <= {BARE_GOAL}x bare gunicorn (no gate at all)",
                    plan.ready_runs)
    serve_from(plan)
    # The example with a database here, so that the deep checks and the script's checks have one to ask.
    served_projects = [(bigproject.example_with_database() if project == EXAMPLE_PROJECT else project,
                        (*names, SCRIPT), suffix) for project, names, suffix in projects(plan)]
    rows = [(project, name, name + suffix) for project, names, suffix in served_projects for name in names]
    samples: dict[str, list[float]] = {series: [] for _, _, series in rows}
    for _ in range(plan.ready_runs):
        for project, name, series in rows:  # interleaved: the machine's noise falls on all of them alike
            port = free_port()
            argv, env = server(name, port, project)
            begin = time.monotonic()
            with started(argv, env, project.cwd) as proc:
                samples[series].append((wait_for_200(port, project.health, proc, timeout=120) - begin) * 1000)
    for _, name, series in rows:
        figure.add(series, samples[series], role(name))
    missed = []
    for _, _, suffix in served_projects:
        gunicorn = figure.get(GUNICORN + suffix)["median"]
        for name in (PROD_WARM, PROD_COLD):
            figure.ratio(f"{name + suffix} / {GUNICORN + suffix}", figure.get(name + suffix)["median"], gunicorn)
        ours = figure.get(PROD_WARM + suffix)["median"]
        to_script = figure.ratio(f"{PROD_WARM + suffix} / {SCRIPT + suffix}", ours,
                                 figure.get(SCRIPT + suffix)["median"])
        to_bare = ours / gunicorn
        missed += [f"{to_script:.2f}x the script{suffix}"] if to_script > SCRIPT_GOAL else []
        missed += [f"{to_bare:.2f}x bare gunicorn{suffix}"] if to_bare > BARE_GOAL else []
    figure.judge(not missed, "missed: " + ", ".join(missed) if missed else "both goals met on every project")
    figure.ratio(f"{PROD_WARM} / {WEBSERVER}", figure.get(PROD_WARM)["median"], figure.get(WEBSERVER)["median"])
    for name in others(plan):
        ours = OURS.format(name)
        figure.ratio(f"{ours} / {name}", figure.get(ours)["median"], figure.get(name)["median"])
    figure.notes.append("Warmup is meant to cost start-up time (the app is loaded and asked before the port "
                        "opens); the figure shows how much. prod-entry's rows include its deep checks (every "
                        "database answers, every cache round-trips, no migration unapplied); the script's row does "
                        "by hand what careful users write today: `manage.py check --database default` until it "
                        "passes, `manage.py migrate --check`, then exec gunicorn.")
    figure.notes.append(f"prod-entry and every plain server run from one virtualenv installed from wheels with "
                        f"compiled bytecode, as an image installs them ({SERVED['bin'].parent}); django-webserver "
                        "from the bench's own.")
    figure.notes.append(f"The other servers ({', '.join(others(plan))}) each run through prod-entry "
                        "(PROD_ENTRY_PROCESS_WEB, warmup on) and bare (the same options, the app named directly, "
                        "no warmup), one worker each.")
    figure.notes.append("The example's rows run with a migrated SQLite database (DATABASE_URL).")
    for project, _, suffix in served_projects[1:]:
        figure.notes.append(f"Rows ending '{suffix.strip(' ·')}': {project.name}, served with {project.settings}, "
                            f"asked for {project.health} (its home page, from SQLite).")
    return figure.as_dict()


# --- 8. first request after ready ----------------------------------------------------------------------

SYNC = ("--worker-class=sync",)
GTHREAD = ("--worker-class=gthread", "--threads=4")
FIRST_WARM = {  # the rows the goal is judged on, and the plain server each is read against
    "prod-entry, gunicorn sync (warmup on)": "gunicorn sync",
    "prod-entry, gunicorn gthread (warmup on)": "gunicorn gthread",
    "prod-entry, uvicorn (warmup on)": "uvicorn",
}
FIRST_SERVERS = (*FIRST_WARM, "prod-entry, gunicorn sync (PROD_ENTRY_WARMUP=0)", *FIRST_WARM.values(), WEBSERVER)
BIG_FIRST_SERVERS = ("prod-entry, gunicorn sync (warmup on)", "gunicorn sync")
# Every worker of a 4-worker server: each worker's first request is a first request (the example only: its
# /whoami names the worker that answered).
WORKERS = 4
MULTI_WARM = {"prod-entry, gunicorn sync ×4 (warmup on)": "gunicorn sync ×4"}
WHOAMI = "/whoami"
# The ×4 rows time GET /whoami (to tell the workers apart), the one-worker rows the health URL: the judged row
# warms the URL it times, as the one-worker rows do (PROD_ENTRY_WARMUP_URLS), and this row shows what a URL
# the warmup never asked costs (the app's own first-time work for it, which no server-side warmth removes).
MULTI_UNWARMED = "prod-entry, gunicorn sync ×4 (warmup on, /whoami not warmed)"


def first_server(name: str, port: int, project: Project) -> tuple[list[str], dict[str, str], bool]:
    """argv, environment, and whether the requests are served by a child (gunicorn's one worker) rather than
    the process itself (a single uvicorn process)."""
    other = other_server(name, port, project)
    if other:
        return other
    env = project.env(PROD_ENTRY_HEALTHCHECK_URL=project.health)
    workers = WORKERS if f"×{WORKERS}" in name else 1
    gunicorn = [f"--bind=127.0.0.1:{port}", f"--workers={workers}", *(GTHREAD if "gthread" in name else SYNC)]
    uvicorn = ["--host=127.0.0.1", f"--port={port}", "--workers=1"]
    if name == WEBSERVER:
        argv, env = server(WEBSERVER, port, project)
        return argv, env, True
    if not name.startswith("prod-entry"):
        if "uvicorn" in name:
            return [served("uvicorn"), *uvicorn[:2], project.asgi], project.env(), False
        return [served("gunicorn"), *gunicorn, project.wsgi], project.env(), True
    if "WARMUP=0" in name:
        env["PROD_ENTRY_WARMUP"] = "0"
    if name in MULTI_WARM:
        env["PROD_ENTRY_WARMUP_URLS"] = WHOAMI
    if "uvicorn" in name:
        env["PROD_ENTRY_PROCESS_WEB"] = "uvicorn"
        return [served("prod-entry"), "web", *uvicorn[:2]], env, False
    return [served("prod-entry"), "web", *gunicorn], env, True


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def wait_idle(worker: psutil.Process, timeout: float = 60) -> None:
    """Until the process has used no CPU for 0.3 s (booted, app loaded, warmup done; or done with a request
    and whatever it does after one)."""
    readings = [cpu_seconds(worker)]
    while len(readings) < 4 or len(set(readings[-4:])) > 1:
        if len(readings) > timeout * 10:
            raise BenchError("the worker never went idle")
        time.sleep(0.1)
        readings.append(cpu_seconds(worker))


def wait_ready_without_asking(proc: subprocess.Popen, port: int, workers: bool, timeout: float = 60) -> psutil.Process:
    """Ready as an orchestrator would see it, without sending a request (that would be the first one): the
    server listens and the process that serves has gone idle. Returns that process."""
    master = psutil.Process(proc.pid)

    def listening() -> bool:
        if proc.poll() is not None:
            raise BenchError(f"the server exited {proc.returncode} before it was ready")
        # the master's socket or a worker's: granian's master hands the socket to its worker and closes it
        connections = []
        for process in (master, *master.children()):
            with contextlib.suppress(psutil.NoSuchProcess):
                connections += process.net_connections(kind="tcp")
        return any(conn.status == psutil.CONN_LISTEN and conn.laddr.port == port for conn in connections)

    def worker_processes() -> list[psutil.Process]:
        # hypercorn's multiprocessing also starts a resource tracker, which serves nothing
        found = []
        for child in master.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    found.append(child)
        return found

    wait_until(listening, timeout, f"the server to listen on {port}", interval=0.02)
    worker = wait_until(worker_processes, timeout, "the server's worker", interval=0.02)[0] if workers else master
    wait_idle(worker, timeout)
    return worker


def first_and_warm(name: str, project: Project, plan: Plan) -> tuple[float, float]:
    """One server: (the first request after ready, the median of plan.warm_requests later ones), each sent
    after the same pause (the worker idle for 0.3 s, then plan.request_idle seconds), on a new connection."""
    port = free_port()
    argv, env, workers = first_server(name, port, project)
    times = []
    with started(argv, env, project.cwd) as proc:
        worker = wait_ready_without_asking(proc, port, workers)
        for number in range(1 + plan.warm_requests):
            if number:
                wait_idle(worker)
            time.sleep(plan.request_idle)
            status, elapsed = timed_get(port, project.health)
            if status != 200:
                raise BenchError(f"{name}: GET {project.health} number {number + 1} answered {status}")
            times.append(elapsed)
    return times[0], statistics.median(times[1:])


def first_of_every_worker(name: str, project: Project, plan: Plan) -> tuple[list[float], list[float]]:
    """A WORKERS-worker server: (each worker's first request, later requests of workers already seen), each
    after the same pause as first_and_warm's, on a new connection; the kernel picks the worker that accepts,
    so requests go on until every worker has answered once and plan.warm_requests later ones were timed."""
    port = free_port()
    argv, env, _ = first_server(name, port, project)
    firsts: dict[int, float] = {}
    warm: list[float] = []
    with started(argv, env, project.cwd) as proc:
        wait_ready_without_asking(proc, port, True)
        master = psutil.Process(proc.pid)
        wait_until(lambda: len(master.children()) >= WORKERS, 60, f"{WORKERS} workers", interval=0.02)
        for worker in master.children():
            wait_idle(worker)
        for _ in range(WORKERS * 40):
            if len(firsts) == WORKERS and len(warm) >= plan.warm_requests:
                break
            for worker in master.children():
                wait_idle(worker)
            time.sleep(plan.request_idle)
            status, elapsed, body = timed_answer(port, WHOAMI)
            if status != 200:
                raise BenchError(f"{name}: GET {WHOAMI} answered {status}")
            pid = json.loads(body)["pid"]
            if pid in firsts:
                warm.append(elapsed)
            else:
                firsts[pid] = elapsed
        else:
            raise BenchError(f"{name}: {len(firsts)} of {WORKERS} workers answered in {WORKERS * 40} requests")
    return list(firsts.values()), warm


def first_request(plan: Plan) -> dict[str, Any]:
    figure = Figure(8, f"First request after ready vs a warm worker's after the same idle time (GET {HEALTH}, "
                    "new connection each)", "ms", "first ≤ 1.2× warm-after-idle with worker warmup, for gunicorn "
                    "sync, gthread and uvicorn", plan.first_request_runs)
    serve_from(plan)
    served: list[tuple[Project, tuple[str, ...], str]] = [(EXAMPLE_PROJECT, FIRST_SERVERS + other_rows(plan), "")]
    if not plan.smoke:
        served.append((bigproject.wagtail(), BIG_FIRST_SERVERS, BIG))
    rows = [(project, name, name + suffix) for project, names, suffix in served for name in names]
    first: dict[str, list[float]] = {series: [] for _, _, series in rows}
    warm: dict[str, list[float]] = {series: [] for _, _, series in rows}
    for _ in range(plan.first_request_runs):
        for project, name, series in rows:  # interleaved
            one, later = first_and_warm(name, project, plan)
            first[series].append(one)
            warm[series].append(later)
    for name in MULTI_WARM:  # the example only; interleaved with its plain twin
        multi = (name, MULTI_UNWARMED, MULTI_WARM[name])
        for series in multi:
            first[series], warm[series] = [], []
        for _ in range(plan.first_request_runs):
            for series in multi:
                each_first, each_warm = first_of_every_worker(series, EXAMPLE_PROJECT, plan)
                first[series] += each_first
                warm[series] += each_warm
        rows += [(EXAMPLE_PROJECT, series, series) for series in multi]
    ratios: dict[str, float] = {}
    for _, name, series in rows:
        figure.add(f"{series}: first", first[series], role(name))
        figure.add(f"{series}: warm after idle", warm[series], role(name))
        ratios[series] = figure.ratio(f"{series}: first / warm after idle", statistics.median(first[series]),
                                      statistics.median(warm[series]))
    judged = {**FIRST_WARM, **MULTI_WARM}
    worst = max(judged, key=lambda name: ratios[name])
    figure.judge(ratios[worst] <= 1.2, ", ".join(f"{name.split(', ')[1].split(' (')[0]} {ratios[name]:.2f}×"
                                                  for name in judged) + " warm-after-idle with warmup "
                 f"(goal ≤ 1.2×); plain servers " + ", ".join(f"{judged[name]} {ratios[judged[name]]:.2f}×"
                                                             for name in judged))
    figure.notes.append(
        f"Each request follows the same pause: the serving process idle (no CPU) for 0.3 s, then "
        f"{plan.request_idle:g} s more; the first after ready, then {plan.warm_requests} more (their median is "
        "'warm after idle'), each on a new connection from a Python client on loopback. One worker (gunicorn) "
        "or one process (uvicorn).")
    figure.notes.append(
        f"Rows '×{WORKERS}': {WORKERS} sync workers, GET {WHOAMI} (it names the worker that answered) until every "
        f"worker has answered once: each worker's first request is a 'first', later requests of workers already "
        "seen are 'warm after idle' (every worker idle before each request). Like the one-worker rows, which time "
        f"the URL the warmup asks, the judged ×{WORKERS} row warms the URL it times (PROD_ENTRY_WARMUP_URLS="
        f"{WHOAMI}); '{MULTI_UNWARMED}' leaves it to the health check ({HEALTH}) alone.")
    figure.notes.append(
        f"The other servers ({', '.join(others(plan))}) each run through prod-entry (PROD_ENTRY_PROCESS_WEB, "
        "worker warmup on) and bare (the same options, the app named directly): one worker where the server forks "
        "(granian, hypercorn, uWSGI's one process under its master), else the one process (daphne, waitress); "
        "the goal is not judged on them.")
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
