"""The project's image, built from the Dockerfile and run by a real Docker engine (host network, free ports):
it serves, prod-entry is PID 1 with gunicorn as its child, `docker stop` ends it cleanly, HUP reloads gunicorn,
the HEALTHCHECK turns healthy, and exit statuses pass through."""

from __future__ import annotations

import json


from container_support import Docker
from support import describe, free_port, http_get, wait_until


# Every process in the container: pid -> (ppid, argv), read from /proc inside it.
PS = ("import json, os\n"
      "procs = {}\n"
      "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
      "    try:\n"
      "        stat = open(f'/proc/{pid}/stat').read()\n"
      "        argv = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
      "    except OSError:\n"
      "        continue\n"
      "    procs[pid] = [int(stat.rsplit(')', 1)[1].split()[1]), [a.decode() for a in argv if a]]\n"
      "print(json.dumps(procs))")


def processes(docker: Docker, name: str) -> dict[int, tuple[int, list[str]]]:
    proc = docker("exec", name, "python", "-c", PS, check=True)
    return {int(pid): (ppid, argv) for pid, (ppid, argv) in json.loads(proc.stdout).items()
            if "python -c" not in " ".join(argv[:2]) and argv[:2] != ["python", "-c"]}


def gunicorn_master(procs: dict[int, tuple[int, list[str]]]) -> int:
    """The gunicorn master: the gunicorn process whose parent is not gunicorn."""
    gunicorns = {pid for pid, (_, argv) in procs.items() if any("gunicorn" in a for a in argv[:2])}
    masters = [pid for pid in gunicorns if procs[pid][0] not in gunicorns]
    assert len(masters) == 1, f"expected one gunicorn master in {procs}"
    return masters[0]


def workers(docker: Docker, name: str) -> set[int]:
    procs = processes(docker, name)
    master = gunicorn_master(procs)
    return {pid for pid, (ppid, _) in procs.items() if ppid == master}


def inspect(docker: Docker, name: str, template: str) -> str:
    return docker("inspect", "--format", template, name, check=True).stdout.strip()


def serving(docker: Docker, image: str, *args: str, extra: tuple[str, ...] = ()) -> tuple[str, int]:
    """A detached web container on a free port, answering /healthz with 200."""
    port = free_port()
    name = docker.start("-e", f"PORT={port}", *extra, image, "web", *args)

    def answered() -> bool:
        state = inspect(docker, name, "{{.State.Status}}")
        assert state == "running", f"container {state}:\n{docker('logs', name).stderr}"
        return (http_get(f"http://127.0.0.1:{port}/healthz", timeout=2) or (0,))[0] == 200

    wait_until(answered, 30, 0.2, f"the container to serve /healthz on {port}")
    return name, port


def test_image_metadata(docker: Docker, image: str) -> None:
    config = json.loads(docker("image", "inspect", image, check=True).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["prod-entry"] and config["Cmd"] == ["web"]
    assert config["StopSignal"] == "SIGTERM" and "8000/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"] == ["CMD", "prod-entry", "healthcheck"]
    assert config["User"] == "10001:10001"


def test_runtime_is_non_root_without_compilers_or_tini(docker: Docker, image: str) -> None:
    # The group too: the image runs as 10001:10001, a group that has a name (it was gid 999's, unnamed for 10001).
    proc = docker("run", "--rm", "--network", "host", image, "sh", "-c",
                  "id -u; id -g; id -gn; for c in gcc cc make tini dumb-init; do command -v $c; done; exit 0")
    assert proc.returncode == 0 and proc.stdout.split() == ["10001", "10001", "app"], describe(proc)


def test_web_serves_healthz(docker: Docker, image: str) -> None:
    name, port = serving(docker, image)
    assert http_get(f"http://127.0.0.1:{port}/")[0] == 200
    docker.remove(name)


def test_serves_with_a_read_only_root_filesystem(docker: Docker, image: str) -> None:
    """As the Helm chart runs it: read-only root, only /tmp writable, all capabilities dropped."""
    name, _ = serving(docker, image, extra=("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"))
    docker.remove(name)


def test_pid1_is_prod_entry_with_gunicorn_as_its_child(docker: Docker, image: str) -> None:
    name, _ = serving(docker, image)
    procs = processes(docker, name)
    _, init_argv = procs[1]
    # The supervisor may re-exec itself lean (`python -I -S -c ... /opt/venv/bin/prod-entry web`).
    assert any(a.endswith("/prod-entry") or "entrypoint" in a for a in init_argv), f"PID 1 is {init_argv}"
    master = gunicorn_master(procs)
    assert procs[master][0] == 1, f"gunicorn's master {master} is not a child of PID 1: {procs}"
    docker.remove(name)


def test_docker_stop_exits_0_within_2_seconds(docker: Docker, image: str) -> None:
    """`docker stop -t 2`: if the container were still running after 2 s it would be KILLed (137)."""
    name, _ = serving(docker, image)
    stopped = docker("stop", "-t", "2", name)
    assert stopped.returncode == 0, describe(stopped)
    status = inspect(docker, name, "{{.State.ExitCode}} {{.State.OOMKilled}}")
    assert status == "0 false", f"exit status {status}\n{docker('logs', name).stderr}"
    docker.remove(name)


def test_healthcheck_becomes_healthy(docker: Docker, image: str) -> None:
    name, _ = serving(docker, image, extra=("--health-interval", "1s", "--health-start-period", "0s"))

    def healthy() -> bool:
        return inspect(docker, name, "{{.State.Health.Status}}") == "healthy"

    try:
        wait_until(healthy, 30, 0.5, "the HEALTHCHECK to report healthy")
    finally:
        log = inspect(docker, name, "{{json .State.Health.Log}}")
        docker.remove(name)
    assert log


def test_hup_reloads_gunicorn_workers(docker: Docker, image: str) -> None:
    name, port = serving(docker, image, "--workers", "2")
    def two_workers() -> set[int] | None:
        now = workers(docker, name)
        return now if len(now) == 2 else None

    before = wait_until(two_workers, 20, 0.2, "two gunicorn workers")
    docker("kill", "--signal", "HUP", name, check=True)

    def replaced() -> set[int] | None:
        now = workers(docker, name)
        return now if len(now) == 2 and not now & before else None

    after = wait_until(replaced, 30, 0.2, f"new workers to replace {before}")
    assert inspect(docker, name, "{{.State.Status}}") == "running"
    assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n"), after
    docker.remove(name)


def test_exit_status_of_a_command_passes_through(docker: Docker, image: str) -> None:
    proc = docker("run", "--rm", "--network", "host", image, "sh", "-c", "exit 7")
    assert proc.returncode == 7, describe(proc)


def test_unknown_command_exits_127_with_one_clear_line(docker: Docker, image: str) -> None:
    proc = docker("run", "--rm", "--network", "host", image, "no-such-command")
    assert proc.returncode == 127, describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-command" in lines[0] and "Traceback" not in proc.stderr, describe(proc)


def test_json_logs_every_line_of_docker_logs(docker: Docker, image: str) -> None:
    """PROD_ENTRY_LOG_FORMAT=json: after a request, one to a view that raises and a `docker stop`, every line
    of `docker logs` (stdout and stderr) is one JSON record of the schema, the error one record."""
    name, port = serving(docker, image, extra=("-e", "PROD_ENTRY_LOG_FORMAT=json", "-e", "PROD_ENTRY_LOG_LEVEL=debug"))
    assert http_get(f"http://127.0.0.1:{port}/")[0] == 200
    assert http_get(f"http://127.0.0.1:{port}/boom")[0] == 500
    assert docker("stop", "-t", "10", name).returncode == 0
    logs = docker("logs", name, check=True)
    lines = [*logs.stdout.splitlines(), *logs.stderr.splitlines()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not JSON: {line!r}\n{describe(logs)}") from None
    assert all({"time", "level", "logger", "message", "process", "pid"} <= r.keys() for r in records), describe(logs)
    assert [r["exc_type"] for r in records if r.get("exc_type")] == ["RuntimeError"], describe(logs)
    assert any(r.get("path") == "/boom" and r.get("status") == 500 for r in records), describe(logs)
    docker.remove(name)
