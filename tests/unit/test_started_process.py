"""`prod-entry healthcheck` with no NAME probes the process the container's PID 1 was started with: read from
PID 1's command line, as the lean supervisor and the console script each leave it."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoint.health.probes import started_process


@pytest.mark.parametrize(("argv", "name"), [
    # the lean supervisor, restarted as a bare python (`docker run image worker`)
    (["/usr/local/bin/python3", "-I", "-S", "-c", "import sys; ...; supervise(7)", "/opt/venv/bin/prod-entry",
      "worker"], "worker"),
    # before its restart, or where it could not restart
    (["/opt/venv/bin/python", "/opt/venv/bin/prod-entry", "web", "--workers=2"], "web"),
    (["/opt/venv/bin/prod-entry", "--traceback", "beat"], "beat"),
    # no NAME: the default process, as before
    (["/opt/venv/bin/prod-entry"], None),
    (["/opt/venv/bin/prod-entry", "check", "web"], None),
    # PID 1 is not prod-entry
    (["/usr/bin/tini", "--", "prod-entry", "web"], "web"),
    (["/sbin/init"], None),
    (["/bin/sh", "-c", "exec gunicorn app"], None),
])
def test_the_name_pid_1_was_started_with(tmp_path: Path, argv: list[str], name: str | None) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"\0".join(word.encode() for word in argv) + b"\0")
    assert started_process(str(cmdline)) == name


def test_no_readable_pid_1_is_no_name(tmp_path: Path) -> None:
    assert started_process(str(tmp_path / "missing")) is None
