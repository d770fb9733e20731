"""The CPUs and memory this process may use, and where each figure came from (for `show` and the start's log).

CPU: the tightest of the cgroup quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), the cpuset
(v2 `cpuset.cpus.effective`, v1 `cpuset.effective_cpus` or `cpuset.cpus`) and the affinity mask. Memory: the
tightest of v2 `memory.max` and v1 `memory.limit_in_bytes`, else the host's MemTotal. Where no quota or no memory
limit is set, a Kubernetes request stands in for it (below).

Where the cgroup files are: /proc/self/cgroup names this process's cgroup in each hierarchy (`4:memory:/a/b` for v1,
`0::/a/b` for v2; a host with both, like a hybrid systemd host, lists both); v1 controllers are mounted at
/sys/fs/cgroup/<controller>, v2 at /sys/fs/cgroup (pure v2) or /sys/fs/cgroup/unified (hybrid). Each hierarchy is
read from the process's own cgroup up to the root, because a parent's limit binds its children (v1 shows only the
cgroup's own setting, not its parent's). Directories that do not exist are skipped: inside a container with a
cgroup namespace every path is `/`; without one (Docker on cgroup v1) /proc/self/cgroup names the host's path
(`/docker/ID`) while the mount shows the container's own cgroup at its root, so the walk up reaches it there.

Kubernetes "requests but no limits" set no quota and no memory limit: give the requests through the downward API
(env `valueFrom.resourceFieldRef`, resource `requests.cpu` / `requests.memory`) as PROD_ENTRY_CPU_REQUEST and
PROD_ENTRY_MEMORY_REQUEST. Both take Kubernetes quantities (`500m`, `0.5`, `2`; `128Mi`, `1G`, bytes); with the
default divisor Kubernetes writes CPUs rounded up to a whole core and memory in bytes, and 0 where the container
requests nothing (read as no request).

Pure but for reading files under `root` (a fake /sys and /proc tree in the unit tests) and the affinity mask.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from entrypoint.settings.errors import ConfigError

CPU_REQUEST_VAR = "PROD_ENTRY_CPU_REQUEST"
MEMORY_REQUEST_VAR = "PROD_ENTRY_MEMORY_REQUEST"
MiB = 2**20

# v1 spells "no limit" as the largest page-aligned counter: 9223372036854771712 with 4 KiB pages, a little less
# with 64 KiB pages. Nothing that large is a real limit.
NO_MEMORY_LIMIT = 2**62

Found = tuple[float, str]  # a value and where it came from


class Limits(NamedTuple):
    cpu: float  # CPUs the process can keep busy at once (0.5 for a half-CPU quota)
    cpu_from: str  # "cgroup v1 cpu.cfs_quota_us", "affinity", ...
    memory: int | None  # bytes; None where nothing says (no cgroup limit, no request, no /proc/meminfo)
    memory_from: str

    def describe(self) -> str:
        """`cpu 0.5 (cgroup v2 cpu.max), memory 128 MiB (cgroup v2 memory.max)`."""
        memory = f"memory {self.memory // MiB} MiB ({self.memory_from})" if self.memory else "memory unknown"
        return f"cpu {self.cpu:g} ({self.cpu_from}), {memory}"


def read(env: Mapping[str, str], root: str = "/", affinity: int | None = None) -> Limits:
    """The limits of this process; `affinity` (the number of CPUs in its mask) is read when not given."""
    v1, v2 = cgroups(root)
    cpuset = v1.get("cpuset", [])
    quota = tightest([*found_in(v2, "cgroup v2 cpu.max", v2_quota),
                      *found_in(v1.get("cpu", []), "cgroup v1 cpu.cfs_quota_us", v1_quota)])
    cpus = tightest([*found_in(v2, "cgroup v2 cpuset.cpus.effective", cpus_in("cpuset.cpus.effective")),
                     *found_in(cpuset, "cgroup v1 cpuset.effective_cpus", cpus_in("cpuset.effective_cpus")),
                     *found_in(cpuset, "cgroup v1 cpuset.cpus", cpus_in("cpuset.cpus"))])
    mask = (float(affinity if affinity is not None else own_affinity()), "affinity")
    cpu = tightest([quota or request(env, CPU_REQUEST_VAR, cpu_quantity), cpus, mask])
    limit = tightest([*found_in(v2, "cgroup v2 memory.max", number_in("memory.max")),
                      *found_in(v1.get("memory", []), "cgroup v1 memory.limit_in_bytes",
                                number_in("memory.limit_in_bytes"))])
    memory = tightest([limit or request(env, MEMORY_REQUEST_VAR, memory_quantity), host_memory(root)])
    assert cpu is not None  # the mask is always there
    return Limits(cpu[0], cpu[1], int(memory[0]) if memory else None, memory[1] if memory else "")


def tightest(found: list[Found | None]) -> Found | None:
    """The smallest value (the first of equals: callers list the most telling source first)."""
    present = [f for f in found if f is not None]
    return min(present, key=lambda f: f[0]) if present else None


# --- where the cgroups are ---------------------------------------------------------------------------------

class Cgroups(NamedTuple):
    """This process's cgroup directories and their ancestors that exist, deepest first: v1 by controller, v2."""

    v1: dict[str, list[Path]]
    v2: list[Path]


def cgroups(root: str) -> Cgroups:
    """Where this process's cgroups are, from /proc/self/cgroup under `root`."""
    mounts = Path(root, "sys/fs/cgroup")
    v1: dict[str, list[Path]] = {}
    v2: list[Path] = []
    for line in text(Path(root, "proc/self/cgroup")).splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and not controllers:
            v2 = ancestors(mounts if (mounts / "cgroup.controllers").exists() else mounts / "unified", path)
            continue
        for controller in controllers.split(","):
            # `cpu,cpuacct` is mounted under that name, with a `cpu` link beside it on most hosts but not all.
            mount = mounts / controller
            v1[controller] = ancestors(mount if mount.exists() else mounts / controllers, path)
    return Cgroups(v1, v2)


def ancestors(mount: Path, path: str) -> list[Path]:
    path = posixpath.normpath("/" + path.lstrip("/"))  # a v1 path seen from a namespace may read `/../..`
    chain = [path]
    while path != "/":
        path = posixpath.dirname(path)
        chain.append(path)
    return [mount / p.lstrip("/") for p in chain if (mount / p.lstrip("/")).is_dir()]


def found_in(dirs: list[Path], where: str, reader: Callable[[Path], float | None]) -> list[Found | None]:
    return [(value, where) if (value := reader(d)) is not None else None for d in dirs]


# --- the files ------------------------------------------------------------------------------------------------

def text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def integer(path: Path) -> int | None:
    value = text(path)
    return int(value) if value.lstrip("-").isdigit() else None


def v2_quota(directory: Path) -> float | None:
    """`cpu.max`: `QUOTA PERIOD` in microseconds, or `max PERIOD` for none."""
    quota, _, period = text(directory / "cpu.max").partition(" ")
    return int(quota) / int(period) if quota.isdigit() and period.isdigit() and int(period) else None


def v1_quota(directory: Path) -> float | None:
    """cfs_quota_us / cfs_period_us; a quota of -1 is none."""
    quota, period = integer(directory / "cpu.cfs_quota_us"), integer(directory / "cpu.cfs_period_us")
    return quota / period if quota and quota > 0 and period else None


def number_in(name: str) -> Callable[[Path], float | None]:
    """A memory limit in bytes; `max` (v2) and v1's page-rounded maximum are none."""
    def reader(directory: Path) -> float | None:
        value = integer(directory / name)
        return value if value is not None and 0 < value < NO_MEMORY_LIMIT else None
    return reader


def cpus_in(name: str) -> Callable[[Path], float | None]:
    """The number of CPUs in a cpuset list such as `0-3,6`; empty (v2: inherited) is none."""
    def reader(directory: Path) -> float | None:
        count = 0
        for part in filter(None, text(directory / name).split(",")):
            low, _, high = part.partition("-")
            if not low.isdigit() or not (high or low).isdigit():
                return None
            count += int(high or low) - int(low) + 1
        return float(count) or None
    return reader


def own_affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def host_memory(root: str) -> Found | None:
    for line in text(Path(root, "proc/meminfo")).splitlines():
        name, _, value = line.partition(":")
        if name == "MemTotal" and value.split()[0].isdigit():
            return int(value.split()[0]) * 1024, "/proc/meminfo MemTotal"  # the file says kB, and means KiB
    return None


# --- Kubernetes requests ----------------------------------------------------------------------------------------

SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9,
            "T": 10**12}


def request(env: Mapping[str, str], var: str, parse: Callable[[str], float | None]) -> Found | None:
    value = env.get(var, "").strip()
    if not value:
        return None
    parsed = parse(value)
    if parsed is None or not 0 <= parsed < float("inf"):
        example = "500m, 0.5 or 2" if var == CPU_REQUEST_VAR else "512Mi, 1Gi or a number of bytes"
        raise ConfigError(f"{var}={value!r} is not a Kubernetes quantity: write e.g. {example}, or unset it")
    # resourceFieldRef writes 0 for a container that requests nothing.
    return (parsed, var) if parsed else None


def cpu_quantity(value: str) -> float | None:
    """`500m` -> 0.5, `2` -> 2.0."""
    return number(value[:-1], 1 / 1000) if value.endswith("m") else number(value, 1)


def memory_quantity(value: str) -> float | None:
    """`128Mi` -> 134217728, `1G` -> 10**9, `1048576` -> 1048576."""
    for suffix, factor in SUFFIXES.items():
        if value.endswith(suffix):
            return number(value[: -len(suffix)], factor)
    return number(value, 1)


def number(text: str, factor: float) -> float | None:
    try:
        return float(text) * factor
    except ValueError:
        return None
