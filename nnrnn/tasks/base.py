"""What every task shares: the :class:`Task` and :class:`TaskData` interfaces, the success rule
and the package's one seeding helper (:func:`stream_generator`)."""

from __future__ import annotations

import hashlib
import math
from typing import Literal

import torch
from torch import Tensor

from .. import validate
from ..paper import SUCCESS_FRACTION

__all__ = ["TaskName", "Task", "TaskData", "SUCCESS_FRACTION", "succeeded", "stream_generator"]

TaskName = Literal["copy", "addition", "psmnist"]


def stream_generator(seed: int, stream: str | None = None, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` for one named random stream of ``seed``; the package's one seeding helper.

    With a ``stream`` name (``"copy/train"``, ``"init"``, ``"order"``, ...) the generator is
    seeded from a hash of ``(seed, stream)``, so the training data, the validation data, the
    initial weights and the batch order of a run are independent of one another: changing the
    size of the training set does not change the initial weights.

    With ``stream=None`` it is ``torch.Generator().manual_seed(seed)``: the single stream of the
    theory chapters (:func:`nnrnn.profiles.generator` is this call). The psMNIST pixel
    permutation (:func:`nnrnn.data.permutation`) draws from the same plain seeding, one
    permutation per seed as in the paper (§4.2); it is written out in :mod:`nnrnn.data`, which
    imports nothing from the rest of the package. The global RNG is never touched.

    Examples:
        >>> a = torch.rand(2, generator=stream_generator(1, "train"))
        >>> b = torch.rand(2, generator=stream_generator(1, "train"))
        >>> c = torch.rand(2, generator=stream_generator(1, "val"))
        >>> bool(torch.equal(a, b)), bool(torch.equal(a, c))
        (True, False)
        >>> bool(torch.equal(torch.rand(2, generator=stream_generator(3)),
        ...                  torch.rand(2, generator=torch.Generator().manual_seed(3))))
        True
    """
    seed = validate.non_negative_int(seed, "seed")
    if stream is None:
        return torch.Generator(device=device).manual_seed(seed)
    if not isinstance(stream, str):
        raise validate.error("stream", "a string or None", stream)
    digest = hashlib.sha256(f"nnrnn:{seed}:{stream}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def succeeded(final_loss: float, baseline: float, fraction: float = SUCCESS_FRACTION) -> bool:
    """Whether a run succeeded: its final loss is finite and below ``fraction × baseline``.

    A diverged run (NaN or infinite loss) never succeeds.

    Examples:
        >>> succeeded(0.01, 0.0416), succeeded(0.03, 0.0416), succeeded(float("nan"), 0.0416)
        (True, False, False)
    """
    final_loss = float(final_loss)
    return math.isfinite(final_loss) and final_loss < fraction * baseline


class TaskData:
    """A fixed set of sequences, stored compactly; :meth:`batch` builds model inputs and targets."""

    def __len__(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        """Inputs ``(B, T, input_size)`` float and targets for the sequences at ``index``."""
        raise NotImplementedError

    def to(self, device: str | torch.device) -> "TaskData":  # pragma: no cover - interface
        raise NotImplementedError


class Task:
    """What the trainer and the model builder need to know about a task.

    Attributes:
        name: registry name.
        T: sequence length.
        input_size, output_size: model input channels and readout size.
        per_step: whether the readout is applied at every step (copy) or the last (others).
        baseline: random-baseline loss; success means a final loss below half of it.
        default_hidden, default_nonlinearity: the paper's choices for this task
            (:data:`nnrnn.paper.HIDDEN_SIZE`, :data:`nnrnn.paper.NONLINEARITY`).
        description: the model's input and readout in words.
    """

    name: str = ""
    T: int = 0
    input_size: int = 0
    output_size: int = 0
    per_step: bool = False
    default_hidden: int = 100
    default_nonlinearity: str = "elu"
    description: str = ""

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
