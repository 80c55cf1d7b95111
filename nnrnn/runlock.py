"""Claims on runs, so that two sweeps on one store never train a run twice, and the clean-up of killed writers.

A claim is a lock file ``.<hash>.lock`` beside the run folder, created exclusively and holding
``{"pid", "host", "boot", "time"}``: the claiming process, its host, the host's boot id
(``/proc/sys/kernel/random/boot_id`` where readable) and the lock's creation time. A lock is
stale, and the next claim takes it over, when

* its host is this one and its boot id is not this boot's (the machine restarted since);
* its process is gone, or the process of that id started after the lock was made (the id was
  reused by another process);
* it is empty or unparsable and older than :data:`LOCK_GRACE_S` (its writer was killed, or the
  disk was full, between creating and writing it);
* its host is another one and it is older than :data:`STALE_LOCK_S` (nothing else can be asked).

:mod:`nnrnn.store` re-exports these functions.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import stat
import time
import warnings
from pathlib import Path

import psutil

__all__ = ["STALE_LOCK_S", "LOCK_GRACE_S", "START_SLACK_S", "STALE_TMP_S", "boot_id", "lock_run", "unlock_run",
           "clean_temporaries"]

#: a lock held by a process on another host counts as stale after this long (a lockstep group of
#: the paper's copy runs can train for a day on one CPU core).
STALE_LOCK_S = 48 * 3600
#: an empty or unparsable lock counts as stale after this long. A live claimer writes its lock
#: within milliseconds of creating it (about 100 bytes); a minute covers a stalled network
#: filesystem and modest clock skew between hosts by orders of magnitude, yet lets the next
#: sweep go on within a minute of a killed claimer.
LOCK_GRACE_S = 60.0
#: a process that started more than this after its lock was made is not the lock's maker (its id
#: was reused). Start times read back are built on the boot time in whole seconds, and a
#: wall-clock step since the lock was made shifts them; a reused id starts minutes or days later.
START_SLACK_S = 10.0
#: temporary run folders (``.<hash>.<id>.tmp`` / ``.old``) older than this are leftovers of a
#: killed writer; a live writer holds its folder for milliseconds.
STALE_TMP_S = 600


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This boot's id (``/proc/sys/kernel/random/boot_id``), or ``None`` where it cannot be read."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _lock_path(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.lock"


def _holder(lock: Path) -> tuple[str | None, bool]:
    """``(who holds lock, whether it is stale)``; who is ``None`` for a lock that vanished or is being written."""
    try:
        made = lock.stat().st_mtime
        text = lock.read_text()
    except FileNotFoundError:
        return None, False
    except OSError as exc:  # cannot be judged: honour it, and say why
        return f"an unreadable lock {lock} ({exc.strerror or exc})", False
    try:
        holder = json.loads(text)
        pid, host, t = int(holder["pid"]), str(holder["host"]), float(holder["time"])
        if pid <= 0:
            raise ValueError(pid)
    except (ValueError, KeyError, TypeError, IndexError):  # empty or unparsable: killed between create and write
        return None, time.time() - made > LOCK_GRACE_S
    who = f"process {pid} on {host}"
    if host != socket.gethostname():
        return who, time.time() - t > STALE_LOCK_S
    if holder.get("boot") and boot_id() and holder["boot"] != boot_id():
        return who, True  # made before this machine restarted
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return who, True
    except (psutil.Error, OSError):  # alive, but its start time cannot be read: honour it
        return who, False
    return who, started > t + START_SLACK_S


def lock_run(folder: str | os.PathLike) -> str | None:
    """Claim a run for training, so that two sweeps on one store do not train it twice.

    Creates ``.<hash>.lock`` beside the run folder exclusively. Returns ``None`` when the claim
    is ours, else who holds it. A stale lock (see the module's docstring: process gone or its id
    reused, another boot, empty past :data:`LOCK_GRACE_S`, another host's past
    :data:`STALE_LOCK_S`) is taken over.
    """
    lock = _lock_path(Path(folder))
    lock.parent.mkdir(parents=True, exist_ok=True)
    who = None
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            who, stale = _holder(lock)
            if stale:
                lock.unlink(missing_ok=True)
            elif who is not None:
                return who
            else:
                time.sleep(0.05)  # being written right now, or vanished
            continue
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "boot": boot_id(), "time": time.time()}, f)
        except BaseException:  # leave no empty lock behind (disk full)
            lock.unlink(missing_ok=True)
            raise
        return None
    return who or f"another process (the lock {lock} is being written or kept changing hands)"


def unlock_run(folder: str | os.PathLike) -> None:
    """Release a claim of :func:`lock_run` held by this process (another's is left alone).

    Never raises: it runs in ``finally`` blocks, where an exception would hide the real error. A
    lock that cannot be removed (a read-only remount) is reported with a warning naming it; it
    expires once this process is gone.
    """
    lock = _lock_path(Path(folder))
    try:
        holder = json.loads(lock.read_text())
        if isinstance(holder, dict) and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            lock.unlink(missing_ok=True)
    except (FileNotFoundError, ValueError):  # gone, or not one of ours
        pass
    except OSError as exc:
        warnings.warn(f"could not release the run lock {lock} ({exc}); it expires once this process is gone",
                      RuntimeWarning, stacklevel=2)


def clean_temporaries(folder: str | os.PathLike, older_than_s: float = STALE_TMP_S) -> int:
    """Remove leftover temporary run folders (``.*.tmp``, ``.*.old``) of killed writers; returns how many.

    Symbolic links among them are removed, never followed; an entry that another cleaner removes
    meanwhile is skipped; one that cannot be removed is reported with a warning.
    """
    try:
        entries = list(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return 0
    n, now = 0, time.time()
    for d in entries:
        if not (d.name.startswith(".") and d.name.endswith((".tmp", ".old"))):
            continue
        try:
            st = d.lstat()
            if now - st.st_mtime <= older_than_s:
                continue
            if stat.S_ISDIR(st.st_mode):  # together with a concurrent cleaner, whoever comes last removes it
                shutil.rmtree(d, ignore_errors=True)
            else:
                d.unlink(missing_ok=True)
        except FileNotFoundError:  # another cleaner was first
            continue
        except OSError as exc:
            warnings.warn(f"could not remove the leftover temporary {d} ({exc})", RuntimeWarning, stacklevel=2)
            continue
        if os.path.lexists(d):
            warnings.warn(f"could not remove the leftover temporary {d}", RuntimeWarning, stacklevel=2)
            continue
        n += 1
    return n
