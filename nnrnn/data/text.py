"""Text corpora and batching, as in ``salesforce/awd-lstm-lm`` (the code base the paper's
language models ran in: its ``data.py``, ``utils.py`` and ``data/enwik8/prep_enwik8.py``).

Every line of a file becomes its whitespace-separated tokens followed by ``<eos>``, and the
three splits share one :class:`Dictionary` whose ids follow first appearance (train, then
valid, then test).
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .download import fetch_all
from .errors import DataError
from .registry import ENWIK8_ZIP_SHA256
from .verify import verify

__all__ = ["EOS", "Dictionary", "Corpus", "load_corpus", "read_enwik8", "batchify", "get_batch"]

CorpusName = Literal["ptb", "ptb-char", "enwik8"]
_CORPORA = ("ptb", "ptb-char", "enwik8")
_CHUNK = 1 << 20
EOS = "<eos>"


class Dictionary:
    """Token <-> id mapping that grows as tokens are added (as ``awd-lstm-lm``'s ``Dictionary``).

    Attributes:
        word2idx: token -> id.
        idx2word: id -> token; ids follow first appearance.
        counter: id -> number of times :meth:`add_word` saw it.
        total: number of :meth:`add_word` calls.

    Examples:
        >>> d = Dictionary()
        >>> [d.add_word(w) for w in ["a", "b", "a", "<eos>"]]
        [0, 1, 0, 2]
        >>> len(d), d.idx2word[1], d.counter[0], d.total
        (3, 'b', 2, 4)
    """

    def __init__(self) -> None:
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []
        self.counter: Counter[int] = Counter()
        self.total = 0

    def add_word(self, word: str) -> int:
        """Add one occurrence of ``word`` and return its id."""
        idx = self.word2idx.get(word)
        if idx is None:
            idx = self.word2idx[word] = len(self.idx2word)
            self.idx2word.append(word)
        self.counter[idx] += 1
        self.total += 1
        return idx

    def __len__(self) -> int:
        return len(self.idx2word)

    def __repr__(self) -> str:
        return f"Dictionary({len(self)} tokens)"


class Corpus:
    """Three tokenized splits sharing one :class:`Dictionary` (as ``awd-lstm-lm``'s ``Corpus``).

    Each line of a file becomes ``line.split() + ["<eos>"]``; a file is read as UTF-8 and split
    into lines as Python does. ``train``, ``valid`` and ``test`` are 1-D ``int64`` tensors of ids.
    A file whose text ends with characters after its last newline gets one more ``<eos>`` for
    that last line, as in ``awd-lstm-lm`` (the character-level PTB files end in ``"\\n "``).

    Args:
        train, valid, test: paths of the three text files, tokenized in this order.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     paths = [Path(d) / f for f in ("tr.txt", "va.txt", "te.txt")]
        ...     for p, text in zip(paths, [" the cat \\n the dog \\n", " a cat \\n", " the \\n"]):
        ...         _ = p.write_text(text)
        ...     c = Corpus(*paths)
        >>> c.train.tolist(), c.valid.tolist(), len(c.dictionary)
        ([0, 1, 2, 0, 3, 2], [4, 1, 2], 5)
    """

    def __init__(
        self,
        train: str | os.PathLike | None = None,
        valid: str | os.PathLike | None = None,
        test: str | os.PathLike | None = None,
    ) -> None:
        self.dictionary = Dictionary()
        empty = torch.empty(0, dtype=torch.long)
        self.train = self.tokenize(train) if train is not None else empty
        self.valid = self.tokenize(valid) if valid is not None else empty
        self.test = self.tokenize(test) if test is not None else empty

    def tokenize(self, path: str | os.PathLike) -> Tensor:
        """Tokenize one text file, adding its tokens to the dictionary; return the ids."""
        d = self.dictionary
        word2idx, idx2word = d.word2idx, d.idx2word
        ids: list[int] = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                words = line.split()
                words.append(EOS)
                for word in words:
                    idx = word2idx.get(word)
                    if idx is None:  # same ids as add_word; counts are added in bulk below
                        idx = word2idx[word] = len(idx2word)
                        idx2word.append(word)
                    ids.append(idx)
        out = torch.tensor(ids, dtype=torch.long)
        if out.numel():
            counts = torch.bincount(out).tolist()
            d.counter.update({i: c for i, c in enumerate(counts) if c})
        d.total += out.numel()
        return out

    def __repr__(self) -> str:
        return (
            f"Corpus(vocab={len(self.dictionary)}, train={self.train.numel()}, "
            f"valid={self.valid.numel()}, test={self.test.numel()})"
        )


_CORPUS_FILES = {
    "ptb": ("ptb/ptb.train.txt", "ptb/ptb.valid.txt", "ptb/ptb.test.txt"),
    "ptb-char": (
        "ptb-char/ptb.char.train.txt",
        "ptb-char/ptb.char.valid.txt",
        "ptb-char/ptb.char.test.txt",
    ),
}


def load_corpus(
    name: CorpusName,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Corpus:
    """Load a language-modelling corpus, tokenized as ``awd-lstm-lm`` does.

    * ``"ptb"``: word-level Penn Treebank (Mikolov's preprocessing). 10,000 token types
      (including ``<eos>``); 929,589 / 73,760 / 82,430 tokens in train / valid / test.
    * ``"ptb-char"``: the same sentences, one token per character, ``_`` for a space, plus
      ``<eos>`` per line. 50 token types; 5,017,483 / 393,043 / 442,424 tokens (each file
      ends with ``"\\n "``, so its last, empty line adds one ``<eos>``, as in ``awd-lstm-lm``).
    * ``"enwik8"``: the first 10^8 bytes of an English Wikipedia dump (Hutter Prize), one token
      per byte, split 90M / 5M / 5M (see :func:`read_enwik8`).

    Args:
        name: ``"ptb"``, ``"ptb-char"`` or ``"enwik8"``.
        data_dir, download: the data directory searched first, and whether to download
            missing files (see :func:`nnrnn.data.fetch`). Default: ``None``, ``True``.

    Examples:
        >>> load_corpus("wikitext-2")
        Traceback (most recent call last):
        ...
        ValueError: corpus name must be one of ['ptb', 'ptb-char', 'enwik8'], got 'wikitext-2'
    """
    if name not in _CORPORA:
        raise ValueError(f"corpus name must be one of {list(_CORPORA)}, got {name!r}")
    if name == "enwik8":
        (path,) = fetch_all(["enwik8/enwik8.zip"], data_dir, download)
        return read_enwik8(path, sha256=None)  # fetch has verified it against ENWIK8_ZIP_SHA256
    return Corpus(*fetch_all(_CORPUS_FILES[name], data_dir, download))


_NEWLINE = 10
_EOS_CODE = 256  # code of <eos> next to the 256 byte values


def _byte_codes(part: bytes) -> np.ndarray:
    """awd-lstm-lm's byte tokens as codes 0-256: a newline byte is <eos>, and so is the end of a
    last line that has no newline (their ``prep_enwik8.py`` writes bytes as numbers and turns
    ``'\\n'`` into a line break, which ``Corpus`` reads as ``<eos>``)."""
    codes = np.frombuffer(part, dtype=np.uint8).astype(np.int16)
    codes[codes == _NEWLINE] = _EOS_CODE
    if len(part) and part[-1] != _NEWLINE:
        codes = np.append(codes, np.int16(_EOS_CODE))
    return codes


def _first_appearance(parts: list[np.ndarray]) -> list[int]:
    """The distinct codes of the concatenated ``parts``, in order of first appearance."""
    n_present = int(np.count_nonzero(sum(np.bincount(p, minlength=257) for p in parts)))
    first: dict[int, int] = {}
    offset = 0
    for part in parts:
        for start in range(0, len(part), _CHUNK):
            if len(first) == n_present:
                break
            chunk = part[start : start + _CHUNK]
            values, index = np.unique(chunk, return_index=True)
            for v, i in zip(values.tolist(), index.tolist(), strict=True):
                first.setdefault(v, offset + start + i)
        offset += len(part)
    return sorted(first, key=first.__getitem__)


def _byte_corpus(parts: list[bytes]) -> Corpus:
    """A :class:`Corpus` of byte tokens (``"0"``..``"255"``, newline as ``<eos>``) from 3 splits."""
    codes = [_byte_codes(p) for p in parts]
    order = _first_appearance(codes)
    lut = np.full(257, -1, dtype=np.int64)
    lut[order] = np.arange(len(order))
    corpus = Corpus()
    d = corpus.dictionary
    d.idx2word = [EOS if c == _EOS_CODE else str(c) for c in order]
    d.word2idx = {w: i for i, w in enumerate(d.idx2word)}
    counts = sum(np.bincount(c, minlength=257) for c in codes)
    d.counter = Counter({int(lut[c]): int(counts[c]) for c in order})
    d.total = int(sum(len(c) for c in codes))
    corpus.train, corpus.valid, corpus.test = (torch.from_numpy(lut[c]) for c in codes)
    return corpus


def read_enwik8(
    path: str | os.PathLike,
    num_valid: int = 5_000_000,
    num_test: int = 5_000_000,
    *,
    sha256: str | None = ENWIK8_ZIP_SHA256,
) -> Corpus:
    """Read ``enwik8.zip`` and split it as ``awd-lstm-lm``'s ``data/enwik8/prep_enwik8.py`` does.

    The member ``enwik8`` (10^8 bytes) is split into its last ``num_test`` bytes (test), the
    ``num_valid`` bytes before them (valid) and the rest (train: 90M bytes). Each byte is one
    token named by its decimal value (``"60"`` for ``<``); a newline byte is ``<eos>``, and a
    split that does not end with a newline gets one more ``<eos>``, exactly the tokens that
    ``awd-lstm-lm`` reads back from the files ``prep_enwik8.py`` writes.

    Args:
        path: the zip archive (as served at http://mattmahoney.net/dc/enwik8.zip).
        num_valid: bytes of the validation split. Default: ``5_000_000``.
        num_test: bytes of the test split. Default: ``5_000_000``.
        sha256: required SHA-256 of the zip. Default: :data:`ENWIK8_ZIP_SHA256`. Pass ``None``
            to skip the check explicitly (for a file you have verified yourself, or a test file).

    Raises:
        ChecksumError: if the zip's digest differs from ``sha256``.
        DataError: if the archive has no ``enwik8`` member or is too short to split.

    Examples:
        >>> import tempfile, zipfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "enwik8.zip"
        ...     with zipfile.ZipFile(p, "w") as z:
        ...         z.writestr("enwik8", b"ab\\nab\\nba")
        ...     c = read_enwik8(p, num_valid=2, num_test=2, sha256=None)
        >>> c.dictionary.idx2word, c.train.tolist(), c.valid.tolist(), c.test.tolist()
        (['97', '98', '<eos>'], [0, 1, 2, 0, 2], [1, 2], [1, 0, 2])
    """
    for label, value in (("num_valid", num_valid), ("num_test", num_test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    path = Path(path)
    if sha256 is not None:
        verify(path, sha256, name="enwik8.zip")
    try:
        with zipfile.ZipFile(path) as z:
            if "enwik8" not in z.namelist():
                raise DataError(f"{path} has no member 'enwik8'; its members are {z.namelist()}")
            data = z.read("enwik8")
    except zipfile.BadZipFile as err:
        raise DataError(
            f"{path} is not a readable zip archive ({err}); delete it and download it again"
        ) from err
    if len(data) <= num_valid + num_test:
        raise DataError(
            f"{path}: enwik8 has {len(data):,} bytes, too few for {num_valid:,} validation and "
            f"{num_test:,} test bytes plus a training split"
        )
    cut1, cut2 = len(data) - num_valid - num_test, len(data) - num_test
    return _byte_corpus([data[:cut1], data[cut1:cut2], data[cut2:]])


# Batching, as in awd-lstm-lm's utils.py


def batchify(data: Tensor, bsz: int, device: torch.device | str | None = None) -> Tensor:
    """Cut a 1-D token stream into ``bsz`` contiguous columns: shape ``(nbatch, bsz)``.

    ``nbatch = len(data) // bsz``; the last ``len(data) % bsz`` tokens are dropped. Column
    ``j`` is ``data[j * nbatch : (j + 1) * nbatch]``, so time runs down the rows, as in
    ``awd-lstm-lm``'s ``batchify``.

    Args:
        data: 1-D tensor of token ids.
        bsz: number of columns (batch size), at least 1.
        device: where to put the result. Default: ``data``'s device.

    Examples:
        >>> batchify(torch.arange(10), 3)
        tensor([[0, 3, 6],
                [1, 4, 7],
                [2, 5, 8]])
    """
    if not isinstance(data, Tensor) or data.ndim != 1:
        shape = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
        raise ValueError(f"batchify expects a 1-D tensor of token ids, got {shape}")
    if isinstance(bsz, bool) or not isinstance(bsz, (int, np.integer)) or bsz < 1:
        raise ValueError(f"bsz must be a positive integer, got {bsz!r}")
    nbatch = data.shape[0] // int(bsz)
    if nbatch == 0:
        raise ValueError(f"batchify needs at least bsz={bsz} tokens, got {data.shape[0]}")
    out = data.narrow(0, 0, nbatch * int(bsz)).view(int(bsz), -1).t().contiguous()
    return out if device is None else out.to(device)


def get_batch(source: Tensor, i: int, bptt: int) -> tuple[Tensor, Tensor]:
    """Rows ``i .. i+seq_len-1`` of a batchified stream and their next tokens (as ``awd-lstm-lm``).

    ``seq_len = min(bptt, len(source) - 1 - i)``, so the last window is shorter.

    Args:
        source: output of :func:`batchify`, shape ``(nbatch, bsz)``.
        i: first row, ``0 <= i < nbatch - 1``.
        bptt: window length, at least 1.

    Returns:
        ``(data, target)``: ``data`` of shape ``(seq_len, bsz)`` and ``target`` flattened to
        shape ``(seq_len * bsz,)``, equal to ``source[i + 1 : i + 1 + seq_len].reshape(-1)``,
        ready for ``cross_entropy(logits.view(-1, ntokens), target)``.

    Examples:
        >>> source = batchify(torch.arange(10), 2)
        >>> data, target = get_batch(source, 0, 3)
        >>> data.tolist(), target.tolist()
        ([[0, 5], [1, 6], [2, 7]], [1, 6, 2, 7, 3, 8])
    """
    if not isinstance(source, Tensor) or source.ndim != 2:
        shape = tuple(source.shape) if isinstance(source, Tensor) else type(source).__name__
        raise ValueError(f"get_batch expects a 2-D (nbatch, bsz) tensor from batchify, got {shape}")
    if isinstance(bptt, bool) or not isinstance(bptt, (int, np.integer)) or bptt < 1:
        raise ValueError(f"bptt must be a positive integer, got {bptt!r}")
    if (
        isinstance(i, bool)
        or not isinstance(i, (int, np.integer))
        or not 0 <= i < source.shape[0] - 1
    ):
        raise ValueError(
            f"i must be an integer in [0, {source.shape[0] - 1}) for a source of "
            f"{source.shape[0]} rows, got {i!r}"
        )
    seq_len = min(int(bptt), source.shape[0] - 1 - int(i))
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].reshape(-1)
    return data, target
