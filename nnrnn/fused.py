r"""One training update of one run as a single C++ call: the fused step.

:func:`nnrnn.train.train` updates a run with one of two steps that compute the same thing:

* :class:`FusedStep` (``"fused"``, the default on the CPU): the forward recurrence, the readout and
  the task's loss, backward through time, global-norm clipping and the RMSprop update, all in one
  call of the C++ extension ``nnrnn/csrc/fused_step.cpp`` (``torch.ops.nnrnn_fused.step``), with
  no Python between the forward pass and the parameter update. The input projection, the readout
  and each weight gradient are one matrix product over all time steps; the softmax
  cross-entropy is computed in place in the logits buffer (no log-softmax tensor per step). Its
  buffers are kept from one update to the next, so a step allocates no tensor memory once
  the first has run.
* :func:`reference_step` (``"reference"``): the step as ``nnrnn.train`` always took it, autograd
  through the model (:class:`nnrnn.models.ElmanRNN`'s engine), ``task.loss``,
  ``torch.nn.utils.clip_grad_norm_`` and ``torch.optim.RMSprop``. It is the reference the fused
  step is tested against (``tests/test_fused.py``), and the step for anything the fused one does
  not cover: another device or dtype, a task whose loss is not one of the three below, or no
  C++ compiler.

The fused step knows three task heads (:func:`head_of`): softmax cross-entropy at every step,
averaged over all ``T x B`` positions (copy), cross-entropy at the last step (psMNIST) and mean
squared error at the last step (addition). RMSprop is ``torch.optim.RMSprop``'s: the square
average ``s <- alpha s + (1 - alpha) g^2`` and ``p <- p - lr g / (sqrt(s) + eps)``, eps outside the
square root, ``g`` the gradient after clipping by ``clip_grad_norm_``'s factor
``min(1, clip / (norm + 1e-6))``.

Both steps return ``(loss, norm)``: the batch loss and the gradient's global norm before clipping.
A loss that is NaN or infinite returns at once (norm NaN) and a norm that is not finite returns
before the update: the weights are then untouched and the trainer records the run as diverged.
As in the reference, the loss and the norm are values of the parameters' dtype: a loss beyond its
range is infinite, and so is a norm whose sum of squares is (``clip_grad_norm_`` sums the squares
in that dtype).

Examples:
    >>> from nnrnn import models, tasks
    >>> task = tasks.get_task("copy", T=25)
    >>> model = models.model_for(task, "chain", 1.0, hidden_size=8, generator=torch.Generator().manual_seed(0))
    >>> x, y = task.datasets(4, 1, seed=0)[0].batch(torch.arange(4))
    >>> step = FusedStep(model, task, lr=1e-3, alpha=0.9, eps=1e-7, clip_norm=10.0)
    >>> loss, norm = step(x, y)
    >>> math.isfinite(loss) and norm > 0
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor

from . import tasks as _tasks
from . import validate
from .cpp_build import CSRC, build_error, load_cpp_extension
from .models import ACT_CODE, SequenceModel

__all__ = ["HEADS", "STEPS", "head_of", "available", "unavailable_reason", "why_not_fused", "choose_step",
           "FusedStep", "aligned_stack", "reference_step"]

#: the task heads of the fused step, by code.
HEADS: dict[str, int] = {"ce_steps": 0, "ce_last": 1, "mse_last": 2}
#: the names of the two training steps (``nnrnn.train.train(step=...)``).
STEPS: tuple[str, ...] = ("fused", "reference")
_EXTENSION: dict[str, Any] = {"name": "nnrnn_fused", "sources": [CSRC / "fused_step.cpp"],
                              "extra_cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math"]}


def _ops():
    """The extension's operators (built on first use, then cached), or ``None`` if it cannot be built."""
    return load_cpp_extension(**_EXTENSION)


def available() -> bool:
    """Whether the fused step's C++ extension builds and loads here (compiling it if needed)."""
    return _ops() is not None


def unavailable_reason() -> str | None:
    """Why the extension could not be loaded (``None`` if it was, or was never tried)."""
    return build_error(_EXTENSION["name"])


def head_of(task: _tasks.Task) -> str | None:
    """The fused step's name for ``task``'s readout and loss, or ``None`` where it has none.

    Only the three losses of the registered tasks qualify, checked by identity of the
    ``loss`` method and by ``per_step``; a subclass with its own loss trains with the reference step.

    Examples:
        >>> [head_of(_tasks.get_task(t)) for t in ("copy", "psmnist", "addition")]
        ['ce_steps', 'ce_last', 'mse_last']
    """
    loss = getattr(type(task), "loss", None)
    heads = {_tasks.CopyTask.loss: ("ce_steps", True), _tasks.PsMNISTTask.loss: ("ce_last", False),
             _tasks.AdditionTask.loss: ("mse_last", False)}
    name, per_step = heads.get(loss, (None, None))
    return name if name is not None and bool(task.per_step) == per_step else None


def why_not_fused(model: torch.nn.Module, task: _tasks.Task, loss: str = "torch") -> str | None:
    """Why :class:`FusedStep` cannot train ``model`` on ``task`` with the training ``loss``
    (:data:`nnrnn.train.LOSSES`: ``"torch"``, the task's own loss, or ``"keras"``); ``None``: it can.

    Examples:
        >>> from nnrnn import models
        >>> why_not_fused(models.model_for("copy", "chain", 1.0).double(), _tasks.get_task("copy")) is None
        True
        >>> why_not_fused(models.model_for("copy", "chain", 1.0), _tasks.get_task("copy"), "keras")
        "it computes PyTorch's loss, not loss='keras'"
    """
    if loss != "torch":  # the fused step computes the task's own (PyTorch's) loss only
        return f"it computes PyTorch's loss, not loss={loss!r}"
    if not isinstance(model, SequenceModel):
        return f"the model is a {type(model).__name__}, not an nnrnn.models.SequenceModel"
    if head_of(task) is None:
        return f"the task {getattr(task, 'name', task)!r} has a loss the fused step does not know"
    if model.per_step != bool(task.per_step):
        return "the model's readout and the task disagree on per_step"
    rnn, readout = model.rnn, model.readout
    if rnn.bias is None or not isinstance(readout, torch.nn.Linear) or readout.bias is None:
        return "the fused step needs an RNN bias and an nn.Linear readout with a bias"
    params = [rnn.weight_ih, rnn.weight_hh, rnn.bias, readout.weight, readout.bias]
    if any(p.device.type != "cpu" for p in params):
        return "the fused step runs on the CPU only"
    if len({p.dtype for p in params}) != 1 or params[0].dtype not in (torch.float32, torch.float64):
        return "the fused step needs float32 or float64 parameters of one dtype"
    return None


def choose_step(step: str | None, model: torch.nn.Module, task: _tasks.Task, *, loss: str = "torch",
                other: str = "reference") -> str:
    """The step that trains ``model`` on ``task``: ``"fused"`` or ``other`` (the trainer's own step:
    :func:`reference_step` in :func:`nnrnn.train.train`, the batched engine in :mod:`nnrnn.lockstep`).

    ``step=None`` picks the fused step where it can train the run (:func:`why_not_fused`) and its
    C++ extension builds, else ``other``; ``"fused"`` insists on it and raises ``ValueError`` with
    the reason where it cannot; ``other`` takes ``other``.

    Examples:
        >>> from nnrnn import models
        >>> task = _tasks.get_task("copy", T=25)
        >>> choose_step("reference", models.model_for(task, "chain", 1.0, hidden_size=4), task)
        'reference'
        >>> choose_step(None, models.model_for(task, "chain", 1.0, hidden_size=4), task, loss="keras")
        'reference'
    """
    if step is not None:
        validate.choice(step, "step", ("fused", other))
    if step == other:
        return other
    reason = why_not_fused(model, task, loss)
    if reason is None and not available():
        reason = f"its C++ extension is unavailable ({unavailable_reason()})"
    if reason is None:
        return "fused"
    if step == "fused":
        raise ValueError(f"step='fused' cannot train this run: {reason}")
    return other


class FusedStep:
    """One run's fused training step: its RMSprop state, gradients and reused buffers.

    Args:
        model: the run's :class:`nnrnn.models.SequenceModel` (:func:`nnrnn.models.model_for`);
            its parameters are updated in place, so the model evaluates the current weights.
        task: the run's task (one of :func:`head_of`'s heads).
        lr, alpha, eps: RMSprop's learning rate, decay and epsilon (``torch.optim.RMSprop``'s
            ``lr``, ``alpha``, ``eps``).
        clip_norm: the global gradient-norm clip.

    Calling it with a batch ``(x, y)`` from the task's data (``x`` of shape ``(B, T, d)``) takes
    one update and returns ``(loss, norm)`` (see the module docstring). After a finite step,
    :attr:`grads` hold the raw gradients of the batch loss (before clipping), in the order
    :attr:`NAMES`; :attr:`square` holds RMSprop's square averages.

    Raises:
        ValueError: where the model or task is not one the fused step covers (:func:`why_not_fused`).
        RuntimeError: where the C++ extension cannot be built (:func:`unavailable_reason`).
    """

    NAMES = ("rnn.weight_ih", "rnn.weight_hh", "rnn.bias", "readout.weight", "readout.bias")

    def __init__(self, model: SequenceModel, task: _tasks.Task, *, lr: float, alpha: float, eps: float,
                 clip_norm: float) -> None:
        reason = why_not_fused(model, task)
        if reason is not None:
            raise ValueError(f"the fused step cannot train this run: {reason}")
        self.ops = _ops()
        if self.ops is None:
            raise RuntimeError(f"the fused step is unavailable: its C++ extension failed to build ({unavailable_reason()})")
        self.lr = validate.finite_float(lr, "lr", low=0.0, low_open=True)
        self.alpha = validate.finite_float(alpha, "alpha", low=0.0, high=1.0)
        self.eps = validate.finite_float(eps, "eps", low=0.0, low_open=True)
        self.clip_norm = validate.finite_float(clip_norm, "clip_norm", low=0.0, low_open=True)
        rnn, readout = model.rnn, model.readout
        self.params = [p.detach() for p in (rnn.weight_ih, rnn.weight_hh, rnn.bias, readout.weight, readout.bias)]
        if not all(p.is_contiguous() for p in self.params):
            raise ValueError("the fused step needs contiguous parameters")
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.square = [torch.zeros_like(p) for p in self.params]
        self.head = head_of(task)
        self.act = ACT_CODE[rnn.nonlinearity]
        self.dtype = self.params[0].dtype
        self._buffers: dict[str, Tensor] = {}

    def _buffer(self, name: str, numel: int) -> Tensor:
        """A flat buffer of at least ``numel`` values, kept (and grown when needed) across steps."""
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < numel:
            buf = self._buffers[name] = torch.empty(numel, dtype=self.dtype)
        return buf

    def buffer_bytes(self) -> int:
        """Bytes held between steps: buffers, gradients and square averages (not the weights)."""
        held = list(self._buffers.values()) + self.grads + self.square
        return sum(t.numel() * t.element_size() for t in held)

    def __call__(self, x: Tensor, y: Tensor) -> tuple[float, float]:
        return self.step_on(x, y, self.params, self.square, self.lr)

    def step_on(self, x: Tensor, y: Tensor, params: Sequence[Tensor], square: Sequence[Tensor],
                lr: float) -> tuple[float, float]:
        """One update of other parameters and square averages of this model's shapes, in place.

        With this step's buffers, gradients and constants but ``lr``: how a lockstep group
        (:mod:`nnrnn.lockstep`) steps each run on its slices of the stacked parameters and
        RMSprop state. ``params`` and ``square`` are contiguous tensors in the order :attr:`NAMES`.
        """
        if not isinstance(x, Tensor) or x.ndim != 3:
            raise ValueError(f"x must be a (batch, steps, inputs) tensor, got {getattr(x, 'shape', type(x).__name__)}")
        shapes = [p.shape for p in self.params]
        for name, given in (("params", params), ("square", square)):
            if [getattr(t, "shape", None) for t in given] != shapes:
                raise ValueError(f"{name} must be tensors of shapes {[tuple(s) for s in shapes]}, "
                                 f"got {[tuple(getattr(t, 'shape', ())) for t in given]}")
        batch, steps, d = x.shape
        n, o = self.params[1].shape[0], self.params[3].shape[0]
        if d != self.params[0].shape[1]:
            raise ValueError(f"x has {d} input channels, the model expects {self.params[0].shape[1]}")
        x = x.to(self.dtype).contiguous()
        y = (y.to(self.dtype) if self.head == "mse_last" else y.long()).contiguous()
        per_step = self.head == "ce_steps"
        rows = steps * batch if per_step else batch
        loss, norm = self.ops.step(
            x, y, list(params), self.grads, list(square), self._buffer("xt", steps * batch * (d + 1)),
            self._buffer("states", steps * batch * n), self._buffer("dstates", steps * batch * n),
            self._buffer("logits", rows * o), self._buffer("scratch", n * (n + 2 * (d + 1))), self.act, HEADS[self.head],
            float(lr), self.alpha, self.eps, self.clip_norm,
        )  # fmt: skip
        return loss, norm


def aligned_stack(t: Tensor) -> Tensor:
    """``t (K, ...)`` copied into a stack whose runs each start on a 64-byte boundary.

    :meth:`FusedStep.step_on` on one run's slice of such a stack does what it does on a lone
    parameter, which PyTorch's CPU allocator aligns to 64 bytes: a BLAS may take another code
    path, and round differently, for a matrix that is not aligned.

    Examples:
        >>> s = aligned_stack(torch.ones(3, 5))
        >>> s.shape, s.stride(), [s[k].data_ptr() % 64 for k in range(3)]
        (torch.Size([3, 5]), (16, 1), [0, 0, 0])
    """
    per, size = math.prod(t.shape[1:]), t.element_size()
    stride = -(-per * size // 64) * 64 // size
    out = torch.empty(t.shape[0], stride, dtype=t.dtype, device=t.device)[:, :per].view(t.shape)
    return out.copy_(t)


def reference_step(model: torch.nn.Module, opt: torch.optim.Optimizer, task: _tasks.Task, x: Tensor, y: Tensor,
                   clip_norm: float, params: Sequence[Tensor] | None = None) -> tuple[float, float]:
    """One update as :func:`nnrnn.train.train` has always taken it; returns ``(loss, norm)``.

    Autograd through ``model`` (its RNN engine), ``task.loss``, ``clip_grad_norm_(params,
    clip_norm)`` and ``opt.step()``; a non-finite loss returns before the backward pass (norm
    NaN) and a non-finite norm before ``opt.step()``.
    """
    params = list(model.parameters()) if params is None else params
    opt.zero_grad(set_to_none=True)
    loss = task.loss(model(x), y)
    lv = loss.item()
    if not math.isfinite(lv):
        return lv, math.nan
    loss.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(params, clip_norm))
    if math.isfinite(norm):
        opt.step()
    return lv, norm
