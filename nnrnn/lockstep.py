r"""Lockstep training: many runs of one shape trained as one computation.

A sweep is a grid of small, independent runs (a 100-unit RNN at batch 16). One such run keeps a
CPU core busy mostly with call overhead and a GPU with kernel launches, so :func:`train_group`
trains ``K`` runs that share the task, sequence length, hidden size, nonlinearity, batch size,
training schedule and device **together**: their weights are stacked on a leading dimension and
every time step is one call for all of them.

Everything that makes a run *that* run stays per run, exactly as in
:func:`nnrnn.train.train`, which remains the reference:

* initializer, scale, learning rate and seed: the initial weights, the training and validation
  sets and the batch order come from the run's own random streams;
* RMSprop state and learning rate; global-norm gradient clipping of the run's own gradient;
* validation points, early stopping (a run that reaches the threshold stops at exactly the
  update where the single-run trainer stops) and divergence (a run whose loss or gradient norm
  becomes NaN or infinite is recorded as diverged at the same update; it never touches the
  others, and it leaves the group).

Runs that stop leave the group, so the remaining ones do not pay for them.

**Steps.** On the CPU, for the three task heads of :mod:`nnrnn.fused` and PyTorch's loss, each
active run takes the **fused step** (``step="fused"``, the default where it can): one C++ call
per run and update, :meth:`nnrnn.fused.FusedStep.step_on` on the run's slices of the stacked
parameters and RMSprop state, which it updates in place, and validation through the
single-run model (:func:`nnrnn.train.evaluate`). A run then computes exactly what
:func:`nnrnn.train.train` with ``step="fused"`` computes, bit for bit in one process, whatever
the group. Everywhere else, or with ``step="batched"`` (the reference it is tested against),
the **batched engine** steps all runs at once: on the CPU the recurrence and its hand-written
backward run in the C++ extension (``forward_batched_`` / ``backward_batched`` in
``nnrnn/csrc/elman.cpp``), each run's time loop on its own slice, spread over torch's threads;
on CUDA, or with no compiler, in pure PyTorch with one batched matmul (``torch.baddbmm``) per
time step for all runs. The input projection, readout, clipping and RMSprop are batched tensor
operations. A result's ``extra["step"]`` (its provenance) names the step that trained it.

**Checkpoints.** A group that runs for hours writes its whole state (weights, optimizer state,
random-stream states, the position in the epoch, histories so far) to ``checkpoint`` every
``checkpoint_every_s`` seconds, atomically (:func:`nnrnn.checkpoints.save`: SHA-256 record and
the code version of :data:`CODE`); :func:`train_group` with the same configs resumes from it. A
checkpoint never changes a result: the resumed group computes exactly what the uninterrupted
group would have, and one that is damaged or written by other training code is refused, named
and set aside (:func:`nnrnn.checkpoints.load`), and the group starts afresh. A save the disk
refuses is a warning, not the end of the group. When the group finishes, its final state (every
run's history and weights) is saved and **kept**: the caller removes it
(:func:`nnrnn.checkpoints.remove`) once every run is stored, and a group resumed from it returns
its results at once, without training.

Examples:
    >>> from nnrnn.train import TrainConfig
    >>> base = dict(task="copy", T=25, hidden_size=8, n_train=32, n_val=16, epochs=1)
    >>> cfgs = [TrainConfig(init=i, lr=1e-3, **base) for i in ("chain", "orthogonal")]
    >>> [(r.status, r.n_updates) for r in train_group(cfgs, progress=False)]
    [('finished', 2), ('finished', 2)]
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch
from torch import Tensor
from tqdm.std import tqdm

from . import checkpoints as _ckpt
from . import fused as _fused
from . import models as _models
from . import validate as _validate
from .profiles import resolve_device
from .tasks import stream_generator
from .train import (LOSSES, RunResult, TrainConfig, datasets, eval_points, evaluate, initial_model,
                    keras_cross_entropy, weight_diagnostics)

__all__ = ["GROUP_FIELDS", "CODE", "STEPS", "group_key", "group_configs", "choose_step", "Group", "train_group",
           "inspect_checkpoint", "LockstepModel"]

#: config fields that may differ inside one lockstep group; every other field is shared.
GROUP_FIELDS = ("init", "scale", "lr", "seed")

#: the package sources whose code determines a group's computation: a checkpoint written by other
#: code is refused (:func:`nnrnn.checkpoints.code_version`; store, sweep and docs do not count).
CODE = ("lockstep.py", "train.py", "fused.py", "models.py", "init.py", "tasks/*.py", "csrc/*.cpp", "csrc/*.h")

#: the steps of a lockstep group: one fused C++ call per run, or the batched engine for all runs.
STEPS = ("fused", "batched")

#: what a lockstep checkpoint must hold.
_KEYS = ("hashes", "params", "square", "lr", "active", "position", "runs", "step")

#: a validation forward pass holds about this many hidden-state values at once (all runs).
_EVAL_VALUES = 1 << 25


def group_key(cfg: TrainConfig) -> tuple:
    """What runs of one lockstep group must share: every config field but :data:`GROUP_FIELDS`.

    Examples:
        >>> a, b = TrainConfig(init="chain", lr=1e-4), TrainConfig(init="identity", lr=1e-5, seed=2)
        >>> group_key(a) == group_key(b), group_key(a) == group_key(a.replace(T=100))
        (True, False)
    """
    d = cfg.as_dict()
    return tuple(sorted((k, v) for k, v in d.items() if k not in GROUP_FIELDS))


def group_configs(configs: Sequence[TrainConfig], max_size: int = 32) -> list[list[TrainConfig]]:
    """Split ``configs`` into lockstep groups of at most ``max_size`` compatible runs.

    Configs keep their order inside a group; groups follow the order of each key's first config.

    Examples:
        >>> cfgs = [TrainConfig(T=t, lr=lr) for t in (100, 200) for lr in (1e-4, 1e-5, 3e-5)]
        >>> [len(g) for g in group_configs(cfgs, max_size=2)]
        [2, 1, 2, 1]
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
    by_key: dict[tuple, list[TrainConfig]] = {}
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise ValueError(f"configs must be TrainConfig objects, got {type(c).__name__}")
        by_key.setdefault(group_key(c), []).append(c)
    return [g[i : i + max_size] for g in by_key.values() for i in range(0, len(g), max_size)]


def choose_step(step: str | None, cfg: TrainConfig, model: torch.nn.Module | None = None) -> str:
    """The step a group of ``cfg``'s runs takes: ``"fused"`` or ``"batched"`` (:data:`STEPS`).

    ``None`` picks the fused step where it can train the runs (a CPU model of one of its task
    heads, :func:`nnrnn.fused.why_not_fused`; PyTorch's loss) and its extension builds, else the
    batched engine; ``"fused"`` insists and raises ``ValueError`` with the reason where it cannot.

    Examples:
        >>> choose_step("batched", TrainConfig())
        'batched'
    """
    if step == "batched":  # no model needed
        return step
    model = initial_model(cfg, resolve_device(cfg.device)) if model is None else model
    return _fused.choose_step(step, model, cfg.make_task(), loss=cfg.loss, other="batched")


# ----------------------------------------------------------------------------- the batched engine
def _py_forward_batched_(out: Tensor, h0: Tensor, w: Tensor, act: str) -> None:
    """``out[:, t] <- f(out[:, t] + out[:, t-1] @ W_k^T)`` for all runs ``k`` at once (``torch.baddbmm``)."""
    wt = w.transpose(1, 2)
    prev = h0
    for t in range(out.shape[1]):
        cur = torch.baddbmm(out[:, t], prev, wt)
        _models.act_(cur, act)
        out[:, t] = cur
        prev = cur


def _py_backward_batched(grad: Tensor | None, grad_last: Tensor | None, out: Tensor, x: Tensor, h0: Tensor,
                         w: Tensor, act: str) -> tuple[Tensor, Tensor, Tensor]:
    """``(dU, dW, db)`` of ``K`` stacked runs: the batched form of the single-run Python engine."""
    runs, steps, batch, n = out.shape
    da = torch.empty_like(out)
    if grad_last is not None:
        dh = grad_last.clone() if grad is None else grad_last + grad[:, steps - 1]
    else:
        dh = grad[:, steps - 1].clone()
    for t in range(steps - 1, -1, -1):
        da_t = torch.empty_like(dh)
        _models.act_grad(dh, out[:, t], act, da_t)
        da[:, t] = da_t
        if t > 0:
            dh = torch.bmm(da_t, w) if grad is None else torch.baddbmm(grad[:, t - 1], da_t, w)
    da2 = da.view(runs, steps * batch, n)
    du = torch.bmm(da2.transpose(1, 2), x.reshape(runs, steps * batch, -1))
    dw = torch.bmm(da[:, 0].transpose(1, 2), h0)
    if steps > 1:
        dw.baddbmm_(da[:, 1:].reshape(runs, -1, n).transpose(1, 2), out[:, :-1].reshape(runs, -1, n))
    return du, dw, da2.sum(1)


class LockstepModel:
    """The models of ``K`` runs with stacked parameters, and their forward and backward passes.

    ``params`` are ``weight_ih (K, N, d)``, ``weight_hh (K, N, N)``, ``bias (K, N)``,
    ``readout_w (K, O, N)`` and ``readout_b (K, O)``, each run's initial values exactly those of
    :func:`nnrnn.train.initial_model`; :meth:`state_dict` gives run ``k``'s weights under the
    names of the single-run model.

    The gradient is computed by hand around the task's loss (the only part left to autograd), in
    buffers kept from one update to the next: a fresh ``(K, T, B, N)`` buffer per update would
    cost a page fault per 4 KiB on every pass, more than the arithmetic at copy size.
    """

    NAMES = ("rnn.weight_ih", "rnn.weight_hh", "rnn.bias", "readout.weight", "readout.bias")

    def __init__(self, cfgs: Sequence[TrainConfig], device: torch.device, step: str | None = None):
        models = [initial_model(c, device) for c in cfgs]
        first = models[0]
        #: ``"fused"``: runs are stepped one by one on 64-byte aligned slices (:func:`choose_step`)
        self.step = choose_step(step, cfgs[0], first)
        self.params = [self.stack(torch.stack([m.state_dict()[k] for m in models])) for k in self.NAMES]
        self.single = first  # the fused step's single-run model: its shapes, and validation of one run at a time
        self.nonlinearity = first.rnn.nonlinearity
        self.per_step = first.per_step
        self.engine = _models.resolve_engine(first.rnn.engine, device, self.params[0].dtype)
        if self.engine == "autograd":
            raise ValueError("engine 'autograd' is not available for lockstep training; use 'cpp', 'python' or 'auto'")
        self._buffers: dict[str, Tensor] = {}

    def stack(self, t: Tensor) -> Tensor:
        """A stack ``(K, ...)`` as this model keeps it: each run 64-byte aligned for the fused step."""
        return _fused.aligned_stack(t) if self.step == "fused" else t

    def keep(self, index: Tensor) -> None:
        """Keep only the runs at ``index`` (positions in the current stack)."""
        self.params = [self.stack(p[index]) for p in self.params]

    def load_run(self, k: int) -> torch.nn.Module:
        """The single-run model :attr:`single` holding run ``k``'s current weights."""
        with torch.no_grad():
            named = dict(self.single.named_parameters())
            for name, p in zip(self.NAMES, self.params):
                named[name].copy_(p[k])
        return self.single

    def state_dict(self, k: int) -> dict[str, Tensor]:
        return {name: p[k].to("cpu").clone() for name, p in zip(self.NAMES, self.params)}

    def _buffer(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """A persistent buffer of ``shape`` (the first ``shape[0]`` runs of a larger one if it fits)."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0] or buf.dtype != like.dtype:
            buf = torch.empty(shape, dtype=like.dtype, device=like.device)
            if self.engine == "cpp" and buf.nbytes >= _models.HUGEPAGE_BYTES:
                _models.extension_ops().advise_hugepages(buf)
            self._buffers[name] = buf
        return buf[: shape[0]]

    def _states(self, x: Tensor, keep: bool) -> tuple[Tensor, Tensor, Tensor]:
        """Time-major inputs ``(K, T, B, d)``, all states ``(K, T, B, N)`` and ``h0`` for ``x (K, B, T, d)``."""
        u, w, b = self.params[:3]
        runs, batch, steps, d = x.shape
        n = w.shape[-1]
        xt = self._buffer("x", (runs, steps, batch, d), x) if keep else torch.empty(runs, steps, batch, d, dtype=x.dtype, device=x.device)
        xt.copy_(x.transpose(1, 2))
        out = self._buffer("states", (runs, steps, batch, n), x) if keep else torch.empty(runs, steps, batch, n, dtype=x.dtype, device=x.device)
        torch.baddbmm(b.unsqueeze(1), xt.view(runs, steps * batch, d), u.transpose(1, 2), out=out.view(runs, steps * batch, n))
        h0 = torch.zeros(runs, batch, n, dtype=x.dtype, device=x.device)
        if self.engine == "cpp":
            _models.extension_ops().forward_batched_(out, h0, w.contiguous(), _models.ACT_CODE[self.nonlinearity])
        else:
            _py_forward_batched_(out, h0, w, self.nonlinearity)
        return xt, out, h0

    def _readout(self, states: Tensor) -> Tensor:
        v, c = self.params[3:]
        runs, steps, batch, n = states.shape
        if self.per_step:
            return torch.baddbmm(c.unsqueeze(1), states.view(runs, steps * batch, n), v.transpose(1, 2))
        return torch.baddbmm(c.unsqueeze(1), states[:, -1], v.transpose(1, 2))

    def _outputs(self, logits: Tensor, steps: int) -> Tensor:
        """The per-run outputs in the single-run model's layout: ``(K, B, T, O)`` or ``(K, B, O)``."""
        if self.per_step:
            runs, rows, o = logits.shape
            return logits.view(runs, steps, rows // steps, o).transpose(1, 2)
        return logits

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        """Outputs of every run for inputs ``x (K, B, T, d)``: ``(K, B, T, O)`` or ``(K, B, O)``."""
        _, states, _ = self._states(x, keep=False)
        return self._outputs(self._readout(states), x.shape[2])

    def loss_and_grad(self, x: Tensor, targets: Sequence[Tensor], loss_fn) -> tuple[list[float], list[int], list[Tensor] | None]:
        """Each run's loss ``loss_fn(output_k, target_k)`` and the gradient of the finite ones.

        Returns ``(losses, finite, grads)``: the loss values, the positions with a finite loss,
        and the gradients ``(K, ...)`` in the order of ``params`` (rows of runs with a
        non-finite loss are meaningless), or ``None`` if no loss is finite.
        """
        u, w, b, v, c = self.params
        runs, batch, steps, _ = x.shape
        with torch.no_grad():
            xt, states, h0 = self._states(x, keep=True)
            logits = self._readout(states)
        leaf = logits.requires_grad_(True)
        with torch.enable_grad():
            # unbind: one backward node for all runs (indexing would zero-fill K full-size gradients)
            losses = [loss_fn(o, y) for o, y in zip(self._outputs(leaf, steps).unbind(0), targets)]
            values = torch.stack([lo.detach() for lo in losses]).tolist()
            finite = [k for k, val in enumerate(values) if math.isfinite(val)]
            if not finite:
                return values, finite, None
            (dlogits,) = torch.autograd.grad(torch.stack([losses[k] for k in finite]).sum(), leaf)
        with torch.no_grad():
            n = w.shape[-1]
            if self.per_step:
                flat = states.view(runs, steps * batch, n)
                dv = torch.bmm(dlogits.transpose(1, 2), flat)
                grad = self._buffer("dstates", states.shape, states)
                torch.bmm(dlogits, v, out=grad.view(runs, steps * batch, n))
                grad_last = None
            else:
                dv = torch.bmm(dlogits.transpose(1, 2), states[:, -1])
                grad, grad_last = None, torch.bmm(dlogits, v)
            dc = dlogits.sum(1)
            if self.engine == "cpp":
                chunk = max(1, -(-_models.CHUNK_ROWS // batch))
                _, _, du, dw, db = _models.extension_ops().backward_batched(
                    grad, grad_last, states, xt, h0, u.contiguous(), w.contiguous(), _models.ACT_CODE[self.nonlinearity],
                    False, False, True, True, True, chunk,
                )  # fmt: skip
            else:
                du, dw, db = _py_backward_batched(grad, grad_last, states, xt, h0, w, self.nonlinearity)
        return values, finite, [du, dw, db, dv, dc]


# ----------------------------------------------------------------------------- the trainer
@dataclass
class _Run:
    """Per-run state of a lockstep group."""

    cfg: TrainConfig
    train_data: Any
    val_data: Any
    order_gen: torch.Generator
    rows: list
    status: str = "finished"
    update: int = 0
    run_loss: float = 0.0
    run_count: int = 0
    perm: Tensor | None = None
    epoch_rng: Tensor | None = None  # order_gen's state before this epoch's permutation (checkpoints)
    state: dict | None = None  # final weights once the run has left the group


def _batch(runs: Sequence[_Run], start: int, size: int) -> tuple[Tensor, list[Tensor]]:
    xs, ys = [], []
    for r in runs:
        x, y = r.train_data.batch(r.perm[start : start + size])
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), ys


@torch.no_grad()
def _evaluate(model: LockstepModel, task, runs: Sequence[_Run]) -> list[dict[str, float]]:
    """Mean loss and metrics of every run over its own validation set (as :func:`nnrnn.train.evaluate`)."""
    n = len(runs[0].val_data)
    cfg = runs[0].cfg
    per_seq = cfg.seq_len * cfg.hidden_size * len(runs)
    chunk = max(1, min(cfg.eval_batch_size, _EVAL_VALUES // per_seq))
    totals: list[dict[str, float]] = [{} for _ in runs]
    for start in range(0, n, chunk):
        index = torch.arange(start, min(start + chunk, n), device=runs[0].perm.device if runs[0].perm is not None else "cpu")
        pairs = [r.val_data.batch(index) for r in runs]
        out = model(torch.stack([x for x, _ in pairs]))
        w = len(index) / n
        for k, (tot, (_, y)) in enumerate(zip(totals, pairs)):
            tot["loss"] = tot.get("loss", 0.0) + w * task.loss(out[k], y).item()
            for name, v in task.metrics(out[k], y).items():
                tot[name] = tot.get(name, 0.0) + w * v
    return totals


def _clip_and_check(grads: list[Tensor], clip_norm: float) -> Tensor:
    """Clip each run's gradient to global norm ``clip_norm`` in place; return the norms ``(K,)``.

    The same arithmetic as ``torch.nn.utils.clip_grad_norm_`` on one run's parameters.
    """
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads], dim=1)
    total = torch.linalg.vector_norm(norms, 2, dim=1)
    coef = torch.clamp(clip_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.ndim - 1))))
    return total


def _rmsprop_(params: list[Tensor], grads: list[Tensor], square: list[Tensor], lr: Tensor, alpha: float, eps: float) -> None:
    """One RMSprop step per run, as ``torch.optim.RMSprop`` (single-tensor path) with lr ``lr[k]``."""
    with torch.no_grad():
        for p, g, s in zip(params, grads, square):
            s.mul_(alpha).addcmul_(g, g, value=1 - alpha)
            avg = s.sqrt().add_(eps)
            p.add_(g.mul(-lr.view(-1, *([1] * (g.ndim - 1)))).div_(avg))


def _record(run: _Run, ev: dict[str, float], weight_hh: Tensor, update: int, train_loss: float, t0: float) -> dict:
    row = {
        "update": update,
        "epoch": update / run.cfg.updates_per_epoch,
        "train_loss": train_loss,
        "val_loss": ev.pop("loss"),
        **{f"val_{k}": v for k, v in ev.items()},
        **weight_diagnostics(weight_hh),
        "wall_s": time.perf_counter() - t0,
    }
    run.rows.append(row)
    return row


def _diverged_row(run: _Run, t0: float) -> None:
    """The last history row of a diverged run: NaN everywhere at the update where it stopped."""
    nan = {k: float("nan") for k in run.rows[0] if k.startswith(("val_", "w_"))}
    run.rows.append({"update": run.update, "epoch": run.update / run.cfg.updates_per_epoch, "train_loss": float("nan"),
                     **nan, "wall_s": time.perf_counter() - t0})


class Group:
    """The state of a lockstep group: stacked model and optimizer state of the active runs."""

    def __init__(self, cfgs: Sequence[TrainConfig], device: torch.device, t0: float, step: str | None = None):
        self.cfg = cfgs[0]
        self.device = device
        self.t0 = t0
        self.task = self.cfg.make_task()
        self.runs: list[_Run] = []
        for c in cfgs:
            tr, va = datasets(c.task, c.T, c.n_train, c.n_val, c.seed)
            self.runs.append(_Run(c, tr.to(device), va.to(device), stream_generator(c.seed, "order"), []))
        self.model = LockstepModel(cfgs, device, step)
        self.square = [self.model.stack(torch.zeros(p.shape, dtype=p.dtype, device=device)) for p in self.model.params]
        self.loss = keras_cross_entropy if self.cfg.loss == "keras" else self.task.loss  # training loss (batched)
        self.fused = None
        if self.model.step == "fused":
            c = self.cfg
            self.fused = _fused.FusedStep(self.model.single, self.task, lr=c.lr, alpha=c.rms_alpha, eps=c.rms_eps,
                                          clip_norm=c.clip_norm)
        self.lr = torch.tensor([c.lr for c in cfgs], dtype=self.model.params[0].dtype, device=device)
        self.active = list(range(len(cfgs)))  # run indices, in stack order
        self.epoch = self.start = self.update = 0

    def leave(self, keep: list[int]) -> None:
        """Keep the runs at stack positions ``keep``; the others leave with their current weights."""
        if len(keep) == len(self.active):
            return
        for pos, i in enumerate(self.active):
            if pos not in keep:
                self.runs[i].state = self.model.state_dict(pos)
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self.model.keep(index)
        self.square = [self.model.stack(s[index]) for s in self.square]
        self.lr = self.lr[index]
        self.active = [self.active[p] for p in keep]

    def validate(self, first: bool = False) -> None:
        if self.fused is None:
            evs = _evaluate(self.model, self.task, [self.runs[i] for i in self.active])
        keep = []
        for pos, i in enumerate(self.active):
            r = self.runs[i]
            if self.fused is None:
                ev, weight_hh = evs[pos], self.model.params[1][pos]
            else:  # one run at a time through the single-run model, as nnrnn.train.train validates
                m = self.model.load_run(pos)
                ev, weight_hh = evaluate(m, self.task, r.val_data, self.cfg.eval_batch_size), m.rnn.weight_hh
            train_loss = float("nan") if first else r.run_loss / r.run_count
            row = _record(r, ev, weight_hh, self.update, train_loss, self.t0)
            r.run_loss, r.run_count = 0.0, 0
            if not math.isfinite(row["val_loss"]):
                r.status = "diverged"
            elif row["val_loss"] < r.cfg.early_stop:
                r.status = "early_stopped"
            else:
                keep.append(pos)
        self.leave(keep)

    def step(self) -> None:
        """One update of every active run.

        A run whose loss or gradient norm is not finite is marked diverged and leaves the group
        before the step, keeping its weights, as in the single-run trainer.
        """
        cfg = self.cfg
        if self.start == 0:
            for i in self.active:
                r = self.runs[i]
                r.epoch_rng = r.order_gen.get_state()
                r.perm = torch.randperm(cfg.n_train, generator=r.order_gen).to(self.device)
        act_runs = [self.runs[i] for i in self.active]
        ok: list[int] = []
        if self.fused is not None:  # each run's own update, in place on its slices of the stacks
            values = []
            for pos, r in enumerate(act_runs):
                x, y = r.train_data.batch(r.perm[self.start : self.start + cfg.batch_size])
                loss, norm = self.fused.step_on(x, y, [p[pos] for p in self.model.params],
                                                [s[pos] for s in self.square], r.cfg.lr)
                values.append(loss)
                if math.isfinite(loss) and math.isfinite(norm):  # else the run's weights are untouched
                    ok.append(pos)
            grads = None
        else:
            x, ys = _batch(act_runs, self.start, cfg.batch_size)
            values, finite, grads = self.model.loss_and_grad(x, ys, self.loss)
            if grads is not None:
                gnorm = _clip_and_check(grads, cfg.clip_norm).tolist()
                ok = [p for p in finite if math.isfinite(gnorm[p])]
        for pos, r in enumerate(act_runs):
            if pos not in ok:
                r.status = "diverged"
        self.leave(ok)
        if ok and grads is not None:
            if len(ok) < len(act_runs):
                sel = torch.tensor(ok, device=self.device)
                grads = [g[sel] for g in grads]
            _rmsprop_(self.model.params, list(grads), self.square, self.lr, cfg.rms_alpha, cfg.rms_eps)
        self.update += 1
        for pos in ok:
            r = act_runs[pos]
            r.update = self.update
            r.run_loss += values[pos]
            r.run_count += 1
        self.start += cfg.batch_size
        if self.start >= cfg.n_train:
            self.epoch, self.start = self.epoch + 1, 0

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: Path, hashes: list[str]) -> None:
        """Write the whole state atomically (:func:`nnrnn.checkpoints.save`; raises
        :class:`nnrnn.checkpoints.CheckpointWriteError` naming ``path`` if the disk refuses it)."""
        state = {
            "hashes": hashes,
            "step": self.model.step,
            "params": [p.cpu().contiguous() for p in self.model.params],
            "square": [s.cpu().contiguous() for s in self.square],
            "lr": self.lr.cpu(),
            "active": self.active,
            "position": [self.epoch, self.start, self.update],
            "wall_s": time.perf_counter() - self.t0,  # the group's wall time so far, over every resume
            "runs": [
                {"status": r.status, "update": r.update, "run_loss": r.run_loss, "run_count": r.run_count,
                 "rows": r.rows, "epoch_rng": r.epoch_rng, "order_gen": r.order_gen.get_state(), "state": r.state}
                for r in self.runs
            ],
        }
        _ckpt.save(path, state, code=_ckpt.code_version(CODE))

    def load(self, path: Path, hashes: list[str]) -> bool:
        """Resume from checkpoint ``path``; ``False`` (start afresh) if there is none or it is refused."""
        state = _ckpt.load(path, code=_ckpt.code_version(CODE), keys=_KEYS)
        if state is None:
            return False
        if state["hashes"] != hashes:
            raise ValueError(f"checkpoint {path} belongs to another lockstep group (runs {state['hashes']}), not {hashes}")
        if state["step"] != self.model.step:
            raise ValueError(f"checkpoint {path} was trained with the {state['step']!r} step, this group takes "
                             f"{self.model.step!r}; resume it with step={state['step']!r} (or remove it)")
        self.model.params = [self.model.stack(p.to(self.device)) for p in state["params"]]
        self.square = [self.model.stack(s.to(self.device)) for s in state["square"]]
        self.lr = state["lr"].to(self.device)
        self.active = list(state["active"])
        self.epoch, self.start, self.update = state["position"]
        # resume the clock: rows and provenance report wall time since the group first started
        self.t0 = time.perf_counter() - float(state["wall_s"] if "wall_s" in state else _wall_from_rows(state["runs"]))
        for r, saved in zip(self.runs, state["runs"]):
            r.status, r.update, r.run_loss, r.run_count = saved["status"], saved["update"], saved["run_loss"], saved["run_count"]
            r.rows = saved["rows"]
            r.state = saved["state"]
            r.epoch_rng = saved["epoch_rng"]
            if self.start > 0 and r.status == "finished" and r.epoch_rng is not None:
                # redraw this epoch's permutation instead of storing it (a checkpoint stays small)
                r.order_gen.set_state(r.epoch_rng)
                r.perm = torch.randperm(self.cfg.n_train, generator=r.order_gen).to(self.device)
                if not torch.equal(r.order_gen.get_state(), saved["order_gen"]):
                    raise ValueError(f"checkpoint {path}: the batch order of run {r.cfg.hash()} cannot be restored")
            r.order_gen.set_state(saved["order_gen"])
        return True

    def try_save(self, path: Path, hashes: list[str]) -> None:
        """:meth:`save`, with a refused write a :class:`nnrnn.checkpoints.CheckpointWarning`: training goes on."""
        try:
            self.save(path, hashes)
        except _ckpt.CheckpointWriteError as exc:
            warnings.warn(f"{exc}; the group keeps training", _ckpt.CheckpointWarning, stacklevel=2)


def inspect_checkpoint(path: str | os.PathLike) -> tuple[dict | None, tuple[str, str] | None]:
    """``(state, problem)`` of a lockstep checkpoint, as :func:`nnrnn.checkpoints.inspect` (nothing moved)."""
    return _ckpt.inspect(path, code=_ckpt.code_version(CODE), keys=_KEYS)


_wall_from_rows = _ckpt.wall_from_rows  # a group's wall time from a checkpoint that did not carry it


def train_group(
    cfgs: Sequence[TrainConfig],
    *,
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every_s: float = 300.0,
    max_updates: int | None = None,
    step: str | None = None,
) -> list[RunResult]:
    """Train ``cfgs`` (one lockstep group, see :func:`group_key`) and return one result per config.

    Args:
        cfgs: configs that differ only in :data:`GROUP_FIELDS`; no config twice.
        progress: a tqdm bar over updates; ``None`` shows it only on a terminal.
        checkpoint: a file to save the group's state to every ``checkpoint_every_s`` seconds
            and to resume from if it exists (a refused one is set aside). It is saved once more
            when the group finishes, with every run's result, and kept: remove it
            (:func:`nnrnn.checkpoints.remove`) once the runs are stored. A group cut short by
            ``max_updates`` saves no final state.
        checkpoint_every_s: seconds between checkpoints.
        max_updates: stop every run after this many updates (a partial run, e.g. to re-check
            the first validation points of a stored run; not part of the config).
        step: ``"fused"``, ``"batched"`` or ``None`` (default: fused where it can, see
            :func:`choose_step`). Not part of the configs; a resumed group must take its
            checkpoint's step.

    Returns:
        :class:`nnrnn.train.RunResult` objects in the order of ``cfgs``, each with
        ``extra["step"]``. With the fused step each equals what :func:`nnrnn.train.train` returns
        for its config with ``step="fused"`` (bit for bit in one process, wall times aside); with
        the batched engine, what it returns with ``step="reference"`` up to float32 rounding (see
        ``tests/test_lockstep.py`` for the tolerance and its derivation).
    """
    cfgs = list(cfgs)
    if not cfgs:
        raise ValueError("a lockstep group needs at least one config, got none")
    keys = {group_key(c) for c in cfgs}
    if len(keys) != 1:
        fields = sorted({k for key in keys for k, v in key if any(dict(o).get(k) != v for o in keys)})
        raise ValueError(f"configs of one lockstep group may differ only in {list(GROUP_FIELDS)}; these differ: {fields}")
    hashes = [c.hash() for c in cfgs]
    if len(set(hashes)) != len(hashes):
        raise ValueError("a lockstep group must not contain the same config twice")
    if not (isinstance(checkpoint_every_s, (int, float)) and checkpoint_every_s > 0):
        raise ValueError(f"checkpoint_every_s must be a positive number of seconds, got {checkpoint_every_s!r}")
    if max_updates is not None and (isinstance(max_updates, bool) or not isinstance(max_updates, int) or max_updates < 0):
        raise ValueError(f"max_updates must be a non-negative integer or None, got {max_updates!r}")
    t0 = time.perf_counter()
    cfg = cfgs[0]
    device = resolve_device(cfg.device)
    group = Group(cfgs, device, t0, step)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    resumed = ckpt is not None and group.load(ckpt, hashes)
    if not resumed:
        group.validate(first=True)
    done_before = resumed and not group.active  # a finished group's checkpoint: nothing to train
    total = cfg.epochs * cfg.updates_per_epoch
    points = eval_points(cfg)
    bar = tqdm(total=total, initial=group.update, disable=(not progress) if progress is not None else None,
               leave=False, desc=f"{cfg.task} lockstep x{len(cfgs)}", unit="update")
    last_save = time.monotonic()
    try:
        while group.active and group.epoch < cfg.epochs and (max_updates is None or group.update < max_updates):
            group.step()
            bar.update(1)
            if group.update in points and group.active:
                group.validate()
            if ckpt is not None and group.active and time.monotonic() - last_save >= checkpoint_every_s:
                group.try_save(ckpt, hashes)
                last_save = time.monotonic()
    finally:
        bar.close()
    complete = not group.active or group.epoch >= cfg.epochs  # not cut short by max_updates
    group.leave([])
    if ckpt is not None and complete and not done_before:
        group.try_save(ckpt, hashes)  # the finished runs, until the caller has stored them
    wall = time.perf_counter() - group.t0
    results = []
    for r in group.runs:
        if r.status == "diverged":
            _diverged_row(r, group.t0)
        results.append(RunResult(r.cfg, pd.DataFrame(r.rows), r.state, r.status, wall, r.update, group.task.baseline,
                                 str(device), extra={"lockstep_runs": len(cfgs), "resumed": resumed,
                                                     "step": group.model.step}))
    return results
