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
accuracy reported after training (:func:`nnrnn.pages.live_sweep.evaluate_psmnist_test_set`).
``validate_on="test"`` in :func:`datasets` reproduces the authors' arrangement.

**Hidden size.** The paper's text says N = 25 for psMNIST while the authors' code defaults to
100 (:mod:`nnrnn.paper`); the task default (:attr:`PsMNISTTask.default_hidden`) and every
profile here use 25, and the grids take ``hidden_size=`` to change it.

Images are kept as ``uint8`` (47 MB for the full training set) and converted to ``float32`` one
batch at a time. The sweep grids (:func:`nnrnn.sweep.grid`), the test-set evaluation of stored runs
and the chapter's settings table (:mod:`nnrnn.pages`) sit above the sweep.

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
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import data as _data
from .. import paper as _paper
from .. import validate
from ..paper import N_MNIST_TEST, N_MNIST_TRAIN
from .base import Task, TaskData

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
    "check_seed",
]

#: sequence length: one pixel per step.
T = _paper.SEQUENCE_LENGTH["psmnist"]
N_CLASSES = 10
#: the hidden size the paper's text states for psMNIST (the default here) ...
PAPER_HIDDEN_TEXT = _paper.PSMNIST_HIDDEN_TEXT
#: ... and the default of the authors' code.
PAPER_HIDDEN_CODE = _paper.PSMNIST_HIDDEN_CODE
DEFAULT_HIDDEN = PAPER_HIDDEN_TEXT

ValidateOn = Literal["holdout", "test"]


#: the seeds psMNIST takes, checked up front (:func:`nnrnn.train.TrainConfig`): a seed selects
#: the pixel permutation through ``torch.Generator.manual_seed``, so it is in ``[0, 2**64 - 1]``.
check_seed = _data.check_seed


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
class PsMNISTData(TaskData):
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
    """``n`` if it is an integer in ``[1, upper]`` (a number of digits)."""
    return validate.integer(n, name, low=1, high=upper)


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
        ValueError: n_train + n_val must be at most 60,000 so that the held-out validation digits are not trained on, got 59,000 + 2,000
    """
    validate.choice(validate_on, "validate_on", ("holdout", "test"))
    n_train = _check_count(n_train, "n_train", N_MNIST_TRAIN)
    n_val = _check_count(n_val, "n_val", N_MNIST_TRAIN if validate_on == "holdout" else N_MNIST_TEST)
    if validate_on == "holdout" and n_train + n_val > N_MNIST_TRAIN:
        raise validate.error(
            "n_train + n_val", f"at most {N_MNIST_TRAIN:,} so that the held-out validation digits are not trained on",
            f"{n_train:,} + {n_val:,}", raw=True,
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
class PsMNISTTask(Task):
    """psMNIST for the trainer: elu network, 10-way softmax at the last step, cross-entropy.

    ``T`` is always 784 (one pixel per step); the metric ``acc`` is the classification accuracy.
    The validation set is held out of the training split (see the module docstring).

    Examples:
        >>> PsMNISTTask(T=100)
        Traceback (most recent call last):
        ...
        ValueError: T must be 784 for psMNIST (one pixel per step) or None, got 100
    """

    name = "psmnist"
    T = T
    input_size = 1
    output_size = N_CLASSES
    per_step = False
    default_hidden = DEFAULT_HIDDEN
    default_nonlinearity = _paper.NONLINEARITY["psmnist"]
    description = "one pixel per step, 10-way softmax at the last step"

    def __init__(self, T: int | None = None):  # noqa: N803 - the registry passes T
        if T is not None and T != self.T:
            raise validate.error("T", f"{self.T} for psMNIST (one pixel per step) or None", T)

    @property
    def baseline(self) -> float:
        return baseline()

    def datasets(self, n_train: int, n_val: int, seed: int) -> tuple[PsMNISTData, PsMNISTData]:
        return datasets(n_train, n_val, seed)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output, target)

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        return {"acc": (output.argmax(-1) == target).float().mean().item()}
