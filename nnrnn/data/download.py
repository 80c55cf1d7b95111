"""Where data files are found, and how missing ones are downloaded (through :mod:`pooch`).

**Where files are looked for**, one file at a time, in this order:

1. the data directory you name: the ``data_dir`` argument, else the ``NNRNN_DATA_DIR``
   environment variable (a directory that is named but does not exist is an error);
2. the download folder, :func:`cache_dir`: ``$NNRNN_CACHE_DIR``, else the data directory
   you named, else ``pooch.os_cache("nnrnn") / "data"`` (``$XDG_CACHE_HOME/nnrnn/data``, by
   default ``~/.cache/nnrnn/data`` on Linux). Naming a data directory therefore keeps
   everything there: nothing is created in ``~/.cache``;
3. a download into the download folder (only with ``download=True``) from the addresses in
   :data:`~nnrnn.data.registry.SOURCES`, tried in order. :meth:`pooch.Pooch.fetch` streams
   each file into a temporary file next to its destination, checks its ``known_hash``
   (``"sha256:..."``) and only then renames it into place, so an interrupted or wrong download
   never leaves a file behind. Files that only exist inside an archive (Mikolov's
   ``simple-examples.tgz``) are fetched with the archive's MD5 and extracted by
   :class:`pooch.Untar` into a temporary folder; each member is checked against its own
   SHA-256 before it is moved into place, and the archive is deleted. A download folder that
   cannot be written is reported by name, and the folders a failed download created are
   removed again.

A file that is found is checked against its SHA-256 every time before it is returned; a
mismatch raises :class:`~nnrnn.data.ChecksumError` and is never replaced silently by another
copy or a fresh download.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Iterable

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # pooch imports tqdm.auto, which warns ("IProgress not found") in a Jupyter kernel without
    # ipywidgets; our downloads draw plain text bars, so the warning says nothing useful
    warnings.simplefilter("ignore", TqdmWarning)
    import pooch
from pooch.downloaders import choose_downloader

from .errors import DataError, DataNotFoundError
from .registry import DATASETS, FILES, SOURCES, Archive, pooch_registry
from .verify import verify

__all__ = ["DATA_ENV", "CACHE_ENV", "default_cache", "data_dir", "check_data_dir", "cache_dir", "fetch", "fetch_all"]

#: the environment variable that names a data directory (searched first; see the module docstring).
DATA_ENV = "NNRNN_DATA_DIR"
#: the environment variable that names the download folder.
CACHE_ENV = "NNRNN_CACHE_DIR"


def default_cache() -> Path:
    """The download folder when none is named: ``pooch.os_cache("nnrnn") / "data"``.

    Examples:
        >>> default_cache().name
        'data'
    """
    return pooch.os_cache("nnrnn") / "data"


def _named_dir(explicit: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The user-named data directory and where its name came from, or ``None`` if none."""
    if explicit is not None:
        return Path(explicit).expanduser(), "data_dir argument"
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser(), DATA_ENV
    return None


def check_data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The data directory the caller named (``explicit``, else ``$NNRNN_DATA_DIR``), or ``None`` if none.

    Raises:
        DataNotFoundError: naming the directory and where its name came from, if it does not
            exist or is not a folder (a named directory is never silently skipped).

    Examples:
        >>> check_data_dir("/no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nnrnn.data.DataNotFoundError: data directory /no/such/folder (from the data_dir argument) does not exist. ...
    """
    named = _named_dir(explicit)
    if named is None:
        return None
    path, origin = named
    if not path.is_dir():
        what = "is a file, not a folder" if path.is_file() else "is not a folder" if path.exists() else "does not exist"
        raise DataNotFoundError(
            f"data directory {path} (from the {origin}) {what}. Point it at a folder laid out as mnist/, ptb/, "
            f"ptb-char/, enwik8/, or unset it."
        )
    return path


def _cache_pooch(data_dir: str | os.PathLike | None) -> pooch.Pooch:
    """A :class:`pooch.Pooch` on the download folder, holding the whole registry."""
    named = _named_dir(data_dir)
    return pooch.create(
        path=named[0] if named is not None else default_cache(),
        base_url="",  # every fetch sets its address in ``urls``
        env=CACHE_ENV,
        registry=pooch_registry(),
    )


def cache_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The download folder: ``$NNRNN_CACHE_DIR``, else the named data directory, else the OS cache.

    Args:
        data_dir: the data directory named by the caller. Default: ``$NNRNN_DATA_DIR`` if set.

    Examples:
        >>> cache_dir("some/where").name
        'where'
    """
    return Path(_cache_pooch(data_dir).path)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The first directory searched: ``explicit``, else ``$NNRNN_DATA_DIR``, else :func:`cache_dir`.

    Args:
        explicit: a directory laid out as ``mnist/``, ``ptb/``, ``ptb-char/``, ``enwik8/``.
            Default: ``None`` (use the environment variable or the download folder).

    Examples:
        >>> data_dir("some/where").name
        'where'
    """
    named = _named_dir(explicit)
    return named[0] if named is not None else cache_dir()


def _downloader(url: str):
    """The pooch downloader for ``url`` (HTTP(S), FTP). Tests replace it to simulate the network."""
    return choose_downloader(url, progressbar=sys.stderr.isatty())


def _remove_empty(folders: list[Path]) -> None:
    """Remove the ``folders`` (deepest first) that are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _make_download_folder(folder: Path) -> list[Path]:
    """Create ``folder`` for a download and check that it is writable; return the folders this
    created (deepest first), so that a failed download can remove them again.

    Raises:
        DataError: naming the folder, if it cannot be created or written.
    """
    created: list[Path] = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        created.append(parent)
        parent = parent.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        _remove_empty(created)
        raise DataError(
            f"cannot write to the download folder {folder} ({err.strerror or err}); set "
            f"{CACHE_ENV} to a writable folder, or put the files in a folder of your own and set "
            f"{DATA_ENV} (or pass data_dir=)"
        ) from err
    return created


def _extract(archive: Archive, url: str, cache: Path) -> None:
    """Fetch ``archive`` from ``url`` into a temporary folder of ``cache``; move each known
    member into ``cache`` once its SHA-256 is checked; delete the rest."""
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=f".{archive.name}."))
    try:
        pup = pooch.create(
            path=tmp,
            base_url="",
            registry={archive.name: f"md5:{archive.md5}"},
            urls={archive.name: url},
        )
        untar = pooch.Untar(members=list(archive.members), extract_dir="members")
        pup.fetch(archive.name, processor=untar, downloader=_downloader(url))
        for member, rel in archive.members.items():
            src = tmp / "members" / member
            if src.is_symlink() or not src.is_file():
                continue
            verify(src, FILES[rel][0], name=f"{rel} from {archive.name}")
            (cache / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, cache / rel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download(pup: pooch.Pooch, rel: str) -> tuple[Path | None, list[str]]:
    """Try every source of ``rel`` in order; return the new path (or None) and the failures."""
    cache = Path(pup.path)
    dest = cache / rel
    failures: list[str] = []
    try:
        created = _make_download_folder(dest.parent)
    except DataError as err:
        return None, [str(err)]
    try:
        for source in SOURCES[rel]:
            # requests' errors are OSErrors; a wrong digest or an unknown scheme a ValueError.
            if isinstance(source, str):
                pup.urls[rel] = source
                try:
                    return Path(pup.fetch(rel, downloader=_downloader(source))), failures
                except (OSError, ValueError) as err:
                    failures.append(f"{source}: {err}")
                continue
            for url in source.urls:
                try:
                    _extract(source, url, cache)
                except (OSError, ValueError, tarfile.TarError) as err:
                    failures.append(f"{url}: {err}")
                    continue
                if dest.is_file():
                    return dest, failures
                failures.append(f"{url}: the archive has no member for {rel}")
    finally:
        _remove_empty(created)  # only those still empty: a failed download leaves no folder
    return None, failures


def _origins(rel: str) -> list[str]:
    """Where ``rel`` is published, in words: each address, with the member name for archives."""
    out = []
    for source in SOURCES[rel]:
        if isinstance(source, str):
            out.append(source)
        else:
            member = next(m for m, r in source.members.items() if r == rel)
            out += [f"{url} (member {member})" for url in source.urls]
    return out


def _not_found(
    missing: list[str], searched: list[Path], failures: list[str], download: bool
) -> DataNotFoundError:
    lines = [f"data file(s) not found: {', '.join(missing)}."]
    lines.append("Searched: " + ", ".join(str(root) for root in searched) + ".")
    if download:
        lines.append("The downloads failed:")
        lines += [f"  - {failure}" for failure in failures]
    else:
        lines.append("Downloading is off (download=False).")
    lines.append("Where each file comes from:")
    for rel in missing:
        dataset = DATASETS[rel.split("/")[0]]
        lines.append(f"  - {rel} ({dataset}; sha256 {FILES[rel][0]}):")
        lines += [f"      {origin}" for origin in _origins(rel)]
    lines.append(
        "To supply them: fetch the files on a machine with internet access (or call again with "
        "download=True), put them in a folder under the same relative paths (e.g. "
        f"<folder>/{missing[0]}), check their SHA-256, and set {DATA_ENV}=<folder> or pass "
        "data_dir=<folder>. The book's Data page lists every file, address and digest."
    )
    return DataNotFoundError("\n".join(lines))


def fetch_all(
    names: Iterable[str], data_dir: str | os.PathLike | None = None, download: bool = True
) -> list[Path]:
    """Resolve several files at once (see :func:`fetch`), so one error names all missing ones."""
    names = list(names)
    for name in names:
        if name not in FILES:
            raise ValueError(f"unknown data file {name!r}; expected one of {sorted(FILES)}")
    named = check_data_dir(data_dir)
    pup = _cache_pooch(data_dir)
    cache = Path(pup.path)
    searched = [named] if named is not None else []
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
        for rel in missing:
            if (cache / rel).is_file():  # an archive fetched for an earlier file brought it too
                found[rel] = verify(cache / rel, FILES[rel][0], name=rel)
                continue
            path, errs = _download(pup, rel)
            failures += errs
            if path is not None:
                found[rel] = path
        missing = [rel for rel in names if rel not in found]
    if missing:
        raise _not_found(missing, searched, failures, download)
    return [found[rel] for rel in names]


def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Path:
    """The verified local path of a data file, downloading it if needed (see the module docstring).

    Args:
        name: a key of :data:`~nnrnn.data.registry.FILES`, e.g.
            ``"mnist/t10k-labels-idx1-ubyte.gz"``.
        data_dir: the data directory searched first. Default: ``$NNRNN_DATA_DIR`` if set.
        download: whether to download a file that is found nowhere. Default: ``True``.

    Raises:
        ValueError: for an unknown ``name``.
        DataNotFoundError: if the named directory does not exist, or the file is nowhere and
            cannot be downloaded (offline, a wrong download, or a download folder that cannot
            be written, which the message names); the message says where the file comes from
            and how to supply it.
        ChecksumError: if a copy has the wrong digest.

    Examples:
        >>> fetch("mnist/train.gz")
        Traceback (most recent call last):
        ...
        ValueError: unknown data file 'mnist/train.gz'; expected one of [...]
    """
    return fetch_all([name], data_dir, download)[0]
