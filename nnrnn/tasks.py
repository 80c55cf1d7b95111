r"""Synthetic sequence tasks of the paper: copy (T = 500) and addition (T = 750).

A *task* is everything the trainer needs besides the model: a data source, a loss, a
random baseline and a metric. Each task is a :class:`Task` object from :func:`get_task`;
the registry is open (:func:`register_task`) so that psMNIST can be added beside them.

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
generated from ``torch.Generator`` streams derived from the run's seed, so the same seed
always gives the same sequences, whatever the initializer or learning rate. Sets are stored
compactly (symbols as ``uint8``; values plus two indices) and expanded to model inputs one
batch at a time.

Random baselines (our inference; the paper states only ln 10 for psMNIST):

* copy: predict "0" for the first ``T - 10`` steps and the uniform distribution over the 8
  symbols for the last ten, which costs ``10 ln 8 / T`` nats per step (0.0416 at T = 500);
* addition: always predict 1, the mean of the sum, so the MSE is Var(U₁ + U₂) = 1/6.

A run *succeeds* when its final validation loss is below half the baseline, as in the paper.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "TaskName",
    "Task",
    "TaskData",
    "CopyTask",
    "AdditionTask",
    "CopyData",
    "AdditionData",
    "copy_sequences",
    "addition_sequences",
    "copy_baseline",
    "addition_baseline",
    "random_baseline",
    "succeeded",
    "SUCCESS_FRACTION",
    "stream_generator",
    "register_task",
    "get_task",
    "task_names",
    "known_tasks",
]

TaskName = Literal["copy", "addition", "psmnist"]

#: a run succeeds when its final validation loss is below this fraction of the random baseline.
SUCCESS_FRACTION = 0.5

#: how many symbols the copy task asks the network to remember, and how many symbols there are.
COPY_LENGTH = 10
COPY_SYMBOLS = 8
COPY_CUE = 9


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def stream_generator(seed: int, stream: str, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` for one named random stream of a run (``"train"``, ``"val"``, ...).

    Each stream is seeded from a hash of ``(seed, stream)``, so the training data, the
    validation data, the initial weights and the batch order are independent of one another:
    changing the size of the training set does not change the initial weights.

    Examples:
        >>> a = torch.rand(2, generator=stream_generator(1, "train"))
        >>> b = torch.rand(2, generator=stream_generator(1, "train"))
        >>> c = torch.rand(2, generator=stream_generator(1, "val"))
        >>> bool(torch.equal(a, b)), bool(torch.equal(a, c))
        (True, False)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.sha256(f"nnrnn:{seed}:{stream}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)


# ----------------------------------------------------------------------------- baselines
def copy_baseline(T: int = 500) -> float:
    """Cross-entropy per step of the best memoryless copy predictor: ``10 ln 8 / T`` nats.

    Examples:
        >>> round(copy_baseline(500), 4)
        0.0416
    """
    _check_positive_int(T, "T")
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / T


def addition_baseline(T: int = 750) -> float:
    """MSE of always answering 1 in the addition task: Var(U₁ + U₂) = 1/6, for any ``T``.

    Examples:
        >>> round(addition_baseline(), 4)
        0.1667
    """
    _check_positive_int(T, "T")
    return 1.0 / 6.0


def random_baseline(task: str, T: int | None = None) -> float:
    """The random-baseline loss of ``task`` at sequence length ``T`` (task default if ``None``).

    Examples:
        >>> round(random_baseline("copy"), 4), round(random_baseline("addition"), 4)
        (0.0416, 0.1667)
    """
    return get_task(task, T=T).baseline


def succeeded(final_loss: float, baseline: float, fraction: float = SUCCESS_FRACTION) -> bool:
    """Whether a run succeeded: its final loss is finite and below ``fraction × baseline``.

    A diverged run (NaN or infinite loss) never succeeds.

    Examples:
        >>> succeeded(0.01, 0.0416), succeeded(0.03, 0.0416), succeeded(float("nan"), 0.0416)
        (True, False, False)
    """
    final_loss = float(final_loss)
    return math.isfinite(final_loss) and final_loss < fraction * baseline


# ----------------------------------------------------------------------------- raw sequences
def copy_sequences(n: int, T: int = 500, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``n`` copy-task sequences as integer symbols.

    Returns ``(x, y)``, both ``int64`` of shape ``(n, T)``: ``x[:, :10]`` are the symbols
    (uniform on 1..8), ``x[:, T-11] = 9`` is the cue, everything else 0;
    ``y[:, T-10:] = x[:, :10]`` and the rest of ``y`` is 0.

    Examples:
        >>> x, y = copy_sequences(2, 30, generator=torch.Generator().manual_seed(0))
        >>> x.shape, int(x[0, 19]), bool(torch.equal(y[:, -10:], x[:, :10]))
        (torch.Size([2, 30]), 9, True)
    """
    _check_positive_int(n, "n")
    _check_positive_int(T, "T")
    if T < 2 * COPY_LENGTH + 1:
        raise ValueError(f"copy task needs T >= {2 * COPY_LENGTH + 1} (10 symbols, a cue, 10 recall steps), got {T}")
    x = torch.zeros(n, T, dtype=torch.int64)
    x[:, :COPY_LENGTH] = torch.randint(1, COPY_SYMBOLS + 1, (n, COPY_LENGTH), generator=generator)
    x[:, T - COPY_LENGTH - 1] = COPY_CUE
    y = torch.zeros(n, T, dtype=torch.int64)
    y[:, T - COPY_LENGTH :] = x[:, :COPY_LENGTH]
    return x, y


def addition_sequences(n: int, T: int = 750, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
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
class TaskData:
    """A fixed set of sequences, stored compactly; :meth:`batch` builds model inputs and targets."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        """Inputs ``(B, T, input_size)`` float and targets for the sequences at ``index``."""
        raise NotImplementedError

    def to(self, device: str | torch.device) -> "TaskData":  # pragma: no cover - interface
        raise NotImplementedError


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
        _check_positive_int(n, "n")
        _check_positive_int(T, "T")
        if T < 2:
            raise ValueError(f"addition task needs T >= 2 (one marker in each half), got {T}")
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
class Task:
    """What the trainer needs to know about a task.

    Attributes:
        name: registry name.
        T: sequence length.
        input_size, output_size: model input channels and readout size.
        per_step: whether the readout is applied at every step (copy) or the last (others).
        baseline: random-baseline loss; success means a final loss below half of it.
        default_hidden, default_nonlinearity: the paper's choices for this task.
    """

    name: str = ""
    T: int = 0
    input_size: int = 0
    output_size: int = 0
    per_step: bool = False
    default_hidden: int = 100
    default_nonlinearity: str = "elu"

    @property
    def baseline(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[TaskData, TaskData]:
        """The fixed training and validation sets for ``seed`` (independent random streams)."""
        raise NotImplementedError  # pragma: no cover - interface

    def loss(self, output: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - interface
        """Mean loss of a batch (a scalar tensor)."""
        raise NotImplementedError

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        """Batch means of the task's metrics (empty where none is defined)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(T={self.T})"


class CopyTask(Task):
    """The copy task; metrics are ``acc`` (per-step accuracy over all ``T`` steps, as the
    authors' Keras ``accuracy``) and ``recall_acc`` (accuracy on the ten recall steps only;
    chance is 1/8)."""

    name = "copy"
    input_size = COPY_CUE + 1
    output_size = COPY_SYMBOLS + 1
    per_step = True
    default_nonlinearity = "elu"

    def __init__(self, T: int = 500):
        _check_positive_int(T, "T")
        if T < 2 * COPY_LENGTH + 1:
            raise ValueError(f"copy task needs T >= {2 * COPY_LENGTH + 1}, got {T}")
        self.T = T

    @property
    def baseline(self) -> float:
        return copy_baseline(self.T)

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[CopyData, CopyData]:
        _check_positive_int(n_train, "n_train")
        _check_positive_int(n_val, "n_val")
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
    default_nonlinearity = "relu"

    def __init__(self, T: int = 750):
        _check_positive_int(T, "T")
        if T < 2:
            raise ValueError(f"addition task needs T >= 2, got {T}")
        self.T = T

    @property
    def baseline(self) -> float:
        return addition_baseline(self.T)

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[AdditionData, AdditionData]:
        _check_positive_int(n_train, "n_train")
        _check_positive_int(n_val, "n_val")
        train = AdditionData.generate(n_train, self.T, generator=stream_generator(seed, "addition/train"))
        val = AdditionData.generate(n_val, self.T, generator=stream_generator(seed, "addition/val"))
        return train, val

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(output, target)


_TASKS: dict[str, Callable[..., Task]] = {"copy": CopyTask, "addition": AdditionTask}

#: tasks defined in other modules, registered on first use by importing the module and calling
#: its ``register()`` (so that worker processes of a sweep know them without extra imports).
_PLUGINS: dict[str, str] = {"psmnist": "nnrnn.psmnist"}


def register_task(name: str, factory: Callable[..., Task]) -> None:
    """Register a task factory ``factory(T=None | int) -> Task`` under ``name`` (e.g. psMNIST)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"task name must be a non-empty string, got {name!r}")
    _TASKS[name] = factory


def task_names() -> list[str]:
    """The task names registered in this process so far."""
    return sorted(_TASKS)


def known_tasks() -> list[str]:
    """Every task name: the registered ones and those registered on first use (psMNIST).

    Examples:
        >>> {"copy", "addition"} <= set(known_tasks())
        True
    """
    return sorted(set(_TASKS) | set(_PLUGINS))


def _load_plugin(name: str) -> None:
    if isinstance(name, str) and name not in _TASKS and name in _PLUGINS:
        import importlib

        importlib.import_module(_PLUGINS[name]).register()


def get_task(name: str, T: int | None = None) -> Task:
    """The task called ``name`` at sequence length ``T`` (the paper's length when ``None``).

    Examples:
        >>> get_task("copy").T, get_task("addition", T=100).T
        (500, 100)
        >>> get_task("sorting")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown task 'sorting'; expected one of ['addition', 'copy'...]
    """
    _load_plugin(name)
    try:
        factory = _TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; expected one of {known_tasks()}") from None
    return factory() if T is None else factory(T)
