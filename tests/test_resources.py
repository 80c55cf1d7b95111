"""nnrnn.resources: usable CPUs and memory from affinity, cgroup v1/v2 files and psutil.

Each test lays out a fake control-group tree (and a fake ``/proc/self/cgroup``) under
``tmp_path`` and passes its paths in, so the tests do not depend on the machine they run on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nnrnn import resources

GiB = 2**30
V1_UNLIMITED = "9223372036854771712"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def _v2(tmp_path: Path, group: str = "/", files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A cgroup v2 mount at tmp/cg with the process in ``group``; returns (root, proc_cgroup)."""
    root = tmp_path / "cg"
    _write(root, {"cgroup.controllers": "cpu memory"})
    _write(root, files or {})
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(f"0::{group}\n")
    return root, proc


def _v1(tmp_path: Path, files: dict[str, str], cpu_group: str = "/", memory_group: str = "/",
        cpu_mount: str = "cpu,cpuacct") -> tuple[Path, Path]:
    """A cgroup v1 tree (cpu and memory controllers) at tmp/cg; returns (root, proc_cgroup)."""
    root = tmp_path / "cg"
    (root / cpu_mount).mkdir(parents=True, exist_ok=True)
    (root / "memory").mkdir(parents=True, exist_ok=True)
    _write(root, files)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(f"4:memory:{memory_group}\n2:cpu,cpuacct:{cpu_group}\n1:name=systemd:/\n0::/\n")
    return root, proc


# ----------------------------------------------------------------------------- CPUs
@pytest.mark.parametrize(
    "cpu_max, affinity, expected",
    [
        ("max 100000", 8, 8),         # no quota: the affinity mask decides
        ("200000 100000", 8, 2),      # --cpus=2
        ("150000 100000", 8, 2),      # 1.5 CPUs: two processes
        ("50000 100000", 8, 1),       # half a CPU: still one
        ("400000 100000", 3, 3),      # affinity smaller than the quota
    ],
)
def test_cpus_v2_quota_and_affinity_take_the_minimum(tmp_path, cpu_max, affinity, expected):
    root, proc = _v2(tmp_path, files={"cpu.max": cpu_max})
    assert resources.available_cpus(root, proc, affinity=affinity) == expected


def test_cpus_v2_smallest_quota_along_the_path(tmp_path):
    root, proc = _v2(tmp_path, "/kubepods/pod1/c1", {
        "kubepods/cpu.max": "300000 100000",
        "kubepods/pod1/cpu.max": "100000 100000",   # the pod's limit: one CPU
        "kubepods/pod1/c1/cpu.max": "max 100000",
    })
    assert resources.cgroup_cpu_limit(root, proc) == pytest.approx(1.0)
    assert resources.available_cpus(root, proc, affinity=16) == 1


def test_cpus_v2_group_not_visible_falls_back_to_the_mount(tmp_path):
    root, proc = _v2(tmp_path, "/host/path/not/mounted/here", {"cpu.max": "200000 100000"})
    assert resources.available_cpus(root, proc, affinity=16) == 2


def test_cpus_v2_on_a_hybrid_host_reads_the_unified_mount(tmp_path):
    root = tmp_path / "cg"
    _write(root, {"unified/cgroup.controllers": "cpu", "unified/cpu.max": "300000 100000"})
    proc = tmp_path / "proc"
    proc.write_text("0::/\n")
    assert resources.available_cpus(root, proc, affinity=16) == 3


@pytest.mark.parametrize(
    "quota, period, expected",
    [("-1", "100000", 16), ("200000", "100000", 2), ("250000", "100000", 3)],
)
def test_cpus_v1_cfs_quota(tmp_path, quota, period, expected):
    root, proc = _v1(tmp_path, {"cpu,cpuacct/cpu.cfs_quota_us": quota, "cpu,cpuacct/cpu.cfs_period_us": period})
    assert resources.available_cpus(root, proc, affinity=16) == expected


def test_cpus_v1_controller_mounted_alone_and_nested_group(tmp_path):
    root, proc = _v1(tmp_path, {
        "cpu/docker/abc/cpu.cfs_quota_us": "100000", "cpu/docker/abc/cpu.cfs_period_us": "100000",
    }, cpu_group="/docker/abc", cpu_mount="cpu")
    assert resources.available_cpus(root, proc, affinity=16) == 1


@pytest.mark.parametrize("garbage", ["", "lots 100000", "100000", "0 100000"])
def test_cpus_unreadable_quota_is_ignored(tmp_path, garbage):
    root, proc = _v2(tmp_path, files={"cpu.max": garbage})
    assert resources.cgroup_cpu_limit(root, proc) is None
    assert resources.available_cpus(root, proc, affinity=5) == 5


def test_cpus_without_cgroups_is_the_affinity_and_at_least_one(tmp_path):
    missing = tmp_path / "none"
    assert resources.available_cpus(missing, missing, affinity=7) == 7
    assert resources.available_cpus(missing, missing, affinity=0) == 1


def test_cpus_reads_this_machines_affinity():
    import os

    n = resources.available_cpus()
    assert 1 <= n <= (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())


# ----------------------------------------------------------------------------- memory
def test_memory_v2_limit_minus_working_set(tmp_path):
    root, proc = _v2(tmp_path, "/job", {
        "job/memory.max": str(4 * GiB),
        "job/memory.current": str(3 * GiB),
        "job/memory.stat": f"anon {2 * GiB}\nfile {GiB}\ninactive_file {GiB // 2}\nactive_file {GiB // 2}",
    })
    # working set = 3 GiB - 0.5 GiB of reclaimable cache; headroom = 4 - 2.5 = 1.5 GiB
    assert resources.cgroup_memory_available(root, proc) == 4 * GiB - (3 * GiB - GiB // 2)
    assert resources.available_memory_bytes(root, proc, system_available=20 * GiB) == 3 * GiB // 2
    # the system's available memory caps it too
    assert resources.available_memory_bytes(root, proc, system_available=GiB) == GiB


def test_memory_v2_max_means_no_limit(tmp_path):
    root, proc = _v2(tmp_path, files={"memory.max": "max", "memory.current": str(GiB)})
    assert resources.cgroup_memory_available(root, proc) is None
    assert resources.available_memory_bytes(root, proc, system_available=5 * GiB) == 5 * GiB


def test_memory_v2_smallest_headroom_along_the_path(tmp_path):
    root, proc = _v2(tmp_path, "/a/b", {
        "a/memory.max": str(2 * GiB), "a/memory.current": str(GiB),
        "a/b/memory.max": str(8 * GiB), "a/b/memory.current": str(GiB),
    })
    assert resources.cgroup_memory_available(root, proc) == GiB


def test_memory_v1_limit_usage_and_total_inactive_file(tmp_path):
    root, proc = _v1(tmp_path, {
        "memory/slurm/job1/memory.limit_in_bytes": str(6 * GiB),
        "memory/slurm/job1/memory.usage_in_bytes": str(2 * GiB),
        "memory/slurm/job1/memory.stat": f"cache {GiB}\ninactive_file 0\ntotal_inactive_file {GiB}",
        "memory/memory.limit_in_bytes": V1_UNLIMITED,
    }, memory_group="/slurm/job1")
    assert resources.cgroup_memory_available(root, proc) == 5 * GiB
    assert resources.available_memory_bytes(root, proc, system_available=64 * GiB) == 5 * GiB


def test_memory_v1_unlimited_is_no_limit(tmp_path):
    root, proc = _v1(tmp_path, {"memory/memory.limit_in_bytes": V1_UNLIMITED, "memory/memory.usage_in_bytes": "1"})
    assert resources.cgroup_memory_available(root, proc) is None


def test_memory_over_the_limit_is_zero_not_negative(tmp_path):
    root, proc = _v2(tmp_path, files={"memory.max": str(GiB), "memory.current": str(2 * GiB)})
    assert resources.cgroup_memory_available(root, proc) == 0


def test_memory_defaults_to_psutil():
    import psutil

    assert 0 < resources.available_memory_bytes() <= psutil.virtual_memory().total


# ----------------------------------------------------------------------------- workers
@pytest.mark.parametrize(
    "per_worker, cpus, memory, expected",
    [
        (GiB, 8, 3 * GiB, 3),           # memory-bound
        (GiB, 2, 64 * GiB, 2),          # CPU-bound
        (64 * GiB, 8, GiB, 1),          # at least one
        (None, 6, 1, 6),                # CPUs alone
    ],
)
def test_default_workers_is_the_minimum_of_cpus_and_memory(per_worker, cpus, memory, expected):
    assert resources.default_workers(per_worker, cpus=cpus, memory_bytes=memory) == expected


def test_default_workers_reads_the_machine(monkeypatch):
    monkeypatch.setattr(resources, "available_cpus", lambda: 4)
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 10 * GiB)
    assert resources.default_workers(3 * GiB) == 3
    assert resources.default_workers() == 4


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1G", True])
def test_default_workers_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="per_worker_bytes must be a positive integer.*got"):
        resources.default_workers(bad, cpus=2, memory_bytes=GiB)
