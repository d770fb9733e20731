"""An orphan storm under a real PID 1: 10,000 processes die after their parent, so their exit statuses go
to PID 1. None may stay a zombie."""

from __future__ import annotations

import sys

import pytest

from pid1_support import run_pid1
from support import describe

ORPHANS = 10_000

# Runs as the main process: a middle process forks the orphans and exits without reaping any; then we look
# at the whole namespace (/proc is its own) until no zombie is left, or give up after a minute.
STORM = f"""
import os, time
middle = os.fork()
if middle == 0:
    for _ in range({ORPHANS}):
        if os.fork() == 0:
            os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)

def zombies():
    found = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{{name}}/stat") as f:
                    found += f.read().rpartition(")")[2].split()[0] == "Z"
            except OSError:
                pass
    return found

deadline = time.monotonic() + 60
while zombies() and time.monotonic() < deadline:
    time.sleep(0.1)
print("zombies", zombies(), flush=True)
"""


@pytest.mark.slow
def test_orphan_storm_leaves_no_zombie() -> None:
    proc = run_pid1([sys.executable, "-c", STORM], timeout=180)
    assert proc.returncode == 0 and "zombies 0" in proc.stdout, describe(proc)
