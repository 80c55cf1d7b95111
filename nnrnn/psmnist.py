r"""The psMNIST benchmark: MNIST digits read one permuted pixel per step (Orhan & Pitkow, 2020).

The task (Le, Jaitly & Hinton 2015; MNIST by LeCun et al. 1998):

* each 28 × 28 image is flattened row by row, its 784 pixels are reordered by one fixed random
  permutation (:func:`nnrnn.data.permutation` ``(seed)``: one permutation per seed, the same
  for every image and split), scaled to ``[0, 1]``, and fed **one pixel per step**, so
  ``T = 784`` and the input has one channel;
* a 10-way linear readout acts **at the last step** only; the loss is the cross-entropy;
* the random baseline is :math:`\ln 10 \approx 2.303` nats (the paper's Fig. 3 caption), so a
  run *succeeds* when its final validation loss is below :math:`\tfrac12\ln 10 \approx 1.151`.

**Splits.** The authors' Keras code trained on all 60,000 training digits and validated on the
10,000 test digits. We chose to keep the test set out of every choice: the validation set is the
*last* ``n_val`` digits of the MNIST training file and the training set its *first* ``n_train``
(disjoint for ``n_train + n_val <= 60000``), and the test set is used only for the test
accuracy reported after training (:func:`evaluate_test_set`). ``validate_on="test"`` in
:func:`datasets` reproduces the authors' arrangement.

**Hidden size.** The paper's text says N = 25 for psMNIST while the authors' code defaults to
100; the task default (:attr:`PsMNISTTask.default_hidden`) and every profile here use 25,
and :func:`grid` takes ``hidden_size=`` to change it.

Images are kept as ``uint8`` (47 MB for the full training set) and converted to ``float32`` one
batch at a time.

Examples:
    >>> task = PsMNISTTask()
    >>> task.T, task.input_size, task.output_size, task.per_step, round(task.baseline, 4)
    (784, 1, 10, False, 2.3026)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from . import data as _data
from . import tasks as _tasks

__all__ = [
    "T",
    "N_CLASSES",
    "N_MNIST_TRAIN",
    "N_MNIST_TEST",
    "DEFAULT_HIDDEN",
    "PAPER_HIDDEN_TEXT",
    "PAPER_HIDDEN_CODE",
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
    "settings_table",
    "register",
]

#: sequence length: one pixel per step.
T = 784
N_CLASSES = 10
N_MNIST_TRAIN = 60_000
N_MNIST_TEST = 10_000
#: the hidden size the paper's text states for psMNIST (the default here) ...
PAPER_HIDDEN_TEXT = 25
#: ... and the default of the authors' code.
PAPER_HIDDEN_CODE = 100
DEFAULT_HIDDEN = PAPER_HIDDEN_TEXT

ValidateOn = Literal["holdout", "test"]


def baseline() -> float:
    r"""Cross-entropy of the uniform guess over 10 classes: :math:`\ln 10` nats.

    Examples:
        >>> round(baseline(), 3)
        2.303
    """
    return math.log(N_CLASSES)


# ----------------------------------------------------------------------------- data
@lru_cache(maxsize=2)
def _mnist_flat(split: str, data_dir: str | None, download: bool) -> tuple[Tensor, Tensor]:
    """MNIST images as ``uint8 (n, 784)`` (row-major) and labels, read once per process."""
    images, labels = _data.load_mnist(split, data_dir=data_dir, download=download)
    return images.reshape(images.shape[0], T).contiguous(), labels


@dataclass(frozen=True)
class PsMNISTData(_tasks.TaskData):
    """A fixed set of permuted digits: ``pixels`` ``uint8 (n, 784)`` already permuted, ``labels`` ``(n,)``.

    :meth:`batch` returns ``float32`` inputs ``(B, 784, 1)`` in ``[0, 1]`` and ``int64`` labels.

    Examples:
        >>> d = PsMNISTData(torch.full((3, 784), 255, dtype=torch.uint8), torch.tensor([1, 2, 3]))
        >>> x, y = d.batch(torch.tensor([0, 2]))
        >>> tuple(x.shape), float(x.max()), y.tolist()
        ((2, 784, 1), 1.0, [1, 3])
    """

    pixels: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        x = self.pixels[index].to(torch.float32).div_(255.0).unsqueeze(-1)
        return x, self.labels[index]

    def to(self, device) -> "PsMNISTData":
        return PsMNISTData(self.pixels.to(device), self.labels.to(device))


def _check_count(n: Any, name: str, upper: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if n > upper:
        raise ValueError(f"{name} must be at most {upper:,}, got {n:,}")
    return int(n)


def _dir(data_dir: str | os.PathLike | None) -> str | None:
    return None if data_dir is None else str(data_dir)


def datasets(
    n_train: int,
    n_val: int,
    seed: int,
    *,
    validate_on: ValidateOn = "holdout",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[PsMNISTData, PsMNISTData]:
    """The training and validation sets of psMNIST for ``seed`` (whose permutation they use).

    Args:
        n_train: the first ``n_train`` digits of the MNIST training file.
        n_val: validation digits: the *last* ``n_val`` of the training file
            (``validate_on="holdout"``, default; ``n_train + n_val <= 60000`` keeps them
            disjoint) or the first ``n_val`` of the test file (``"test"``, as the authors' code).
        seed: the run's seed; it selects the pixel permutation (:func:`nnrnn.data.permutation`).
        validate_on: ``"holdout"`` or ``"test"``.
        data_dir, download: where MNIST is found (see :mod:`nnrnn.data`).

    Examples:
        >>> datasets(59_000, 2_000, seed=1)
        Traceback (most recent call last):
        ...
        ValueError: n_train + n_val must be at most 60,000 so that the held-out validation digits are not trained on; got 59,000 + 2,000
    """
    if validate_on not in ("holdout", "test"):
        raise ValueError(f"validate_on must be one of ['holdout', 'test'], got {validate_on!r}")
    n_train = _check_count(n_train, "n_train", N_MNIST_TRAIN)
    n_val = _check_count(n_val, "n_val", N_MNIST_TRAIN if validate_on == "holdout" else N_MNIST_TEST)
    if validate_on == "holdout" and n_train + n_val > N_MNIST_TRAIN:
        raise ValueError(
            f"n_train + n_val must be at most {N_MNIST_TRAIN:,} so that the held-out validation digits are not "
            f"trained on; got {n_train:,} + {n_val:,}"
        )
    perm = _data.permutation(seed, T)
    px, lab = _mnist_flat("train", _dir(data_dir), download)
    train = PsMNISTData(px[:n_train][:, perm].contiguous(), lab[:n_train].clone())
    if validate_on == "holdout":
        val = PsMNISTData(px[-n_val:][:, perm].contiguous(), lab[-n_val:].clone())
    else:
        tpx, tlab = _mnist_flat("test", _dir(data_dir), download)
        val = PsMNISTData(tpx[:n_val][:, perm].contiguous(), tlab[:n_val].clone())
    return train, val


def test_set(
    seed: int, n: int | None = None, *, data_dir: str | os.PathLike | None = None, download: bool = True
) -> PsMNISTData:
    """The MNIST test digits (all 10,000, or the first ``n``) under ``seed``'s permutation."""
    n = N_MNIST_TEST if n is None else _check_count(n, "n", N_MNIST_TEST)
    perm = _data.permutation(seed, T)
    px, lab = _mnist_flat("test", _dir(data_dir), download)
    return PsMNISTData(px[:n][:, perm].contiguous(), lab[:n].clone())


test_set.__test__ = False  # not a pytest test, despite the name


# ----------------------------------------------------------------------------- the task
class PsMNISTTask(_tasks.Task):
    """psMNIST for the trainer: elu network, 10-way softmax at the last step, cross-entropy.

    ``T`` is always 784 (one pixel per step); the metric ``acc`` is the classification accuracy.
    The validation set is held out of the training split (see the module docstring).

    Examples:
        >>> PsMNISTTask(T=100)
        Traceback (most recent call last):
        ...
        ValueError: psMNIST has T = 784 (one pixel per step); got T=100
    """

    name = "psmnist"
    T = T
    input_size = 1
    output_size = N_CLASSES
    per_step = False
    default_hidden = DEFAULT_HIDDEN
    default_nonlinearity = "elu"

    def __init__(self, T: int | None = None):  # noqa: N803 - the registry passes T
        if T is not None and T != self.T:
            raise ValueError(f"psMNIST has T = {self.T} (one pixel per step); got T={T!r}")

    @property
    def baseline(self) -> float:
        return baseline()

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[PsMNISTData, PsMNISTData]:
        return datasets(n_train, n_val, seed)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output, target)

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        return {"acc": (output.argmax(-1) == target).float().mean().item()}


def register() -> None:
    """Make ``"psmnist"`` known to :func:`nnrnn.tasks.get_task` in this process (idempotent)."""
    if "psmnist" not in _tasks.task_names():
        _tasks.register_task("psmnist", PsMNISTTask)


# ----------------------------------------------------------------------------- sweep grids
#: held-out validation digits and training digits of the paper profile: the authors trained on
#: 60,000 and validated on the test set; we hold 10,000 training digits out instead.
PAPER_BASE: dict[str, Any] = dict(
    hidden_size=DEFAULT_HIDDEN, n_train=50_000, n_val=10_000, epochs=100, evals_per_epoch=1, early_stop=0.0025
)

_SCALES_ONE = {"identity": (1.0,), "orthogonal": (1.0,), "chain": (1.0,), "fb_chain": (0.04,)}

#: the reduced grids of the ``smoke`` and ``demo`` profiles (``paper`` is the paper's grid).
PROFILE_SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": {
        "scales": _SCALES_ONE,
        "lrs": (1e-3,),
        "seeds": (1,),
        "base": dict(hidden_size=DEFAULT_HIDDEN, n_train=64, n_val=64, epochs=1, evals_per_epoch=2),
    },
    "demo": {
        "scales": _SCALES_ONE,
        "lrs": (8e-4, 3e-4),
        "seeds": (1, 2, 3),
        "base": dict(hidden_size=DEFAULT_HIDDEN, n_train=58_000, n_val=2_000, epochs=1, evals_per_epoch=6),
    },
}

#: test digits used for the test accuracy on each profile (smoke uses a subset, and says so).
N_TEST: dict[str, int] = {"smoke": 500, "demo": N_MNIST_TEST, "paper": N_MNIST_TEST}


def grid(profile: str = "demo", *, hidden_size: int = DEFAULT_HIDDEN, base_seed: int = 0, **overrides: Any):
    """The psMNIST sweep grid of ``profile`` (a :class:`nnrnn.sweep.Grid`).

    ``paper`` is the paper's grid (9 or 7 scales, 11 learning rates, seeds 1-6: 2,112 runs) with
    N = ``hidden_size``; ``smoke`` and ``demo`` are reduced (see :data:`PROFILE_SETTINGS`).
    ``base_seed`` shifts every seed, as in :func:`nnrnn.sweep.grid` (which calls this function
    for ``"psmnist"``). ``overrides`` replace grid axes (``scales``, ``lrs``, ``seeds``) or any
    fixed :class:`nnrnn.train.TrainConfig` field.

    Examples:
        >>> g = grid("paper")
        >>> len(g), g.runs_per_init()["identity"], g.configs()[0].hidden_size
        (2112, 594, 25)
        >>> grid("demo", hidden_size=100).configs()[0].hidden_size
        100
        >>> grid("demo", base_seed=10).seeds
        (11, 12, 13)
    """
    from . import profiles
    from . import sweep as _sweep

    register()
    profiles.check_profile(profile)
    if profile == "paper":
        settings = {"scales": _sweep.PAPER_SCALES, "lrs": _sweep.PAPER_LRS, "seeds": _sweep.PAPER_SEEDS, "base": PAPER_BASE}
    else:
        settings = PROFILE_SETTINGS[profile]
    return _sweep.grid_from_settings("psmnist", profile, settings, base_seed=base_seed, hidden_size=hidden_size, **overrides)


# ----------------------------------------------------------------------------- test metrics
def _model_from_row(row: Mapping[str, Any], state: Mapping[str, Tensor]):
    from .models import model_for

    nl = row.get("nonlinearity")
    model = model_for(
        "psmnist",
        row["init"],
        float(row["scale"]),
        hidden_size=int(row["hidden_size"]),
        nonlinearity=None if nl is None or (isinstance(nl, float) and math.isnan(nl)) else nl,
        orientation=row.get("orientation", "forward") or "forward",
        generator=torch.Generator().manual_seed(0),
    )
    model.load_state_dict(state)
    return model


@torch.no_grad()
def _evaluate_run(row: Mapping[str, Any], n_test: int, root, batch_size: int) -> dict[str, float]:
    from .sweep import load_weights

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
    from .store import run_or_load

    n_test = N_TEST[profile] if n_test is None else _check_count(n_test, "n_test", N_MNIST_TEST)
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


def settings_table(g, *, n_test: int, paper_n_test: int = N_MNIST_TEST) -> pd.DataFrame:
    """What a grid trains, beside the paper's settings (for the chapter's profile table).

    Args:
        g: the profile's grid (:func:`grid`).
        n_test: test digits used for the test accuracy on this profile.
        paper_n_test: the same for the paper column.

    Examples:
        >>> t = settings_table(grid("paper"), n_test=10_000)
        >>> t.loc["runs per initializer (identity, orthogonal / chains)", "paper (Orhan & Pitkow)"]
        '594 / 462'
    """
    from . import sweep as _sweep

    def column(gr, nt, seeds_text=None):
        c = gr.configs()[0]
        per = gr.runs_per_init()
        normal = max(per.get("identity", 0), per.get("orthogonal", 0))
        chains = max(per.get("chain", 0), per.get("fb_chain", 0))
        return {
            "sequence length T (steps)": f"{c.seq_len}",
            "hidden units N": f"{c.hidden_size}",
            "nonlinearity": c.nonlinearity or "elu",
            "training digits": f"{c.n_train:,}",
            "validation digits": f"{c.n_val:,} (held out: the last of the training file)",
            "epochs (max)": f"{c.epochs}",
            "updates per run (max)": f"{c.epochs * c.updates_per_epoch:,}",
            "batch size": f"{c.batch_size}",
            "scales": "; ".join(f"{k}: {', '.join(f'{s:g}' for s in v)}" for k, v in gr.scales.items()),
            "learning rates": ", ".join(f"{lr:g}" for lr in gr.lrs),
            "seeds": seeds_text or ", ".join(map(str, gr.seeds)),
            "runs per initializer (identity, orthogonal / chains)": f"{normal} / {chains}",
            "runs in all": f"{len(gr):,}",
            "test digits (test accuracy)": f"{nt:,}",
        }

    paper = _sweep.Grid("psmnist", dict(_sweep.PAPER_SCALES), _sweep.PAPER_LRS, _sweep.PAPER_SEEDS,
                        {**PAPER_BASE}, profile="paper")
    cols = {f"this profile ({g.profile})": column(g, n_test)}
    p = column(paper, paper_n_test)
    p["training digits"] = "60,000 (authors' code)"
    p["validation digits"] = "the 10,000 test digits (authors' code)"
    p["updates per run (max)"] = f"{100 * 60_000 // 16:,} (100 epochs of 3,750; early stop at loss 0.0025)"
    p["hidden units N"] = f"{PAPER_HIDDEN_TEXT} (text; code default {PAPER_HIDDEN_CODE})"
    p["test digits (test accuracy)"] = "not reported"
    cols["paper (Orhan & Pitkow)"] = p
    return pd.DataFrame(cols)
