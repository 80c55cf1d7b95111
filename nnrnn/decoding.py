r"""Linear decoding of past inputs: "nonlinearity acts like noise" (Orhan & Pitkow, 2020, Eq. 5, Fig. 2).

A network receives a scalar signal :math:`s_t \sim \mathcal N(0, \sigma_s^2)`, i.i.d. over
time, and runs

.. math:: h_t = f(W h_{t-1} + v\, s_t + z_t), \qquad z_t \sim \mathcal N(0, \sigma^2 I),

from :math:`h_0 = 0` for ``steps`` steps. Without noise (:math:`\sigma = 0`) this is the
paper's Eq. 5; with noise and a linear ``f`` it is its Eq. 1.

We then ask how well a **linear** readout of the final state recovers the input ``k`` steps
back: for every lag :math:`k = 0, \dots, T-1` a least-squares decoder of :math:`s_{T-k}` from
:math:`h_T` (with an intercept) is fitted on ``n_train`` independent sequences and scored by
the coefficient of determination :math:`R^2(k)` on ``n_test`` held-out sequences.

The paper's three settings (Fig. 2a–c) are available as :data:`SETTINGS`:

* ``"linear"``: :math:`f(x) = x`, no noise. Every input of the last N steps is exactly
  recoverable from a generic N-unit state (R² = 1).
* ``"noisy"``: :math:`f(x) = x` with noise of standard deviation ``noise`` (default 1).
* ``"elu"``: :math:`f = \mathrm{elu}` (Clevert et al., 2016), no noise.

Beyond N = 100, elu and the chain's gain and input, the paper fixes none of the sizes, the signal
law, the noise level, the decoder or the score; every such choice is a parameter here, with the
defaults we chose stated in :func:`run_fig2`. The networks are those of the paper's argument (:func:`network`): a chain with its input at the source
(``v = e_0``), a scaled random orthogonal matrix with a random unit input vector, and a scaled
identity with ``v = 1`` (all ones).

Orientation: ``W[i, j]`` is the weight from unit j to unit i, as everywhere in ``nnrnn``
(see :mod:`nnrnn.init`); the chain's unit 0 is its source. All randomness (the orthogonal
draw, the input vector, the signals and the noise) comes from the ``generator`` argument; the
global RNG is never touched. Everything is computed in float64 on the CPU.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from . import validate
from .init import chain_matrix, fb_chain_matrix, identity_matrix, orthogonal_matrix
from .verdicts import Verdict, difference_verdict

__all__ = [
    "Setting",
    "NetworkName",
    "SETTINGS",
    "NETWORKS",
    "NONLINEARITIES",
    "network",
    "sample_signal",
    "simulate",
    "fit_readout",
    "r2_score",
    "decoding_curve",
    "linear_decoding_r2",
    "chain_nonlinear_r2",
    "run_fig2",
    "memory_capacity",
    "capacity_verdict",
]

Setting = Literal["linear", "noisy", "elu"]
NetworkName = Literal["chain", "fb_chain", "orthogonal", "identity"]

#: the paper's three settings (Fig. 2a-c): setting -> (nonlinearity, uses noise).
SETTINGS: dict[str, tuple[str, bool]] = {
    "linear": ("linear", False),
    "noisy": ("linear", True),
    "elu": ("elu", False),
}

#: networks understood by :func:`network`.
NETWORKS: tuple[str, ...] = ("chain", "fb_chain", "orthogonal", "identity")

#: pointwise nonlinearities understood by :func:`simulate`: :data:`nnrnn.validate.WITH_LINEAR`.
NONLINEARITIES = validate.WITH_LINEAR

_F64 = torch.float64


# ----------------------------------------------------------------------------- validation
_pos_int = validate.positive_int


def _finite(value, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    return validate.finite_float(value, name, low=minimum, low_open=strict)


def _nonlinearity(name: str):
    return validate.nonlinearity(name, allow_linear=True)


def _weights(w, v) -> tuple[Tensor, Tensor]:
    w = validate.real_array(w, "w", square=True)
    return w, validate.real_array(v, "v", length=w.shape[0])


# ----------------------------------------------------------------------------- networks
def network(
    name: str,
    n: int = 100,
    *,
    alpha: float = 1.0,
    beta: float = 0.04,
    fb_alpha: float = 0.99,
    lam: float = 0.9,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Return ``(W, v)``, a recurrent matrix and its input vector, as the paper pairs them in §2.

    * ``"chain"``: :math:`W_{ij} = \alpha\,\delta_{j,i-1}` with ``v = e_0`` (input at the source);
    * ``"fb_chain"``: forward gain ``fb_alpha`` plus feedback ``beta``, ``v = e_0``;
    * ``"orthogonal"``: :math:`\lambda Q`, Q Haar-random on O(N), with a random unit vector
      ``v`` (uniform on the sphere); both are drawn from ``generator``, Q first;
    * ``"identity"``: :math:`\lambda I` with ``v = 1`` (all ones), as in the paper's argument.

    Args:
        name: one of :data:`NETWORKS`.
        n: number of units. Default: ``100``.
        alpha: chain gain. Default: ``1.0`` (the paper's Eq. 5 example).
        beta: feedback gain of the feedback chain. Default: ``0.04``.
        fb_alpha: forward gain of the feedback chain. Default: ``0.99``.
        lam: scale of the normal networks. Default: ``0.9`` (our choice; not stated in the paper).
        generator: source of randomness for ``"orthogonal"``.

    Returns:
        float64 tensors ``W`` of shape ``(n, n)`` and ``v`` of shape ``(n,)``.

    Examples:
        >>> w, v = network("chain", 4)
        >>> w[1, 0].item(), v.tolist()
        (1.0, [1.0, 0.0, 0.0, 0.0])
        >>> w, v = network("orthogonal", 5, generator=torch.Generator().manual_seed(0))
        >>> round(float(v.norm()), 12), bool(torch.allclose(w @ w.T, 0.81 * torch.eye(5, dtype=w.dtype)))
        (1.0, True)
    """
    n = _pos_int(n, "n")
    validate.choice(name, "name", NETWORKS)
    e0 = torch.zeros(n, dtype=_F64)
    e0[0] = 1.0
    if name == "chain":
        return chain_matrix(n, _finite(alpha, "alpha")), e0
    if name == "fb_chain":
        return fb_chain_matrix(n, _finite(beta, "beta"), _finite(fb_alpha, "fb_alpha")), e0
    lam = _finite(lam, "lam")
    if name == "identity":
        return identity_matrix(n, lam), torch.ones(n, dtype=_F64)
    w = orthogonal_matrix(n, lam, generator=generator)
    v = torch.randn(n, generator=generator, dtype=_F64)
    return w, v / torch.linalg.vector_norm(v)


# ----------------------------------------------------------------------------- simulation
def sample_signal(
    batch: int, steps: int, *, signal_std: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Draw ``batch`` i.i.d. signal sequences :math:`s_t \sim \mathcal N(0, \sigma_s^2)` of length ``steps``.

    Examples:
        >>> sample_signal(3, 5, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3, 5])
    """
    batch, steps = _pos_int(batch, "batch"), _pos_int(steps, "steps")
    signal_std = _finite(signal_std, "signal_std", minimum=0.0, strict=True)
    return signal_std * torch.randn(batch, steps, generator=generator, dtype=_F64)


def simulate(
    w,
    v,
    signal,
    *,
    nonlinearity: str = "linear",
    noise: float = 0.0,
    generator: torch.Generator | None = None,
    return_sequence: bool = False,
) -> Tensor:
    r"""Run :math:`h_t = f(W h_{t-1} + v s_t + z_t)` from :math:`h_0 = 0` over a batch of signals.

    ``z_t`` is i.i.d. Gaussian noise of standard deviation ``noise`` at every unit and step,
    drawn from ``generator`` one step at a time (batch-major), so the result depends only on
    the generator's state.

    Args:
        w: recurrent matrix, shape ``(N, N)``; ``W[i, j]`` is the weight from unit j to unit i.
        v: input vector, shape ``(N,)``.
        signal: scalar input sequences, shape ``(batch, T)``.
        nonlinearity: one of :data:`NONLINEARITIES`. Default: ``"linear"``.
        noise: noise standard deviation. Default: ``0.0``.
        generator: source of the noise.
        return_sequence: return every state, shape ``(batch, T, N)``, instead of the last one.

    Returns:
        float64 tensor: the final state :math:`h_T`, shape ``(batch, N)`` (or all states).

    Examples:
        >>> w, v = network("chain", 3)
        >>> s = torch.tensor([[1.0, 2.0, 3.0]])
        >>> simulate(w, v, s).tolist()          # unit k holds the input from k steps back
        [[3.0, 2.0, 1.0]]
    """
    w, v = _weights(w, v)
    f = _nonlinearity(nonlinearity)
    noise = _finite(noise, "noise", minimum=0.0)
    return_sequence = validate.flag(return_sequence, "return_sequence")
    s = validate.real_array(signal, "signal", ndim=2)
    batch, steps = s.shape
    n = w.shape[0]
    h = torch.zeros(batch, n, dtype=_F64)
    wt = w.T.contiguous()
    seq = torch.empty(batch, steps, n, dtype=_F64) if return_sequence else None
    for t in range(steps):
        pre = h @ wt + s[:, t : t + 1] * v
        if noise > 0:
            pre = pre + noise * torch.randn(batch, n, generator=generator, dtype=_F64)
        h = f(pre)
        if seq is not None:
            seq[:, t] = h
    return seq if seq is not None else h


# ----------------------------------------------------------------------------- readout
def fit_readout(x, y, ridge: float = 0.0) -> tuple[Tensor, Tensor]:
    r"""Least-squares linear readout with intercept: :math:`\hat y = x B + b`.

    Solves :math:`\min_B \lVert \tilde x B - \tilde y\rVert^2 + \rho\, n \lVert B\rVert^2` on
    centred data (:math:`\rho` = ``ridge``, n = number of samples) with LAPACK's SVD-based
    ``gelsd``, which returns the minimum-norm solution when ``x`` is rank deficient (e.g. the
    identity network, whose units all carry the same value).

    Args:
        x: features, shape ``(n, N)``.
        y: targets, shape ``(n, K)`` (or ``(n,)``).
        ridge: ridge penalty per sample. Default: ``0.0`` (ordinary least squares).

    Returns:
        ``(B, b)`` with ``B`` of shape ``(N, K)`` and ``b`` of shape ``(K,)``.

    Examples:
        >>> x = torch.tensor([[0.0], [1.0], [2.0]])
        >>> b, c = fit_readout(x, 3 * x + 1)
        >>> round(b.item(), 6), round(c.item(), 6)
        (3.0, 1.0)
    """
    x = validate.real_array(x, "x", nonempty=False)
    y = validate.real_array(y, "y", nonempty=False)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2 or x.shape[1] == 0 or y.shape[1] == 0:
        raise validate.error("x and y", "of shapes (n, N) and (n, K) with n >= 2, N >= 1, K >= 1",
                             f"{tuple(x.shape)} and {tuple(y.shape)}", raw=True)
    ridge = _finite(ridge, "ridge", minimum=0.0)
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    if ridge > 0:
        k = x.shape[1]
        xc = torch.cat([xc, math.sqrt(ridge * x.shape[0]) * torch.eye(k, dtype=_F64)])
        yc = torch.cat([yc, torch.zeros(k, y.shape[1], dtype=_F64)])
    coef = torch.linalg.lstsq(xc, yc, driver="gelsd").solution
    return coef, ym - xm @ coef


def r2_score(y, y_hat) -> Tensor:
    r"""Coefficient of determination per column, :math:`1 - \sum (y-\hat y)^2 / \sum (y - \bar y)^2`.

    It can be negative on held-out data (a readout worse than the mean).

    Examples:
        >>> y = torch.tensor([[1.0, 1.0], [2.0, 3.0], [3.0, 2.0]])
        >>> r2_score(y, torch.tensor([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])).tolist()
        [1.0, 0.0]
    """
    y = validate.real_array(y, "y")
    y_hat = validate.real_array(y_hat, "y_hat")
    if y.ndim == 1 and y_hat.ndim == 1:
        y, y_hat = y[:, None], y_hat[:, None]
    if y.shape != y_hat.shape or y.ndim != 2 or y.shape[0] < 2:
        raise validate.error("y and y_hat", "of the same shape (n,) or (n, K) with n >= 2",
                             f"{tuple(y.shape)} and {tuple(y_hat.shape)}", raw=True)
    ss_res = ((y - y_hat) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    if not (ss_tot > 0).all():
        cols = torch.nonzero(ss_tot == 0).flatten().tolist()
        raise validate.error("y", "non-constant in every column (R² is undefined for a constant target)",
                             f"constant column(s) {cols[:10]}", raw=True)
    return 1.0 - ss_res / ss_tot


def _linear_maps(w: Tensor, v: Tensor, steps: int, noise: float) -> tuple[Tensor, Tensor]:
    """``A[:, k] = W^k v`` (shape (N, T)) and the noise covariance ``noise^2 sum_{k<T} W^k W^kT``."""
    n = w.shape[0]
    a = torch.empty(n, steps, dtype=_F64)
    cov = torch.zeros(n, n, dtype=_F64)
    x, p = v.clone(), torch.eye(n, dtype=_F64)
    for k in range(steps):
        a[:, k] = x
        x = w @ x
        if noise > 0:
            cov += p @ p.T
            p = w @ p
    return a, noise**2 * cov


def decoding_curve(
    w,
    v,
    *,
    nonlinearity: str = "linear",
    noise: float = 0.0,
    steps: int | None = None,
    n_train: int = 4000,
    n_test: int = 2000,
    signal_std: float = 1.0,
    ridge: float = 0.0,
    linear_shortcut: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Held-out :math:`R^2(k)` of linear readouts of :math:`s_{T-k}` from :math:`h_T`, ``k = 0 .. T-1``.

    ``n_train + n_test`` independent sequences of length ``T = steps`` are drawn (signals
    first, then the noise, from ``generator``); the first ``n_train`` fit one readout per lag
    (:func:`fit_readout`), the rest score it (:func:`r2_score`).

    The final states come from :func:`simulate`, except for a linear network with
    ``linear_shortcut=True`` (default): then :math:`h_T = \sum_{k<T} W^k v\, s_{T-k} + \varepsilon`
    is computed in one product, with the accumulated noise drawn directly from its exact law
    :math:`\varepsilon \sim \mathcal N(0, \sigma^2 \sum_{k<T} W^k (W^k)^\top)` (N draws per
    sequence instead of N·T). The two give the same distribution of states, so the same R²
    curves up to sampling error; the shortcut is only faster.

    Args:
        w, v: the network (see :func:`network`).
        nonlinearity: one of :data:`NONLINEARITIES`. Default: ``"linear"``.
        noise: noise standard deviation. Default: ``0.0``.
        steps: sequence length T. Default: ``N``.
        n_train: training sequences (at least 2). Default: ``4000``.
        n_test: held-out sequences (at least 2). Default: ``2000``.
        signal_std: standard deviation of :math:`s_t`. Default: ``1.0``.
        ridge: ridge penalty per sample. Default: ``0.0``.
        linear_shortcut: use the exact closed form for linear networks. Default: ``True``.
        generator: source of randomness.

    Returns:
        float64 tensor of length T; entry k is the held-out R² at lag k.

    Examples:
        >>> w, v = network("chain", 10)
        >>> r2 = decoding_curve(w, v, n_train=50, n_test=20, generator=torch.Generator().manual_seed(0))
        >>> bool((r2 > 1 - 1e-9).all())          # a linear chain stores its last N inputs exactly
        True
    """
    w, v = _weights(w, v)
    _nonlinearity(nonlinearity)
    noise = _finite(noise, "noise", minimum=0.0)
    linear_shortcut = validate.flag(linear_shortcut, "linear_shortcut")
    steps = w.shape[0] if steps is None else _pos_int(steps, "steps")
    n_train = _pos_int(n_train, "n_train")
    n_test = _pos_int(n_test, "n_test")
    if n_train < 2 or n_test < 2:
        raise validate.error("n_train and n_test", "at least 2", f"{n_train} and {n_test}", raw=True)
    batch = n_train + n_test
    s = sample_signal(batch, steps, signal_std=signal_std, generator=generator)
    y = s.flip(1)  # column k is s_{T-k}
    if nonlinearity == "linear" and linear_shortcut:
        a, cov = _linear_maps(w, v, steps, noise)
        h = y @ a.T
        if noise > 0:
            chol = torch.linalg.cholesky(cov)
            h = h + torch.randn(batch, w.shape[0], generator=generator, dtype=_F64) @ chol.T
    else:
        h = simulate(w, v, s, nonlinearity=nonlinearity, noise=noise, generator=generator)
    coef, icpt = fit_readout(h[:n_train], y[:n_train], ridge)
    return r2_score(y[n_train:], h[n_train:] @ coef + icpt)


# ----------------------------------------------------------------------------- theory
def linear_decoding_r2(
    w, v, steps: int | None = None, *, noise: float = 0.0, signal_std: float = 1.0
) -> Tensor:
    r"""Population :math:`R^2(k)` of the best linear readout for a **linear** network (no fitting).

    With :math:`h_T = \sum_{k<T} W^k v\, s_{T-k} + \sum_{k<T} W^k z_{T-k}`, Gaussian signals and
    noise, and :math:`a_k = W^k v`,

    .. math:: R^2(k) = \sigma_s^2\, a_k^\top \Sigma_h^{+} a_k, \qquad
        \Sigma_h = \sigma_s^2 \sum_{k<T} a_k a_k^\top + \sigma^2 \sum_{k<T} W^k (W^k)^\top

    (:math:`^{+}` the pseudo-inverse). It is what :func:`decoding_curve` estimates as
    ``n_train -> infinity``. Without noise it is the diagonal of the projector onto the row
    space of :math:`A = [a_0, \dots, a_{T-1}]`, found from an SVD of A (singular values below
    ``1e-10`` of the largest count as zero): 1 for every input that is recoverable exactly. For a
    chain of gain α with ``v = e_0`` and ``T <= N`` it equals :math:`\mathrm{SNR}/(1+\mathrm{SNR})`
    with :math:`\mathrm{SNR} = \sigma_s^2 J(k)/\sigma^2` and the Fisher memory :math:`J(k)` of
    :func:`nnrnn.memory.chain_memory_curve`; for α = 1 and unit variances that is :math:`1/(k+2)`.

    Examples:
        >>> w, v = network("chain", 4)
        >>> [round(x, 4) for x in linear_decoding_r2(w, v, noise=1.0).tolist()]   # 1 / (k + 2)
        [0.5, 0.3333, 0.25, 0.2]
        >>> [round(x, 12) for x in linear_decoding_r2(w, v, steps=6).tolist()]    # exact, then gone
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    w, v = _weights(w, v)
    steps = w.shape[0] if steps is None else _pos_int(steps, "steps")
    noise = _finite(noise, "noise", minimum=0.0)
    signal_std = _finite(signal_std, "signal_std", minimum=0.0, strict=True)
    a, cov = _linear_maps(w, v, steps, noise)
    if noise == 0:
        _, sv, vh = torch.linalg.svd(a, full_matrices=False)
        if sv.numel() == 0 or sv[0] == 0:
            return torch.zeros(steps, dtype=_F64)
        vr = vh[sv > 1e-10 * sv[0]]
        return (vr**2).sum(0).clamp(0.0, 1.0)
    cov = cov + signal_std**2 * (a @ a.T)  # positive definite: at least noise^2 * I
    r2 = signal_std**2 * (a * torch.linalg.solve(cov, a)).sum(0)
    return r2.clamp(0.0, 1.0)


def chain_nonlinear_r2(
    n: int,
    steps: int | None = None,
    *,
    alpha: float = 1.0,
    nonlinearity: str = "elu",
    signal_std: float = 1.0,
    grid: int = 4001,
) -> Tensor:
    r"""Population :math:`R^2(k)` for a **noiseless** chain with ``v = e_0`` and a pointwise nonlinearity.

    Unit k of the chain holds :math:`g_k(s_{T-k})` with :math:`g_0 = f` and
    :math:`g_k(x) = f(\alpha\, g_{k-1}(x))`, one past input per unit, and the units are
    independent. The best linear readout of :math:`s_{T-k}` therefore uses unit k alone, and

    .. math:: R^2(k) = \operatorname{corr}^2\big(s, g_k(s)\big), \quad s \sim \mathcal N(0, \sigma_s^2),

    for ``k < min(N, T)``, and 0 beyond. The correlation is integrated on a uniform grid of
    ``grid`` points over ±12 standard deviations (trapezoid rule). For elu, :math:`g_k` tends to
    a rectifier as k grows, so :math:`R^2(k)` falls from 0.937 towards
    :math:`\pi/(2\pi - 2) \approx 0.733`, the value for relu.

    Examples:
        >>> r2 = chain_nonlinear_r2(100, nonlinearity="elu")
        >>> round(float(r2[0]), 3), bool((r2[1:] <= r2[:-1]).all()), round(float(r2[-1]), 2)
        (0.937, True, 0.74)
        >>> round(float(chain_nonlinear_r2(1, nonlinearity="relu")[0]), 4)   # pi / (2 pi - 2)
        0.7335
        >>> [round(x, 12) for x in chain_nonlinear_r2(3, 5, nonlinearity="linear").tolist()]
        [1.0, 1.0, 1.0, 0.0, 0.0]
    """
    n = _pos_int(n, "n")
    steps = n if steps is None else _pos_int(steps, "steps")
    alpha = _finite(alpha, "alpha")
    f = _nonlinearity(nonlinearity)
    signal_std = _finite(signal_std, "signal_std", minimum=0.0, strict=True)
    grid = _pos_int(grid, "grid")
    if grid < 3:
        raise validate.error("grid", "at least 3", grid)
    x = torch.linspace(-12.0, 12.0, grid, dtype=_F64) * signal_std
    wts = torch.exp(-0.5 * (x / signal_std) ** 2)
    wts[0] *= 0.5
    wts[-1] *= 0.5
    wts = wts / wts.sum()
    var_s = (wts * x**2).sum()
    out = torch.zeros(steps, dtype=_F64)
    g = f(x)
    for k in range(min(n, steps)):
        gc = g - (wts * g).sum()
        var_g = (wts * gc**2).sum()
        if var_g > 0:
            out[k] = (wts * x * gc).sum() ** 2 / (var_g * var_s)
        g = f(alpha * g)
    return out.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------- Fig. 2
def run_fig2(
    n: int = 100,
    *,
    networks: Sequence[str] = ("chain", "orthogonal", "identity"),
    settings: Sequence[str] = ("linear", "noisy", "elu"),
    alpha: float = 1.0,
    beta: float = 0.04,
    fb_alpha: float = 0.99,
    lam: float = 0.9,
    steps: int | None = None,
    n_train: int = 4000,
    n_test: int = 2000,
    noise: float = 1.0,
    signal_std: float = 1.0,
    ridge: float = 0.0,
    repeats: int = 1,
    generator: torch.Generator | None = None,
) -> dict[str, np.ndarray]:
    r"""The whole Fig. 2 experiment: :math:`R^2(k)` for every network in every setting.

    For each of ``repeats`` independent repetitions, in this order: for each network a fresh
    ``(W, v)`` is drawn (:func:`network`; only the orthogonal one is random), then for each
    setting :func:`decoding_curve` simulates new data. Defaults (all our choices; the paper
    states N = 100, elu, α = 1 and ``v = e_0`` for the chain and ``v = 1`` for the identity):
    ``T = N`` steps from rest, unit-variance Gaussian signal, noise standard deviation 1 in
    the noisy setting, 4000 training and 2000 held-out sequences, ordinary least squares.

    Returns:
        A flat dict of numpy arrays, ready for :func:`nnrnn.store.run_or_load`:

        * ``"lags"``: ``0 .. T-1``;
        * ``"r2_<setting>_<network>"``: held-out R², shape ``(repeats, T)``;
        * ``"theory_<setting>_<network>"``: the population R² where a formula exists, shape
          ``(repeats, T)``: :func:`linear_decoding_r2` in the linear settings, and
          :func:`chain_nonlinear_r2` for the chain in the elu setting.

    Examples:
        >>> out = run_fig2(8, networks=("chain",), settings=("linear",), n_train=40, n_test=20,
        ...                generator=torch.Generator().manual_seed(0))
        >>> sorted(out), out["r2_linear_chain"].shape
        (['lags', 'r2_linear_chain', 'theory_linear_chain'], (1, 8))
    """
    n = _pos_int(n, "n")
    repeats = _pos_int(repeats, "repeats")
    steps = n if steps is None else _pos_int(steps, "steps")
    noise = _finite(noise, "noise", minimum=0.0)
    for value, name in ((alpha, "alpha"), (beta, "beta"), (fb_alpha, "fb_alpha"), (lam, "lam")):
        _finite(value, name)
    _finite(signal_std, "signal_std", minimum=0.0, strict=True)
    _finite(ridge, "ridge", minimum=0.0)
    if _pos_int(n_train, "n_train") < 2 or _pos_int(n_test, "n_test") < 2:
        raise validate.error("n_train and n_test", "at least 2", f"{n_train} and {n_test}", raw=True)
    if isinstance(networks, str) or isinstance(settings, str) or not networks or not settings:
        raise validate.error("networks and settings", "non-empty sequences of names",
                             f"{networks!r} and {settings!r}", raw=True)
    for name in networks:
        validate.choice(name, "network", NETWORKS)
    for setting in settings:
        validate.choice(setting, "setting", tuple(SETTINGS))
    out: dict[str, list[np.ndarray]] = {}
    for _ in range(repeats):
        for name in networks:
            w, v = network(name, n, alpha=alpha, beta=beta, fb_alpha=fb_alpha, lam=lam, generator=generator)
            for setting in settings:
                nonlin, noisy = SETTINGS[setting]
                sigma = noise if noisy else 0.0
                r2 = decoding_curve(
                    w, v, nonlinearity=nonlin, noise=sigma, steps=steps, n_train=n_train,
                    n_test=n_test, signal_std=signal_std, ridge=ridge, generator=generator,
                )
                out.setdefault(f"r2_{setting}_{name}", []).append(r2.numpy())
                theory = None
                if nonlin == "linear":
                    theory = linear_decoding_r2(w, v, steps, noise=sigma, signal_std=signal_std)
                elif name == "chain":
                    theory = chain_nonlinear_r2(n, steps, alpha=alpha, nonlinearity=nonlin, signal_std=signal_std)
                if theory is not None:
                    out.setdefault(f"theory_{setting}_{name}", []).append(theory.numpy())
    result: dict[str, np.ndarray] = {"lags": np.arange(steps)}
    result.update({k: np.stack(v) for k, v in out.items()})
    return result



# ----------------------------------------------------------------------------- the claim of Fig. 2
def memory_capacity(r2) -> np.ndarray:
    r"""Memory capacity :math:`\sum_k \max(R^2(k), 0)` of decoding curves (summed over the last axis):
    how many past inputs' worth of variance a linear readout recovers.

    Examples:
        >>> memory_capacity(np.array([[1.0, 0.5, -0.1], [0.2, 0.0, 0.0]])).tolist()
        [1.5, 0.2]
    """
    return np.clip(np.asarray(r2, dtype=float), 0.0, None).sum(axis=-1)


def capacity_verdict(res, setting: str = "elu", *, better: str = "chain", worse: str = "orthogonal",
                     at_paper_scale: bool, seed: int = 0) -> Verdict:
    """The paper's claim that ``better`` retains more past inputs than ``worse`` in ``setting`` (Fig. 2c:
    the chain beats the orthogonal network with elu), tested on a :func:`run_fig2` result.

    The effect is the difference of the mean :func:`memory_capacity` over repetitions, ``better``
    minus ``worse``, with a percentile bootstrap CI over repetitions
    (:func:`nnrnn.verdicts.difference_verdict`); it needs at least two repetitions.

    Examples:
        >>> res = {"r2_elu_chain": np.array([[0.9, 0.8], [0.9, 0.7]]),
        ...        "r2_elu_orthogonal": np.array([[0.9, 0.1], [0.8, 0.2]])}
        >>> v = capacity_verdict(res, at_paper_scale=True)
        >>> v.label, round(v.effect, 2), v.test
        ('reproduced', 0.65, 'bootstrap over repetitions')
    """
    validate.choice(setting, "setting", tuple(SETTINGS))
    a, b = (memory_capacity(res[f"r2_{setting}_{name}"]) for name in (better, worse))
    return difference_verdict(a, b, at_paper_scale=at_paper_scale, seed=seed, over="repetitions")
