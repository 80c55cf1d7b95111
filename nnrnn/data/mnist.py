"""MNIST (LeCun, Cortes & Burges): the IDX reader, the loader, and psMNIST's pixel permutation.

The psMNIST pipeline itself (splits, batches, the task) is :mod:`nnrnn.tasks.psmnist`.
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .download import fetch_all
from .errors import DataError

__all__ = ["read_idx", "load_mnist", "permutation", "MAX_SEED", "check_seed"]

#: the largest seed of a permutation: ``torch.Generator.manual_seed`` takes at most 2**64 - 1.
MAX_SEED = 2**64 - 1

Split = Literal["train", "test"]
_SPLITS = ("train", "test")

_IDX_DTYPES = {0x08: "unsigned byte"}
_IDX_OTHER = {0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


def read_idx(path: str | os.PathLike, magic: int | None = None) -> Tensor:
    """Read an IDX file (LeCun's MNIST format), gzip-compressed or not, as a ``uint8`` tensor.

    The header is two zero bytes, a type code (``0x08``: unsigned byte, the only one accepted),
    the number of dimensions ``d``, then ``d`` big-endian 32-bit sizes; the data follow in C
    order. MNIST images have magic number 2051 (``0x00000803``, 3 dimensions) and labels 2049
    (``0x00000801``, 1 dimension).

    Args:
        path: an ``.idx*-ubyte`` file, optionally gzip-compressed (detected from its content).
        magic: the magic number to require, e.g. ``2051``. Default: any unsigned-byte IDX.

    Raises:
        DataError: naming the file and what is wrong (bad magic, type, truncated data...).

    Examples:
        >>> import gzip, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "labels-idx1-ubyte.gz"
        ...     _ = p.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])))
        ...     read_idx(p, magic=2049)
        tensor([7, 0, 9], dtype=torch.uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(
                f"{path} is not a readable gzip file ({err}); delete it and download it again"
            ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{path} is not an IDX file: it must start with two zero bytes, got {raw[:4]!r}"
        )
    code, ndim = raw[2], raw[3]
    found_magic = int.from_bytes(raw[:4], "big")
    if magic is not None and found_magic != magic:
        raise DataError(
            f"{path} has IDX magic number {found_magic} (0x{found_magic:08x}); "
            f"expected {magic} (0x{magic:08x})"
        )
    if code not in _IDX_DTYPES:
        kind = _IDX_OTHER.get(code, "unknown")
        raise DataError(
            f"{path} has IDX type code 0x{code:02x} ({kind}); "
            "only 0x08 (unsigned byte) is supported"
        )
    if ndim == 0:
        raise DataError(f"{path} has an IDX header with 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path} is truncated: {len(raw)} bytes, shorter than its {header}-byte IDX header"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    expected = header + math.prod(dims)
    if len(raw) != expected:
        raise DataError(
            f"{path} has {len(raw) - header:,} data bytes after its header, but its dimensions "
            f"{dims} need {math.prod(dims):,}; the file is truncated or corrupt"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()
    return torch.from_numpy(array)


_MNIST_FILES = {
    "train": ("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz"),
    "test": ("mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"),
}


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {list(_SPLITS)}, got {split!r}")


def load_mnist(
    split: Split = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[Tensor, Tensor]:
    """Load MNIST (LeCun, Cortes & Burges): 60,000 training or 10,000 test digits, in file order.

    Args:
        split: ``"train"`` or ``"test"``. Default: ``"train"``.
        data_dir, download: the data directory searched first, and whether to download
            missing files (see :func:`nnrnn.data.fetch`). Default: ``None``, ``True``.

    Returns:
        ``(images, labels)``: ``uint8`` images of shape ``(n, 28, 28)`` (0-255) and ``int64``
        labels of shape ``(n,)`` (0-9).

    Examples:
        >>> load_mnist("valid")
        Traceback (most recent call last):
        ...
        ValueError: split must be one of ['train', 'test'], got 'valid'
    """
    _check_split(split)
    images_path, labels_path = fetch_all(_MNIST_FILES[split], data_dir, download)
    images = read_idx(images_path, magic=2051)
    labels = read_idx(labels_path, magic=2049)
    if images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
        raise DataError(
            f"{images_path} holds images of shape {tuple(images.shape)}; expected (n, 28, 28)"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{labels_path} has {labels.shape[0]} labels but {images_path} has "
            f"{images.shape[0]} images"
        )
    if labels.numel() and int(labels.max()) > 9:
        raise DataError(f"{labels_path} has a label {int(labels.max())}; MNIST labels are 0-9")
    return images, labels.long()


def check_seed(seed: int, name: str = "seed") -> int:
    """``seed`` as an ``int`` if it can seed a permutation (an integer in ``[0, 2**64 - 1]``).

    Examples:
        >>> try:
        ...     check_seed(2**64)
        ... except ValueError as e:
        ...     print(e)
        seed must be an integer in [0, 2**64 - 1] (a torch.Generator seed: it draws psMNIST's pixel permutation), got 18446744073709551616
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**64 - 1] (a torch.Generator seed: it draws "
                         f"psMNIST's pixel permutation), got {seed!r}")
    return int(seed)


def permutation(seed: int, n: int = 784) -> Tensor:
    """The fixed pixel permutation of psMNIST for one seed: ``randperm(n)`` from a seeded generator.

    The permutation is drawn from its own ``torch.Generator`` seeded with ``seed``; the global
    RNG is neither used nor changed. It is *not* the permutation of the authors' Keras code,
    which drew it with numpy's global RNG after ``np.random.seed(seed)``.

    Args:
        seed: an integer in ``[0, 2**64 - 1]`` (:func:`check_seed`; the seeds of
            ``torch.Generator.manual_seed`` that are not negative).
        n: length of the permutation. Default: ``784`` (28 x 28 pixels).

    Examples:
        >>> p = permutation(0)
        >>> p.shape, p.dtype
        (torch.Size([784]), torch.int64)
        >>> bool(torch.equal(p, permutation(0)))
        True
        >>> bool(torch.equal(p.sort().values, torch.arange(784)))
        True
    """
    seed = check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randperm(int(n), generator=generator)
