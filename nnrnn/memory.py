r"""Fisher memory of noisy linear networks (Ganguli, Huh & Sompolinsky, 2008).

The network is :math:`h_t = W h_{t-1} + v s_t + z_t` with i.i.d. noise
:math:`z_t \sim \mathcal N(0, \sigma^2 I)` (Eq. 1 of Orhan & Pitkow, 2020). The Fisher memory
curve (Eq. 3) is

.. math:: J(k) = v^\top (W^k)^\top C^{-1} W^k v, \qquad C = \sigma^2 \sum_{k\ge 0} W^k (W^k)^\top,

and the total memory (Eq. 4) is :math:`J_\mathrm{tot} = \sum_k J(k)`. With a unit-norm ``v`` and
unit noise, :math:`J_\mathrm{tot} = 1` for every normal ``W`` and :math:`J_\mathrm{tot} \le N` for
every ``W``.

How ``C`` is computed
---------------------
``C`` exists only when the spectral radius of ``W`` is below 1.

* **Nilpotent W** (the chain, any gain): :math:`W^N = 0`, so the series is a finite sum and
  is computed exactly, term by term. No eigenvalues are involved, so this stays exact even for
  gains far above 1, where ``C`` spans many orders of magnitude.
* **Otherwise**: the discrete Lyapunov equation :math:`C = W C W^\top + \sigma^2 I` is solved by
  the doubling (Smith) iteration :math:`C \leftarrow C + A C A^\top,\ A \leftarrow A^2`, which sums
  :math:`2^m` terms of the series after ``m`` steps, in float64. It needs only matrix products,
  converges quadratically when :math:`\rho(W) < 1`, and we raise a ``ValueError`` if it does
  not converge (a non-contracting ``W``).

The total memory is computed without truncating the sum over ``k``:
:math:`J_\mathrm{tot} = \operatorname{tr}(C^{-1} C_v)`, where :math:`C_v = W C_v W^\top + v v^\top`
is the covariance of the signal part, found by the same method.

The companion experiment of Fig. 2 — how well a *linear* decoder recovers past inputs from a
noisy linear or a noiseless elu network — lives in :mod:`nnrnn.decoding`
(``decoding_curve``, ``run_fig2``), next to the closed forms it is checked against.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from . import validate
from .analysis import eigenvalues
from .init import chain_matrix, fb_chain_matrix, identity_matrix, orthogonal_matrix

__all__ = [
    "is_nilpotent",
    "noise_covariance",
    "fisher_memory_curve",
    "total_memory",
    "signal_norms",
    "chain_memory_curve",
    "chain_total_memory",
    "normal_memory_curve",
    "NETWORKS",
    "REFERENCE_TOTALS",
    "source_vector",
    "four_networks",
    "memory_curves",
    "total_vs_n",
    "reference_table",
]

_MAX_DOUBLINGS = 60


def _as_matrix(w, name: str = "W") -> Tensor:
    return validate.real_array(w, name, square=True)


def _as_vector(v, n: int) -> Tensor:
    return validate.real_array(v, "v", length=n)


def _sigma2(sigma2) -> float:
    return validate.finite_float(sigma2, "sigma2", low=0.0, low_open=True)


def is_nilpotent(w) -> bool:
    """True if ``W^N`` is exactly zero (e.g. any chain), checked by repeated squaring.

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> is_nilpotent(chain_matrix(5, 2.0)), is_nilpotent(torch.eye(3))
        (True, False)
    """
    w = _as_matrix(w)
    n = w.shape[0]
    # structural test: exact zeros propagate exactly through products of the pattern
    p = (w != 0).to(torch.float64)
    for _ in range(math.ceil(math.log2(n)) + 1 if n > 1 else 1):
        p = ((p @ p) != 0).to(torch.float64)
        if not p.any():
            return True
    return False


def _doubling(w: Tensor, q: Tensor) -> Tensor:
    """Solve X = W X W^T + Q by the doubling iteration (rho(W) < 1)."""
    x, a = q.clone(), w.clone()
    for _ in range(_MAX_DOUBLINGS):
        step = a @ x @ a.T
        x = x + step
        a = a @ a
        if not torch.isfinite(x).all():
            break
        if step.abs().max() <= 1e-17 * x.abs().max() and a.abs().max() < 1e-8:
            return x
    rho = float(np.abs(eigenvalues(w.numpy())).max())
    if rho < 1 and not torch.isfinite(x).all():  # contracting, but its transient growth overflows
        _overflow(w)
    raise validate.error(
        "W", "a matrix of spectral radius below 1 (or nilpotent), so that the noise covariance "
        "sum_k W^k Q W^kT exists", f"spectral radius {rho:.6g}", raw=True,
    )


def _exact_sum(w: Tensor, q: Tensor) -> Tensor:
    """X = sum_{k<N} W^k Q W^kT for nilpotent W (exact, finitely many terms)."""
    x, term = q.clone(), q.clone()
    for _ in range(w.shape[0]):
        term = w @ term @ w.T
        if not term.any():
            break
        x = x + term
    if not torch.isfinite(x).all():
        _overflow(w)
    return x


def _overflow(w: Tensor) -> None:
    raise validate.error(
        "W", "small enough for its noise covariance sum_k W^k W^kT to fit in float64 (it overflows; "
        "for a chain use chain_memory_curve)", f"max |W_ij| = {float(w.abs().max()):.3g}", raw=True,
    )


def _series(w: Tensor, q: Tensor, method: str) -> Tensor:
    validate.choice(method, "method", ("auto", "exact", "lyapunov"))
    nil = is_nilpotent(w)
    if method == "exact" and not nil:
        raise validate.error("W", "nilpotent (W^N = 0, e.g. a chain) for method='exact'", "W^N != 0", raw=True)
    if method == "exact" or (method == "auto" and nil):
        return _exact_sum(w, q)
    return _doubling(w, q)


def noise_covariance(w, sigma2: float = 1.0, method: str = "auto") -> Tensor:
    r"""Stationary noise covariance :math:`C = \sigma^2 \sum_k W^k (W^k)^\top` in float64.

    Args:
        w: square recurrent matrix with spectral radius below 1 (or nilpotent).
        sigma2: noise variance per unit and step. Default: ``1.0``.
        method: ``"auto"`` (exact sum for nilpotent W, doubling otherwise), ``"exact"`` or
            ``"lyapunov"``.

    Examples:
        >>> c = noise_covariance(0.5 * torch.eye(2))
        >>> [round(x, 6) for x in torch.diagonal(c).tolist()]   # 1 / (1 - 0.25)
        [1.333333, 1.333333]
    """
    w = _as_matrix(w)
    sigma2 = _sigma2(sigma2)
    return _series(w, sigma2 * torch.eye(w.shape[0], dtype=torch.float64), method)


def fisher_memory_curve(w, v, k_max: int | None = None, sigma2: float = 1.0, method: str = "auto") -> Tensor:
    r"""The Fisher memory curve :math:`J(k)` for :math:`k = 0, \dots, k_{max}` (Eq. 3).

    Args:
        w: square recurrent matrix (spectral radius below 1, or nilpotent).
        v: input vector; ``e_0`` puts the signal at a chain's source.
        k_max: last lag. Default: ``2 N``.
        sigma2: noise variance. Default: ``1.0``.
        method: see :func:`noise_covariance`.

    Returns:
        float64 tensor of length ``k_max + 1``.

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> j = fisher_memory_curve(chain_matrix(4, 1.0), torch.eye(4)[0], k_max=5)
        >>> [round(x, 4) for x in j.tolist()]          # 1/(k+1) for k < N, then 0
        [1.0, 0.5, 0.3333, 0.25, 0.0, 0.0]
    """
    w = _as_matrix(w)
    n = w.shape[0]
    v = _as_vector(v, n)
    k_max = 2 * n if k_max is None else validate.non_negative_int(k_max, "k_max")
    c = noise_covariance(w, sigma2, method)
    powers = torch.empty(k_max + 1, n, dtype=torch.float64)
    x = v.clone()
    for k in range(k_max + 1):
        powers[k] = x
        x = w @ x
    sol = torch.linalg.solve(c, powers.T)  # C^{-1} W^k v, one column per k
    return (powers.T * sol).sum(dim=0)


def total_memory(w, v, sigma2: float = 1.0, method: str = "auto") -> float:
    r"""Total Fisher memory :math:`J_\mathrm{tot} = \sum_{k\ge0} J(k) = \operatorname{tr}(C^{-1} C_v)`.

    Exact (no truncation in k): :math:`C_v = \sum_k W^k v v^\top (W^k)^\top` is found like ``C``.

    Examples:
        >>> from nnrnn.init import chain_matrix, orthogonal_matrix
        >>> round(total_memory(chain_matrix(3, 1.0), torch.eye(3)[0]), 6)   # H_3 = 1 + 1/2 + 1/3
        1.833333
        >>> q = orthogonal_matrix(6, 0.9, generator=torch.Generator().manual_seed(0))
        >>> round(total_memory(q, torch.eye(6)[2]), 6)                     # normal: exactly 1
        1.0
    """
    w = _as_matrix(w)
    v = _as_vector(v, w.shape[0])
    c = noise_covariance(w, sigma2, method)
    cv = _series(w, torch.outer(v, v), method)
    return float(torch.trace(torch.linalg.solve(c, cv)))


def signal_norms(w, v, k_max: int) -> Tensor:
    r"""Signal magnitudes :math:`\lVert W^k v \rVert` for :math:`k = 0, \dots, k_{max}` (Fig. 1c).

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> [round(x, 3) for x in signal_norms(chain_matrix(3, 2.0), torch.eye(3)[0], 4).tolist()]
        [1.0, 2.0, 4.0, 0.0, 0.0]
    """
    w = _as_matrix(w)
    x = _as_vector(v, w.shape[0])
    k_max = validate.non_negative_int(k_max, "k_max")
    out = torch.empty(k_max + 1, dtype=torch.float64)
    for k in range(k_max + 1):
        out[k] = torch.linalg.vector_norm(x)
        x = w @ x
    return out


def chain_memory_curve(n: int, alpha: float, k_max: int | None = None) -> Tensor:
    r"""Closed form for a chain of gain ``alpha`` with ``v = e_0`` and unit noise.

    .. math:: J(k) = \frac{\alpha^{2k}}{\sum_{j=0}^{k} \alpha^{2j}} \ (k < N), \qquad J(k) = 0 \ (k \ge N)

    Computed as :math:`1 / \sum_{j=0}^{k} \alpha^{-2j}`, which never overflows.

    Examples:
        >>> [round(x, 4) for x in chain_memory_curve(3, 1.0, 3).tolist()]
        [1.0, 0.5, 0.3333, 0.0]
    """
    n = validate.positive_int(n, "n")
    alpha = validate.finite_float(alpha, "alpha", low=0.0, low_open=True)
    k_max = 2 * n if k_max is None else validate.non_negative_int(k_max, "k_max")
    k = torch.arange(k_max + 1, dtype=torch.float64)
    inv = torch.cumsum(torch.tensor(alpha, dtype=torch.float64) ** (-2 * k), dim=0)
    j = 1.0 / inv
    j[k >= n] = 0.0
    return j


def chain_total_memory(n: int, alpha: float) -> float:
    """Closed-form :math:`J_{tot}` of a chain (the sum of :func:`chain_memory_curve`).

    Examples:
        >>> round(chain_total_memory(20, 1.0), 3)       # the harmonic number H_20
        3.598
    """
    return float(chain_memory_curve(n, alpha, n - 1).sum())


def normal_memory_curve(lam: float, k_max: int) -> Tensor:
    r"""Closed form for a normal :math:`\lambda Q` with unit ``v``: :math:`J(k) = \lambda^{2k}(1-\lambda^2)`.

    Examples:
        >>> round(float(normal_memory_curve(0.9, 2000).sum()), 6)
        1.0
    """
    lam = validate.finite_float(lam, "lam", low=-1.0, high=1.0, low_open=True, high_open=True)
    k_max = validate.non_negative_int(k_max, "k_max")
    k = torch.arange(k_max + 1, dtype=torch.float64)
    return (lam ** (2 * k)) * (1 - lam**2)


# ----------------------------------------------------------------------------- the four networks of Fig. 1
#: the four recurrent matrices of the paper's Fig. 1a, in the order chapter 01 draws them.
NETWORKS = ("identity", "orthogonal", "chain", "fb_chain")

#: Reference values of :math:`J_\mathrm{tot}` computed independently (closed form and a
#: Lyapunov solve) when the book was planned, rounded: ``(network, gain, feedback, N, value,
#: decimals)``; ``gain`` is α for the chains and λ for λ·Q (random unit ``v``); the chains take
#: ``v = e_0``.
REFERENCE_TOTALS: list[tuple[str, float, float | None, int, float, int]] = [
    ("chain", 1.00, None, 20, 3.598, 3), ("chain", 1.02, None, 20, 3.943, 3), ("chain", 1.05, None, 20, 4.511, 3),
    ("chain", 1.10, None, 20, 5.530, 3), ("chain", 1.50, None, 20, 11.786, 3), ("chain", 2.00, None, 20, 15.316, 3),
    ("chain", 1.00, None, 100, 5.187, 3), ("chain", 1.02, None, 100, 7.606, 3), ("chain", 1.05, None, 100, 12.087, 3),
    ("chain", 1.10, None, 100, 19.433, 3), ("chain", 1.50, None, 100, 56.23, 2), ("chain", 2.00, None, 100, 75.32, 2),
    ("fb_chain", 1.02, 0.04, 100, 8.42, 2), ("fb_chain", 0.99, 0.04, 100, 5.35, 2),
    ("orthogonal", 0.90, None, 20, 1.0, 3), ("orthogonal", 0.99, None, 20, 1.0, 3),
    ("orthogonal", 0.90, None, 100, 1.0, 3), ("orthogonal", 0.99, None, 100, 1.0, 3),
]


def source_vector(n: int) -> Tensor:
    """The unit input vector :math:`e_0` (float64): the input enters a chain at its source.

    Examples:
        >>> source_vector(3).tolist()
        [1.0, 0.0, 0.0]
    """
    e0 = torch.zeros(validate.positive_int(n, "n"), dtype=torch.float64)
    e0[0] = 1.0
    return e0


def four_networks(
    n: int,
    *,
    lam: float = 0.9,
    alpha: float = 1.05,
    fb_alpha: float = 0.99,
    beta: float = 0.04,
    generator: torch.Generator | None = None,
) -> dict[str, tuple[Tensor, Tensor]]:
    r"""The (W, v) pairs of the four networks of Fig. 1a, keyed by :data:`NETWORKS`.

    ``lam·I`` and ``lam·Q`` (Q Haar-random) share one random unit input vector (for a normal W
    every unit ``v`` gives the same memory); the chain of gain ``alpha`` and the feedback chain
    (forward ``fb_alpha``, feedback ``beta``) take :math:`v = e_0`, their source. ``generator``
    draws Q first, then ``v``; nothing else is random.

    Examples:
        >>> nets = four_networks(4, generator=torch.Generator().manual_seed(0))
        >>> list(nets), nets["chain"][1].tolist(), float(nets["chain"][0][1, 0])
        (['identity', 'orthogonal', 'chain', 'fb_chain'], [1.0, 0.0, 0.0, 0.0], 1.05)
        >>> round(float(nets["identity"][1].norm()), 12), nets["identity"][1] is nets["orthogonal"][1]
        (1.0, True)
    """
    q = orthogonal_matrix(n, lam, generator=generator)
    v = torch.randn(n, generator=generator, dtype=torch.float64)
    v = v / torch.linalg.vector_norm(v)
    e0 = source_vector(n)
    return {
        "identity": (identity_matrix(n, lam), v),
        "orthogonal": (q, v),
        "chain": (chain_matrix(n, alpha), e0),
        "fb_chain": (fb_chain_matrix(n, beta, fb_alpha), e0),
    }


def memory_curves(
    n: int,
    k_max: int,
    *,
    lam: float = 0.9,
    alpha: float = 1.05,
    fb_alpha: float = 0.99,
    beta: float = 0.04,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    r"""Figs. 1b-c for the :func:`four_networks`: ``J_<name>`` (:func:`fisher_memory_curve` up to
    ``k_max``), ``norm_<name>`` (:func:`signal_norms`) and ``jtot_<name>`` (:func:`total_memory`).

    ``lam``, ``alpha``, ``fb_alpha``, ``beta`` and ``generator`` are those of :func:`four_networks`.

    Examples:
        >>> out = memory_curves(5, 6, generator=torch.Generator().manual_seed(0), alpha=1.0)
        >>> round(out["jtot_chain"], 6), round(out["jtot_orthogonal"], 6), out["J_chain"].shape
        (2.283333, 1.0, torch.Size([7]))
    """
    k_max = validate.non_negative_int(k_max, "k_max")
    out: dict[str, Any] = {}
    nets = four_networks(n, lam=lam, alpha=alpha, fb_alpha=fb_alpha, beta=beta, generator=generator)
    for name, (w, v) in nets.items():
        out[f"J_{name}"] = fisher_memory_curve(w, v, k_max)
        out[f"norm_{name}"] = signal_norms(w, v, k_max)
        out[f"jtot_{name}"] = total_memory(w, v)
    return out


def total_vs_n(
    ns: Sequence[int],
    *,
    lam: float = 0.9,
    alpha: float = 1.05,
    fb_alpha: float = 0.99,
    beta: float = 0.04,
    generator: torch.Generator | None = None,
) -> dict[str, list]:
    r""":math:`J_\mathrm{tot}` of the :func:`four_networks` at each size in ``ns`` (fresh Q and
    ``v`` at every size, drawn in order from ``generator``), and the chain's closed form.

    Returns ``{"ns": [...], "identity": [...], "orthogonal": [...], "chain": [...],
    "fb_chain": [...], "chain_closed": [...]}``.

    Examples:
        >>> out = total_vs_n([3, 6], generator=torch.Generator().manual_seed(0), alpha=1.0)
        >>> [round(x, 4) for x in out["chain"]], [round(x, 6) for x in out["identity"]]
        ([1.8333, 2.45], [1.0, 1.0])
    """
    ns = [validate.positive_int(n, "each size in ns") for n in ns]
    out: dict[str, list] = {name: [] for name in NETWORKS}
    out["chain_closed"] = []
    for n in ns:
        nets = four_networks(n, lam=lam, alpha=alpha, fb_alpha=fb_alpha, beta=beta, generator=generator)
        for name, (w, v) in nets.items():
            out[name].append(total_memory(w, v))
        out["chain_closed"].append(chain_total_memory(n, alpha))
    return {"ns": list(ns), **out}


def reference_table(
    rows: Sequence[tuple] = REFERENCE_TOTALS, *, generator: torch.Generator | None = None
) -> dict[str, list[float]]:
    r"""Our :math:`J_\mathrm{tot}` (``"ours"``) and the closed form (``"closed"``: the chain's,
    1 for λ·Q, NaN for the feedback chain) for each row of :data:`REFERENCE_TOTALS`.

    Each row's network comes from :func:`four_networks` with the row's gain (and feedback).

    Examples:
        >>> t = reference_table(REFERENCE_TOTALS[:1] + REFERENCE_TOTALS[-1:], generator=torch.Generator().manual_seed(0))
        >>> [round(x, 3) for x in t["ours"]], [round(x, 3) for x in t["closed"]]
        ([3.598, 1.0], [3.598, 1.0])
    """
    ours, closed = [], []
    for row in rows:
        name, gain, fb, n = row[:4]
        validate.choice(name, "network", ("chain", "fb_chain", "orthogonal"))
        nets = four_networks(n, lam=gain, alpha=gain, fb_alpha=gain, beta=0.04 if fb is None else fb, generator=generator)
        ours.append(total_memory(*nets[name]))
        closed.append({"chain": chain_total_memory(n, gain), "fb_chain": float("nan"), "orthogonal": 1.0}[name])
    return {"ours": ours, "closed": closed}
