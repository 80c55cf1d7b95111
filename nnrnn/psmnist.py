r"""The psMNIST chapter's helpers: the task (re-exported), its grids and test-set metrics.

The task itself, its data and its constants live in :mod:`nnrnn.tasks.psmnist` and are
re-exported here, so ``nnrnn.psmnist.datasets``, ``nnrnn.psmnist.PsMNISTTask`` and the other
names keep working. What needs the sweep, the models or the run store sits here, above them:

* :func:`grid`: :func:`nnrnn.sweep.grid` for ``"psmnist"`` with the hidden size as an argument;
* :func:`evaluate_test_set`: the test loss and accuracy of stored runs, stored once per run.

What a profile trains beside the paper's settings is :func:`nnrnn.pages.settings.settings_table` (with ``n_test``).

The profiles' settings (:data:`PROFILE_SETTINGS`, :data:`PAPER_BASE`, :data:`N_TEST`) are
re-exported from :mod:`nnrnn.profiles`.

Examples:
    >>> task = PsMNISTTask()
    >>> task.T, task.input_size, task.output_size, task.per_step, round(task.baseline, 4)
    (784, 1, 10, False, 2.3026)
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from . import profiles as _profiles
from . import sweep as _sweep
from . import validate
from .models import model_for
from .store import load_weights, run_or_load
from .tasks import stream_generator
from .tasks.psmnist import (
    DEFAULT_HIDDEN,
    N_CLASSES,
    N_MNIST_TEST,
    N_MNIST_TRAIN,
    PAPER_HIDDEN_CODE,
    PAPER_HIDDEN_TEXT,
    T,
    PsMNISTData,
    PsMNISTTask,
    ValidateOn,
    baseline,
    datasets,
    test_set,
)

__all__ = [
    "T",
    "N_CLASSES",
    "N_MNIST_TRAIN",
    "N_MNIST_TEST",
    "DEFAULT_HIDDEN",
    "PAPER_HIDDEN_TEXT",
    "PAPER_HIDDEN_CODE",
    "ValidateOn",
    "baseline",
    "PsMNISTData",
    "PsMNISTTask",
    "datasets",
    "test_set",
    "grid",
    "PROFILE_SETTINGS",
    "PAPER_BASE",
    "N_TEST",
    "evaluate_test_set",
    "register",
]

#: the ``paper`` profile's fixed settings for psMNIST (:mod:`nnrnn.profiles`; 10,000 training
#: digits held out for validation, our choice).
PAPER_BASE: dict[str, Any] = _profiles.SWEEPS["psmnist"]["paper"]["base"]
#: the reduced grids of the ``smoke`` and ``demo`` profiles (:mod:`nnrnn.profiles`).
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {p: _profiles.SWEEPS["psmnist"][p] for p in ("smoke", "demo")}
#: test digits used for the test accuracy on each profile (:data:`nnrnn.profiles.PSMNIST_N_TEST`).
N_TEST: dict[str, int] = _profiles.PSMNIST_N_TEST


def register() -> None:
    """Nothing to do: ``"psmnist"`` is in :mod:`nnrnn.tasks`' registry from the start (kept for callers)."""


def grid(profile: str = "demo", *, hidden_size: int = DEFAULT_HIDDEN, base_seed: int = 0, **overrides: Any):
    """The psMNIST sweep grid of ``profile``: :func:`nnrnn.sweep.grid` ``("psmnist", profile)`` with N = ``hidden_size``.

    ``paper`` is the paper's grid (9 or 7 scales, 11 learning rates, seeds 1-6: 2,112 runs);
    ``smoke`` and ``demo`` are reduced (:data:`nnrnn.profiles.SWEEPS`). ``base_seed`` shifts
    every seed; ``overrides`` replace grid axes (``scales``, ``lrs``, ``seeds``) or any fixed
    :class:`nnrnn.train.TrainConfig` field.

    Examples:
        >>> g = grid("paper")
        >>> len(g), g.runs_per_init()["identity"], g.configs()[0].hidden_size
        (2112, 594, 25)
        >>> grid("demo", hidden_size=100).configs()[0].hidden_size
        100
        >>> grid("demo", base_seed=10).seeds
        (11, 12, 13)
    """
    return _sweep.grid("psmnist", profile, base_seed=base_seed, hidden_size=hidden_size, **overrides)


# ----------------------------------------------------------------------------- test metrics
def _model_from_row(row: Mapping[str, Any], state: Mapping[str, Tensor]):
    nl = row.get("nonlinearity")
    model = model_for(
        "psmnist",
        row["init"],
        float(row["scale"]),
        hidden_size=int(row["hidden_size"]),
        nonlinearity=None if nl is None or (isinstance(nl, float) and math.isnan(nl)) else nl,
        orientation=row.get("orientation", "forward") or "forward",
        generator=stream_generator(0),  # any draw: the stored weights replace it
    )
    model.load_state_dict(state)
    return model


@torch.no_grad()
def _evaluate_run(row: Mapping[str, Any], n_test: int, root, batch_size: int) -> dict[str, float]:
    if row.get("diverged") or row.get("status") == "diverged":
        return {"test_loss": float("nan"), "test_acc": float("nan")}
    state = load_weights("psmnist", row["hash"], root=root)
    if not all(torch.isfinite(v).all() for v in state.values()):
        return {"test_loss": float("nan"), "test_acc": float("nan")}
    model = _model_from_row(row, state)
    model.eval()
    data = test_set(int(row["seed"]), n_test)
    loss = acc = 0.0
    for start in range(0, len(data), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(data)))
        x, y = data.batch(idx)
        out = model(x)
        w = len(idx) / len(data)
        loss += w * F.cross_entropy(out, y).item()
        acc += w * (out.argmax(-1) == y).float().mean().item()
    return {"test_loss": loss, "test_acc": acc}


def evaluate_test_set(
    runs: pd.DataFrame,
    *,
    n_test: int | None = None,
    profile: str = "demo",
    cache: str = "auto",
    root: str | os.PathLike | None = None,
    batch_size: int = 1000,
) -> pd.DataFrame:
    """Test loss and accuracy of stored psMNIST runs, on the MNIST test digits of each run's seed.

    Each run's result is stored once (``nnrnn.store.run_or_load``, experiment
    ``psmnist_test``, keyed by the run's hash and ``n_test``), so re-running a chapter does not
    re-evaluate. Diverged runs get NaN.

    Args:
        runs: a :func:`nnrnn.sweep.load_runs` table of psMNIST runs.
        n_test: number of test digits (the first ``n_test`` of the file). Default:
            :data:`N_TEST` ``[profile]``.
        profile: the results folder level (and the default ``n_test``).
        cache: ``"auto"``, ``"require"`` or ``"off"`` (see :func:`nnrnn.store.run_or_load`).
        root: results root.
        batch_size: digits per forward pass (no effect on the result).

    Returns:
        ``runs`` with columns ``test_loss``, ``test_acc`` and ``n_test`` added.
    """
    if n_test is None:
        n_test = N_TEST[_profiles.check_profile(profile)]
    else:
        n_test = validate.integer(n_test, "n_test", low=1, high=N_MNIST_TEST)
    out = runs.copy()
    losses, accs = [], []
    for row in runs.to_dict("records"):
        cfg = {"run": row["hash"], "n_test": n_test}
        res = run_or_load(
            "psmnist_test",
            cfg,
            lambda row=row: _evaluate_run(row, n_test, root, batch_size),
            profile=profile,
            cache=cache,
            root=root,
        )
        losses.append(float(res["test_loss"]))
        accs.append(float(res["test_acc"]))
    out["test_loss"] = losses
    out["test_acc"] = accs
    out["n_test"] = n_test
    return out
