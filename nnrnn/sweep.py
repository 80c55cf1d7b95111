r"""Sweeps of training runs and a resumable run store; the tables behind Fig. 3 are in :mod:`nnrnn.results`.

A **sweep** is the product initializers × scales × learning rates × seeds (a :class:`Grid`),
each point a :class:`nnrnn.train.TrainConfig`. Grids for every task and profile come from
:func:`grid`:

* ``smoke``: seconds; one tiny run per initializer, exercising every code path;
* ``demo``: a reduced grid and shorter sequences and training, for a 2-core CPU in about ten
  minutes per chapter (the chapters state exactly how it differs from the paper);
* ``paper``: the paper's grid (:mod:`nnrnn.paper`): 9 scales for identity and orthogonal, 7
  for chain and feedback chain, 11 learning rates, seeds 1-6, 60,000/10,000 sequences, up to
  100 epochs, early stop at 0.0025: 2,112 runs per task.

Every profile's settings are data in :mod:`nnrnn.profiles`; the ``replicate`` profile's
two-stage grids are built by :mod:`nnrnn.replicate`.

**Run store.** Every finished run is written atomically to ``<root>/runs/<task>/<config-hash>/``
(``config.json`` with the config, a result summary and provenance; ``history.csv``;
``weights.pt``) by :mod:`nnrnn.store`, which also reads it back. Workers return the run's files
to the process that called :func:`run_sweep`, which writes them, so a Dask cluster needs no
shared file system. Re-running a sweep skips the stored runs: a killed sweep loses nothing
that had finished.

**Execution** is pluggable (:mod:`nnrnn.executors`): ``"local"`` (default, a process pool on
this machine), ``"serial"`` (this process), ``"dask"`` (a cluster started with ``dask
scheduler`` / ``dask worker``, or on Slurm/PBS with dask-jobqueue) or any
``concurrent.futures.Executor``; every run uses one torch thread.

``nnrnn sweep --task copy --profile paper --executor dask --scheduler tcp://host:8786`` (or
``python -m nnrnn.sweep ...``; the command line is :mod:`nnrnn.sweep_cli`) runs the paper's copy
sweep on a cluster.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import numbers
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from . import checkpoints as _checkpoints
from . import init as _init
from . import lockstep as _lockstep
from . import paper as _paper
from . import profiles as _profiles
from . import tasks as _tasks
from . import executors as _executors
from . import validate
from .executors import EXECUTORS, ExecutorKind, open_executor, torch_threads
from .resources import default_workers
from .store import (
    ResultMissing,
    check_writable,
    config_hash,
    is_stored,
    load_history,
    load_weights,
    results_root,
    run_folder,
    run_payload,
    stored_runs,
    write_run_payload,
)
from .train import TrainConfig, train

__all__ = [
    "Grid",
    "grid",
    "PAPER_SCALES",
    "PAPER_LRS",
    "PAPER_SEEDS",
    "PAPER_SUCCESS",
    "SweepReport",
    "run_sweep",
    "open_executor",
    "grid_from_settings",
    "run_one",
    "run_group",
    "checkpoint_path",
    "plan_groups",
    "run_dir",
    "load_runs",
    "load_history",
    "load_weights",
]

Cache = Literal["auto", "require", "off"]
_CACHES = ("auto", "require", "off")

#: the paper's grids, seeds and Fig. 3d counts, re-exported from :mod:`nnrnn.paper`.
PAPER_SCALES = _paper.PAPER_SCALES
PAPER_LRS = _paper.PAPER_LRS
PAPER_SEEDS = _paper.PAPER_SEEDS
PAPER_SUCCESS = _paper.PAPER_SUCCESS


# ----------------------------------------------------------------------------- grids
@dataclass(frozen=True)
class Grid:
    """The product inits × scales (per init) × learning rates × seeds, plus fixed settings.

    Args:
        task: the task name.
        scales: initializer name -> its scales (the set of initializers is the keys).
        lrs: learning rates.
        seeds: seeds.
        base: every other :class:`TrainConfig` field (``T``, ``hidden_size``, ``n_train``, ...).
        profile: a label (``smoke``, ``demo``, ``paper``, ``replicate`` or ``custom``).

    Examples:
        >>> g = Grid("copy", {"chain": (1.0, 1.02), "orthogonal": (1.0,)}, lrs=(1e-3,), seeds=(1, 2),
        ...          base={"T": 30, "hidden_size": 8})
        >>> len(g), g.inits, g.configs()[0].T
        (6, ('chain', 'orthogonal'), 30)
    """

    task: str
    scales: Mapping[str, Sequence[float]]
    lrs: Sequence[float]
    seeds: Sequence[int]
    base: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "custom"

    def __post_init__(self) -> None:
        validate.choice(self.task, "task", tuple(_tasks.known_tasks()))
        _profiles.check_profile(self.profile, (*_profiles.PROFILES, "custom"))
        if not isinstance(self.scales, Mapping) or not self.scales:
            raise ValueError("the grid is empty: give at least one initializer in scales={init: (scale, ...)}")
        scales = {}
        for name, values in self.scales.items():
            _init.get(name)
            scales[name] = _axis(values, f"scales[{name!r}]", "real numbers")
            if not scales[name]:
                raise ValueError(f"the grid is empty: no scales for initializer {name!r}")
        lrs, seeds = _axis(self.lrs, "lrs", "real numbers"), _axis(self.seeds, "seeds", "integers")
        if not lrs:
            raise ValueError("the grid is empty: no learning rates")
        if not seeds:
            raise ValueError("the grid is empty: no seeds")
        for key in ("task", "init", "scale", "lr", "seed"):
            if key in self.base:
                raise ValueError(f"base must not set {key!r}; it is a grid axis")
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "lrs", lrs)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "base", dict(self.base))
        self.configs()  # validate every field now, with TrainConfig's messages

    @property
    def inits(self) -> tuple[str, ...]:
        return tuple(self.scales)

    def configs(self) -> list[TrainConfig]:
        """All configs, ordered by seed, then init, scale and learning rate."""
        out = []
        for seed, init in itertools.product(self.seeds, self.scales):
            for scale, lr in itertools.product(self.scales[init], self.lrs):
                out.append(TrainConfig(task=self.task, init=init, scale=float(scale), lr=float(lr), seed=int(seed), **self.base))
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self.scales.values()) * len(self.lrs) * len(self.seeds)

    def runs_per_init(self) -> dict[str, int]:
        return {k: len(v) * len(self.lrs) * len(self.seeds) for k, v in self.scales.items()}

    def replace(self, **changes: Any) -> "Grid":
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """A one-paragraph description for the chapter."""
        cfg = self.configs()[0]
        sc = "; ".join(f"{k}: {', '.join(f'{s:g}' for s in v)}" for k, v in self.scales.items())
        return (
            f"{len(self)} runs ({self.task}, T = {cfg.seq_len}, N = {cfg.hidden_size}, "
            f"{cfg.n_train} training / {cfg.n_val} validation sequences, {cfg.epochs} epoch(s) of "
            f"{cfg.updates_per_epoch} updates at batch {cfg.batch_size}); scales {sc}; "
            f"learning rates {', '.join(f'{lr:g}' for lr in self.lrs)}; seeds {', '.join(map(str, self.seeds))}"
        )


def _axis(values: Any, name: str, kind: Literal["real numbers", "integers"]) -> tuple:
    """``values`` as a tuple if it is a sequence of ``kind`` (``bool`` is neither; a float is not an integer).

    Examples:
        >>> _axis([1, 2], "seeds", "integers")
        (1, 2)
        >>> _axis((1.5, 2.7), "seeds", "integers")
        Traceback (most recent call last):
        ...
        ValueError: seeds must be a sequence of integers, got (1.5, 2.7) (1.5 is a float)
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        what = f"the string {values!r}" if isinstance(values, (str, bytes)) else f"{values!r} (a {type(values).__name__})"
        raise validate.error(name, f"a sequence of {kind}", what, raw=True)
    out = tuple(values)
    for v in out:
        bad = isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real if kind != "integers" else numbers.Integral)
        if bad:
            raise validate.error(name, f"a sequence of {kind}", f"{out!r} ({v!r} is a {type(v).__name__})", raw=True)
    return out


def grid(task: str, profile: str = "demo", *, base_seed: int = 0, **overrides: Any) -> Grid:
    """The sweep grid of ``task`` for ``profile`` (``smoke``, ``demo`` or ``paper``; :func:`nnrnn.profiles.get`).

    The ``replicate`` profile's grids come from :mod:`nnrnn.replicate` (two stages).

    ``base_seed`` shifts every seed (the paper's seeds 1-6 are ``base_seed=0``).
    ``overrides`` replace grid axes (``scales``, ``lrs``, ``seeds``) or fixed settings (any
    :class:`TrainConfig` field, e.g. ``device="cuda"`` or ``epochs=5``).

    Examples:
        >>> len(grid("copy", "paper")), grid("copy", "paper").runs_per_init()["chain"]
        (2112, 462)
        >>> grid("copy", "smoke").configs()[0].T
        30
    """
    settings = _profiles.get(task, profile)
    return grid_from_settings(task, profile, settings, base_seed=base_seed, **overrides)


def grid_from_settings(
    task: str, profile: str, settings: Mapping[str, Any], *, base_seed: int = 0, **overrides: Any
) -> Grid:
    """Build a :class:`Grid` from a profile's ``settings`` (``scales``, ``lrs``, ``seeds``, ``base``).

    ``overrides`` replace ``scales``/``lrs``/``seeds`` or any ``base`` field; ``base_seed`` is
    added to every seed. ``settings`` itself is not modified.
    """
    scales, lrs, seeds = dict(settings["scales"]), settings["lrs"], settings["seeds"]
    base = dict(settings["base"])
    scales = overrides.pop("scales", scales)
    lrs = overrides.pop("lrs", lrs)
    seeds = overrides.pop("seeds", seeds)
    base.update(overrides)
    base_seed = validate.non_negative_int(base_seed, "base_seed")
    seeds = tuple(base_seed + int(s) for s in _axis(seeds, "seeds", "integers"))
    return Grid(task, scales, lrs, seeds, base, profile=profile)


# ----------------------------------------------------------------------------- the store
def run_dir(cfg: TrainConfig, root: str | os.PathLike | None = None) -> Path:
    """The folder of ``cfg``'s run: ``<root>/runs/<task>/<hash>`` (:func:`nnrnn.store.run_folder`)."""
    return run_folder(cfg.task, cfg.hash(), root)


def run_one(cfg: TrainConfig | Mapping[str, Any], threads: int | None = 1, progress: bool | None = False) -> dict[str, Any]:
    """Train one config with the single-run trainer and return its files as plain data.

    Args:
        cfg: a :class:`TrainConfig` or its dict.
        threads: torch intra-op threads for the run (1, as in every executor, so a result does
            not depend on where it ran); ``None`` leaves the setting.
        progress: passed to :func:`nnrnn.train.train`.

    Returns:
        ``{"hash", "config", "result", "provenance", "history_csv", "weights"}`` with the
        history as CSV text and the weights as ``torch.save`` bytes.
    """
    if not isinstance(cfg, TrainConfig):
        cfg = TrainConfig.from_dict(dict(cfg))
    with torch_threads(threads):
        return run_payload(train(cfg, progress=progress))


def group_id(cfgs: Sequence[TrainConfig]) -> str:
    """The name of a lockstep group (its checkpoint file): a hash of its runs' hashes."""
    return config_hash(sorted(c.hash() for c in cfgs))


def run_group(
    cfgs: Sequence[TrainConfig | Mapping[str, Any]],
    threads: int | None = 1,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every_s: float = 300.0,
    progress: bool | None = False,
    only: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Train one lockstep group (:func:`nnrnn.lockstep.train_group`) and return each run's files.

    With ``checkpoint_dir``, the group saves its state to ``<checkpoint_dir>/<group id>.pt``
    every ``checkpoint_every_s`` seconds and resumes from it when run again; the final state
    stays there until the caller has stored every run (:func:`checkpoint_path`). ``only``: the
    hashes of the runs to return, in that order (default: all, in the order of ``cfgs``).
    """
    cfgs = [c if isinstance(c, TrainConfig) else TrainConfig.from_dict(dict(c)) for c in cfgs]
    ckpt = None if checkpoint_dir is None else checkpoint_path(checkpoint_dir, cfgs)
    with torch_threads(threads):  # provenance inside, so it records the threads the runs trained with
        results = _lockstep.train_group(cfgs, progress=progress, checkpoint=ckpt, checkpoint_every_s=checkpoint_every_s)
        by_hash = {r.config.hash(): r for r in results}
        return [run_payload(by_hash[h]) for h in (only if only is not None else list(by_hash))]


def checkpoint_path(checkpoint_dir: str | os.PathLike, cfgs: Sequence[TrainConfig]) -> Path:
    """The checkpoint of a lockstep group: ``<checkpoint_dir>/<group id>.pt`` (:func:`group_id`)."""
    return Path(checkpoint_dir) / f"{group_id(cfgs)}.pt"


def plan_groups(cfgs: Sequence[TrainConfig], workers: int, group_size: int | None = None) -> list[list[TrainConfig]]:
    """Split ``cfgs`` into lockstep groups: the unit of work sent to one worker.

    ``group_size=None`` chooses ``ceil(len / workers)`` capped at 32, so every worker gets about
    one group; ``1`` gives single runs. The grouping depends only on ``cfgs`` and the sizes, so
    a resumed sweep forms the same groups (and finds their checkpoints) again.
    """
    if group_size is None:
        group_size = max(1, min(32, -(-len(cfgs) // max(1, workers))))
    return _lockstep.group_configs(cfgs, group_size)


@dataclass
class SweepReport:
    """What :func:`run_sweep` did; close it (or use it in a ``with`` block) to remove a temporary root.

    Attributes:
        root: the results root the runs are stored under.
        temporary: whether ``root`` is the temporary root of a ``cache="off"`` sweep, which
            :meth:`close` removes (and, at the latest, the end of the process).
        task: the task.
        hashes: the hash of every config of the sweep, in grid order.
        ran: hashes of the runs trained by this call.
        skipped: hashes already in the store.
        errors: hash -> error text, for runs that raised (not for diverged runs, which are stored)
            or could not start (a file where the run's folder goes).
        unstored: hash -> ``"<folder>: <error>"``, for runs trained but not written (a full or
            read-only disk); their group's checkpoint is kept, so a rerun stores them without training.
        locked: hash -> who trains it, for runs left alone because another sweep holds them.
        wall_s: wall time of the call.
    """

    root: Path
    task: str
    hashes: list[str]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    unstored: dict[str, str] = field(default_factory=dict)
    locked: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    temporary: bool = False

    def failures(self) -> str:
        """Every run that raised, could not start or could not be stored, in one message ("" if none)."""
        attempted = len(set(self.hashes)) - len(self.skipped) - len(self.locked)
        return _executors.failure_summary(self.errors, self.unstored, attempted)

    def close(self) -> None:
        """Remove the temporary root of a ``cache="off"`` sweep; nothing to do for a sweep into the store."""
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SweepReport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"SweepReport(task={self.task!r}, runs={len(self.hashes)}, ran={len(self.ran)}, "
            f"skipped={len(self.skipped)}, locked={len(self.locked)}, errors={len(self.errors)}, "
            f"unstored={len(self.unstored)}, wall_s={self.wall_s:.1f}, root={str(self.root)!r})"
        )


def run_sweep(
    configs: Grid | Iterable[TrainConfig],
    *,
    root: str | os.PathLike | None = None,
    executor: ExecutorKind | Executor = "local",
    max_workers: int | None = None,
    scheduler: str | None = None,
    cache: Cache = "auto",
    progress: bool | None = None,
    on_result: Callable[[TrainConfig, dict[str, Any]], None] | None = None,
    raise_errors: bool = True,
    group_size: int | None = None,
    checkpoint_every_s: float = 300.0,
) -> SweepReport:
    """Run every config that is not yet in the store, and store each as it finishes.

    Runs are trained in lockstep groups (:mod:`nnrnn.lockstep`) of compatible configs; a group
    is the unit sent to a worker, and each of its runs is stored under its own config hash,
    exactly as a run trained alone. ``group_size=1`` trains every run alone with
    :func:`nnrnn.train.train`, the reference.

    Args:
        configs: a :class:`Grid` or an iterable of :class:`TrainConfig` (one task).
        root: results root (see :func:`nnrnn.store.results_root`).
        executor: ``"local"`` (a process pool, default), ``"serial"`` (this process), ``"dask"``
            or a ``concurrent.futures.Executor``.
        max_workers: pool size for ``"local"`` (default: the CPUs this process may use, see
            :func:`nnrnn.resources.default_workers`) and for a Dask ``LocalCluster`` started
            when ``scheduler`` is ``None``.
        scheduler: a Dask scheduler address such as ``"tcp://host:8786"`` (with ``executor="dask"``).
        cache: ``"auto"`` skips stored runs and trains the rest; ``"require"`` trains nothing
            and raises :class:`nnrnn.store.ResultMissing` if any run is missing; ``"off"``
            computes everything and stores nothing, as in :func:`nnrnn.store.run_or_load`: the
            runs are trained into a fresh temporary root (``report.root``, a
            ``nnrnn-cache-off-*`` folder, ``report.temporary``) to be read from, which
            ``report.close()`` or the end of a ``with run_sweep(...) as report:`` block removes
            (at the latest, the end of the process). The store under ``root`` is not touched.
        progress: a tqdm bar over runs; ``None`` shows it only on a terminal.
        on_result: called as ``on_result(cfg, summary)`` after each run is stored.
        raise_errors: after the sweep, raise a ``RuntimeError`` naming every run that raised,
            could not start (a file where its folder goes) or could not be stored (the other
            runs are stored first; :meth:`SweepReport.failures`). Diverged runs are results,
            not errors. A run that could not be stored keeps its group's checkpoint, holding
            its finished result, and the rerun stores it without training.
        group_size: runs per lockstep group (see :func:`plan_groups`); ``None`` chooses.
        checkpoint_every_s: a lockstep group saves its state to ``<root>/checkpoints/<task>/``
            this often, and a rerun of the sweep resumes it from there; its final state is
            removed only once every run of the group is stored.

    Returns:
        a :class:`SweepReport`.
    """
    t0 = time.perf_counter()
    validate.choice(cache, "cache", _CACHES)
    if group_size is not None:
        group_size = validate.positive_int(group_size, "group_size")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler={scheduler!r} is only used with executor='dask', got executor={executor!r}")
    cfgs = configs.configs() if isinstance(configs, Grid) else list(configs)
    if not cfgs:
        raise ValueError("the sweep is empty: no configs to run")
    for c in cfgs:
        if not isinstance(c, TrainConfig):
            raise validate.error("configs", "TrainConfig objects", type(c).__name__, raw=True)
    tasks = sorted({c.task for c in cfgs})
    if len(tasks) != 1:
        raise validate.error("a sweep's configs", "of one task", tasks)
    if cache == "off":  # compute and store nothing: a temporary root, removed by report.close() or at exit
        root = tempfile.mkdtemp(prefix="nnrnn-cache-off-")
        atexit.register(shutil.rmtree, root, True)
    base = results_root(root)
    report = SweepReport(base, tasks[0], [c.hash() for c in cfgs], temporary=cache == "off")

    unique: dict[str, TrainConfig] = {}
    for c, h in zip(cfgs, report.hashes):
        unique.setdefault(h, c)
    todo = []
    for h, c in unique.items():
        if is_stored(run_dir(c, base)):
            report.skipped.append(h)
        else:
            todo.append(c)
    if cache == "require" and todo:
        raise ResultMissing(
            f"{len(todo)} of {len(unique)} runs of this {tasks[0]} sweep are not in the store under "
            f"{base / 'runs' / tasks[0]} (first missing hash {todo[0].hash()}); run the sweep first, e.g. "
            f"`python -m nnrnn.sweep --task {tasks[0]} --profile <profile>`, or use cache='auto'"
        )
    if not todo:
        report.wall_s = time.perf_counter() - t0
        return report
    if _executors.runs_here(executor, scheduler):  # before anything is planned or spawned
        for device in dict.fromkeys(c.device for c in todo):
            _profiles.resolve_device(device)
    check_writable(base)
    ckpt_dir = base / "checkpoints" / tasks[0]
    workers = max_workers or (default_workers() if executor == "local" else 1)
    # groups are planned over the whole sweep, then filtered, so a resumed sweep finds its checkpoints
    groups = [[c for c in g if c in todo] for g in plan_groups(list(unique.values()), workers, group_size)]
    checkpointed = _checkpointed_groups(ckpt_dir, unique, base)
    trained: dict[tuple[str, ...], tuple[list[TrainConfig], Path]] = {}  # unit -> the group it trained, its checkpoint

    def submit(ex: Executor, threads: int | None, g: list[TrainConfig]) -> Future:
        if len(g) == 1 and group_size == 1:
            return ex.submit(run_one, g[0].as_dict(), threads)
        keys = tuple(c.hash() for c in g)
        # a checkpoint of a larger group holds these runs (some of its runs were stored, others
        # not): resume that group, which returns the runs at once if it had finished
        group = checkpointed.get(keys[0], g)
        group = group if set(keys) <= {c.hash() for c in group} else g
        trained[keys] = (group, checkpoint_path(ckpt_dir, group))
        return ex.submit(run_group, [c.as_dict() for c in group], threads, str(ckpt_dir), checkpoint_every_s,
                         only=list(keys))

    def write(c: TrainConfig, payload: Mapping[str, Any]) -> None:
        write_run_payload(payload, c.task, base, expected_hash=c.hash())  # under the submitted hash
        if on_result is not None:
            on_result(c, payload["result"])

    def stored(g: list[TrainConfig]) -> None:  # the group's checkpoint goes once all of its runs are stored
        group, path = trained.pop(tuple(c.hash() for c in g), (None, None))
        if path is not None and all(is_stored(run_dir(c, base)) for c in group):
            _checkpoints.remove(path)

    try:  # the one runner loop of every trainer: per-run locks, tqdm, write-back, cancel on error
        done = _executors.run_missing(groups, submit, write, key=TrainConfig.hash, folder=lambda c: run_dir(c, base),
                                      executor=executor, max_workers=max_workers, scheduler=scheduler,
                                      desc=f"{tasks[0]} sweep", progress=progress, stored=stored)
    finally:
        report.wall_s = time.perf_counter() - t0
    report.ran, report.locked, report.errors, report.unstored = done.ran, done.locked, done.errors, done.unstored
    if (report.errors or report.unstored) and raise_errors:
        report.close()
        raise RuntimeError(report.failures())
    return report


def _checkpointed_groups(ckpt_dir: Path, configs: Mapping[str, TrainConfig], base: Path) -> dict[str, list[TrainConfig]]:
    """Run hash -> the lockstep group of a usable checkpoint under ``ckpt_dir`` that holds the run.

    Only checkpoints that :func:`nnrnn.checkpoints.load` would accept and whose runs are all in
    ``configs`` count; one whose runs are all stored already is a leftover and is removed.
    """
    out: dict[str, list[TrainConfig]] = {}
    for path in sorted(ckpt_dir.glob("*.pt")):
        state, refused = _lockstep.inspect_checkpoint(path)
        hashes = list(state["hashes"]) if state is not None and refused is None else []
        if not hashes or path.name != f"{config_hash(sorted(hashes))}.pt" or not all(h in configs for h in hashes):
            continue
        group = [configs[h] for h in hashes]
        if all(is_stored(run_dir(c, base)) for c in group):
            _checkpoints.remove(path)
            continue
        for h in hashes:
            out.setdefault(h, group)
    return out


# ----------------------------------------------------------------------------- loading
def _hashes_of(configs: Grid | Iterable[TrainConfig] | None) -> set[str] | None:
    return None if configs is None else {c.hash() for c in (configs.configs() if isinstance(configs, Grid) else configs)}


def load_runs(
    task: str,
    *,
    configs: Grid | Iterable[TrainConfig] | None = None,
    root: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """A tidy table of stored runs: one row per run, config fields plus result columns.

    Args:
        task: the task folder to read.
        configs: restrict to the runs of this grid (or list of configs); ``None`` reads all.
        root: results root.

    Returns:
        columns ``hash``, every :class:`TrainConfig` field, ``status``, ``final_val_loss``,
        ``best_val_loss``, ``baseline``, ``success``, ``diverged``, ``wall_s``, ``n_updates``
        and ``run_device``, sorted by init, scale, lr and seed.
    """
    rows = []
    for meta in stored_runs(task, _hashes_of(configs), root):
        res = meta["result"]
        row = {"hash": meta["hash"], **meta["config"]}
        for k in ("status", "final_val_loss", "best_val_loss", "baseline", "wall_s", "n_updates", "device"):
            v = res.get(k)
            row[k if k != "device" else "run_device"] = float("nan") if v is None and k.endswith("loss") else v
        row["diverged"] = res["status"] == "diverged"
        row["success"] = bool(_tasks.succeeded(row["final_val_loss"], row["baseline"]))
        rows.append(row)
    cols = ["hash", *[f.name for f in dataclasses.fields(TrainConfig)], "status", "final_val_loss", "best_val_loss",
            "baseline", "success", "diverged", "wall_s", "n_updates", "run_device"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df = df.sort_values(["init", "scale", "lr", "seed"], kind="stable").reset_index(drop=True)
    return df


if __name__ == "__main__":  # pragma: no cover - `python -m nnrnn.sweep` is `nnrnn sweep` (nnrnn.sweep_cli, found by name)
    from .cli import main as _cli

    sys.exit(_cli(["sweep", *sys.argv[1:]]))
