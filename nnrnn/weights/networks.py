r"""Which networks the weights chapter analyses, and their weights before and after training.

The runs come from the run store (:func:`train_networks` trains or reads the chapter's own grids;
:func:`collect_runs` reads another source, such as the archive's replicate runs,
:func:`nnrnn.archive.replicate_runs`); :func:`select_networks` picks the successful ones (or a
pair's best setting, marked :data:`FALLBACK`); :func:`initial_state` rebuilds a network's
untrained weights from its config and :func:`final_state` reads its trained ones. What is
measured on them is :mod:`nnrnn.weights.measures`'.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import pandas as pd
import torch

from .. import profiles as _profiles
from .. import sweep as _sweep
from .. import validate
from ..results import best_settings
from ..store import check_hash, load_weights, read_run_meta, run_folder
from ..train import TrainConfig, initial_model

__all__ = ["SUCCESS", "FALLBACK", "Root", "root_for", "run_config", "initial_state", "final_state", "nonlinearity_of",
           "select_networks", "TASKS", "INITS", "network_grids", "TrainedRuns", "train_networks", "collect_runs",
           "analysed_tasks"]

SUCCESS = "success"
FALLBACK = "best (not successful)"


# ----------------------------------------------------------------------------- weights of a run
#: a results root, or a mapping from task name to results root.
Root = Union[str, os.PathLike, Mapping[str, Union[str, os.PathLike]], None]


def root_for(root, task: str):
    """``root`` itself, or ``root[task]`` when it maps task names to roots (one store per task)."""
    if isinstance(root, Mapping):
        if task not in root:
            raise validate.error("root", f"a results root or a mapping with an entry for task {task!r}",
                                 f"a mapping of {sorted(root)}", raw=True)
        return root[task]
    return root


def run_config(task: str, hash: str, *, root: Root = None):
    """The :class:`nnrnn.train.TrainConfig` of a stored run, read from its ``config.json``.

    ``root`` is a results root (:func:`nnrnn.store.results_root`), or a mapping from task name
    to results root; every function of this module accepts either.
    """
    hash = check_hash(hash)
    meta = read_run_meta(run_folder(task, hash, root_for(root, task)))  # integrity-checked
    return TrainConfig.from_dict(meta["config"])


def initial_state(cfg) -> dict[str, torch.Tensor]:
    """The untrained ``state_dict`` of ``cfg``'s network, rebuilt as :func:`nnrnn.train.train` builds it.

    Examples:
        >>> from nnrnn.train import TrainConfig
        >>> s = initial_state(TrainConfig(task="copy", init="chain", scale=1.02, hidden_size=5))
        >>> float(s["rnn.weight_hh"][1, 0]), float(s["rnn.weight_hh"][0, 1])
        (1.0199999809265137, 0.0)
    """
    model = initial_model(cfg, "cpu")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def final_state(task: str, hash: str, *, root: Root = None) -> dict[str, torch.Tensor]:
    """The trained ``state_dict`` of a stored run."""
    return load_weights(task, hash, root=root_for(root, task))


def nonlinearity_of(cfg) -> str:
    """The nonlinearity a run's network uses: its config's, else its task's default."""
    if cfg.nonlinearity is not None:
        return cfg.nonlinearity
    return cfg.make_task().default_nonlinearity


# ----------------------------------------------------------------------------- which networks
def select_networks(
    runs: pd.DataFrame,
    inits: Sequence[str] = ("identity", "orthogonal"),
    *,
    fallback: bool = True,
) -> pd.DataFrame:
    """The networks to analyse: every successful run of ``inits``, per (task, init).

    Where an init has no successful run and ``fallback`` is true, the runs of its best setting
    (:func:`nnrnn.results.best_settings`; diverged runs excluded) are taken instead. The result
    has a ``selection`` column: :data:`SUCCESS` or :data:`FALLBACK`.

    Examples:
        >>> df = pd.DataFrame({"task": "addition", "init": ["identity"] * 3, "scale": 1.0, "lr": [1e-3, 1e-3, 1e-4],
        ...                    "seed": [1, 2, 1], "final_val_loss": [0.2, 0.3, 0.1], "success": False,
        ...                    "diverged": False, "hash": ["a", "b", "c"]})
        >>> select_networks(df)[["hash", "selection"]].values.tolist()
        [['c', 'best (not successful)']]
    """
    fallback = validate.flag(fallback, "fallback")
    validate.has_columns(runs, ["task", "init", "scale", "lr", "seed", "success", "diverged"], "runs")
    frames = []
    for (task, init), g in runs[runs["init"].isin(list(inits))].groupby(["task", "init"], sort=False):
        ok = g[g["success"].astype(bool)]
        if len(ok):
            frames.append(ok.assign(selection=SUCCESS))
        elif fallback:
            finite = g[~g["diverged"].astype(bool)]
            if finite.empty:
                continue
            b = best_settings(finite).loc[init]
            pick = finite[np.isclose(finite["scale"], b["scale"]) & np.isclose(finite["lr"], b["lr"])]
            frames.append(pick.assign(selection=FALLBACK))
    if not frames:
        return runs.iloc[0:0].assign(selection=pd.Series(dtype=str))
    out = pd.concat(frames, ignore_index=True)
    order = {name: k for k, name in enumerate(inits)}
    return out.sort_values(["task", "init", "scale", "lr", "seed"], key=lambda s: s.map(order) if s.name == "init" else s,
                           kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- the chapter's networks
#: the tasks and initializers of Table 2 and Fig. 5 (copy is analysed only where one of its runs succeeded).
TASKS = ("addition", "psmnist", "copy")
INITS = ("identity", "orthogonal")


def _names(values: Sequence[str], name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values:
        raise validate.error(name, f"a non-empty sequence of {list(allowed)}", list(values))
    return tuple(validate.choice(v, f"each of {name}", tuple(allowed)) for v in values)


def network_grids(profile: str, *, tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, base_seed: int = 0,
                  overrides: Mapping[str, Mapping[str, Any]] | None = None, **fixed: Any) -> dict[str, _sweep.Grid]:
    """Each task's grid of ``profile`` (:func:`nnrnn.sweep.grid`: the benchmark chapters' configs and
    hashes), restricted to ``inits``. ``overrides`` sets fields per task (``{"psmnist": {"hidden_size":
    25}}``), ``fixed`` for every task (e.g. ``device="cpu"``)."""
    tasks, inits = _names(tasks, "tasks", TASKS), _names(inits, "inits", ("identity", "orthogonal", "chain", "fb_chain"))
    overrides = dict(overrides or {})
    if set(overrides) - set(tasks):
        raise validate.error("overrides", f"a mapping keyed by tasks among {list(tasks)}", sorted(overrides))
    grids = {t: _sweep.grid(t, profile, base_seed=base_seed, **{**fixed, **overrides.get(t, {})}) for t in tasks}
    return {t: g.replace(scales={k: v for k, v in g.scales.items() if k in inits}) for t, g in grids.items()}


@dataclass
class TrainedRuns:
    """:func:`train_networks`'s result: ``runs`` (all tasks, with ``task`` and ``trained_now``) and
    ``roots`` (task -> the results root they were read from)."""

    runs: pd.DataFrame
    roots: dict[str, Path]


def train_networks(profile: str, *, tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, base_seed: int = 0,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None, cache: str = "auto", root=None,
                   executor: str | None = None, progress: bool | None = None, **fixed: Any) -> TrainedRuns:
    """Run (or read from the store) the :func:`network_grids` of every task, and load their runs.

    Runs a benchmark chapter stored are read, not retrained (same configs, same hashes).
    ``executor`` defaults to the profile's (:func:`nnrnn.profiles.get`); with ``cache="off"`` each
    task trains into its own temporary root, hence ``roots``.
    """
    frames, roots = [], {}
    for task, g in network_grids(profile, tasks=tasks, inits=inits, base_seed=base_seed, overrides=overrides,
                                 **fixed).items():
        rep = _sweep.run_sweep(g, root=root, executor=executor or _profiles.get(task, profile)["executor"],
                               cache=cache, progress=progress)
        r = _sweep.load_runs(task, configs=g, root=rep.root)
        frames.append(r.assign(task=task, trained_now=r["hash"].isin(rep.ran)))
        roots[task] = rep.root
    return TrainedRuns(pd.concat(frames, ignore_index=True), roots)


def collect_runs(load: Callable[[str, Any], pd.DataFrame], tasks: Sequence[str] = TASKS, root=None, *,
                 inits: Sequence[str] = INITS) -> pd.DataFrame:
    """``load(task, root)`` for each task (e.g. :func:`nnrnn.archive.replicate_runs`), the runs of
    ``inits`` only, in one table with a ``task`` column (empty when no task has runs)."""
    frames = [r.assign(task=t) for t in _names(tasks, "tasks", TASKS) if len(r := load(t, root))]
    if not frames:
        return pd.DataFrame(columns=["task", "init", "hash", "seed", "success", "diverged"])
    runs = pd.concat(frames, ignore_index=True)
    return runs[runs["init"].isin(list(inits))].reset_index(drop=True)


def analysed_tasks(runs: pd.DataFrame, tasks: Sequence[str] = TASKS) -> list[str]:
    """The tasks of ``tasks`` that :func:`analyse` takes from ``runs``: those with runs, and copy
    only if one of its runs succeeded (the paper's Table 2 has no copy row: none did)."""
    copy_ok = bool(runs.loc[runs["task"] == "copy", "success"].astype(bool).any())
    return [t for t in _names(tasks, "tasks", TASKS) if t in set(runs["task"]) and (t != "copy" or copy_ok)]


