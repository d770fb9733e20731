"""entrypoint.manager against real servers: gunicorn and uvicorn started through prod-entry, probed, stopped."""

from __future__ import annotations

import json
import signal
import socket

import psutil
import pytest

from entrypoint.manager import ManagedProcess, ManagerError, address_free_check, address_in_use, free_port
from support import EXAMPLE, example_env, http_get, wait_until

# name -> (environment, the exit status of a graceful stop)
SERVERS = {
    "gunicorn": ({"PROD_ENTRY_PROCESS_WEB": "gunicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 2}'}, 0),
    "uvicorn": ({"PROD_ENTRY_PROCESS_WEB": "uvicorn", "PROD_ENTRY_PROCESS_WEB_ARGS": '{"workers": 2}'}, 0),
    # A single uvicorn process shuts down cleanly, then re-raises the TERM it caught.
    "uvicorn-single": ({"PROD_ENTRY_PROCESS_WEB": "uvicorn"}, -signal.SIGTERM),
}


def gone(pids: list[int]) -> bool:
    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_start_ready_health_and_graceful_stop(server: str) -> None:
    env, graceful_status = SERVERS[server]
    web = ManagedProcess("web", env=example_env(**env), cwd=EXAMPLE, health_path="/healthz")
    web.start(timeout=30)
    try:
        assert web.health(), web.output()
        status, body = http_get(web.url + "/whoami") or (0, "")
        assert status == 200, body
        if server != "uvicorn-single":
            assert json.loads(body)["pid"] != web.pid, body  # a worker answered, not the master
        def family_of() -> list[int]:
            return [web.pid, *(c.pid for c in psutil.Process(web.pid).children(recursive=True))]

        def all_forked() -> list[int] | None:
            found = family_of()
            return found if len(found) >= 3 else None

        # The master and its 2 workers (uvicorn adds a multiprocessing helper); the single uvicorn is alone.
        # gunicorn's first worker may answer before the master has forked the second: its workers fork with the
        # app loaded by the master's warmup, and gunicorn waits up to 0.1 s between forks.
        family = family_of() if server == "uvicorn-single" else wait_until(all_forked, 10, what="the workers")
        assert len(family) == 1 if server == "uvicorn-single" else len(family) >= 3, family
    finally:
        status = web.stop(timeout=20)
    assert web.graceful, (status, web.output())
    assert status == graceful_status, web.output()
    assert ("Shutting down: Master" if server == "gunicorn" else "Finished server process") in web.output()
    wait_until(lambda: gone(family), 5, what=f"{family} to be gone")
    assert not web.health()


def test_a_process_that_never_serves_is_killed_and_raises() -> None:
    never = ManagedProcess("command", ["sleep", "60"], env=example_env(), cwd=EXAMPLE)
    with pytest.raises(ManagerError, match=r"process 'command' was not ready within 1\.0s \(probing http://127"):
        never.start(timeout=1.0)
    assert never.returncode == -signal.SIGKILL
    assert gone([never.pid or 0])


def test_a_process_that_exits_before_ready_raises_with_its_output() -> None:
    broken = ManagedProcess("web", env=example_env(PROD_ENTRY_PROCESS_WEB_ARGS='{"bind": "nonsense:port:"}'),
                            cwd=EXAMPLE)
    with pytest.raises(ManagerError, match=r"(?s)process 'web' exited \d+ before it was ready:\n.*"):
        broken.start(timeout=30)


def test_stop_kills_what_ignores_term_after_the_timeout() -> None:
    stubborn = ManagedProcess("command", ["sh", "-c", "trap '' TERM; sleep 60 & wait"], env=example_env(),
                              cwd=EXAMPLE, port=None, health_path=None)
    stubborn.start(timeout=5)
    assert stubborn.health()
    # Without a port, ready only means running: wait until sh (exec'd by prod-entry) has set its trap and forked.
    children = wait_until(lambda: psutil.Process(stubborn.pid).children(), what="sh to fork sleep")
    family = [stubborn.pid or 0, *(c.pid for c in children)]
    assert stubborn.stop(timeout=0.5) == -signal.SIGKILL
    assert stubborn.graceful is False
    # The sleep it forked too: the whole session was sent KILL (dying takes the kernel a moment).
    wait_until(lambda: gone(family), 5, what=f"{family} to be gone")


def test_wait_raises_after_its_timeout_and_returns_the_status() -> None:
    proc = ManagedProcess("command", ["sh", "-c", "sleep 0.5; exit 7"], env=example_env(), cwd=EXAMPLE, port=None,
                          health_path=None)
    proc.start(wait=False)
    with pytest.raises(ManagerError, match="still runs after 0.01s"):
        proc.wait(0.01)
    assert proc.wait(10) == 7


def test_start_refuses_an_address_in_use() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        web = ManagedProcess("web", env=example_env(), cwd=EXAMPLE, port=port)
        with pytest.raises(ManagerError, match=f"127.0.0.1:{port} is already in use"):
            web.start()
        assert web.pid is None


def test_address_helpers() -> None:
    port = free_port()
    assert not address_in_use("127.0.0.1", port)
    address_free_check("127.0.0.1", port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # bound, not yet listening: a server could not bind it either
        assert address_in_use("127.0.0.1", port)
        sock.listen()
        assert address_in_use("127.0.0.1", port)
        assert address_in_use("0.0.0.0", port)  # the wildcard overlaps the loopback address
        with pytest.raises(ManagerError, match="already in use"):
            address_free_check("127.0.0.1", port)
    assert not address_in_use("127.0.0.1", port)
