r"""Train one vanilla RNN on one benchmark task: one config in, one history out.

The recipe follows the paper (§4.1) and the authors' Keras script:

* **RMSprop** with ``alpha=0.9`` and ``eps=1e-7``. The paper does not state the constants; the
  authors' Keras 2 ``rmsprop(lr)`` used ρ = 0.9 and ε = 1e-7 (torch's defaults are 0.99 and
  1e-8), so we chose the Keras values;
* gradient clipping by the **global** norm at 10 (Keras ``clipnorm=10``);
* batches of 16, reshuffled every epoch;
* validation at regular points, and **early stopping** once the validation loss is below
  0.0025 (the authors' ``EarlyStoppingByLossVal``).

Validation data are a fixed held-out set drawn from the run's seed, independent of the
training set. The authors validated on their test set; for these synthetic tasks a test set is
just another independent sample of the same distribution, so our validation set plays exactly
its role, and we keep no third set.

A run whose training loss, gradient norm or validation loss becomes NaN or infinite is stopped
and recorded with ``status="diverged"``; it counts as a failure and never raises.

Each update is one of two steps that compute the same thing (:mod:`nnrnn.fused`): the fused C++
step, the default on the CPU for the three task heads when its extension builds, or the reference
step (autograd and ``torch.optim.RMSprop``), used everywhere else. The step is not part of a run's
config or hash; the result records which one trained it (``RunResult.extra["step"]``, stored in
the run's provenance).

``python -m nnrnn.train --task copy --init chain --scale 1.02 --lr 1e-4 --T 100`` trains one
run from the command line and prints its final losses.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.std import tqdm

from . import analysis as _analysis
from . import fused as _fused
from . import init as _init
from . import paper as _paper
from . import tasks as _tasks
from . import validate
from .models import model_for
from .profiles import resolve_device
from .store import config_hash

__all__ = [
    "TrainConfig",
    "RunResult",
    "Status",
    "train",
    "initial_model",
    "evaluate",
    "make_optimizer",
    "LOSSES",
    "keras_cross_entropy",
    "random_baseline",
    "succeeded",
    "weight_diagnostics",
    "datasets",
    "eval_points",
]

Status = Literal["finished", "early_stopped", "diverged"]
random_baseline = _tasks.random_baseline
succeeded = _tasks.succeeded

#: config fields that do not change what a run computes; they are left out of its hash.
NON_HASHED = ("device",)
#: the training losses of a classification task (``TrainConfig.loss``; the first is the default).
LOSSES = ("torch", "keras")
#: Keras's clipping of the predicted probabilities (``keras.backend.epsilon()``).
KERAS_EPSILON = 1e-7


def keras_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Keras's categorical cross-entropy of ``logits`` (``(..., C)``) against class indices: the softmax,
    clipped to ``[eps, 1 - eps]`` (eps = :data:`KERAS_EPSILON`), then the mean of minus the log of
    the target's probability. Where the clip is active its gradient is zero.

    Examples:
        >>> z = torch.tensor([[0.0, 40.0], [1.0, 0.0]])
        >>> round(float(keras_cross_entropy(z, torch.tensor([0, 0]))), 4)  # log(1e7) / 2 + log(1 + e^-1) / 2
        8.2157
    """
    p = torch.softmax(logits.reshape(-1, logits.shape[-1]), dim=-1).clamp(KERAS_EPSILON, 1 - KERAS_EPSILON)
    return -torch.log(p.gather(1, target.reshape(-1, 1))).mean()


class _KerasLoss:
    """``task`` with :func:`keras_cross_entropy` as its training loss (``TrainConfig.loss="keras"``)."""

    def __init__(self, task: _tasks.Task):
        self._task = task

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return keras_cross_entropy(output, target)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on; the defaults are the paper's (:mod:`nnrnn.paper`).

    Args:
        task: ``"copy"`` or ``"addition"`` (any name in :func:`nnrnn.tasks.known_tasks`, e.g. ``"psmnist"``).
        init: ``"identity"``, ``"orthogonal"``, ``"chain"`` or ``"fb_chain"``.
        scale: the initializer's scale (λ, α or β; see :mod:`nnrnn.init`).
        lr: RMSprop learning rate.
        seed: selects the data (train and validation sets), the initial weights and the batch
            order, each from its own random stream. The paper used seeds 1-6.
        T: sequence length; ``None`` means the paper's (copy 500, addition 750).
        hidden_size: number of recurrent units ``N``. Default: 100 as in the paper.
        nonlinearity: ``None`` means the task's (copy elu, addition relu, psMNIST elu).
        n_train, n_val: sizes of the fixed training and validation sets (paper: 60,000 and
            10,000).
        epochs: passes over the training set (paper: at most 100).
        batch_size: default 16, as in the paper.
        evals_per_epoch: validation points per epoch (Keras validates once per epoch).
        early_stop: stop once the validation loss is below this (paper: 0.0025); ``0`` never
            stops early.
        clip_norm: global gradient-norm clip (paper: 10).
        rms_alpha, rms_eps: RMSprop constants (Keras: 0.9, 1e-7).
        eval_batch_size: sequences per forward pass during validation (no effect on results).
        orientation: ``"forward"`` (the paper's chain) or ``"reversed"`` (an ablation).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``. Not part of the config hash:
            a run computed on a GPU is reused on a CPU.
        loss: the training loss of a classification task: ``"torch"`` (default; PyTorch's
            cross-entropy of the logits) or ``"keras"`` (Keras's: softmax, probabilities clipped
            to [1e-7, 1 - 1e-7], minus the log; no gradient where clipped), the authors'
            framework's. Validation always reports PyTorch's cross-entropy. Left out of the config
            hash at its default, so no stored run's hash changes.
    """

    task: str = "copy"
    init: str = "chain"
    scale: float = 1.0
    lr: float = 1e-4
    seed: int = 1
    T: int | None = None
    hidden_size: int = _paper.SYNTHETIC_BASE["hidden_size"]
    nonlinearity: str | None = None
    n_train: int = _paper.SYNTHETIC_BASE["n_train"]
    n_val: int = _paper.SYNTHETIC_BASE["n_val"]
    epochs: int = _paper.SYNTHETIC_BASE["epochs"]
    batch_size: int = _paper.OPTIMIZER["batch_size"]
    evals_per_epoch: int = _paper.SYNTHETIC_BASE["evals_per_epoch"]
    early_stop: float = _paper.SYNTHETIC_BASE["early_stop"]
    clip_norm: float = _paper.OPTIMIZER["clip_norm"]
    rms_alpha: float = _paper.OPTIMIZER["rms_alpha"]
    rms_eps: float = _paper.OPTIMIZER["rms_eps"]
    eval_batch_size: int = 500
    orientation: str = "forward"
    device: str = "cpu"
    loss: str = "torch"

    def __post_init__(self) -> None:
        validate.choice(self.task, "task", tuple(_tasks.known_tasks()))
        _init.get(self.init)  # raises "unknown initializer ..." with the options
        validate.finite_float(self.scale, "scale", low=0.0, plain=True)
        validate.finite_float(self.lr, "lr", low=0.0, low_open=True, plain=True)
        validate.non_negative_int(self.seed, "seed", plain=True)
        if self.T is not None:
            validate.positive_int(self.T, "T", plain=True)
        for name in ("hidden_size", "n_train", "n_val", "epochs", "batch_size", "evals_per_epoch", "eval_batch_size"):
            validate.positive_int(getattr(self, name), name, plain=True)
        validate.finite_float(self.early_stop, "early_stop", low=0.0, plain=True)
        validate.finite_float(self.clip_norm, "clip_norm", low=0.0, low_open=True, plain=True)
        alpha = self.rms_alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha < 1:
            raise validate.error("rms_alpha", "a number in [0, 1) (RMSprop's decay rate of the mean squared "
                                 "gradient)", alpha)
        validate.finite_float(self.rms_eps, "rms_eps", low=0.0, low_open=True, plain=True)
        if self.task == "psmnist":  # the seed draws the pixel permutation: refused here, not in a worker
            _tasks.psmnist.check_seed(self.seed)
        validate.choice(self.orientation, "orientation", ("forward", "reversed"))
        validate.choice(self.nonlinearity, "nonlinearity", (*validate.NONLINEARITIES, None))
        if not isinstance(self.device, str):
            raise validate.error("device", "a string such as 'cpu' or 'cuda'", self.device)
        validate.choice(self.loss, "loss", LOSSES)
        if self.loss != LOSSES[0] and self.task not in ("copy", "psmnist"):
            raise ValueError(f"loss={self.loss!r} is a cross-entropy, for copy or psmnist; task {self.task!r} "
                             "trains on mean squared error")

    # ------------------------------------------------------------------ derived values
    @property
    def seq_len(self) -> int:
        """The sequence length actually used (``T`` or the task's default)."""
        return self.make_task().T

    def make_task(self) -> _tasks.Task:
        return _tasks.get_task(self.task, T=self.T)

    @property
    def updates_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch_size)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> dict[str, Any]:
        """The fields that define the run (everything except :data:`NON_HASHED`, and ``loss`` at its
        default, so the runs stored before it existed keep their hashes)."""
        return {k: v for k, v in self.as_dict().items()
                if k not in NON_HASHED and not (k == "loss" and v == LOSSES[0])}

    def hash(self) -> str:
        """The run's content hash (its folder name in the run store)."""
        return config_hash(self.key())

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise validate.error("TrainConfig fields", f"some of {sorted(names)}", unknown)
        return cls(**d)


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        config: the :class:`TrainConfig`.
        history: one row per validation point with columns ``update``, ``epoch`` (fractional),
            ``train_loss`` (mean since the previous point), ``val_loss``, the task's metrics as
            ``val_<name>`` (copy: ``val_acc``, ``val_recall_acc``) and ``wall_s``.
        state_dict: the final weights (on the CPU).
        status: ``"finished"``, ``"early_stopped"`` or ``"diverged"``.
        wall_s: wall time of the run.
        n_updates: optimizer steps taken.
        baseline: the task's random-baseline loss.
    """

    config: TrainConfig
    history: pd.DataFrame
    state_dict: dict[str, Tensor]
    status: str
    wall_s: float
    n_updates: int
    baseline: float
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_val_loss(self) -> float:
        """The last validation loss (NaN for a diverged run)."""
        if self.status == "diverged" or self.history.empty:
            return float("nan")
        return float(self.history["val_loss"].iloc[-1])

    @property
    def success(self) -> bool:
        """Final validation loss below half the random baseline (the paper's criterion)."""
        return self.status != "diverged" and succeeded(self.final_val_loss, self.baseline)

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "final_val_loss": self.final_val_loss,
            "best_val_loss": float(self.history["val_loss"].min()) if len(self.history) else float("nan"),
            "baseline": self.baseline,
            "success": self.success,
            "wall_s": self.wall_s,
            "n_updates": self.n_updates,
            "device": self.device,
        }


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.RMSprop:
    """RMSprop with the Keras constants (``alpha=0.9``, ``eps=1e-7``) and the config's lr."""
    return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps)


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: _tasks.Task, data: _tasks.TaskData, batch_size: int = 500) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over all of ``data`` (evaluated in chunks)."""
    was_training = model.training
    model.eval()
    n = len(data)
    device = next(model.parameters()).device
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(start + batch_size, n), device=device)
        x, y = data.batch(index)
        out = model(x)
        w = len(index) / n
        totals["loss"] = totals.get("loss", 0.0) + w * task.loss(out, y).item()
        for k, v in task.metrics(out, y).items():
            totals[k] = totals.get(k, 0.0) + w * v
    model.train(was_training)
    return totals


@lru_cache(maxsize=2)
def datasets(task: str, T: int | None, n_train: int, n_val: int, seed: int):
    """Generate (and, within one process, remember) the fixed data sets of a seed."""
    return _tasks.get_task(task, T=T).datasets(n_train, n_val, seed)


def eval_points(cfg: TrainConfig) -> set[int]:
    """Updates after which to validate: ``evals_per_epoch`` evenly spaced points per epoch."""
    per = cfg.updates_per_epoch
    k = min(cfg.evals_per_epoch, per)
    points = set()
    for e in range(cfg.epochs):
        for j in range(1, k + 1):
            points.add(e * per + round(j * per / k))
    return points


def weight_diagnostics(weight_hh: Tensor) -> dict[str, float]:
    """Spectral radius and Henrici index of the recurrent matrix, recorded at every validation point.

    They show when a run diverges (the spectral radius of a chain starts at 0, since the chain is
    nilpotent, and grows during training) and whether a chain stays a chain. NaN when ``W`` is
    not finite.

    Examples:
        >>> d = weight_diagnostics(torch.eye(3))
        >>> round(d["w_spectral_radius"], 6), round(d["w_henrici"], 6)
        (1.0, 0.0)
    """
    w = weight_hh.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(w).all()):
        return {"w_spectral_radius": float("nan"), "w_henrici": float("nan")}
    return {
        "w_spectral_radius": float(np.abs(_analysis.eigenvalues(w)).max()),
        "w_henrici": float(_analysis.henrici(w)),
    }


def initial_model(cfg: TrainConfig, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The untrained network of ``cfg``, drawn from the run's own "init" random stream.

    :func:`train` starts from exactly this network, so the weights before training can be
    rebuilt from a stored config alone.
    """
    return model_for(
        cfg.task,
        cfg.init,
        cfg.scale,
        hidden_size=cfg.hidden_size,
        nonlinearity=cfg.nonlinearity,
        orientation=cfg.orientation,
        generator=_tasks.stream_generator(cfg.seed, "init"),
        device=device,
    )


def train(
    cfg: TrainConfig,
    *,
    progress: bool | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    step: str | None = None,
    max_updates: int | None = None,
    on_update: Callable[[int, torch.nn.Module], None] | None = None,
) -> RunResult:
    """Train the paper's model for ``cfg`` and return its history and final weights.

    Args:
        cfg: the run's :class:`TrainConfig`.
        progress: show a tqdm bar over updates; ``None`` (default) shows it only on a terminal.
        on_eval: called with each history row as it is recorded (e.g. for logging).
        step: ``"fused"``, ``"reference"`` or ``None`` (default: the fused step where it can
            train the run, see :func:`nnrnn.fused.choose_step`). Not part of the config: the result's
            ``extra["step"]`` names the step taken.
        max_updates: stop after this many updates (a partial run, e.g. to re-check the first
            validation points of a stored run; not part of the config).
        on_update: called as ``on_update(update, model)`` after every update (e.g. to record
            ``W`` as training proceeds); it must not change the model.

    Returns:
        a :class:`RunResult`. Validation happens before training (update 0), at
        ``cfg.evals_per_epoch`` points per epoch and at the end.

    Examples:
        >>> cfg = TrainConfig(task="copy", T=25, hidden_size=8, n_train=32, n_val=16, epochs=1)
        >>> r = train(cfg, progress=False)
        >>> r.status, list(r.history["update"]), r.n_updates
        ('finished', [0, 2], 2)
    """
    if max_updates is not None and (isinstance(max_updates, bool) or not isinstance(max_updates, int) or max_updates < 0):
        raise validate.error("max_updates", "a non-negative integer or None", max_updates)
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    task = cfg.make_task()
    train_data, val_data = datasets(cfg.task, cfg.T, cfg.n_train, cfg.n_val, cfg.seed)
    train_data, val_data = train_data.to(device), val_data.to(device)
    model = initial_model(cfg, device)
    order_gen = _tasks.stream_generator(cfg.seed, "order")
    params = [p for p in model.parameters()]
    step = _fused.choose_step(step, model, task, loss=cfg.loss)
    train_task = _KerasLoss(task) if cfg.loss == "keras" else task  # validation keeps PyTorch's loss
    if step == "fused":
        take_step = _fused.FusedStep(model, task, lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps,
                                     clip_norm=cfg.clip_norm)
    else:
        opt = make_optimizer(model.parameters(), cfg)

        def take_step(x: Tensor, y: Tensor) -> tuple[float, float]:
            return _fused.reference_step(model, opt, train_task, x, y, cfg.clip_norm, params)

    rows: list[dict[str, Any]] = []
    status: str = "finished"
    run_loss, run_count = 0.0, 0

    def record(update: int, train_loss: float) -> dict[str, Any]:
        ev = evaluate(model, task, val_data, cfg.eval_batch_size)
        row = {
            "update": update,
            "epoch": update / cfg.updates_per_epoch,
            "train_loss": train_loss,
            "val_loss": ev.pop("loss"),
            **{f"val_{k}": v for k, v in ev.items()},
            **weight_diagnostics(model.rnn.weight_hh),
            "wall_s": time.perf_counter() - t0,
        }
        rows.append(row)
        if on_eval is not None:
            on_eval(row)
        return row

    row = record(0, float("nan"))
    total = cfg.epochs * cfg.updates_per_epoch
    points = eval_points(cfg)
    update = 0
    if not math.isfinite(row["val_loss"]):
        status = "diverged"
    elif row["val_loss"] < cfg.early_stop:
        status = "early_stopped"
    bar = tqdm(total=total, disable=(not progress) if progress is not None else None, leave=False,
               desc=f"{cfg.task} {cfg.init} {cfg.scale:g} lr={cfg.lr:g} seed={cfg.seed}")
    model.train()
    try:
        for _epoch in range(cfg.epochs if status == "finished" else 0):
            perm = torch.randperm(cfg.n_train, generator=order_gen).to(device)
            for start in range(0, cfg.n_train, cfg.batch_size):
                if max_updates is not None and update >= max_updates:
                    break
                x, y = train_data.batch(perm[start : start + cfg.batch_size])
                lv, gnorm = take_step(x, y)  # a non-finite loss or norm returns before the update
                if not (math.isfinite(lv) and math.isfinite(gnorm)):
                    status = "diverged"
                    break
                update += 1
                if on_update is not None:
                    on_update(update, model)
                bar.update(1)
                run_loss += lv
                run_count += 1
                if update in points:
                    row = record(update, run_loss / run_count)
                    run_loss, run_count = 0.0, 0
                    bar.set_postfix(val_loss=f"{row['val_loss']:.4g}")
                    if not math.isfinite(row["val_loss"]):
                        status = "diverged"
                        break
                    if row["val_loss"] < cfg.early_stop:
                        status = "early_stopped"
                        break
            if status != "finished" or (max_updates is not None and update >= max_updates):
                break
    finally:
        bar.close()
    if status == "diverged":
        nan_metrics = {k: float("nan") for k in rows[0] if k.startswith(("val_", "w_"))}
        rows.append({"update": update, "epoch": update / cfg.updates_per_epoch, "train_loss": float("nan"),
                     **nan_metrics, "wall_s": time.perf_counter() - t0})
    elif rows[-1]["update"] != update and max_updates is None:  # pragma: no cover - the last update is always a point
        record(update, run_loss / max(run_count, 1))
    history = pd.DataFrame(rows)
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    return RunResult(cfg, history, state, status, time.perf_counter() - t0, update, task.baseline, str(device),
                     extra={"step": step})


# ----------------------------------------------------------------------------- CLI
def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="nnrnn train", description="Train one vanilla RNN on copy, addition or psMNIST and print its history.",
        epilog="example: nnrnn train --task copy --init chain --scale 1.02 --lr 1e-4 --T 100 --epochs 1 --n-train 3200",
    )
    defaults = TrainConfig()
    # what a default of None means, and the allowed values where there is a short list
    meaning = {"T": "the paper's length for the task (copy 500, addition 750, psMNIST 784)",
               "nonlinearity": "the paper's for the task (" + ", ".join(f"{t} {a}" for t, a in _paper.NONLINEARITY.items()) + ")"}
    choices = {"task": sorted(_tasks.known_tasks()), "init": list(_init.INITIALIZERS), "nonlinearity": list(validate.NONLINEARITIES),
               "orientation": ["forward", "reversed"]}
    for f in dataclasses.fields(TrainConfig):
        kind = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str}[str(f.type)]
        default = getattr(defaults, f.name)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=default, choices=choices.get(f.name),
                       help=f"default: {meaning[f.name] if default is None else default}")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--step", choices=_fused.STEPS, default=None,
                   help="the training step (default: fused where it can train the run, else reference)")
    a = vars(p.parse_args(argv))
    progress, step = a.pop("progress"), a.pop("step")
    try:
        cfg = TrainConfig(**a)
    except ValueError as exc:
        p.error(str(exc))
    r = train(cfg, progress=progress or None, step=step)
    print(r.history.to_string(index=False))
    print({k: v for k, v in r.summary().items()})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
