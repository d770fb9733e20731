"""Limits read from fake /sys and /proc trees: cgroup v1, v2 and the hybrid of both, nested and at `/`, the
"no limit" values, the cpuset and the affinity mask, and Kubernetes requests standing in for missing limits."""

from pathlib import Path

import pytest

from entrypoint.settings import limits
from entrypoint.settings.errors import ConfigError

MiB = limits.MiB
V1_NO_LIMIT = "9223372036854771712"  # what v1 writes for "no limit" with 4 KiB pages
MEMINFO = "MemTotal:       16384000 kB\nMemFree:         1000000 kB\n"
HOST_MEMORY = 16384000 * 1024


def tree(root: Path, files: dict[str, str]) -> str:
    """A fake filesystem under `root`: path -> content (a path ending in / is an empty directory)."""
    for name, content in {"proc/meminfo": MEMINFO, **files}.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    return str(root)


def read(root: str, env: dict[str, str] | None = None, affinity: int = 8) -> limits.Limits:
    return limits.read(env or {}, root, affinity)


def test_v2_inside_a_container_at_the_root(tmp_path):
    root = tree(tmp_path, {"proc/self/cgroup": "0::/", "sys/fs/cgroup/cgroup.controllers": "cpu memory",
                           "sys/fs/cgroup/cpu.max": "50000 100000", "sys/fs/cgroup/memory.max": str(128 * MiB)})
    found = read(root)
    assert found == limits.Limits(0.5, "cgroup v2 cpu.max", 128 * MiB, "cgroup v2 memory.max")
    assert found.describe() == "cpu 0.5 (cgroup v2 cpu.max), memory 128 MiB (cgroup v2 memory.max)"


def test_v2_nested_takes_the_tightest_ancestor(tmp_path):
    pod, container = "sys/fs/cgroup/kubepods/pod1", "sys/fs/cgroup/kubepods/pod1/c1"
    root = tree(tmp_path, {"proc/self/cgroup": "0::/kubepods/pod1/c1", "sys/fs/cgroup/cgroup.controllers": "",
                           f"{container}/cpu.max": "max 100000", f"{pod}/cpu.max": "150000 100000",
                           f"{container}/memory.max": "max", f"{pod}/memory.max": str(256 * MiB),
                           "sys/fs/cgroup/kubepods/memory.max": str(1024 * MiB)})
    assert read(root) == limits.Limits(1.5, "cgroup v2 cpu.max", 256 * MiB, "cgroup v2 memory.max")


def test_v1_nested_on_a_host_and_a_combined_cpu_mount_without_its_link(tmp_path):
    cpu, memory = "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/memory"
    root = tree(tmp_path, {"proc/self/cgroup": "5:memory:/app/web\n3:cpu,cpuacct:/app/web\n1:name=systemd:/",
                           f"{cpu}/app/web/cpu.cfs_quota_us": "-1", f"{cpu}/app/web/cpu.cfs_period_us": "100000",
                           f"{cpu}/app/cpu.cfs_quota_us": "100000", f"{cpu}/app/cpu.cfs_period_us": "100000",
                           f"{memory}/app/web/memory.limit_in_bytes": V1_NO_LIMIT,
                           f"{memory}/app/memory.limit_in_bytes": str(512 * MiB),
                           f"{memory}/memory.limit_in_bytes": V1_NO_LIMIT})
    found = read(root)
    assert found == limits.Limits(1.0, "cgroup v1 cpu.cfs_quota_us", 512 * MiB, "cgroup v1 memory.limit_in_bytes")
    assert found.describe() == ("cpu 1 (cgroup v1 cpu.cfs_quota_us), "
                                "memory 512 MiB (cgroup v1 memory.limit_in_bytes)")


def test_hybrid_like_this_machine_v1_controllers_and_an_empty_v2_mount(tmp_path):
    """v1 cpu at `/` with no quota, memory nested; the v2 hierarchy at /sys/fs/cgroup/unified holds no
    controller files."""
    root = tree(tmp_path, {
        "proc/self/cgroup": "4:memory:/process_api/abc\n3:cpuset:/\n1:cpu:/\n0::/",
        "sys/fs/cgroup/unified/cgroup.procs": "", "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1",
        "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000", "sys/fs/cgroup/cpu/tests/cpu.cfs_quota_us": "1000",
        "sys/fs/cgroup/cpuset/cpuset.cpus": "0-1", "sys/fs/cgroup/cpuset/cpuset.effective_cpus": "0-1",
        "sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": str(300 * MiB),
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT})
    assert read(root, affinity=2) == limits.Limits(2.0, "cgroup v1 cpuset.effective_cpus", 300 * MiB,
                                                   "cgroup v1 memory.limit_in_bytes")


def test_docker_on_v1_without_a_cgroup_namespace_finds_its_own_cgroup_at_the_mount_root(tmp_path):
    """/proc/self/cgroup names the host's path; the container's mount shows its own cgroup at its root."""
    root = tree(tmp_path, {"proc/self/cgroup": "4:memory:/docker/0123\n1:cpu,cpuacct:/docker/0123",
                           "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
                           "sys/fs/cgroup/memory/memory.limit_in_bytes": str(128 * MiB)})
    assert read(root)[::2] == (0.5, 128 * MiB)


@pytest.mark.parametrize("files", [
    {"proc/self/cgroup": "0::/", "sys/fs/cgroup/cgroup.controllers": "", "sys/fs/cgroup/cpu.max": "max 100000",
     "sys/fs/cgroup/memory.max": "max"},
    {"proc/self/cgroup": "2:memory:/\n1:cpu:/", "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1",
     "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000", "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT},
    {"proc/self/cgroup": "2:memory:/", "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854710272"},  # 64K
    {},  # no cgroups at all (not Linux, or /proc not mounted)
], ids=["v2 max", "v1 -1 and the page-rounded maximum", "v1 maximum with 64 KiB pages", "no cgroup files"])
def test_no_limit_values_leave_the_affinity_and_the_host_memory(tmp_path, files):
    assert read(tree(tmp_path, files), affinity=3) == limits.Limits(3.0, "affinity", HOST_MEMORY,
                                                                    "/proc/meminfo MemTotal")


def test_the_cpuset_and_the_affinity_mask_bound_the_cpus(tmp_path):
    v2 = tree(tmp_path / "v2", {"proc/self/cgroup": "0::/c", "sys/fs/cgroup/cgroup.controllers": "",
                                "sys/fs/cgroup/c/cpuset.cpus.effective": "0-1,4", "sys/fs/cgroup/c/cpu.max": "800000 100000"})
    assert read(v2)[:2] == (3.0, "cgroup v2 cpuset.cpus.effective")
    assert read(v2, affinity=2)[:2] == (2.0, "affinity")
    v1 = tree(tmp_path / "v1", {"proc/self/cgroup": "3:cpuset:/c", "sys/fs/cgroup/cpuset/c/cpuset.cpus": "2"})
    assert read(v1)[:2] == (1.0, "cgroup v1 cpuset.cpus")


def test_the_real_machine_reads_without_error():
    found = limits.read({})
    assert found.cpu >= 1 and found.cpu_from and (found.memory is None or found.memory > 0)


def test_kubernetes_requests_stand_in_only_for_missing_limits(tmp_path):
    requests = {"PROD_ENTRY_CPU_REQUEST": "500m", "PROD_ENTRY_MEMORY_REQUEST": "256Mi"}
    none = tree(tmp_path / "none", {})
    assert read(none, requests) == limits.Limits(0.5, "PROD_ENTRY_CPU_REQUEST", 256 * MiB,
                                                 "PROD_ENTRY_MEMORY_REQUEST")
    assert read(none, {"PROD_ENTRY_CPU_REQUEST": "2", "PROD_ENTRY_MEMORY_REQUEST": "1G"})[::2] == (2.0, 10**9)
    assert read(none, {"PROD_ENTRY_MEMORY_REQUEST": "134217728"}).memory == 128 * MiB
    limited = tree(tmp_path / "limited", {"proc/self/cgroup": "0::/", "sys/fs/cgroup/cgroup.controllers": "",
                                          "sys/fs/cgroup/cpu.max": "100000 100000",
                                          "sys/fs/cgroup/memory.max": str(512 * MiB)})
    assert read(limited, requests)[::2] == (1.0, 512 * MiB)


def test_a_request_of_0_is_none_as_resourcefieldref_writes_it_for_a_container_that_requests_nothing(tmp_path):
    found = read(tree(tmp_path, {}), {"PROD_ENTRY_CPU_REQUEST": "0", "PROD_ENTRY_MEMORY_REQUEST": "0"}, affinity=2)
    assert found == limits.Limits(2.0, "affinity", HOST_MEMORY, "/proc/meminfo MemTotal")


@pytest.mark.parametrize("var, value", [("PROD_ENTRY_CPU_REQUEST", "half"), ("PROD_ENTRY_CPU_REQUEST", "-1"),
                                        ("PROD_ENTRY_MEMORY_REQUEST", "128MB"), ("PROD_ENTRY_MEMORY_REQUEST", "-1Gi")])
def test_a_request_that_is_no_quantity_is_a_configuration_error(tmp_path, var, value):
    with pytest.raises(ConfigError, match=f"{var}='{value}' is not a Kubernetes quantity"):
        read(tree(tmp_path, {}), {var: value})
