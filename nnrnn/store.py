"""Content-addressed storage of results: every result is identified by a hash of its config.

Two layouts share one hashing and one atomic-write mechanism:

* **results** (``run_or_load``): small computed results of the theory chapters,
  ``<root>/results/<profile>/<experiment>/<hash>.npz`` with a ``<hash>.json`` sidecar holding
  the config, its hash, the ``nnrnn`` version and git SHA, the torch version, the device and
  the wall time.
* **run directories** (``write_run_dir``): one directory per training run,
  ``<root>/runs/<task>/<hash>/`` with ``config.json`` and whatever files the run writes. The
  directory is written under a temporary name and renamed into place, so a killed process
  never leaves a half-written run that looks finished.

This module owns the run directory at both ends: it writes a run (:func:`run_payload`,
:func:`write_run_payload`), says whether it is stored and intact (:func:`run_status`,
:func:`is_stored`) and reads it back (:func:`read_run_meta`, :func:`stored_runs`,
:func:`load_history`, :func:`load_weights`). Claims on runs by concurrent sweeps
(:func:`lock_run`, :func:`unlock_run`, :func:`clean_temporaries`) live in :mod:`nnrnn.runlock`
and are re-exported here.

The default root is the repository's ``data/`` folder when the package is used from a
checkout, else ``~/.cache/nnrnn``; ``NNRNN_RESULTS_DIR`` overrides it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

import numpy as np
import pandas as pd
import torch

from . import __version__
from .runlock import STALE_LOCK_S, STALE_TMP_S, clean_temporaries, lock_run, unlock_run

__all__ = [
    "REPO",
    "canonical_json",
    "config_hash",
    "results_root",
    "git_sha",
    "provenance",
    "atomic_write_text",
    "write_run_dir",
    "check_run_path",
    "RunPathBlocked",
    "json_safe",
    "write_run_payload",
    "run_or_load",
    "ResultMissing",
    "RunCorrupt",
    "drop_file",
    "lock_run",
    "unlock_run",
    "clean_temporaries",
    "STALE_LOCK_S",
    "STALE_TMP_S",
    "check_hash",
    "file_sha256",
    "run_status",
    "read_run_meta",
    "machine",
    "run_folder",
    "is_stored",
    "stored_runs",
    "load_history",
    "load_weights",
    "run_payload",
    "check_writable",
]

#: a run's hash as it names its folder: 12 lower-case hex digits (:func:`config_hash`).
_HASH_RE = re.compile(r"^[0-9a-f]{12}$")
#: an experiment's or profile's name in :func:`run_or_load`: one safe folder name.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*\Z")

Cache = Literal["auto", "require", "off"]
_CACHES = ("auto", "require", "off")
#: the checkout the package runs from, defined here once (its ``data/`` is the committed archive).
REPO = Path(__file__).resolve().parent.parent


def _plain(obj: Any) -> Any:
    """Convert a config (dataclass, mapping, tuple, numpy scalar, Path) to plain JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"config values must be finite numbers, got {obj!r}")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f"cannot hash config value of type {type(obj).__name__}: {obj!r}")


def canonical_json(config: Any) -> str:
    """The canonical JSON text of a config: sorted keys, no whitespace, floats by ``repr``.

    Examples:
        >>> canonical_json({"b": 1, "a": [0.5, "x"]})
        '{"a":[0.5,"x"],"b":1}'
    """
    return json.dumps(_plain(config), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_hash(config: Any, length: int = 12) -> str:
    """SHA-256 of :func:`canonical_json`, as ``length`` hex digits.

    Equal configs give equal hashes whatever the key order; ``1`` and ``1.0`` differ.

    Examples:
        >>> config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
        True
        >>> len(config_hash({"a": 1}))
        12
    """
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:length]


def results_root(root: str | os.PathLike | None = None) -> Path:
    """Where results live: ``root``, else ``$NNRNN_RESULTS_DIR``, else ``<repo>/data`` or ``~/.cache/nnrnn``.

    An empty ``root`` is refused (it would mean the current folder), and so is a relative
    ``NNRNN_RESULTS_DIR`` (workers run in other folders); a relative ``root`` is taken as given.
    """
    if root is not None:
        if not os.fspath(root):
            raise ValueError("root must be a folder, got an empty root ''; pass a path, or None for the default")
        return Path(root)
    env = os.environ.get("NNRNN_RESULTS_DIR")
    if env:
        if not Path(env).is_absolute():
            raise ValueError(f"NNRNN_RESULTS_DIR must be an absolute path (workers run in other folders), got {env!r}")
        return Path(env)
    if (REPO / "pyproject.toml").is_file() and (REPO / "data").is_dir():
        return REPO / "data"
    return Path.home() / ".cache" / "nnrnn"


def git_sha() -> str | None:
    """The git commit of the checkout the package runs from, or ``None`` outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine() -> str:
    """This machine in words: CPU model (from ``/proc/cpuinfo`` where readable) and architecture."""
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model or platform.processor() or 'unknown CPU'} ({platform.machine()}, {os.cpu_count()} CPUs)"


def provenance(device: str | None = None) -> dict[str, Any]:
    """Versions and place of a computation: nnrnn version, git SHA, torch version, device, machine, threads."""
    return {
        "nnrnn_version": __version__,
        "git_sha": git_sha(),
        "torch_version": torch.__version__,
        "device": device,
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run_dir(final: str | os.PathLike, write: Callable[[Path], None], *, replace: bool = False) -> Path:
    """Create directory ``final`` atomically: ``write(tmpdir)`` fills a sibling temp dir, then rename.

    If ``final`` already exists it is left untouched and returned (the run was finished
    before), unless ``replace`` is true (a corrupt or incomplete run being repaired): then the
    new directory takes its place. If ``write`` raises, the temporary directory is removed and
    nothing appears. Every file is fsynced before the rename, and the parent folder after it, so
    the run is durably written when this returns. A non-folder at ``final`` is refused before
    ``write`` is called (:func:`check_run_path`).
    """
    final = check_run_path(final)
    if final.is_dir() and not replace:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        write(tmp)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if final.is_dir() and replace:
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
            os.rename(final, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if final.is_dir():  # another worker finished the same config first
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
    return final


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (filesystems that cannot fsync a folder are let be)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


class RunPathBlocked(FileExistsError, ValueError):
    """Something other than a folder sits where a run is to be stored (:func:`check_run_path`)."""


def check_run_path(folder: str | os.PathLike) -> Path:
    """Return ``folder`` as a path if a run can be stored there: absent, or a directory.

    Raises :class:`RunPathBlocked` (a :class:`FileExistsError`) when something else (a file, a
    link to one) is there, so that a sweep fails before training, not at the rename after it.
    """
    folder = Path(folder)
    if os.path.lexists(folder) and not folder.is_dir():
        what = "a symbolic link to nothing" if not folder.exists() else "a file" if folder.is_file() else "not a folder"
        raise RunPathBlocked(
            f"the run folder {folder} is {what}, so no run can be stored there; remove it (`rm {folder}`) and rerun"
        )
    return folder


def json_safe(obj: Any) -> Any:
    """Replace non-finite floats (NaN, inf: a diverged run's loss) by ``None`` for strict JSON.

    Examples:
        >>> json_safe({"loss": float("nan"), "h": [1.0, float("inf")]})
        {'loss': None, 'h': [1.0, None]}
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def check_hash(value: Any) -> str:
    """Return ``value`` if it is a well-formed run hash (12 lower-case hex digits), else raise.

    Examples:
        >>> check_hash("0123456789ab")
        '0123456789ab'
        >>> check_hash("../../etc")
        Traceback (most recent call last):
        ...
        ValueError: a run hash must be 12 lower-case hex digits, got '../../etc'
    """
    if not isinstance(value, str) or not _HASH_RE.match(value):
        raise ValueError(f"a run hash must be 12 lower-case hex digits, got {value!r}")
    return value


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class RunCorrupt(ValueError):
    """A stored run whose files do not match the SHA-256 recorded in its ``config.json``."""


def _file_problem(folder: Path, meta: Mapping[str, Any]) -> str | None:
    """What is wrong with the files ``meta`` lists under ``files`` (missing, unreadable, changed), or ``None``."""
    files = meta.get("files") or {}
    if not isinstance(files, Mapping):
        return f"stored run file {folder / 'config.json'} lists its files as {type(files).__name__}, not a mapping"
    for name, digest in files.items():
        f = folder / name
        if not f.is_file():
            return f"stored run file {f} is missing" + (" (a folder is there)" if f.is_dir() else "")
        try:
            got = file_sha256(f)
        except OSError as exc:
            return f"stored run file {f} cannot be read ({exc.strerror or exc})"
        if got != digest:
            return f"stored run file {f} has SHA-256 {got}, but its config.json records {digest}; the file was changed or damaged"
    return None


def run_status(folder: str | os.PathLike) -> str:
    """``"missing"``, ``"incomplete"`` (no readable ``config.json``), ``"corrupt"`` or ``"ok"``.

    A run is ``"ok"`` when its ``config.json`` parses and every file it lists under ``files``
    has the recorded SHA-256 (runs written before file hashes were recorded list none); a listed
    file that cannot be read makes it ``"corrupt"``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return "missing"
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):  # missing, a folder, unreadable, not JSON
        return "incomplete"
    if not isinstance(meta, dict):
        return "incomplete"
    return "corrupt" if _file_problem(folder, meta) else "ok"


def read_run_meta(folder: str | os.PathLike, *, verify: bool = True) -> dict[str, Any]:
    """The parsed ``config.json`` of a stored run, after checking its files' SHA-256 (``verify``).

    Raises :class:`RunCorrupt` naming the file that does not match, is missing or cannot be
    read (``config.json`` included).
    """
    folder = Path(folder)
    path = folder / "config.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunCorrupt(f"stored run {folder} has no config.json (an incomplete run; rerun its sweep to repair it)") from None
    except ValueError as exc:
        raise RunCorrupt(f"stored run file {path} is not valid JSON ({exc}); rerun its sweep to repair it") from None
    except OSError as exc:  # a folder, unreadable
        raise RunCorrupt(f"stored run file {path} cannot be read ({exc.strerror or exc}); repair or remove it") from None
    if not isinstance(meta, dict):
        raise RunCorrupt(f"stored run file {path} holds {type(meta).__name__}, not a JSON object; rerun its sweep to repair it")
    problem = _file_problem(folder, meta) if verify else None
    if problem:
        raise RunCorrupt(f"{problem}; rerun its sweep to repair it")
    return meta


def write_run_payload(
    payload: Mapping[str, Any], folder: str, root: str | os.PathLike | None = None, *,
    expected_hash: str | None = None, **extra_meta: Any,
) -> Path:
    """Store one finished training run atomically in ``<root>/runs/<folder>/<hash>/``.

    ``payload`` holds ``hash``, ``config``, ``result``, ``provenance``, ``history_csv`` (text)
    and ``weights`` (the bytes of ``torch.save(state_dict)``). The files are ``history.csv``,
    ``weights.pt`` and, last, ``config.json`` (its presence marks the run as finished; it
    records the SHA-256 of the other two under ``files``); the directory appears only when all
    three are written (:func:`write_run_dir`).

    ``expected_hash`` is the hash of the config that was submitted: a payload that claims another
    hash (a worker running another version of the package) is refused, and so is any hash that
    is not 12 hex digits. An existing folder that is incomplete or corrupt is replaced.
    """
    h = check_hash(payload["hash"])
    if expected_hash is not None and h != check_hash(expected_hash):
        raise ValueError(
            f"a worker returned run hash {h} for the config submitted as {expected_hash}; the worker "
            "probably runs another version of nnrnn (install the same version everywhere)"
        )
    final = run_folder(folder, h, root)

    def write(tmp: Path) -> None:
        (tmp / "history.csv").write_text(payload["history_csv"])
        (tmp / "weights.pt").write_bytes(payload["weights"])
        meta = {k: payload[k] for k in ("hash", "config", "result", "provenance")}
        meta["files"] = {name: file_sha256(tmp / name) for name in ("history.csv", "weights.pt")}
        meta.update(extra_meta)
        (tmp / "config.json").write_text(json.dumps(json_safe(meta), indent=2, sort_keys=True))

    return write_run_dir(final, write, replace=run_status(final) in ("incomplete", "corrupt"))


def run_payload(result: Any) -> dict[str, Any]:
    """A finished run's files as plain data, for :func:`write_run_payload` (and to send from a worker).

    ``result`` is a :class:`nnrnn.train.RunResult`: ``config`` (with ``hash()`` and ``as_dict()``),
    ``summary()``, ``history``, ``state_dict``, ``device``, ``wall_s`` and ``extra``.

    Returns:
        ``{"hash", "config", "result", "provenance", "history_csv", "weights"}`` with the history
        as CSV text and the weights as ``torch.save`` bytes.
    """
    buf = io.BytesIO()
    torch.save(result.state_dict, buf)
    prov = provenance(result.device)
    prov.update(wall_s=result.wall_s, **result.extra)
    return {
        "hash": result.config.hash(),
        "config": result.config.as_dict(),
        "result": result.summary(),
        "provenance": prov,
        "history_csv": result.history.to_csv(index=False),
        "weights": buf.getvalue(),
    }


def check_writable(base: str | os.PathLike) -> None:
    """Fail before training when the run store under ``base`` cannot be written (rather than losing the work after)."""
    base = Path(base)
    try:
        (base / "runs").mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=base / "runs", prefix=".write-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise ValueError(f"the results root {base} is not writable ({exc.strerror or exc}); pass a writable root") from None


# ----------------------------------------------------------------------------- reading runs
def run_folder(task: str, hash: str = "", root: str | os.PathLike | None = None) -> Path:
    """The folder of a stored run: ``<root>/runs/<task>/<hash>`` (without ``hash``: the task's folder).

    The one place that spells the run store's layout: every reader and writer of runs, of both
    families (a language model's "task" is ``lm-<corpus>``), builds its paths here.

    Examples:
        >>> run_folder("copy", "0123456789ab", "/tmp/r").as_posix()
        '/tmp/r/runs/copy/0123456789ab'
    """
    return results_root(root) / "runs" / task / hash


def is_stored(folder: str | os.PathLike) -> bool:
    """Whether the run in ``folder`` is stored, complete and intact (:func:`run_status` is ``"ok"``), for
    both families: ``is_stored(nnrnn.sweep.run_dir(cfg, root))``, ``is_stored(nnrnn.lm.run_dir(cfg, root))``.

    An incomplete run (no ``config.json``) or a corrupt one (a file whose SHA-256 differs from the
    one recorded) is not stored: a sweep trains it again and replaces it.

    Examples:
        >>> is_stored(run_folder("copy", "0123456789ab", "/nonexistent"))
        False
    """
    return run_status(folder) == "ok"


def stored_runs(task: str, hashes: Iterable[str] | None = None, root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The parsed ``config.json`` of every finished run of ``task`` (or of those in ``hashes``), by folder name.

    Folders without ``config.json`` (incomplete runs) and hidden ones (temporary) are skipped; a
    run whose files do not match their recorded SHA-256 is refused (:class:`RunCorrupt` names the file).
    """
    want = None if hashes is None else set(hashes)
    folder = run_folder(task, root=root)
    metas = []
    if folder.is_dir():
        for d in sorted(folder.iterdir()):
            if d.name.startswith(".") or not (d / "config.json").is_file() or (want is not None and d.name not in want):
                continue
            metas.append(read_run_meta(d))
    return metas


def load_history(runs: pd.DataFrame, *, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The validation histories of ``runs`` (a :func:`nnrnn.sweep.load_runs` table) in long form.

    Each history row gets the run's ``hash``, ``init``, ``scale``, ``lr`` and ``seed``.
    """
    frames = []
    for r in runs.itertuples(index=False):
        h = pd.read_csv(run_folder(r.task, r.hash, root) / "history.csv")
        frames.append(h.assign(hash=r.hash, init=r.init, scale=r.scale, lr=r.lr, seed=r.seed))
    if not frames:
        return pd.DataFrame(columns=["update", "epoch", "train_loss", "val_loss", "wall_s", "hash", "init", "scale", "lr", "seed"])
    return pd.concat(frames, ignore_index=True)


def load_weights(task: str, hash: str, *, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The final ``state_dict`` of a stored run (loaded with ``weights_only=True``)."""
    return torch.load(run_folder(task, hash, root) / "weights.pt", weights_only=True, map_location="cpu")


def drop_file(folder: str | os.PathLike, name: str, reason: str) -> bool:
    """Remove file ``name`` from a stored run and record why in its ``config.json`` (``dropped``).

    For the results archive's size budget: the weights of runs no analysis reads (pilot runs,
    whose histories alone select the stage-2 settings) can be dropped; the run stays intact
    (:func:`run_status` ``"ok"``) because ``config.json`` no longer lists the file. Returns
    whether a file was dropped.
    """
    folder = Path(folder)
    meta = read_run_meta(folder)
    if name == "config.json" or name not in (meta.get("files") or {}):
        return False
    meta["files"].pop(name)
    meta.setdefault("dropped", {})[name] = reason
    atomic_write_text(folder / "config.json", json.dumps(json_safe(meta), indent=2, sort_keys=True))
    (folder / name).unlink(missing_ok=True)
    return True


class ResultMissing(FileNotFoundError):
    """Raised by :func:`run_or_load` with ``cache="require"`` when no stored result exists."""


def run_or_load(
    experiment: str,
    config: Any,
    fn: Callable[[], Mapping[str, Any]],
    *,
    profile: str,
    cache: Cache = "auto",
    root: str | os.PathLike | None = None,
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """Compute ``fn()`` once per config and store it; later calls load the stored arrays.

    Args:
        experiment: a short name, e.g. ``"nb01_memory_curves"``.
        config: everything the result depends on (a dict or dataclass of plain values).
        fn: computes the result as a mapping of names to arrays or numbers.
        profile: ``smoke``, ``demo`` or ``paper`` (a folder level, for tidiness).
        cache: ``"auto"`` loads if present else computes and stores; ``"require"`` loads or
            raises :class:`ResultMissing`; ``"off"`` always computes and stores nothing.
        root: results root (see :func:`results_root`).
        device: recorded in the sidecar.

    Returns:
        A dict of numpy arrays (numbers come back as 0-d arrays).
    """
    if cache not in _CACHES:
        raise ValueError(f"cache must be one of {list(_CACHES)}, got {cache!r}")
    for value, name in ((experiment, "experiment"), (profile, "profile")):
        if not isinstance(value, str) or not _NAME_RE.match(value):
            raise ValueError(f"{name} must be one folder name (letters, digits, '_', '-', '.'; not starting with '.'), "
                             f"got {value!r}")
    h = config_hash(config)
    folder = results_root(root) / "results" / profile / experiment
    npz, sidecar = folder / f"{h}.npz", folder / f"{h}.json"
    if cache != "off" and npz.is_file() and sidecar.is_file():
        with np.load(npz, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if cache == "require":
        raise ResultMissing(
            f"no stored result for {experiment} with config hash {h} under {folder}; "
            f"compute it first (e.g. `make book PROFILE={profile}`)"
        )
    t0 = time.perf_counter()
    result = {k: np.asarray(v) for k, v in dict(fn()).items()}
    wall = time.perf_counter() - t0
    if cache == "off":
        return result
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{h}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **result)
        os.replace(tmp, npz)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    meta = {"experiment": experiment, "config": _plain(config), "hash": h, "wall_s": wall}
    meta.update(provenance(device))
    atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True))
    return result
