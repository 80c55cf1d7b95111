"""Argument checks shared by the package, so that every ``ValueError`` reads the same way::

    <name> must be <what is allowed>, got <what was received>

Each checker returns the (converted) value, so a call reads ``n = positive_int(n, "n")``. The
message names the condition that failed, e.g. ``"alpha must be a finite number, got nan"``,
``"k_max must be a non-negative integer, got 2.5"``,
``"nonlinearity must be one of ['elu', 'relu', 'tanh'], got 'gelu'"``,
``"w must be a non-empty real floating-point tensor, got dtype torch.int64"``.

The module also holds the one table of pointwise nonlinearities (:data:`NONLINEARITIES`) that
the theory (:mod:`nnrnn.decoding`), the weight analysis (:mod:`nnrnn.analysis`) and the models
share.

Examples:
    >>> positive_int(3, "n")
    3
    >>> finite_float(0.5, "beta", low=0.0)
    0.5
    >>> try:
    ...     finite_float(-1.0, "noise", low=0.0)
    ... except ValueError as e:
    ...     print(e)
    noise must be >= 0.0, got -1.0
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "error",
    "positive_int",
    "non_negative_int",
    "integer",
    "finite_float",
    "choice",
    "flag",
    "finite",
    "float_tensor",
    "real_array",
    "NONLINEARITIES",
    "WITH_LINEAR",
    "nonlinearity",
    "has_columns",
]


def error(name: str, allowed: str, got: Any, *, raw: bool = False) -> ValueError:
    """The package's one error wording: ``"<name> must be <allowed>, got <got!r>"``.

    ``raw=True`` inserts ``got`` as given (for descriptions such as ``"shape (3, 4)"``).

    Examples:
        >>> str(error("n", "a positive integer", 0))
        'n must be a positive integer, got 0'
    """
    return ValueError(f"{name} must be {allowed}, got {got if raw else repr(got)}")


# ----------------------------------------------------------------------------- scalars
def _is_int(value: Any, plain: bool = False) -> bool:
    """An integer that is not a ``bool``; ``plain``: a Python ``int`` only (not a numpy integer)."""
    kinds = int if plain else (int, np.integer)
    return isinstance(value, kinds) and not isinstance(value, (bool, np.bool_))


def positive_int(value: Any, name: str, *, plain: bool = False) -> int:
    """``value`` as an ``int`` if it is an integer >= 1 (``bool`` is refused).

    ``plain=True`` also refuses numpy integers (and ``2.0``): for the fields of a config that is
    stored as JSON and hashed, where a numpy integer would not serialize.

    Examples:
        >>> positive_int(np.int64(4), "steps")
        4
        >>> try:
        ...     positive_int(np.int64(4), "hidden_size", plain=True)
        ... except ValueError as e:
        ...     print(e)
        hidden_size must be a positive integer, got np.int64(4)
    """
    if not _is_int(value, plain) or value < 1:
        raise error(name, "a positive integer", value)
    return int(value)


def non_negative_int(value: Any, name: str, *, plain: bool = False) -> int:
    """``value`` as an ``int`` if it is an integer >= 0 (``bool`` is refused; ``plain``: as
    :func:`positive_int`).

    Examples:
        >>> non_negative_int(0, "k_max")
        0
    """
    if not _is_int(value, plain) or value < 0:
        raise error(name, "a non-negative integer", value)
    return int(value)


def integer(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer in ``[low, high]`` (either bound optional).

    Examples:
        >>> integer(3, "nlayers", low=2)
        3
        >>> try:
        ...     integer(70000, "n_train", low=1, high=60000)
        ... except ValueError as e:
        ...     print(e)
        n_train must be an integer in [1, 60000], got 70000
    """
    if low is not None and high is not None:
        allowed = f"an integer in [{low}, {high}]"
    elif low is not None:
        allowed = f"an integer >= {low}"
    elif high is not None:
        allowed = f"an integer <= {high}"
    else:
        allowed = "an integer"
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        raise error(name, allowed, value)
    return int(value)


def _real_scalar(value: Any) -> float | None:
    """``float(value)`` for a real number (Python, numpy or 0-d tensor/array), else ``None``."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (Tensor, np.ndarray)) and value.ndim == 0:
        dtype = value.dtype
        if isinstance(value, Tensor):
            ok = not (dtype.is_complex or dtype == torch.bool)
        else:
            ok = np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
        return float(value) if ok else None
    return None


def finite_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    plain: bool = False,
) -> float:
    """``value`` as a ``float`` if it is a finite real number within the optional bounds.

    ``bool``, strings and complex numbers are refused. ``low``/``high`` are inclusive unless
    ``low_open``/``high_open``. ``plain=True`` accepts a Python ``int`` or ``float`` only (no
    numpy scalar or tensor): for the fields of a config stored as JSON.

    Examples:
        >>> finite_float(1, "gain")
        1.0
        >>> try:
        ...     finite_float(2.0, "rms_alpha", low=0.0, high=1.0, low_open=True)
        ... except ValueError as e:
        ...     print(e)
        rms_alpha must be in (0.0, 1.0], got 2.0
    """
    v = _real_scalar(value) if not plain or isinstance(value, (int, float)) else None
    if v is None or not math.isfinite(v):
        raise error(name, "a finite number", value)
    below = low is not None and (v < low or (low_open and v == low))
    above = high is not None and (v > high or (high_open and v == high))
    if below or above:
        if low is not None and high is not None:
            allowed = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            allowed = f"{'>' if low_open else '>='} {low}"
        else:
            allowed = f"{'<' if high_open else '<='} {high}"
        raise error(name, allowed, value)
    return v


def choice(value: Any, name: str, options: Sequence[Any]) -> Any:
    """``value`` if it is one of ``options`` (of the same type and equal).

    Examples:
        >>> choice("tanh", "nonlinearity", ("elu", "relu", "tanh"))
        'tanh'
    """
    for option in options:
        try:
            same = isinstance(value, type(option)) and bool(value == option)
        except Exception:  # e.g. an array compared with a string
            same = False
        if same:
            return value
    raise error(name, f"one of {list(options)}", value)


def flag(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` if it is ``True`` or ``False`` (numpy's too); a truthy string is refused.

    Examples:
        >>> flag(np.bool_(True), "balance")
        True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise error(name, "True or False", value)
    return bool(value)


# ----------------------------------------------------------------------------- arrays
def finite(x: Tensor | np.ndarray, name: str) -> Tensor | np.ndarray:
    """``x`` if every entry is finite; otherwise say how many are not and where the first is.

    Examples:
        >>> try:
        ...     finite(torch.tensor([1.0, float("nan")]), "v")
        ... except ValueError as e:
        ...     print(e)
        v must be finite, got 1 non-finite entry (nan at index (1,))
    """
    bad = ~torch.isfinite(x) if isinstance(x, Tensor) else ~np.isfinite(x)
    count = int(bad.sum())
    if count:
        idx = tuple(int(i) for i in (bad.nonzero()[0] if isinstance(x, Tensor) else np.argwhere(bad)[0]))
        got = f"{count} non-finite entr{'y' if count == 1 else 'ies'} ({float(x[idx])} at index {idx})"
        raise error(name, "finite", got, raw=True)
    return x


def _describe(x: Any) -> str:
    return f"shape {tuple(x.shape)}" if hasattr(x, "shape") else type(x).__name__


def float_tensor(t: Any, name: str, *, ndim: int | None = None, square: bool = False, nonempty: bool = True) -> Tensor:
    """``t`` if it is a real floating-point ``torch.Tensor`` of the required layout (for in-place fills).

    An integer tensor would silently truncate the values written into it, so it is refused;
    so are complex tensors and (by default) empty ones.

    Examples:
        >>> float_tensor(torch.empty(3, 3), "w", ndim=2, square=True).shape
        torch.Size([3, 3])
        >>> try:
        ...     float_tensor(torch.zeros(3, 3, dtype=torch.long), "w")
        ... except ValueError as e:
        ...     print(e)
        w must be a non-empty real floating-point tensor, got dtype torch.int64
    """
    layout = ("non-empty " if nonempty else "") + ("square " if square else "")
    layout += f"{2 if square else ndim}-D " if (square or ndim is not None) else ""
    allowed = f"a {layout}real floating-point tensor"
    if not isinstance(t, Tensor):
        raise error(name, allowed, type(t).__name__, raw=True)
    if not t.is_floating_point():
        raise error(name, allowed, f"dtype {t.dtype}", raw=True)
    if (ndim is not None and t.ndim != ndim) or (square and (t.ndim != 2 or t.shape[0] != t.shape[1])):
        raise error(name, allowed, _describe(t), raw=True)
    if nonempty and t.numel() == 0:
        raise error(name, allowed, _describe(t), raw=True)
    return t


def real_array(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    square: bool = False,
    length: int | None = None,
    nonempty: bool = True,
    check_finite: bool = True,
) -> Tensor:
    """``x`` (tensor, array or nested list of real numbers) as a new float64 CPU tensor, checked.

    Complex input is refused rather than silently losing its imaginary part; so are non-finite
    entries (unless ``check_finite=False``), the wrong number of dimensions, a non-square
    matrix when ``square``, a length other than ``length`` (for vectors) and empty input.

    Examples:
        >>> real_array([[0, 1], [1, 0]], "W", square=True).dtype
        torch.float64
        >>> try:
        ...     real_array(np.eye(2) * 1j, "W", square=True)
        ... except ValueError as e:
        ...     print(e)
        W must be a real-valued array, got dtype complex128
    """
    if isinstance(x, Tensor):
        if x.dtype.is_complex:
            raise error(name, "a real-valued array", f"dtype {x.dtype}", raw=True)
        t = x.detach().to("cpu", torch.float64, copy=True)
    else:
        try:
            a = np.asarray(x)
        except Exception:  # ragged lists and the like
            raise error(name, "a real-valued array", type(x).__name__, raw=True) from None
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
            raise error(name, "a real-valued array", f"dtype {a.dtype}", raw=True)
        t = torch.as_tensor(a.astype(np.float64, copy=True))
    if square:
        if t.ndim != 2 or t.shape[0] != t.shape[1] or (nonempty and t.numel() == 0):
            raise error(name, f"a {'non-empty ' if nonempty else ''}square matrix", _describe(t), raw=True)
    elif ndim is not None or length is not None:
        want = 1 if (ndim is None) else ndim
        if t.ndim != want or (length is not None and t.shape[0] != length):
            what = f"a vector of length {length}" if length is not None else f"a {want}-D array"
            raise error(name, what, _describe(t), raw=True)
    if nonempty and t.numel() == 0:
        raise error(name, "non-empty", _describe(t), raw=True)
    if check_finite:
        finite(t, name)
    return t


# ----------------------------------------------------------------------------- nonlinearities
def _linear(x: Tensor) -> Tensor:
    return x


#: the pointwise nonlinearities of the package's recurrent networks, name -> function.
NONLINEARITIES: dict[str, Callable[[Tensor], Tensor]] = {
    "elu": F.elu,
    "relu": torch.relu,
    "tanh": torch.tanh,
}

#: :data:`NONLINEARITIES` plus ``"linear"`` (the identity), for the linear networks of the theory.
WITH_LINEAR: dict[str, Callable[[Tensor], Tensor]] = {"linear": _linear, **NONLINEARITIES}


def nonlinearity(name: Any, *, allow_linear: bool = False) -> Callable[[Tensor], Tensor]:
    """The function called ``name`` in :data:`NONLINEARITIES` (or :data:`WITH_LINEAR`).

    Examples:
        >>> float(nonlinearity("relu")(torch.tensor(-2.0)))
        0.0
        >>> nonlinearity("linear", allow_linear=True)(3.0)
        3.0
    """
    table = WITH_LINEAR if allow_linear else NONLINEARITIES
    return table[choice(name, "nonlinearity", tuple(table))]


# ----------------------------------------------------------------------------- tables
def has_columns(table: Any, columns: Sequence[str], name: str) -> pd.DataFrame:
    """``table`` if it is a ``DataFrame`` with every one of ``columns``.

    Examples:
        >>> try:
        ...     has_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "runs")
        ... except ValueError as e:
        ...     print(e)
        runs must be a table with columns ['a', 'b'], got one without ['b']
    """
    have = list(table.columns) if isinstance(table, pd.DataFrame) else None
    missing = [c for c in columns if have is None or c not in have]
    if missing:
        got = type(table).__name__ if have is None else f"one without {missing}"
        raise error(name, f"a table with columns {list(columns)}", got, raw=True)
    return table
