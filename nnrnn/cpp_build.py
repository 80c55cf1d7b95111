"""Build and load the package's C++ extensions (``nnrnn/csrc``) so that no process can hang another.

:func:`load_cpp_extension` compiles a list of sources once with
``torch.utils.cpp_extension.load`` and loads the library, whose ``TORCH_LIBRARY(<name>, m)``
registers its operators as ``torch.ops.<name>.*``; it returns that namespace, or ``None`` (the
reason in :func:`build_error`) when the extension cannot be built or loaded. Three things keep
the processes that share a build apart:

* **a folder per source hash**, :func:`build_folder`: ``<base>/<name>_<12 hex>``, where ``base``
  is ``$TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``) and the hex digits are
  the SHA-256 of the sources' names and contents (with the headers beside them), the compiler
  flags, the Python and torch versions and the torch installation. The sources are copied into
  the folder and compiled from there, so checkouts at different paths with the same sources
  share one build, and different sources never rebuild each other's.
* **a file lock with a timeout**, :func:`build_lock`: the build runs under ``fcntl.flock`` on
  ``<folder>/build.lock``, which also names its holder (PID, host, start time). A process that
  finds it taken polls it for ``$NNRNN_BUILD_TIMEOUT_S`` seconds (default 300), then gives up
  with an error that names the lock file and its holder. The kernel releases a flock when its
  holder dies, so a build that was killed leaves no stale lock.
* **torch's own lock**, ``<folder>/lock``: a file that ``cpp_extension.load`` creates for its
  build and a killed build leaves behind, on which every later load would wait forever. It is
  removed while our flock is held, when no other process can be building in the folder.

Examples:
    >>> a = build_folder("nnrnn_elman", [CSRC / "elman.cpp"], ["-O3"])
    >>> a.name.startswith("nnrnn_elman_"), len(a.name) - len("nnrnn_elman_")
    (True, 12)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from . import validate

__all__ = ["CSRC", "TIMEOUT_ENV", "DEFAULT_TIMEOUT_S", "BuildLockTimeout", "build_folder", "build_lock",
           "build_timeout", "load_cpp_extension", "build_error"]

#: the package's C++ sources.
CSRC = Path(__file__).resolve().parent / "csrc"
#: the environment variable that bounds the wait for another process's build, in seconds.
TIMEOUT_ENV = "NNRNN_BUILD_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 300.0
_LOCK_NAME = "build.lock"
_NOTICE_AFTER_S = 10.0  # a wait longer than this says so on stderr, once

_lock = threading.Lock()
#: name -> (ops namespace or None, error or None): one load per extension and process.
_loaded: dict[str, tuple[Any, str | None]] = {}


class BuildLockTimeout(TimeoutError):
    """Another process held an extension's build lock for longer than the timeout."""


def build_timeout() -> float:
    """The wait for another process's build: ``$NNRNN_BUILD_TIMEOUT_S`` seconds, default 300.

    Examples:
        >>> build_timeout() > 0
        True
    """
    text = os.environ.get(TIMEOUT_ENV, "")
    if not text.strip():
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise validate.error(f"environment variable {TIMEOUT_ENV}", "a positive number of seconds", text)
    return value


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise validate.error("name", "a C++ identifier (the TORCH_LIBRARY namespace)", name)
    return name


def _base() -> Path:
    env = os.environ.get("TORCH_EXTENSIONS_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "torch_extensions"


def _sources(sources: Sequence[str | os.PathLike]) -> list[Path]:
    if isinstance(sources, (str, os.PathLike)) or not sources:
        raise validate.error("sources", "a non-empty list of C++ files", sources)
    paths = [Path(s) for s in sources]
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise validate.error("sources", "files with distinct names (they are copied into one folder)", names)
    return paths


def _headers(sources: list[Path]) -> list[Path]:
    """The headers beside the sources (``*.h``, ``*.hpp``), which they may include: hashed and copied too."""
    found = {h.name: h for folder in dict.fromkeys(p.parent for p in sources)
             for pattern in ("*.h", "*.hpp") for h in sorted(folder.glob(pattern))}
    return [found[n] for n in sorted(found) if n not in {p.name for p in sources}]


def build_folder(name: str, sources: Sequence[str | os.PathLike], extra_cflags: Sequence[str] = ()) -> Path:
    """The build folder of one version of an extension: ``<base>/<name>_<12 hex of its SHA-256>``.

    The digest covers ``name``, each source's file name and contents (and those of the ``*.h``
    and ``*.hpp`` files beside it, which are copied with the sources), ``extra_cflags``, the
    Python version and torch's version and installation folder (see the module docstring).
    Nothing is created.
    """
    h = hashlib.sha256()
    for part in (_check_name(name), *map(str, extra_cflags), sys.version.split()[0], torch.__version__,
                 os.path.dirname(torch.__file__)):
        h.update(part.encode() + b"\0")
    paths = _sources(sources)
    for path in paths + _headers(paths):
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode() + data)
    return _base() / f"{name}_{h.hexdigest()[:12]}"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 400, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "an unknown process (the lock file names none)"


@contextlib.contextmanager
def build_lock(folder: Path, timeout_s: float | None = None) -> Iterator[Path]:
    """Hold the build lock of ``folder`` (created if needed), waiting at most ``timeout_s`` seconds.

    Args:
        folder: a build folder (:func:`build_folder`).
        timeout_s: the longest wait for another holder. Default: :func:`build_timeout`.

    Raises:
        BuildLockTimeout: naming the lock file and its holder, if it stayed taken.
    """
    timeout_s = build_timeout() if timeout_s is None else validate.finite_float(timeout_s, "timeout_s", low=0.0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        start = time.monotonic()
        noticed = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout_s:
                    raise BuildLockTimeout(
                        f"waited {waited:.1f} s for the C++ build lock {path}, held by {_holder(fd)}: another "
                        f"process is building this extension, or hangs ({TIMEOUT_ENV} sets the wait)"
                    ) from None
                if not noticed and waited >= _NOTICE_AFTER_S:
                    noticed = True
                    print(f"nnrnn: waiting up to {timeout_s:g} s for the C++ build lock {path}, held by "
                          f"{_holder(fd)}", file=sys.stderr, flush=True)
                time.sleep(min(0.05, max(0.0, timeout_s - waited)))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()} since {stamp}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock


def _copy_if_changed(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    if dst.is_file() and dst.read_bytes() == data:
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dst)


def _build(name: str, sources: Sequence[str | os.PathLike], extra_cflags: Sequence[str], timeout_s: float | None):
    from torch.utils import cpp_extension  # lazy: imported (and the compiler run) on first use only

    folder = build_folder(name, sources, extra_cflags)
    with build_lock(folder, timeout_s):
        (folder / "lock").unlink(missing_ok=True)  # torch's lock, left by a killed build: nobody else is in here
        (folder / "src").mkdir(exist_ok=True)
        paths = _sources(sources)
        for path in paths + _headers(paths):
            _copy_if_changed(path, folder / "src" / path.name)
        local = [str(folder / "src" / p.name) for p in paths]
        cpp_extension.load(name=folder.name, sources=local, build_directory=str(folder),
                           extra_cflags=list(extra_cflags), is_python_module=False, verbose=False)
    return getattr(torch.ops, name)


def load_cpp_extension(
    name: str,
    sources: Sequence[str | os.PathLike],
    *,
    extra_cflags: Sequence[str] = (),
    timeout_s: float | None = None,
):
    """Build (first time) or load (cached) a C++ extension; return ``torch.ops.<name>``, or ``None``.

    Each extension is loaded once per process: later calls return the first call's result,
    a failure included (its reason is :func:`build_error` ``(name)``).

    Args:
        name: the ``TORCH_LIBRARY`` namespace the sources register.
        sources: the C++ files (distinct file names).
        extra_cflags: compiler flags; they are part of the build's hash.
        timeout_s: the longest wait for another process's build. Default: :func:`build_timeout`.

    Returns:
        The operator namespace, or ``None`` when the build failed (no compiler, no ninja, a
        read-only cache, a compile error) or another process held the build lock too long.
    """
    _check_name(name)
    _sources(sources)
    if timeout_s is None:
        build_timeout()  # a bad NNRNN_BUILD_TIMEOUT_S is an error, not a silent fallback
    with _lock:
        if name not in _loaded:
            try:
                _loaded[name] = (_build(name, sources, extra_cflags, timeout_s), None)
            except Exception as exc:  # no compiler, no ninja, read-only cache, lock timeout, ...
                _loaded[name] = (None, f"{type(exc).__name__}: {exc}".strip())
        return _loaded[name][0]


def build_error(name: str) -> str | None:
    """Why the extension ``name`` could not be loaded in this process (``None``: it was, or not tried).

    Examples:
        >>> build_error("an_extension_never_tried") is None
        True
    """
    return _loaded.get(name, (None, None))[1]
