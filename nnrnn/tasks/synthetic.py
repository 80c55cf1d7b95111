r"""The synthetic tasks of the paper: copy (T = 500) and addition (T = 750).

Copy (Orhan & Pitkow 2020, after Arjovsky et al. 2016)
    Input symbols ``x_t ∈ {0..9}`` of length ``T``: ten symbols drawn uniformly from
    ``{1..8}``, then ``T - 21`` zeros, the cue ``9`` at position ``T - 11`` (0-based), and ten
    zeros. Target: ``T - 10`` zeros, then the ten symbols. Inputs are one-hot over 10 symbols,
    targets are 9-way class labels (0-8) at every step, and the loss is the cross-entropy
    averaged over all ``T`` steps (the authors' Keras ``categorical_crossentropy`` with
    ``return_sequences=True``).

Addition
    Two channels of length ``T``. As in the authors' code, channel 0 is an indicator with
    exactly two 1s, one uniform over the first half ``[0, T//2)`` and one over the second half
    ``[T//2, T)``, and channel 1 holds U[0, 1] values. The target is the sum of the two marked
    values; the loss is the MSE of a linear readout at the last step.

Data are *fixed* train and validation sets (the paper used 60,000 / 10,000 sequences),
generated from :func:`~nnrnn.tasks.stream_generator` streams derived from the run's seed, so the
same seed always gives the same sequences, whatever the initializer or learning rate. Sets are
stored compactly (symbols as ``uint8``; values plus two indices) and expanded to model inputs
one batch at a time.

Random baselines (our inference; the paper states only ln 10 for psMNIST):

* copy: predict "0" for the first ``T - 10`` steps and the uniform distribution over the 8
  symbols for the last ten, which costs ``10 ln 8 / T`` nats per step (0.0416 at T = 500);
* addition: always predict 1, the mean of the sum, so the MSE is Var(U₁ + U₂) = 1/6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import paper as _paper
from .. import validate
from ..paper import COPY_CUE, COPY_LENGTH, COPY_SYMBOLS
from .base import Task, TaskData, stream_generator

__all__ = [
    "COPY_LENGTH",
    "COPY_SYMBOLS",
    "COPY_CUE",
    "CopyTask",
    "AdditionTask",
    "CopyData",
    "AdditionData",
    "copy_sequences",
    "addition_sequences",
    "copy_baseline",
    "addition_baseline",
]

_COPY_T = _paper.SEQUENCE_LENGTH["copy"]
_ADDITION_T = _paper.SEQUENCE_LENGTH["addition"]


def _copy_length(T: object) -> int:
    """``T`` if it is a valid copy-task length: at least ten symbols, a cue and ten recall steps."""
    T = validate.positive_int(T, "T")
    if T < 2 * COPY_LENGTH + 1:
        raise validate.error("T", f"at least {2 * COPY_LENGTH + 1} for the copy task (10 symbols, a cue and 10 recall steps)", T)
    return T


def _addition_length(T: object) -> int:
    """``T`` if it is a valid addition-task length: one marker in each half."""
    T = validate.positive_int(T, "T")
    if T < 2:
        raise validate.error("T", "at least 2 for the addition task (one marker in each half)", T)
    return T


# ----------------------------------------------------------------------------- baselines
def copy_baseline(T: int = _COPY_T) -> float:
    """Cross-entropy per step of the best memoryless copy predictor: ``10 ln 8 / T`` nats.

    Examples:
        >>> round(copy_baseline(500), 4)
        0.0416
    """
    T = validate.positive_int(T, "T")
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / T


def addition_baseline(T: int = _ADDITION_T) -> float:
    """MSE of always answering 1 in the addition task: Var(U₁ + U₂) = 1/6, for any ``T``.

    Examples:
        >>> round(addition_baseline(), 4)
        0.1667
    """
    validate.positive_int(T, "T")
    return 1.0 / 6.0


# ----------------------------------------------------------------------------- raw sequences
def copy_sequences(n: int, T: int = _COPY_T, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``n`` copy-task sequences as integer symbols.

    Returns ``(x, y)``, both ``int64`` of shape ``(n, T)``: ``x[:, :10]`` are the symbols
    (uniform on 1..8), ``x[:, T-11] = 9`` is the cue, everything else 0;
    ``y[:, T-10:] = x[:, :10]`` and the rest of ``y`` is 0.

    Examples:
        >>> x, y = copy_sequences(2, 30, generator=torch.Generator().manual_seed(0))
        >>> x.shape, int(x[0, 19]), bool(torch.equal(y[:, -10:], x[:, :10]))
        (torch.Size([2, 30]), 9, True)
    """
    n = validate.positive_int(n, "n")
    T = _copy_length(T)
    x = torch.zeros(n, T, dtype=torch.int64)
    x[:, :COPY_LENGTH] = torch.randint(1, COPY_SYMBOLS + 1, (n, COPY_LENGTH), generator=generator)
    x[:, T - COPY_LENGTH - 1] = COPY_CUE
    y = torch.zeros(n, T, dtype=torch.int64)
    y[:, T - COPY_LENGTH :] = x[:, :COPY_LENGTH]
    return x, y


def addition_sequences(n: int, T: int = _ADDITION_T, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``n`` addition-task sequences.

    Returns ``(x, y)``: ``x`` is float32 of shape ``(n, T, 2)`` with the indicator in channel 0
    (one 1 in ``[0, T//2)`` and one in ``[T//2, T)``) and U[0, 1] values in channel 1; ``y`` is
    ``(n, 1)``, the sum of the two marked values.

    Examples:
        >>> x, y = addition_sequences(3, 10, generator=torch.Generator().manual_seed(0))
        >>> x.shape, x[..., 0].sum(1).tolist()
        (torch.Size([3, 10, 2]), [2.0, 2.0, 2.0])
    """
    data = AdditionData.generate(n, T, generator=generator)
    return data.batch(torch.arange(n))


# ----------------------------------------------------------------------------- data sets
@dataclass(frozen=True)
class CopyData(TaskData):
    """Copy sequences as ``uint8`` symbols ``(n, T)``; inputs are one-hot over 10 on demand."""

    symbols: Tensor

    @classmethod
    def generate(cls, n: int, T: int, *, generator: torch.Generator | None = None) -> "CopyData":
        x, _ = copy_sequences(n, T, generator=generator)
        return cls(x.to(torch.uint8))

    def __len__(self) -> int:
        return self.symbols.shape[0]

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        s = self.symbols[index].long()
        x = F.one_hot(s, COPY_CUE + 1).float()
        y = torch.zeros_like(s)
        y[:, -COPY_LENGTH:] = s[:, :COPY_LENGTH]
        return x, y

    def to(self, device) -> "CopyData":
        return CopyData(self.symbols.to(device))


@dataclass(frozen=True)
class AdditionData(TaskData):
    """Addition sequences as values ``(n, T)`` float32 and marker positions ``(n, 2)``."""

    values: Tensor
    marks: Tensor

    @classmethod
    def generate(cls, n: int, T: int, *, generator: torch.Generator | None = None) -> "AdditionData":
        n = validate.positive_int(n, "n")
        T = _addition_length(T)
        values = torch.rand(n, T, generator=generator)
        first = torch.randint(0, T // 2, (n,), generator=generator)
        second = torch.randint(T // 2, T, (n,), generator=generator)
        return cls(values, torch.stack([first, second], dim=1))

    def __len__(self) -> int:
        return self.values.shape[0]

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        v = self.values[index]
        m = self.marks[index]
        indicator = torch.zeros_like(v)
        indicator.scatter_(1, m, 1.0)
        x = torch.stack([indicator, v], dim=2)
        y = torch.gather(v, 1, m).sum(dim=1, keepdim=True)
        return x, y

    def to(self, device) -> "AdditionData":
        return AdditionData(self.values.to(device), self.marks.to(device))


# ----------------------------------------------------------------------------- tasks
class CopyTask(Task):
    """The copy task; metrics are ``acc`` (per-step accuracy over all ``T`` steps, as the
    authors' Keras ``accuracy``) and ``recall_acc`` (accuracy on the ten recall steps only;
    chance is 1/8)."""

    name = "copy"
    input_size = COPY_CUE + 1
    output_size = COPY_SYMBOLS + 1
    per_step = True
    default_hidden = _paper.HIDDEN_SIZE["copy"]
    default_nonlinearity = _paper.NONLINEARITY["copy"]
    description = "one-hot symbols in, 9-way softmax at every step"

    def __init__(self, T: int = _COPY_T):
        self.T = _copy_length(T)

    @property
    def baseline(self) -> float:
        return copy_baseline(self.T)

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[CopyData, CopyData]:
        n_train, n_val = validate.positive_int(n_train, "n_train"), validate.positive_int(n_val, "n_val")
        train = CopyData.generate(n_train, self.T, generator=stream_generator(seed, "copy/train"))
        val = CopyData.generate(n_val, self.T, generator=stream_generator(seed, "copy/val"))
        return train, val

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        hit = output.argmax(-1) == target
        return {"acc": hit.float().mean().item(), "recall_acc": hit[:, -COPY_LENGTH:].float().mean().item()}


class AdditionTask(Task):
    """The addition task (relu network, MSE at the last step); no accuracy is defined."""

    name = "addition"
    input_size = 2
    output_size = 1
    per_step = False
    default_hidden = _paper.HIDDEN_SIZE["addition"]
    default_nonlinearity = _paper.NONLINEARITY["addition"]
    description = "indicator + value in, sum out at the last step"

    def __init__(self, T: int = _ADDITION_T):
        self.T = _addition_length(T)

    @property
    def baseline(self) -> float:
        return addition_baseline(self.T)

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[AdditionData, AdditionData]:
        n_train, n_val = validate.positive_int(n_train, "n_train"), validate.positive_int(n_val, "n_val")
        train = AdditionData.generate(n_train, self.T, generator=stream_generator(seed, "addition/train"))
        val = AdditionData.generate(n_val, self.T, generator=stream_generator(seed, "addition/val"))
        return train, val

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(output, target)
