r"""Data sets of the paper: MNIST (for psMNIST), Penn Treebank (word and character level), enwik8.

Every file is checked against a SHA-256 digest held in :mod:`nnrnn.data.registry` before it is
used; a file whose digest differs raises :class:`ChecksumError` and is never used. Downloads,
their checksums and the download folder are handled by :mod:`pooch`
(:mod:`nnrnn.data.download`).

**Where files are looked for**, one file at a time, in this order:

1. the data directory you name: the ``data_dir`` argument, else the ``NNRNN_DATA_DIR``
   environment variable (a directory that is named but does not exist is an error);
2. the download folder (:func:`cache_dir`): ``$NNRNN_CACHE_DIR``, else the data directory
   you named, else ``~/.cache/nnrnn/data`` (``$XDG_CACHE_HOME/nnrnn/data``);
3. a download into the download folder from the public addresses in :data:`SOURCES` (only
   with ``download=True``), checked before it is renamed into place.

Both directories use one layout, the layout of the project's offline copy::

    mnist/train-images-idx3-ubyte.gz   mnist/train-labels-idx1-ubyte.gz
    mnist/t10k-images-idx3-ubyte.gz    mnist/t10k-labels-idx1-ubyte.gz
    ptb/ptb.{train,valid,test}.txt     ptb-char/ptb.char.{train,valid,test}.txt
    enwik8/enwik8.zip

The modules: :mod:`~nnrnn.data.registry` (files, digests, addresses),
:mod:`~nnrnn.data.download` (search and download), :mod:`~nnrnn.data.verify` (SHA-256 checks),
:mod:`~nnrnn.data.mnist` (IDX reader, MNIST, the psMNIST permutation) and
:mod:`~nnrnn.data.text` (the ``awd-lstm-lm`` corpora and batching). The psMNIST task itself is
:mod:`nnrnn.tasks.psmnist`.

Examples:
    >>> sorted({name.split("/")[0] for name in FILES})
    ['enwik8', 'mnist', 'ptb', 'ptb-char']
"""

from __future__ import annotations

from .download import cache_dir, check_data_dir, data_dir, fetch
from .errors import ChecksumError, DataError, DataNotFoundError
from .mnist import check_seed, load_mnist, permutation, read_idx
from .registry import DATASETS, ENWIK8_ZIP_SHA256, FILES, SOURCES
from .text import Corpus, Dictionary, batchify, get_batch, load_corpus, read_enwik8
from .verify import sha256sum, verify

__all__ = [
    "DataError",
    "ChecksumError",
    "DataNotFoundError",
    "FILES",
    "SOURCES",
    "DATASETS",
    "ENWIK8_ZIP_SHA256",
    "data_dir",
    "check_data_dir",
    "cache_dir",
    "sha256sum",
    "verify",
    "fetch",
    "read_idx",
    "load_mnist",
    "permutation",
    "check_seed",
    "Dictionary",
    "Corpus",
    "load_corpus",
    "read_enwik8",
    "batchify",
    "get_batch",
]
