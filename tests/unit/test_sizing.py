"""The formula, and which setting wins: the server's own settings, then PROD_ENTRY_CONCURRENCY, then auto."""

import pytest

from entrypoint import backends
from entrypoint.settings import config, limits, sizing
from entrypoint.settings.config import Environment
from entrypoint.settings.errors import ConfigError

MiB = limits.MiB


# --- the formula ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cpu, memory, per_cpu, expected", [
    (1, 512, False, 3), (2, None, False, 5), (0.5, None, False, 2), (0.25, None, False, 1), (1.5, None, False, 4),
    (0.75, None, False, 2),
    (0.5, 128, False, 1),  # the memory fits one 64 MiB worker beside the master
    (2, 256, False, 3), (8, 1024, False, 15), (1, 32, False, 1),
    (0.5, None, True, 1), (1.5, None, True, 2), (4, 192, True, 2),
])
def test_the_formula(cpu, memory, per_cpu, expected):
    found = limits.Limits(cpu, "test", memory * MiB if memory else None, "test")
    assert sizing.auto(found, per_cpu, "worker")[0] == expected


def test_the_reason_says_the_formula_and_what_the_memory_allowed():
    assert sizing.auto(limits.Limits(0.75, "q", None, ""), False, "worker")[1] == "2 x 0.75 + 1, rounded down"
    assert sizing.auto(limits.Limits(2, "q", 256 * MiB, "m"), False, "worker")[1] == (
        "2 x 2 + 1 = 5, but the memory fits 3 (64 MiB for the main process, 64 MiB per worker)")
    assert sizing.auto(limits.Limits(0.5, "q", None, ""), True, "child")[1] == "1 per CPU, rounded up"


# --- which setting wins -----------------------------------------------------------------------------------------

GUNICORN = {"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_APP": "myapp:app"}
CELERY = {"PROD_ENTRY_PROCESS_WORKER": "celery-worker", "PROD_ENTRY_PROCESS_WORKER_APP": "proj"}


def plan(env, name="web", extra=()):
    process = config.processes(Environment(env, frozenset(), None))[name]
    return backends.plan(process, env, extra)


def counts(launch):
    return [(c.name, c.value, c.origin) for c in launch.sizing]


def added(launch):
    """The words sizing added."""
    return [w.text for w in launch.words if w.origin == "sizing (below)"]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch, fixed_limits):
    """A working directory with no gunicorn.conf.py, and one CPU with 512 MiB."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_gunicorn_auto_sync_workers(elsewhere):
    launch = plan(GUNICORN)
    assert "--workers=3" in launch.argv
    assert counts(launch) == [("workers", "3", "auto: cpu 1 (test), memory 512 MiB (test): 2 x 1 + 1")]


@pytest.mark.parametrize("env, extra, origin", [
    ({"WEB_CONCURRENCY": "7"}, [], "WEB_CONCURRENCY"),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 7}'}, [], "env PROD_ENTRY_PROCESS_WEB_ARGS"),
    ({"PROD_ENTRY_PROCESS_WEB_ARGS": "-w 7"}, [], "env PROD_ENTRY_PROCESS_WEB_ARGS"),
    ({}, ["--workers", "7"], "command line"),
    ({"GUNICORN_CMD_ARGS": "--workers=7"}, [], "GUNICORN_CMD_ARGS"),
    ({"GUNICORN_CMD_ARGS": "-w7", "WEB_CONCURRENCY": "2"}, [], "GUNICORN_CMD_ARGS"),
    ({"PROD_ENTRY_CONCURRENCY": "7", "PROD_ENTRY_PROCESS_WEB_CONCURRENCY": "auto"}, [], "auto"),
    ({"PROD_ENTRY_CONCURRENCY": "7"}, [], "PROD_ENTRY_CONCURRENCY"),
    ({"PROD_ENTRY_PROCESS_WEB_CONCURRENCY": "7"}, [], "PROD_ENTRY_PROCESS_WEB_CONCURRENCY"),
])
def test_gunicorn_users_workers_win(elsewhere, env, extra, origin):
    launch = plan({**GUNICORN, **env}, extra=extra)
    [(name, value, why)] = counts(launch)
    if origin == "auto":  # the process's own setting beats the global one
        assert (value, launch.argv.count("--workers=3")) == ("3", 1)
        return
    assert (name, value) == ("workers", "7") and why.startswith(origin)
    ours = origin.startswith("PROD_ENTRY_")  # PROD_ENTRY_CONCURRENCY's number is a default like auto's
    assert why.endswith("yours, not auto-sized") != ours
    assert added(launch) == (["--workers=7"] if ours else [])


def test_gunicorn_conf_py_workers_win(elsewhere):
    (elsewhere / "gunicorn.conf.py").write_text("workers = 6\n")
    launch = plan(GUNICORN)
    assert counts(launch) == [("workers", "6", "gunicorn.conf.py: yours, not auto-sized")]
    assert added(launch) == []


def test_off_leaves_gunicorns_own_default(elsewhere):
    launch = plan({**GUNICORN, "PROD_ENTRY_CONCURRENCY": "off"})
    assert launch.sizing == () and added(launch) == []


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_a_bad_concurrency_is_a_configuration_error(elsewhere, value):
    with pytest.raises(ConfigError, match=f"PROD_ENTRY_CONCURRENCY='{value}': write auto"):
        plan({**GUNICORN, "PROD_ENTRY_CONCURRENCY": value})


@pytest.mark.parametrize("args, expected", [
    ("-k gthread", ["--workers=1", "--threads=4"]),
    ("--worker-class=gthread --threads=2", ["--workers=1"]),
    ("--threads=8", ["--workers=1"]),  # gunicorn runs sync with more than one thread as gthread
    ("--threads=1", ["--workers=3"]),
    ("-k uvicorn.workers.UvicornWorker", ["--workers=1"]),
    ("-k gevent", ["--workers=1"]),
])
def test_gunicorn_workers_that_serve_many_requests_each_get_one_per_cpu(elsewhere, args, expected, monkeypatch):
    monkeypatch.setattr("entrypoint.backends.gunicorn._check_worker_class", lambda value, where: None)
    launch = plan({**GUNICORN, "PROD_ENTRY_PROCESS_WEB_ARGS": args})
    assert added(launch) == expected


def test_celery_prefork_concurrency(elsewhere):
    # No word: the wrapper gives the count to the worker's app, unless the app's configuration sets one
    # (tests/integration/test_sizing_celery.py).
    launch = plan(CELERY, "worker")
    assert not any(word.startswith("--concurrency") for word in launch.argv)
    assert counts(launch) == [("concurrency", "1", "auto: cpu 1 (test), memory 512 MiB (test): 1 per CPU; unless "
                                                   "the app's configuration sets worker_concurrency")]


@pytest.mark.parametrize("env, origin", [
    ({"PROD_ENTRY_PROCESS_WORKER_ARGS": "-c 5"}, "env PROD_ENTRY_PROCESS_WORKER_ARGS"),
    ({"PROD_ENTRY_PROCESS_WORKER_ARGS": '{"concurrency": 5}'}, "env PROD_ENTRY_PROCESS_WORKER_ARGS"),
    ({"CELERY_WORKER_CONCURRENCY": "5"}, "CELERY_WORKER_CONCURRENCY"),
    ({"CELERYD_CONCURRENCY": "5"}, "CELERYD_CONCURRENCY"),
    ({"PROD_ENTRY_PROCESS_WORKER_ARGS": "--autoscale=5,1"}, "env PROD_ENTRY_PROCESS_WORKER_ARGS"),
])
def test_celery_users_concurrency_wins(elsewhere, env, origin):
    launch = plan({**CELERY, **env}, "worker")
    [(name, value, why)] = counts(launch)
    assert name in ("concurrency", "autoscale") and value.startswith("5") and why == f"{origin}: yours, not auto-sized" and added(launch) == []


@pytest.mark.parametrize("pool", ["-P threads", "--pool=solo", "--pool=gevent"])
def test_celery_pools_without_processes_keep_their_own_rule(elsewhere, pool):
    launch = plan({**CELERY, "PROD_ENTRY_PROCESS_WORKER_ARGS": pool}, "worker")
    assert launch.sizing == () and added(launch) == []


def test_python_cpu_count_unless_the_user_set_it_or_sizing_is_off(fixed_limits):
    assert sizing.python_cpu_count(None, {}) == "1"
    assert sizing.python_cpu_count(None, {"PYTHON_CPU_COUNT": "4"}) is None
    assert sizing.python_cpu_count(None, {"PROD_ENTRY_CONCURRENCY": "off"}) is None
