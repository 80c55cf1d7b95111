r"""Analysis of recurrent weight matrices: departure from normality and hidden chains.

* :func:`henrici` — Henrici's departure from normality (Henrici, 1962),
  :math:`d(W) = \sqrt{\lVert W\rVert_F^2 - \sum_i |\lambda_i|^2}`.
* :func:`pulse_response`, :func:`peak_order`, :func:`order_profile` — the analysis of Fig. 5
  of Orhan & Pitkow (2020), after Rajan, Harvey & Tank (2016): drive the network with one
  input pulse, order the units by the time of their peak response, and average the recurrent
  weight :math:`W_{ij}` (from unit j to unit i) at each order difference ``i - j``. A positive
  difference is a connection from an earlier-peaking unit to a later one ("forward").

Why eigenvalues need care here
------------------------------
The eigenvalues of chain-like matrices are extremely ill-conditioned: a perturbation of size
ε moves the eigenvalues of an N-unit chain by about :math:`ε^{1/N}`. The QR algorithm makes
backward errors of size :math:`10^{-16}\lVert W\rVert`, so for the N = 100 feedback chain
(0.99 forward, 0.04 back) ``numpy.linalg.eigvals`` reports a spectral radius near 0.74
where the exact value is :math:`2\sqrt{\alpha\beta}\cos(\pi/(N+1)) \approx 0.398`, and a
Henrici index from those eigenvalues comes out about 20 % too low.

:func:`henrici` therefore (1) takes the diagonal as the exact spectrum when ``W`` is
triangular (a pure chain, for instance), and otherwise (2) first *balances* ``W`` with
the diagonal similarity :math:`D^{-1} W D` of least Frobenius norm (the fixed point of
Osborne's iteration, found by Newton's method), which leaves the eigenvalues unchanged. For the feedback chain
the balanced matrix is the symmetric tridiagonal one with off-diagonals
:math:`\sqrt{\alpha\beta}`, whose eigenvalues are perfectly conditioned. LAPACK's own
balancing (power-of-two factors, a loose stopping rule) stops far short of that.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "balance",
    "eigenvalues",
    "henrici",
    "henrici_naive",
    "fb_chain_eigenvalues",
    "pulse_response",
    "peak_order",
    "order_profile",
    "pulse_order_profile",
]

_NONLIN = {
    "linear": lambda x: x,
    "elu": torch.nn.functional.elu,
    "relu": torch.relu,
    "tanh": torch.tanh,
}


def _matrix(w) -> np.ndarray:
    if isinstance(w, Tensor):
        w = w.detach().cpu().to(torch.float64).numpy()
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ValueError(f"expected a non-empty square matrix, got shape {tuple(w.shape)}")
    if not np.isfinite(w).all():
        raise ValueError("matrix contains non-finite values")
    return w


def balance(w, max_iter: int = 100, tol: float = 1e-13) -> np.ndarray:
    r"""Balance ``W``: the diagonal similarity :math:`D^{-1} W D` of smallest Frobenius norm.

    This is the fixed point of Osborne's (1960) iteration (rows and columns of equal
    off-diagonal norm), found here by Newton's method on the convex objective
    :math:`f(x) = \sum_{i \ne j} W_{ij}^2 e^{2(x_j - x_i)}` over the log-scales
    :math:`x = \log\operatorname{diag}(D)`, with a backtracking line search. Newton converges
    in a handful of steps even where Osborne's sweeps crawl (the N = 1000 feedback chain needs
    a scale ratio near :math:`10^{700}` between its ends; entries are formed in the log
    domain, so nothing overflows). A similarity leaves the eigenvalues unchanged.

    Examples:
        >>> from nnrnn.init import fb_chain_matrix
        >>> b = balance(fb_chain_matrix(5, beta=0.04, alpha=1.0).numpy())
        >>> bool(np.allclose(b, b.T, atol=1e-8))   # symmetric: off-diagonals sqrt(0.04) = 0.2
        True
    """
    w = _matrix(w)
    n = w.shape[0]
    a = w**2
    np.fill_diagonal(a, 0.0)
    nz = a > 0
    log_a = np.log(np.where(nz, a, 1.0))

    def terms(x: np.ndarray) -> np.ndarray:
        return np.where(nz, np.exp(np.where(nz, log_a + 2 * (x[None, :] - x[:, None]), 0.0)), 0.0)

    x = np.zeros(n)
    m = terms(x)
    f = m.sum()
    for _ in range(max_iter):
        grad = 2 * (m.sum(axis=0) - m.sum(axis=1))
        if f == 0 or np.abs(grad).max() <= tol * f:
            break
        s = m + m.T
        hess = 4 * (np.diag(s.sum(axis=1)) - s) + 1e-12 * f * np.eye(n)
        step = np.linalg.solve(hess, -grad)
        t = 1.0
        while True:
            x_new = x + t * step
            m_new = terms(x_new)
            f_new = m_new.sum()
            if f_new <= f + 1e-4 * t * (grad @ step) or t < 1e-10:
                break
            t *= 0.5
        if f_new >= f:
            break
        x, m, f = x_new, m_new, f_new
    nzw = w != 0
    b = np.where(nzw, w * np.exp(np.where(nzw, x[None, :] - x[:, None], 0.0)), 0.0)
    np.fill_diagonal(b, np.diag(w))
    return b


_balance = balance


def eigenvalues(w, balance: bool = True) -> np.ndarray:
    """Eigenvalues of ``W``: exact for triangular ``W``, else from the balanced matrix (:func:`balance`).

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> eigenvalues(chain_matrix(50, 1.0)).tolist() == [0.0] * 50
        True
    """
    w = _matrix(w)
    if not np.any(np.triu(w, 1)) or not np.any(np.tril(w, -1)):
        return np.diag(w).astype(complex)
    return np.linalg.eigvals(_balance(w) if balance else w)


def henrici(w, balance: bool = True) -> float:
    r"""Henrici's departure from normality :math:`d(W) = \sqrt{\lVert W\rVert_F^2 - \sum_i|\lambda_i|^2}`.

    0 for normal matrices (identity, orthogonal, symmetric); :math:`\alpha\sqrt{N-1}` for a
    chain of gain α. See the module docstring for how the eigenvalues are made accurate.

    Args:
        w: square matrix (tensor or array).
        balance: balance before the eigen-solve (default ``True``); ``False`` gives the
            naive value, kept to show the pitfall.

    Examples:
        >>> from nnrnn.init import chain_matrix, orthogonal_matrix
        >>> round(henrici(chain_matrix(10, 2.0)), 6)               # 2 * sqrt(9)
        6.0
        >>> henrici(orthogonal_matrix(8, generator=torch.Generator().manual_seed(0))) < 1e-6
        True
    """
    w = _matrix(w)
    lam = eigenvalues(w, balance=balance)
    d2 = float(np.sum(w**2) - np.sum(np.abs(lam) ** 2))
    return math.sqrt(max(d2, 0.0))


def henrici_naive(w) -> float:
    """Henrici index from unbalanced LAPACK eigenvalues (the inaccurate way; for comparison)."""
    w = _matrix(w)
    lam = np.linalg.eigvals(w)
    return math.sqrt(max(float(np.sum(w**2) - np.sum(np.abs(lam) ** 2)), 0.0))


def fb_chain_eigenvalues(n: int, beta: float = 0.04, alpha: float = 0.99) -> np.ndarray:
    r"""Exact eigenvalues of the tridiagonal Toeplitz feedback chain: :math:`2\sqrt{\alpha\beta}\cos(k\pi/(N+1))`.

    Examples:
        >>> round(float(np.max(np.abs(fb_chain_eigenvalues(100)))), 3)
        0.398
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if alpha * beta < 0:
        raise ValueError(f"alpha * beta must be non-negative for real eigenvalues, got {alpha * beta!r}")
    k = np.arange(1, n + 1)
    return 2 * math.sqrt(alpha * beta) * np.cos(k * math.pi / (n + 1))


# ----------------------------------------------------------------------------- hidden chains
def pulse_response(
    weight_hh,
    weight_ih=None,
    bias=None,
    *,
    nonlinearity: Literal["linear", "elu", "relu", "tanh"] = "elu",
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
) -> Tensor:
    r"""Response of :math:`h_t = f(W h_{t-1} + U x_t + b)` to one input pulse, then free running.

    At step 0 the input is ``amplitude`` on ``channel`` (zero elsewhere), from ``h_{-1} = 0``;
    afterwards the input is zero for ``steps`` steps. Without ``weight_ih`` the pulse is a unit
    vector into unit ``channel``.

    Returns:
        float64 tensor of shape ``(steps + 1, N)``: the hidden state after each step.

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> r = pulse_response(chain_matrix(4, 1.0), nonlinearity="linear", steps=3)
        >>> r.argmax(dim=0).tolist()                # unit k peaks at step k
        [0, 1, 2, 3]
    """
    w = torch.as_tensor(_matrix(weight_hh))
    n = w.shape[0]
    if nonlinearity not in _NONLIN:
        raise ValueError(f"nonlinearity must be one of {sorted(_NONLIN)}, got {nonlinearity!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    f = _NONLIN[nonlinearity]
    if weight_ih is None:
        if not 0 <= channel < n:
            raise ValueError(f"channel must be in [0, {n}), got {channel!r}")
        drive = torch.zeros(n, dtype=torch.float64)
        drive[channel] = amplitude
    else:
        u = torch.as_tensor(weight_ih).detach().cpu().to(torch.float64)
        if u.ndim != 2 or u.shape[0] != n:
            raise ValueError(f"weight_ih must have shape ({n}, d), got {tuple(u.shape)}")
        if not 0 <= channel < u.shape[1]:
            raise ValueError(f"channel must be in [0, {u.shape[1]}), got {channel!r}")
        drive = amplitude * u[:, channel]
    b = torch.zeros(n, dtype=torch.float64) if bias is None else torch.as_tensor(bias).detach().cpu().to(torch.float64)
    out = torch.empty(steps + 1, n, dtype=torch.float64)
    h = f(drive + b)
    out[0] = h
    for t in range(1, steps + 1):
        h = f(w @ h + b)
        out[t] = h
    return out


def peak_order(response, jitter: float = 1e-3, *, generator: torch.Generator | None = None) -> Tensor:
    """Order units by the step of their peak response; ``U(0, jitter)`` noise breaks ties.

    Returns ``order`` with ``order[r]`` the unit at rank ``r`` (earliest peak first).

    Examples:
        >>> resp = torch.tensor([[0., 1., 0.], [1., 0., 0.], [0., 0., 1.]])   # peaks at 1, 0, 2
        >>> peak_order(resp, generator=torch.Generator().manual_seed(0)).tolist()
        [1, 0, 2]
    """
    r = torch.as_tensor(response, dtype=torch.float64)
    if r.ndim != 2:
        raise ValueError(f"response must have shape (steps, N), got {tuple(r.shape)}")
    if not (jitter >= 0 and math.isfinite(jitter)):
        raise ValueError(f"jitter must be a non-negative finite number, got {jitter!r}")
    peak = r.argmax(dim=0).to(torch.float64)
    noise = torch.rand(r.shape[1], generator=generator, dtype=torch.float64) * jitter
    return torch.argsort(peak + noise, stable=True)


def order_profile(weight_hh, order) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean recurrent weight :math:`W_{ij}` at each order difference ``rank(i) - rank(j)``.

    Returns ``(lags, mean)`` for lags ``-(N-1) ... N-1``; the mean runs over all ordered
    pairs (i, j) at that lag (the diagonal is lag 0).

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> lags, m = order_profile(chain_matrix(5, 1.0), torch.arange(5))
        >>> float(m[lags == 1][0]), float(np.abs(m[lags != 1]).max())
        (1.0, 0.0)
    """
    w = _matrix(weight_hh)
    n = w.shape[0]
    order = np.asarray(torch.as_tensor(order).cpu(), dtype=np.int64)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError(f"order must be a permutation of range({n}), got {order.tolist()[:10]}...")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    lag = rank[:, None] - rank[None, :]
    lags = np.arange(-(n - 1), n)
    sums = np.bincount((lag + n - 1).ravel(), weights=w.ravel(), minlength=2 * n - 1)
    counts = np.bincount((lag + n - 1).ravel(), minlength=2 * n - 1)
    return lags, sums / counts


def pulse_order_profile(
    weight_hh,
    weight_ih=None,
    bias=None,
    *,
    nonlinearity: str = "elu",
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
    jitter: float = 1e-3,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole Fig. 5 procedure for one network: pulse, peak order, weight profile.

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> lags, m = pulse_order_profile(chain_matrix(6, 1.0), nonlinearity="linear", steps=10)
        >>> int(lags[np.argmax(m)])
        1
    """
    resp = pulse_response(
        weight_hh, weight_ih, bias, nonlinearity=nonlinearity, steps=steps, channel=channel, amplitude=amplitude
    )
    return order_profile(weight_hh, peak_order(resp, jitter, generator=generator))
