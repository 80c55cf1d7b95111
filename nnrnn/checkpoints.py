r"""Checkpoint files a resume can trust: atomic, checksummed, and tied to the code that wrote them.

A long training run (a lockstep group, :mod:`nnrnn.lockstep`; a language model,
:func:`nnrnn.lm.train.train_lm`) saves its whole state to a checkpoint and resumes from it.

:func:`save` serializes the state in memory (``torch.save``), writes the bytes through a
temporary file, fsync and an atomic rename, and keeps beside them a record
``<checkpoint>.sha256`` (JSON) with their SHA-256. The state itself carries who wrote it
(``written_by``: the code version of :func:`code_version`, the nnrnn version, the git commit
and the torch version), so the checksum covers that too. Writing the bytes with plain file
I/O makes a full or read-only disk an ``OSError`` with its errno, turned into a
:class:`CheckpointWriteError` that names the file and the cause (``torch.save`` on a file
reports it as ``[enforce fail at inline_container.cc:672]``); the previous checkpoint and its
record are left as they were.

The record is replaced twice per save: before the rename it lists the new digest and the one
it listed before, after the rename (and an fsync of the folder) only the new one. Whichever
step a kill or a power cut interrupts, the checkpoint on disk is listed by its record.

:func:`load` refuses a checkpoint that cannot be trusted, naming the file and why: no record
(written before records existed, or copied without it), bytes whose SHA-256 is not recorded
(overwritten, truncated, emptied), a state that cannot be read, or a code version other than
the running one. A refused checkpoint is set aside as ``<name>.refused-<reason>`` (its record
beside it) with a :class:`CheckpointWarning`, and the caller trains from scratch, so a rerun
makes progress instead of failing on the same file forever.

**Which code version is compared.** Not the git commit: it changes at every commit, also when
no training code changed, and the archive's long groups were resumed across such commits. Not
the nnrnn version alone: it does not change while the code is developed. What determines the
resumed computation is the training source, so :func:`code_version` hashes the files the caller
names (for a lockstep group its trainer, models, initializers, tasks and the C++ engine),
Python files as their syntax tree without docstrings (``ast.dump``), so that a comment, a
docstring or a reformatting does not refuse a checkpoint while any change to a statement does;
other files (C++) byte for byte. The nnrnn version and git commit are recorded for people,
not compared. The torch version is recorded, not compared: another torch may change rounding,
as another machine does, and the run's provenance records the torch that finished it.
"""

from __future__ import annotations

import ast
import errno
import functools
import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from . import __version__
from .store import git_sha

__all__ = ["CheckpointWarning", "CheckpointWriteError", "code_version", "record_path", "save", "inspect", "load", "remove",
           "wall_from_rows"]

_PACKAGE = Path(__file__).resolve().parent


class CheckpointWarning(UserWarning):
    """A checkpoint was refused (and set aside) or could not be saved; training goes on."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only, no permission); the previous one is kept."""


@functools.lru_cache(maxsize=None)
def code_version(files: tuple[str, ...]) -> str:
    """A digest (16 hex digits) of the package source ``files`` (globs relative to ``nnrnn/``).

    Python files count as their syntax tree without docstrings, other files byte for byte (see
    the module docstring). Computed once per process: the code a process runs is the code it
    imported.

    Examples:
        >>> len(code_version(("train.py", "csrc/*.cpp")))
        16
    """
    h = hashlib.sha256()
    for pattern in files:
        h.update(f"{pattern}\0".encode())
        for path in sorted(_PACKAGE.glob(pattern)):
            h.update(f"{path.relative_to(_PACKAGE).as_posix()}\0".encode())
            h.update(_normalized(path) + b"\0")
    return h.hexdigest()[:16]


def _normalized(path: Path) -> bytes:
    """A Python file's syntax tree without docstrings (``ast.dump``); any other file's bytes."""
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def record_path(path: str | os.PathLike) -> Path:
    """The SHA-256 record of checkpoint ``path``: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(f"{path.name}.sha256")


def _recorded(path: Path) -> list[str] | None:
    """The digests the record of ``path`` lists, or ``None`` without a readable record."""
    try:
        digests = json.loads(record_path(path).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [d for d in digests if isinstance(d, str)] if isinstance(digests, list) else None


def _write_record(path: Path, digests: list[str]) -> None:
    side = record_path(path)
    fd, tmp = tempfile.mkstemp(dir=side.parent, prefix=f".{side.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"file": path.name, "sha256": digests}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, side)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cause(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "there is no permission to write there"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file stands where its folder should be"
    return "the disk is full or not writable"


def save(path: str | os.PathLike, state: Mapping[str, Any], *, code: str) -> None:
    """Write ``state`` to checkpoint ``path`` atomically, with its SHA-256 record and ``written_by`` stamp.

    Raises :class:`CheckpointWriteError` naming ``path`` when the disk refuses the bytes; the
    previous checkpoint, if any, stays valid.
    """
    path = Path(path)
    buf = io.BytesIO()
    stamp = {"code": code, "nnrnn_version": __version__, "git_sha": _git_sha(), "torch_version": str(torch.__version__)}
    torch.save({**state, "written_by": stamp}, buf)
    data = buf.getbuffer()
    digest = hashlib.sha256(data).hexdigest()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _write_record(path, [digest, *(_recorded(path) or [])[:1]])
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        err = CheckpointWriteError(f"could not save checkpoint {path}: {_cause(exc)} ({type(exc).__name__}: {exc}); "
                                   "the previous checkpoint, if any, is kept")
        err.errno = exc.errno
        raise err from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    try:  # the rename made durable before the record forgets the previous digest
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _write_record(path, [digest])
    except OSError:  # the record still lists both digests: the checkpoint is saved
        pass


@functools.lru_cache(maxsize=1)
def _git_sha() -> str | None:
    return git_sha()


def inspect(path: str | os.PathLike, *, code: str | None = None, keys: Sequence[str] = ()) -> tuple[dict | None, tuple[str, str] | None]:
    """Read checkpoint ``path`` without acting on it: ``(state, None)`` or ``(state or None, (reason, why))``.

    ``reason`` is ``"unreadable"``, ``"unverified"`` (no record), ``"sha256"`` (bytes not
    recorded) or ``"code"`` (``written_by`` differs from ``code``; not checked when ``code`` is
    ``None``); ``why`` says it in words. ``state`` is returned whenever ``torch.load`` could read
    it (for a progress table), also when it is refused. ``keys``: entries the state must have.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, ("unreadable", f"it cannot be read ({type(exc).__name__}: {exc})")
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        if not isinstance(state, dict):
            raise TypeError(f"it holds a {type(state).__name__}, not a dict")
    except Exception as exc:  # noqa: BLE001 - any failure to read is the same verdict
        state, why = None, f"torch.load cannot read its {len(data)} bytes ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]})"
    else:
        missing = [k for k in keys if k not in state]
        why = f"it lacks {missing} (not a checkpoint of this trainer)" if missing else None
    digests = _recorded(path)
    digest = hashlib.sha256(data).hexdigest()
    if digests is not None and digest not in digests:
        return state, ("sha256", f"its {len(data):,} bytes have SHA-256 {digest[:16]}…, not the {digests[0][:16]}… "
                                 f"recorded in {record_path(path).name} (the file was overwritten, truncated or emptied)")
    if why is not None:
        return state, ("unreadable", why)
    if digests is None:
        return state, ("unverified", f"it has no readable SHA-256 record {record_path(path).name} (a checkpoint of an "
                                     "older nnrnn, or a copy without its record)")
    written = state.get("written_by") if isinstance(state.get("written_by"), dict) else {}
    if code is not None and written.get("code") != code:
        return state, ("code", f"it was written by other training code (code version {written.get('code')}, nnrnn "
                               f"{written.get('nnrnn_version')}, git {written.get('git_sha')}); this code is {code}, and a "
                               "resume must compute what the uninterrupted run would have")
    return state, None


def load(path: str | os.PathLike, *, code: str, keys: Sequence[str] = ()) -> dict | None:
    """The state of checkpoint ``path``, or ``None`` when there is none or it is refused.

    A refused checkpoint (see :func:`inspect`) is renamed ``<name>.refused-<reason>``, with its
    record, and a :class:`CheckpointWarning` names the file, the reason and where it went.
    """
    path = Path(path)
    if not path.is_file():
        return None
    state, refused = inspect(path, code=code, keys=keys)
    if refused is None:
        return state
    reason, why = refused
    aside = path.with_name(f"{path.name}.refused-{reason}")
    try:
        os.replace(path, aside)
        if record_path(path).exists():
            os.replace(record_path(path), record_path(aside))
        where = f"set aside as {aside.name}"
    except OSError as exc:
        where = f"it could not be set aside ({type(exc).__name__}: {exc})"
    warnings.warn(f"checkpoint {path} refused: {why}; {where}; training starts from scratch", CheckpointWarning, stacklevel=2)
    return None


def remove(path: str | os.PathLike) -> None:
    """Remove checkpoint ``path`` and its record (the record last: a checkpoint never lacks one)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    record_path(path).unlink(missing_ok=True)


def wall_from_rows(runs: Sequence[Mapping[str, Any]]) -> float:
    """A lockstep group's wall time so far, from its runs' ``wall_s`` rows (the longest run's).

    A checkpoint saved before checkpoints carried the clock has rows whose ``wall_s`` restarts at
    every resume, so the time is the sum, over the segments between resumes, of each segment's last
    row. A group that was resumed from such a checkpoint and then again from one that carried the
    clock has a last segment that starts from that sum: its first row jumps up by at least the
    earlier segments' total. That segment already contains them, so the sum starts over there.
    The time after each segment's last validation point is missed, and a carried segment is
    mistaken for a plain step only if every earlier segment together lasted less than one
    validation interval: either error is at most one interval, so this is an estimate to minutes.
    """
    best = 0.0
    for r in runs:
        walls = [float(row["wall_s"]) for row in r["rows"] if math.isfinite(float(row.get("wall_s", math.nan)))]
        done = 0.0  # the ends of the segments that the current clock does not contain
        for a, b in zip(walls, walls[1:]):
            if b < a:  # the clock restarted: a resume from a checkpoint that did not carry it
                done += a
            elif b - a >= done:  # the clock jumped past everything before: it was carried
                done = 0.0
        best = max(best, done + (walls[-1] if walls else 0.0))
    return best
