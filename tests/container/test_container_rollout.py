"""A rolling restart as users meet it: HAProxy in front of two replicas of the project's image, each replaced under
load (bench/figures/rollout.py is the harness; `make bench` runs it bigger as figure 10). HAProxy checks prod-entry's
own health port (GET /ready, no readiness view in the app); prod-entry with a shutdown delay covering two health
intervals loses nothing; the peers (checked on GET /healthz) have their losses measured and shown, not asserted. Then the worker side: a celery worker replaced while acks_late tasks run loses no task."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from bench.figures import rollout
from container_support import Docker, tool
from support import describe, free_port, wait_until

REQUESTS = 2000  # per variant, at least, through the rollout


@pytest.fixture
def engine(docker: Docker) -> Iterator[rollout.Engine]:
    tool("haproxy")
    engine = rollout.Engine(docker.host, docker.cli)
    try:
        yield engine
    finally:
        engine.close()


def test_rolling_restart_behind_haproxy_loses_nothing_with_the_shutdown_delay(
        engine: rollout.Engine, image: str, capsys: pytest.CaptureFixture[str]) -> None:
    results = {r.variant: r for r in rollout.rollouts(engine, image, REQUESTS)}
    table = "\n".join(f"{r.variant:24} sent {r.sent:6} failed {r.failed:5} (during the switch: "
                      f"{r.failed_during_switch} of {r.sent_during_switch}), longest {r.longest_ms:7.1f} ms, "
                      f"switch {r.switch_seconds:5.1f} s, errors: {r.errors}" for r in results.values())
    with capsys.disabled():
        print(f"\nrolling restart behind HAProxy, {REQUESTS}+ requests per variant:\n{table}")
    ours = results[rollout.PROD_DELAY]
    assert ours.sent >= REQUESTS and ours.sent_during_switch > 0, table
    assert ours.failed == 0, table
    # The peers: only that their losses were measured, through a whole rollout each.
    for variant in rollout.VARIANTS[1:]:
        assert results[variant].sent >= REQUESTS and results[variant].sent_during_switch > 0, table


# --- the worker side --------------------------------------------------------------------------------------------

# The README's advice for a worker replaced mid-task: TERM becomes celery's cold shutdown with a soft-shutdown
# window (tasks that can finish in it do), acks_late tasks that cannot are handed back to the broker; every bound
# inside docker stop's grace (3 s soft shutdown < 25 s prod-entry's KILL < 30 s docker's).
WORKER_ADVICE = ("-e", "PROD_ENTRY_SIGNAL_REWRITE=TERM:QUIT", "-e", "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT=3",
                 "-e", "PROD_ENTRY_STOP_TIMEOUT=25")
SHORT, LONG = 0.5, 10.0  # seconds: a short task finishes within the soft shutdown, a long one cannot


@pytest.fixture
def redis_port() -> Iterator[int]:
    """redis-server on the host's loopback (the containers share the host network), stopped by its PID."""
    import redis

    port = free_port()
    proc = subprocess.Popen([tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def pong() -> bool:
            assert proc.poll() is None, f"redis-server exited {proc.returncode}"
            try:
                return bool(redis.Redis(port=port, socket_timeout=1).ping())
            except redis.RedisError:
                return False

        wait_until(pong, 20, 0.05, "redis-server to answer PING")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def start_worker(docker: Docker, image: str, redis_port: int) -> str:
    name = docker.start("-e", f"CELERY_BROKER_URL=redis://127.0.0.1:{redis_port}/0",
                        "-e", f"CELERY_RESULT_BACKEND=redis://127.0.0.1:{redis_port}/1",
                        "-e", "PROD_ENTRY_PROCESS_WORKER=celery-worker",
                        "-e", "PROD_ENTRY_PROCESS_WORKER_ARGS=--pool=prefork --concurrency=4 --loglevel=info",
                        *WORKER_ADVICE, image, "worker")

    def ready() -> bool:
        logs = docker("logs", name)
        assert docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true", logs.stderr
        return " ready." in logs.stdout + logs.stderr

    wait_until(ready, 120, 0.2, f"celery worker {name} to be ready")
    return name


def test_celery_worker_replaced_mid_task_loses_no_task(docker: Docker, image: str, redis_port: int) -> None:
    from celery import Celery

    client = Celery(broker=f"redis://127.0.0.1:{redis_port}/0", backend=f"redis://127.0.0.1:{redis_port}/1")
    old = start_worker(docker, image, redis_port)
    # One long task in six; the rest short. All sent before the replacement starts.
    sent = {client.send_task("example.tasks.slow_add", (n, 1000, LONG if n % 6 == 0 else SHORT)).id: n + 1000
            for n in range(24)}
    long_ids = [task_id for task_id, total in sent.items() if (total - 1000) % 6 == 0]

    def old_runs_a_long_task() -> bool:
        logs = docker("logs", old)
        return any(f"[{task_id}] received" in logs.stdout + logs.stderr for task_id in long_ids)

    wait_until(old_runs_a_long_task, 30, 0.1, "the old worker to take a long task")
    new = start_worker(docker, image, redis_port)
    stopped = docker("stop", "-t", "30", old, timeout=60)
    old_logs = docker("logs", old)
    old_output = old_logs.stdout + old_logs.stderr
    assert stopped.returncode == 0, describe(stopped)

    results = {}
    for task_id in sent:
        try:
            results[task_id] = client.AsyncResult(task_id).get(timeout=60)
        except Exception as exc:  # recorded, so the assertion shows every missing task at once
            results[task_id] = f"{type(exc).__name__}: {exc}"
    new_logs = docker("logs", new)
    where = f"old worker:\n{old_output[-3000:]}\nnew worker:\n{(new_logs.stdout + new_logs.stderr)[-3000:]}"
    assert results == sent, f"tasks lost or wrong: {[(i, r) for i, r in results.items() if r != sent[i]]}\n{where}"
    # The replacement really happened mid-task: a long task the old worker had taken was redone by the new one.
    redone = [task_id for task_id in long_ids if f"[{task_id}] received" in old_output
              and f"[{task_id}] received" in new_logs.stdout + new_logs.stderr]
    assert redone, f"no long task was handed from the old worker to the new one\n{where}"
