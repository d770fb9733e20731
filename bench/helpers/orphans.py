"""Figure 5's child, run under the init as PID 1 of its own namespace: leaves N orphans for the init to reap
and times how long it takes. Prints one JSON line: {"orphans", "seconds", "zombies_left"}.

An intermediate process forks N children that exit at once (zombies of the intermediate), waits until all
of them are zombies, notes the clock and exits: the kernel hands the N zombies to PID 1 in one go. This
process then watches the namespace's /proc until only PID 1 and itself are left.
"""

import json
import os
import sys
import time

count = int(sys.argv[1])
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
if os.getpid() == 1:
    sys.exit("orphans.py: this is PID 1 itself (the init exec'd it instead of staying): nothing to measure")


def others() -> list[str]:
    """Every process in this PID namespace but PID 1 and this one (zombies included, until reaped)."""
    mine = {"1", str(os.getpid())}
    return [name for name in os.listdir("/proc") if name.isdigit() and name not in mine]


def any_others() -> bool:
    """others() != [], cheaply: stops at the first one, so that polling does not slow the reaping down."""
    mine = {"1", str(os.getpid())}
    with os.scandir("/proc") as entries:
        return any(entry.name.isdigit() and entry.name not in mine for entry in entries)


def state(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "gone"
    return stat[stat.rindex(b")") + 2:].split()[0].decode()


read_end, write_end = os.pipe()
intermediate = os.fork()
if intermediate == 0:
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        children.append(str(pid))
    while any(state(pid) != "Z" for pid in children):
        time.sleep(0.01)
    os.write(write_end, b"%d" % time.monotonic_ns())
    os._exit(0)

os.close(write_end)
orphaned_at = int(os.read(read_end, 64))
os.waitpid(intermediate, 0)
deadline = time.monotonic() + timeout
while any_others() and time.monotonic() < deadline:
    time.sleep(0.001)
reaped_at = time.monotonic_ns()
left = [pid for pid in others() if state(pid) == "Z"]
print(json.dumps({"orphans": count, "seconds": (reaped_at - orphaned_at) / 1e9, "zombies_left": len(left)}),
      flush=True)
