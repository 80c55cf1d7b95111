"""The CPUs and memory this process may actually use, to size a pool of worker processes.

``os.cpu_count()`` is the host's number of cores. In a container (Binder, a CI runner, a
Kubernetes pod, a Slurm job) the process may use far fewer: the CPU affinity mask
(``taskset``, Slurm's ``--cpus-per-task``) and the control group's CPU quota (Docker's
``--cpus``, a pod's CPU limit) both cap it, and the control group's memory limit caps how
many workers fit in memory. This module reads both generations of control groups:

* cgroup v2: ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``), ``memory.max``,
  ``memory.current`` and ``memory.stat``;
* cgroup v1: ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota ``-1``: none),
  ``memory.limit_in_bytes``, ``memory.usage_in_bytes`` and ``memory.stat``.

The process's group is read from ``/proc/self/cgroup``; limits are read in that group and in
each group above it up to the mount point, and the smallest one applies. Every file that is
missing or unreadable is skipped, so on macOS, Windows or a machine without control groups the
answers fall back to the affinity mask (or ``os.cpu_count()``) and the system's available memory
(``psutil.virtual_memory().available``, which is ``MemAvailable`` in ``/proc/meminfo`` on Linux).

Examples:
    >>> available_cpus() >= 1
    True
    >>> default_workers(1, cpus=8, memory_bytes=3) == 3
    True
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import psutil

__all__ = [
    "CGROUP_ROOT",
    "PROC_SELF_CGROUP",
    "available_cpus",
    "cgroup_cpu_limit",
    "available_memory_bytes",
    "cgroup_memory_available",
    "default_workers",
]

#: Where control groups are mounted on Linux.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The control groups of this process, one ``hierarchy-id:controllers:path`` line each.
PROC_SELF_CGROUP = Path("/proc/self/cgroup")

# A v1 "no limit" memory value is the largest page-aligned int64 (9223372036854771712);
# anything this large is no limit.
_UNLIMITED = 1 << 60


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _memberships(proc_cgroup: Path) -> list[tuple[list[str], str]]:
    """``[(controllers, path)]`` from ``/proc/self/cgroup``; v2's line has no controllers."""
    text = _read(proc_cgroup)
    out = []
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append(([c for c in parts[1].split(",") if c], parts[2]))
    return out


def _group_dirs(mount: Path, rel: str) -> list[Path]:
    """The process's group under ``mount`` and each group above it, up to ``mount`` itself.

    Where the group is not visible under the mount (a container that sees the host's path in
    ``/proc/self/cgroup`` but has its own group mounted), the mount itself is the group.
    """
    if ".." in Path(rel).parts:  # a group outside this namespace's view
        return [mount]
    here = mount / rel.strip("/")
    if not here.is_dir():
        return [mount]
    dirs = [here]
    while dirs[-1] != mount and mount in dirs[-1].parents:
        dirs.append(dirs[-1].parent)
    return dirs


def _v2_dirs(root: Path, proc_cgroup: Path) -> list[Path]:
    """Groups of the unified (v2) hierarchy, at ``root`` or, on a hybrid host, ``root/unified``."""
    for mount in (root, root / "unified"):
        if (mount / "cgroup.controllers").is_file():
            rel = next((p for c, p in _memberships(proc_cgroup) if not c), "/")
            return _group_dirs(mount, rel)
    return []


def _v1_dirs(root: Path, proc_cgroup: Path, controller: str) -> list[Path]:
    """Groups of the v1 hierarchy that holds ``controller`` (mounted e.g. as ``cpu,cpuacct``)."""
    for controllers, rel in _memberships(proc_cgroup):
        if controller in controllers:
            for name in (",".join(controllers), controller):
                if (root / name).is_dir():
                    return _group_dirs(root / name, rel)
    return [root / controller] if (root / controller).is_dir() else []


def cgroup_cpu_limit(root: str | os.PathLike = CGROUP_ROOT,
                     proc_cgroup: str | os.PathLike = PROC_SELF_CGROUP) -> float | None:
    """The CPU quota of this process's control group in CPUs (e.g. ``1.5``), or ``None``.

    The quota is ``quota / period`` from ``cpu.max`` (v2) or ``cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us`` (v1), the smallest over the group and the groups above it.

    Args:
        root: where control groups are mounted. Default: ``/sys/fs/cgroup``.
        proc_cgroup: the file that names the process's groups. Default: ``/proc/self/cgroup``.

    Returns:
        The quota in CPUs, or ``None`` when no group sets one (or there are no control groups).

    Examples:
        >>> cgroup_cpu_limit("/nonexistent", "/nonexistent") is None
        True
    """
    root, proc_cgroup = Path(root), Path(proc_cgroup)
    limits: list[float] = []
    for d in _v2_dirs(root, proc_cgroup):
        fields = (_read(d / "cpu.max") or "").split()
        if len(fields) == 2 and fields[0] != "max":
            try:
                quota, period = int(fields[0]), int(fields[1])
            except ValueError:
                continue
            if quota > 0 and period > 0:
                limits.append(quota / period)
    for d in _v1_dirs(root, proc_cgroup, "cpu"):
        quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
        try:
            q, p = int(quota or ""), int(period or "")
        except ValueError:
            continue
        if q > 0 and p > 0:
            limits.append(q / p)
    return min(limits) if limits else None


def available_cpus(root: str | os.PathLike = CGROUP_ROOT,
                   proc_cgroup: str | os.PathLike = PROC_SELF_CGROUP,
                   affinity: int | None = None) -> int:
    """The number of CPUs this process may use: affinity mask and cgroup quota, at least 1.

    The smaller of the CPUs in the affinity mask (``os.sched_getaffinity(0)``; where the
    platform has none, ``os.cpu_count()``) and the control group's CPU quota rounded up
    (a quota of 1.5 CPUs lets two processes run at three quarters of a CPU each).

    Args:
        root: where control groups are mounted. Default: ``/sys/fs/cgroup``.
        proc_cgroup: the file that names the process's groups. Default: ``/proc/self/cgroup``.
        affinity: the number of CPUs in the affinity mask. Default: ``None`` (read it).

    Examples:
        >>> available_cpus("/nonexistent", "/nonexistent", affinity=6)
        6
    """
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
            affinity = os.cpu_count() or 1
    cpus = affinity
    quota = cgroup_cpu_limit(root, proc_cgroup)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, int(cpus))


def _int_or_none(text: str | None) -> int | None:
    if text is None or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _inactive_file(stat: str | None) -> int:
    """Reclaimable page cache in a ``memory.stat`` (v1 totals include the groups below)."""
    values = {}
    for line in (stat or "").splitlines():
        key, _, value = line.partition(" ")
        values[key] = value
    for key in ("total_inactive_file", "inactive_file"):
        if key in values and values[key].strip().isdigit():
            return int(values[key])
    return 0


def cgroup_memory_available(root: str | os.PathLike = CGROUP_ROOT,
                            proc_cgroup: str | os.PathLike = PROC_SELF_CGROUP) -> int | None:
    """Bytes the control group may still allocate: its limit minus its working set, or ``None``.

    For each group (the process's and those above it) that sets a limit (``memory.max`` in v2,
    ``memory.limit_in_bytes`` in v1), the headroom is the limit minus the group's working set,
    which is its usage (``memory.current`` / ``memory.usage_in_bytes``) less the reclaimable
    page cache (``inactive_file`` in ``memory.stat``), as ``docker stats`` and Kubernetes count
    it. The smallest headroom applies.

    Args:
        root: where control groups are mounted. Default: ``/sys/fs/cgroup``.
        proc_cgroup: the file that names the process's groups. Default: ``/proc/self/cgroup``.

    Returns:
        Bytes (at least 0), or ``None`` when no group sets a memory limit.

    Examples:
        >>> cgroup_memory_available("/nonexistent", "/nonexistent") is None
        True
    """
    root, proc_cgroup = Path(root), Path(proc_cgroup)
    found: list[int] = []
    groups = [(d, "memory.max", "memory.current") for d in _v2_dirs(root, proc_cgroup)]
    groups += [(d, "memory.limit_in_bytes", "memory.usage_in_bytes") for d in _v1_dirs(root, proc_cgroup, "memory")]
    for d, limit_file, usage_file in groups:
        limit = _int_or_none(_read(d / limit_file))
        if limit is None or limit >= _UNLIMITED:
            continue
        usage = _int_or_none(_read(d / usage_file)) or 0
        working_set = max(0, usage - _inactive_file(_read(d / "memory.stat")))
        found.append(max(0, limit - working_set))
    return min(found) if found else None


def available_memory_bytes(root: str | os.PathLike = CGROUP_ROOT,
                           proc_cgroup: str | os.PathLike = PROC_SELF_CGROUP,
                           system_available: int | None = None) -> int:
    """Bytes this process may still allocate: the system's and the control group's headroom.

    The smaller of the system's available memory (``psutil.virtual_memory().available``,
    ``MemAvailable`` on Linux) and :func:`cgroup_memory_available`.

    Args:
        root: where control groups are mounted. Default: ``/sys/fs/cgroup``.
        proc_cgroup: the file that names the process's groups. Default: ``/proc/self/cgroup``.
        system_available: the system's available bytes. Default: ``None`` (ask psutil).

    Examples:
        >>> available_memory_bytes("/nonexistent", "/nonexistent", system_available=2**30)
        1073741824
    """
    if system_available is None:
        system_available = int(psutil.virtual_memory().available)
    cgroup = cgroup_memory_available(root, proc_cgroup)
    return int(system_available if cgroup is None else min(system_available, cgroup))


def default_workers(per_worker_bytes: int | None = None, *, cpus: int | None = None,
                    memory_bytes: int | None = None) -> int:
    """How many worker processes to start: one per usable CPU, as many as fit in memory, at least 1.

    ``min(available_cpus(), available_memory_bytes() // per_worker_bytes)``, at least 1.

    Args:
        per_worker_bytes: memory one worker needs, in bytes (a positive integer), or ``None``
            to size by CPUs alone. Default: ``None``.
        cpus: usable CPUs. Default: ``None`` (:func:`available_cpus`).
        memory_bytes: available memory. Default: ``None`` (:func:`available_memory_bytes`).

    Raises:
        ValueError: if ``per_worker_bytes`` is not a positive integer.

    Examples:
        >>> default_workers(2 * 2**30, cpus=16, memory_bytes=7 * 2**30)   # memory allows 3
        3
        >>> default_workers(2**20, cpus=2, memory_bytes=2**40)            # CPUs allow 2
        2
        >>> default_workers(2**40, cpus=4, memory_bytes=2**30)            # never below 1
        1
    """
    if per_worker_bytes is not None and (
        isinstance(per_worker_bytes, bool) or not isinstance(per_worker_bytes, int) or per_worker_bytes <= 0
    ):
        raise ValueError(f"per_worker_bytes must be a positive integer (bytes) or None, got {per_worker_bytes!r}")
    n = available_cpus() if cpus is None else cpus
    if per_worker_bytes is not None:
        memory = available_memory_bytes() if memory_bytes is None else memory_bytes
        n = min(n, memory // per_worker_bytes)
    return max(1, int(n))
