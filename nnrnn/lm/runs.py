"""Stored language-model runs: where they live, training what is missing, reading them back.

Runs are stored by config hash under ``<results root>/runs/lm-<corpus>/<hash>/`` in the layout
of :mod:`nnrnn.sweep`: ``history.csv``, ``weights.pt`` (the best-validation ``state_dict``,
read back with ``weights_only=True``) and, written last, ``config.json`` (config, hash,
result summary, provenance), all through :func:`nnrnn.store.write_run_payload`. :func:`sweep`
trains what is missing, in this process or through :func:`nnrnn.executors.open_executor`'s
executors (a process pool or a Dask cluster, e.g. of GPU workers), and loads the rest; long
runs keep a resumable checkpoint of the last finished epoch. The training loop is the one of
the synthetic sweeps (:func:`nnrnn.executors.run_missing`): each run is claimed with a lock in
the store while it trains, so two sweeps on one store never train it twice.

A run's checkpoint outlives its training: it holds the finished run until the run is stored,
and is removed only then, so a run that could not be stored (a full disk) is stored by the
next call without training. (A Dask worker without a file system shared with this process keeps
its checkpoints under its own results root: this process can remove only the ones it sees.)
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tempfile
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import pandas as pd
import torch

from .. import checkpoints as _checkpoints
from .. import executors as _executors
from .. import store as _store
from .. import validate
from ..profiles import resolve_device
from .config import LMConfig
from .model import LanguageModel
from .train import inspect_checkpoint, train_lm

__all__ = ["run_dir", "run", "run_one", "load_run", "load_model", "sweep", "LMRuns", "checkpoint_state", "checkpoint_path",
           "run_ids"]

Cache = Literal["auto", "require", "off"]


def run_dir(cfg: LMConfig, root: str | os.PathLike | None = None) -> Path:
    """Where the run of ``cfg`` is stored: ``<results root>/runs/lm-<corpus>/<hash>``.

    Examples:
        >>> p = run_dir(LMConfig(corpus="ptb-char"), root="/tmp/x")
        >>> p.parent.as_posix()
        '/tmp/x/runs/lm-ptb-char'
    """
    return _store.run_folder(f"lm-{cfg.corpus}", cfg.hash(), root)


def checkpoint_path(cfg: LMConfig, root: str | os.PathLike | None) -> Path:
    """Where the training checkpoint of ``cfg`` lives while it trains (removed once the run is stored)."""
    return _store.run_folder(f"lm-{cfg.corpus}", ".checkpoints", root) / f"{cfg.hash()}.pt"


def checkpoint_state(cfg: LMConfig, root: str | os.PathLike | None = None) -> tuple[dict | None, tuple[str, str] | None]:
    """``(state, problem)`` of the checkpoint of ``cfg``'s run (:func:`nnrnn.lm.train.inspect_checkpoint`):
    the state if ``torch.load`` reads it, and why a resume would refuse it, if it would."""
    return inspect_checkpoint(checkpoint_path(cfg, root))


def run_one(
    cfg: LMConfig | dict[str, Any],
    threads: int | None = None,
    *,
    data_dir: str | None = None,
    download: bool = True,
    device: str | None = None,
    checkpoint_root: str | None = None,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Train one config and return its files as plain data (what executor workers run).

    The layout follows :func:`nnrnn.sweep.run_one`, so a Dask cluster needs no shared file
    system: the caller writes the files (:func:`run`, :func:`sweep`). A resumable checkpoint is
    kept under ``<checkpoint_root>/runs/lm-<corpus>/.checkpoints/`` on the worker (default: its
    results root), and still holds the finished run when this returns: the caller removes it
    once the run is stored.

    Returns:
        ``{"hash", "config", "result", "provenance", "history_csv", "weights"}``.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    if not isinstance(cfg, LMConfig):
        cfg = LMConfig.from_dict(dict(cfg))
    ckpt = checkpoint_path(cfg, checkpoint_root)
    res = train_lm(cfg, data_dir=data_dir, download=download, device=device, progress=progress, checkpoint=ckpt)
    buf = io.BytesIO()
    torch.save(res.state_dict, buf)
    payload = {
        "hash": cfg.hash(),
        "config": cfg.key(),
        "result": res.summary(),
        "provenance": _store.provenance(res.device),
        "history_csv": res.history.to_csv(index=False),
        "weights": buf.getvalue(),
    }
    return payload


def _write_payload(payload: Mapping[str, Any], root: str | os.PathLike | None, expected_hash: str | None = None) -> Path:
    """Store a run's files atomically in ``data/runs/lm-<corpus>/<hash>/`` (see :func:`nnrnn.store.write_run_payload`);
    ``expected_hash``: the hash of the config submitted (a worker's payload claiming another is refused)."""
    return _store.write_run_payload(payload, f"lm-{payload['config']['corpus']}", root, kind="lm", expected_hash=expected_hash)


def run(
    cfg: LMConfig,
    *,
    root: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Train ``cfg`` here unless its run is stored; return the run directory (resumable).

    A file where the run's folder goes is an error before training (:func:`nnrnn.store.check_run_path`);
    the checkpoint is removed once the run is stored, and kept if storing it fails.
    """
    if _store.is_stored(run_dir(cfg, root)):
        return run_dir(cfg, root)
    _store.check_run_path(run_dir(cfg, root))
    payload = run_one(cfg, data_dir=None if data_dir is None else str(data_dir), download=download, device=device,
                      checkpoint_root=None if root is None else str(root), progress=progress)
    path = _write_payload(payload, root)
    _checkpoints.remove(checkpoint_path(cfg, root))
    return path


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read a stored run: ``{"config": LMConfig, "hash", "history": DataFrame, "result": dict, "path"}``."""
    path = Path(path)
    meta = _store.read_run_meta(path)  # the one run reader: refuses files that do not match their SHA-256
    result = {k: (float("nan") if v is None else v) for k, v in meta["result"].items()}
    return {"config": LMConfig.from_dict(meta["config"]), "hash": meta["hash"], "meta": meta,
            "history": pd.read_csv(path / "history.csv"), "result": result, "path": path}


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> LanguageModel:
    """Rebuild a stored run's model with its best-validation weights (``weights_only=True``)."""
    path = Path(path)
    info = load_run(path)
    state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    model = LanguageModel(int(info["result"]["ntoken"]), info["config"])
    model.load_state_dict(state)
    return model.to(device).eval()


@dataclass
class LMRuns:
    """The runs of a sweep, loaded.

    Attributes:
        configs: the configs, in the order given.
        history: every history row, with the run's ``hash``, ``corpus``, ``cell``, ``init``,
            ``scale``, ``fb_alpha`` and ``seed`` columns.
        results: one row per run: those columns plus the :meth:`LMResult.summary` fields.
        paths: run directory per hash.
        ran: hashes trained by this call (the others were loaded).
    """

    configs: list[LMConfig]
    history: pd.DataFrame
    results: pd.DataFrame
    paths: dict[str, Path]
    ran: list[str] = field(default_factory=list)

    def model(self, cfg: LMConfig, *, device: str | torch.device = "cpu") -> LanguageModel:
        """The trained model of ``cfg`` (best-validation weights), in eval mode."""
        h = cfg.hash()
        if h not in self.paths:
            raise KeyError(f"no run with config hash {h} in this sweep")
        return load_model(self.paths[h], device=device)


def run_ids(cfg: LMConfig) -> dict[str, Any]:
    """The columns that name a run in the tables of :func:`sweep` (hash, corpus, cell, init, scale, fb_alpha, seed)."""
    return {"hash": cfg.hash(), "corpus": cfg.corpus, "cell": cfg.cell, "init": cfg.init,
            "scale": cfg.scale, "fb_alpha": cfg.fb_alpha, "seed": cfg.seed}


def sweep(
    configs: Sequence[LMConfig],
    *,
    cache: Cache = "auto",
    root: str | os.PathLike | None = None,
    executor: Any = "serial",
    max_workers: int | None = None,
    scheduler: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    device: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> LMRuns:
    """Train the runs of ``configs`` that are not stored, store each, and load them all.

    Args:
        configs: the runs (e.g. :func:`nnrnn.lm.profile_configs`).
        cache: ``"auto"`` trains what is missing and loads the rest; ``"require"`` trains
            nothing and raises :class:`nnrnn.store.ResultMissing` naming the missing runs (a
            book built from stored paper-scale runs); ``"off"`` trains everything into a fresh
            temporary root and leaves the store alone.
        root: results root (:func:`nnrnn.store.results_root`).
        executor: as in :func:`nnrnn.sweep.run_sweep`: ``"serial"`` (default: this process, at
            ``threads`` or torch's current setting), ``"local"`` (a process pool, one torch thread
            per run), ``"dask"``
            (a Dask cluster at ``scheduler``, or a ``LocalCluster``) or any
            ``concurrent.futures.Executor``. Workers load the corpus themselves and return the
            run's files, which this process stores.
        max_workers, scheduler: pool size; Dask scheduler address (``"tcp://host:8786"``).
        data_dir, download: where the corpus is (see :func:`nnrnn.data.load_corpus`).
        device: overrides every config's device (e.g. ``"cuda"`` on GPU workers); not hashed.
        threads: torch intra-op threads per run (``"local"`` and ``"dask"`` use 1 anyway; for
            ``"serial"`` the caller's setting is restored afterwards). ``None`` leaves it.
        progress: a tqdm bar over runs (and over windows for serial runs); ``None``: only on a
            terminal.

    The runs train through :func:`nnrnn.executors.run_missing`, the loop of
    :func:`nnrnn.sweep.run_sweep`: each is stored as it finishes, and a run being trained by
    another process (its lock in the store, :func:`nnrnn.store.lock_run`) is left to it; once
    the others are stored, :class:`nnrnn.store.ResultMissing` names it. An error in a run is
    raised at once (the runs not yet started are cancelled). A run whose folder is blocked by a
    file is not started, and a run that cannot be stored keeps its checkpoint (a rerun stores it
    without training): both are named in a ``RuntimeError`` once the other runs are stored.
    A device (``device``, or a config's) that this machine lacks is an error before any run
    starts, unless the runs train elsewhere (a Dask scheduler).
    """
    if cache not in ("auto", "require", "off"):
        raise ValueError(f"cache must be one of ['auto', 'require', 'off'], got {cache!r}")
    configs = list(configs)
    if not configs:
        raise ValueError("the sweep is empty: no configs to run")
    for c in configs:
        if not isinstance(c, LMConfig):
            raise ValueError(f"configs must be LMConfig objects, got {type(c).__name__}")
    hashes = [c.hash() for c in configs]
    if len(set(hashes)) != len(hashes):
        raise ValueError("configs contain duplicates (equal config hashes)")
    if cache == "off":  # compute and store nothing: a temporary root, removed when the process ends
        root = tempfile.mkdtemp(prefix="nnrnn-lm-")
        atexit.register(shutil.rmtree, root, True)
    missing = [c for c in configs if not _store.is_stored(run_dir(c, root))]
    if missing and cache == "require":
        names = ", ".join(f"{c.corpus}/{c.cell}/{c.init}/seed{c.seed} ({c.hash()})" for c in missing[:4])
        raise _store.ResultMissing(
            f"{len(missing)} of {len(configs)} language-model runs are not stored under "
            f"{_store.results_root(root) / 'runs'}: {names}{' ...' if len(missing) > 4 else ''}; train them "
            "first, e.g. `python -m nnrnn.lm --cell rnn --profile paper --executor dask --scheduler tcp://host:8786`"
        )
    if threads is not None:
        validate.integer(threads, "threads", low=1)
    ran: list[str] = []
    if missing:
        if _executors.runs_here(executor, scheduler):
            for d in dict.fromkeys(device or c.device for c in missing):
                resolve_device(d)
        _store.check_writable(_store.results_root(root))
        kw = dict(data_dir=None if data_dir is None else str(data_dir), download=download, device=device,
                  checkpoint_root=None if root is None else str(root))

        def submit(ex: Executor, ex_threads: int | None, unit: list[LMConfig]) -> Future:
            (c,) = unit
            # in this process ("serial"): the caller's threads (``None`` leaves torch's setting,
            # all cores by default) and a bar over windows; in workers: one thread, no inner bar
            serial = isinstance(ex, _executors.SerialExecutor)
            inner = progress if serial else False
            run_threads = threads if threads is not None or serial else ex_threads
            return ex.submit(run_one, c.key(), run_threads, progress=inner, **kw)

        def write(c: LMConfig, payload: Mapping[str, Any]) -> None:
            _write_payload(payload, root, expected_hash=c.hash())

        def stored(unit: list[LMConfig]) -> None:  # the checkpoint goes once its run is stored
            _checkpoints.remove(checkpoint_path(unit[0], root))

        # the one runner loop of every trainer (nnrnn.sweep.run_sweep too): per-run locks, tqdm,
        # write-back as runs finish, cancel on error, torch threads restored
        done = _executors.run_missing([[c] for c in missing], submit, write, key=LMConfig.hash,
                                      folder=lambda c: run_dir(c, root), executor=executor, max_workers=max_workers,
                                      scheduler=scheduler, desc="language-model runs", progress=progress, on_error="raise",
                                      stored=stored)
        ran = done.ran
        if done.errors or done.unstored:
            raise RuntimeError(_executors.failure_summary(done.errors, done.unstored, len(missing) - len(done.locked)))
        if done.locked:
            first = next(c for c in missing if c.hash() in done.locked)
            raise _store.ResultMissing(
                f"{len(done.locked)} of {len(configs)} language-model runs are being trained by another process "
                f"(first {first.corpus}/{first.cell}/{first.init}/seed{first.seed} ({first.hash()}), held by "
                f"{done.locked[first.hash()]}); the others are stored: run the sweep again when it has finished"
            )
    hist, res, paths = [], [], {}
    for cfg in configs:
        info = load_run(run_dir(cfg, root))
        hist.append(info["history"].assign(**run_ids(cfg)))
        res.append({**run_ids(cfg), **info["result"]})
        paths[cfg.hash()] = info["path"]
    return LMRuns(configs, pd.concat(hist, ignore_index=True), pd.DataFrame(res), paths, ran)

