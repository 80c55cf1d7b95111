"""The errors of :mod:`nnrnn.data`. Each is a :class:`ValueError`, so a caller that catches bad
input also catches bad data."""

from __future__ import annotations

__all__ = ["DataError", "ChecksumError", "DataNotFoundError"]


class DataError(ValueError):
    """A data file is unusable: corrupt, malformed, missing, or cannot be written."""


class ChecksumError(DataError):
    """A file's SHA-256 (or an archive's MD5) differs from the expected digest."""


class DataNotFoundError(DataError):
    """A file is in none of the searched directories and could not be downloaded."""


# Shown as ``nnrnn.data.ChecksumError`` in tracebacks: the public name, not the file it lives in.
for _cls in (DataError, ChecksumError, DataNotFoundError):
    _cls.__module__ = "nnrnn.data"
del _cls
