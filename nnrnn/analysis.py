r"""Analysis of recurrent weight matrices: departure from normality and hidden chains.

* :func:`henrici` — Henrici's departure from normality (Henrici, 1962),
  :math:`d(W) = \sqrt{\lVert W\rVert_F^2 - \sum_i |\lambda_i|^2}`.
* :func:`henrici_noise_floor`, :func:`exceeds_noise_floor` — the largest :math:`d(W)` that
  float32 storage and the float64 computation can produce for a *normal* matrix, so that a
  claim "this matrix is non-normal" is a comparison with that floor rather than with 0.
* :func:`evoked_response`, :func:`pulse_response`, :func:`peak_order`, :func:`diagonal_means` —
  the analysis of Fig. 5 of Orhan & Pitkow (2020), after Rajan, Harvey & Tank (2016): drive the
  network with one input pulse, order the units by the time of their peak response, and average
  the recurrent weight :math:`W_{ij}` (from unit j to unit i) at each order difference ``i - j``:
  the mean of each diagonal of the reordered matrix, its *diagonal means*.
  A positive difference is a connection from an earlier-peaking unit to a later one ("forward").
  The response is the pulsed run *minus a run without the pulse*, :math:`|h_t^{pulse} -
  h_t^{free}|`, so that drift caused by the biases alone does not order the units; the same
  procedure (:func:`evoked_response`) serves the vanilla RNN here and the LSTM in
  :mod:`nnrnn.lm`. Running it with ``amplitude=0`` is its control: without a pulse the
  response is zero, the order is the random tie-break alone, and any shape its diagonal means show is chance.

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
from typing import Callable, Literal

import numpy as np
import torch
from torch import Tensor

from . import validate

__all__ = [
    "balance",
    "eigenvalues",
    "henrici",
    "henrici_naive",
    "henrici_noise_floor",
    "exceeds_noise_floor",
    "fb_chain_eigenvalues",
    "evoked_response",
    "pulse_response",
    "peak_order",
    "diagonal_means",
    "pulse_diagonal_means",
]


def _matrix(w, name: str = "W") -> np.ndarray:
    return validate.real_array(w, name, square=True).numpy()


def _power_of_two_scale(w: np.ndarray) -> float:
    """1 when ``max |W_ij|`` lies in [2^-200, 2^200] (squares and sums of squares are then safe,
    and results stay bit for bit what they were); otherwise a power of two near it, so that
    dividing by it is exact and keeps the squares of entries of 1e200 or 1e-200 in range."""
    m = float(np.abs(w).max())
    if m == 0.0 or 2.0**-200 <= m <= 2.0**200:
        return 1.0
    return math.ldexp(1.0, math.frexp(m)[1])


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
    max_iter = validate.non_negative_int(max_iter, "max_iter")
    tol = validate.finite_float(tol, "tol", low=0.0)
    scale = _power_of_two_scale(w)
    if scale != 1.0:
        return scale * balance(w / scale, max_iter, tol)
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
    balance = validate.flag(balance, "balance")
    if not np.any(np.triu(w, 1)) or not np.any(np.tril(w, -1)):
        return np.diag(w).astype(complex)
    scale = _power_of_two_scale(w)
    w = w / scale
    return scale * np.linalg.eigvals(_balance(w) if balance else w)


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
    balance = validate.flag(balance, "balance")
    scale = _power_of_two_scale(w)  # exact; W's entries may be as large as 1e200 or as small as 1e-200
    w = w / scale
    lam = eigenvalues(w, balance=balance)
    d2 = float(np.sum(w**2) - np.sum(np.abs(lam) ** 2))
    return scale * math.sqrt(max(d2, 0.0))


def henrici_naive(w) -> float:
    """Henrici index from unbalanced LAPACK eigenvalues (the inaccurate way; for comparison)."""
    w = _matrix(w)
    scale = _power_of_two_scale(w)
    w = w / scale
    lam = np.linalg.eigvals(w)
    return scale * math.sqrt(max(float(np.sum(w**2) - np.sum(np.abs(lam) ** 2)), 0.0))


def henrici_noise_floor(w, dtype: torch.dtype = torch.float32) -> float:
    r"""The largest :math:`d(W)` that rounding alone gives a *normal* matrix of ``W``'s size and norm.

    A matrix stored in ``dtype`` and analysed by :func:`henrici` shows :math:`d > 0` even when
    it is normal up to rounding, for two reasons; this function bounds their sum,

    .. math:: d_{floor} = \lVert W\rVert_F\,\Big(\sqrt2\,u_s + \sqrt{(N^2 + 20N^{3/2})\,u}\Big),

    with :math:`u_s` the unit roundoff of ``dtype`` (:math:`2^{-24}` for float32) and
    :math:`u = 2^{-53}` that of float64.

    1. **Storage.** Rounding a normal :math:`W_0` to ``dtype`` adds :math:`E` with
       :math:`|E_{ij}| \le u_s |W_{0,ij}|`, so :math:`\lVert E\rVert_F \le u_s\lVert W\rVert_F`.
       In the Schur basis of :math:`W_0` (:math:`F = Q^* E Q`, eigenvalues :math:`\mu_i`) the
       first-order terms of :math:`\lVert W\rVert_F^2` and :math:`\sum|\lambda_i|^2` cancel and
       :math:`d(W_0 + E)^2 = \sum_{i\ne j}|F_{ij}|^2 - 2\,\mathrm{Re}\sum_{i<j} F_{ij}F_{ji}
       (\bar\mu_i - \bar\mu_j)/(\mu_i - \mu_j) + O(\lVert E\rVert^3)`; the second sum is at most
       :math:`\sum_{i\ne j}|F_{ij}|^2` in size, so :math:`d \le \sqrt2\,\lVert E\rVert_F` (exactly
       so for 2 × 2 matrices, and for clusters of equal eigenvalues, where
       :math:`d(\lambda I + E) = d(E) \le \lVert E\rVert_F`).
    2. **Computation.** :func:`henrici` forms :math:`d^2 = \lVert W\rVert_F^2 - \sum_i|\hat\lambda_i|^2`
       in float64. A sum of :math:`N^2` squares, in any order, errs by at most
       :math:`N^2 u\lVert W\rVert_F^2`; the eigenvalues are exact for some :math:`W + \delta W`
       with :math:`\lVert\delta W\rVert_F \le 10 N u \lVert W\rVert_F` (the QR algorithm is backward
       stable with a small multiple of :math:`u\lVert W\rVert`, Golub & Van Loan §7.5.6; 10N is our
       margin), and for normal W they move by :math:`\lVert\hat\lambda - \lambda\rVert_2 \le \sqrt N
       \lVert\delta W\rVert_F` (Sun, 1996), so :math:`\sum|\hat\lambda_i|^2` errs by at most
       :math:`20N^{3/2}u\lVert W\rVert_F^2`. A cancellation error :math:`\delta` in :math:`d^2` raises
       :math:`d` by at most :math:`\sqrt{|\delta|}`: this term, though it starts from float64, is
       the larger of the two (:math:`1.8\times10^{-6}\lVert W\rVert_F` for N = 100 against
       :math:`8.4\times10^{-8}\lVert W\rVert_F` for float32 storage). On random orthogonal,
       symmetric, skew-symmetric and scaled-identity matrices of N = 1 ... 400 the computed
       :math:`d` stays below half of this floor (``tests/test_analysis.py``).

    The floor is a worst-case bound: a value of :func:`henrici` above it is not rounding; one
    below it says nothing either way. Compare with :func:`exceeds_noise_floor`.

    Args:
        w: the matrix as analysed (its Frobenius norm and size set the floor).
        dtype: the floating type ``W`` was stored in. Default: ``torch.float32`` (trained weights).

    Examples:
        >>> from nnrnn.init import orthogonal_matrix
        >>> q = orthogonal_matrix(100, generator=torch.Generator().manual_seed(0)).float()
        >>> floor = henrici_noise_floor(q)            # N = 100, ||Q||_F = 10
        >>> f"{floor:.1e}", henrici(q) <= floor
        ('1.9e-05', True)
    """
    w = _matrix(w)
    dtype = validate.choice(dtype, "dtype", (torch.float16, torch.bfloat16, torch.float32, torch.float64))
    n = w.shape[0]
    u_store = torch.finfo(dtype).eps / 2
    u64 = torch.finfo(torch.float64).eps / 2
    scale = _power_of_two_scale(w)
    frob = scale * float(np.linalg.norm(w / scale))
    return frob * (math.sqrt(2.0) * u_store + math.sqrt((n**2 + 20 * n**1.5) * u64))


def exceeds_noise_floor(w, d: float | None = None, *, dtype: torch.dtype = torch.float32) -> bool:
    """Whether ``d`` (default: :func:`henrici` of ``W``) is above :func:`henrici_noise_floor`.

    ``True`` means ``W`` is measurably non-normal; ``False`` means rounding alone could explain
    its :math:`d(W)`.

    Examples:
        >>> from nnrnn.init import chain_matrix, orthogonal_matrix
        >>> q = orthogonal_matrix(100, generator=torch.Generator().manual_seed(0)).float()
        >>> exceeds_noise_floor(q), exceeds_noise_floor(q + 1e-4 * chain_matrix(100).float())
        (False, True)
    """
    floor = henrici_noise_floor(w, dtype)
    d = henrici(w) if d is None else validate.finite_float(d, "d", low=0.0)
    return d > floor


def fb_chain_eigenvalues(n: int, beta: float = 0.04, alpha: float = 0.99) -> np.ndarray:
    r"""Exact eigenvalues of the tridiagonal Toeplitz feedback chain: :math:`2\sqrt{\alpha\beta}\cos(k\pi/(N+1))`.

    Examples:
        >>> round(float(np.max(np.abs(fb_chain_eigenvalues(100)))), 3)
        0.398
    """
    n = validate.positive_int(n, "n")
    beta = validate.finite_float(beta, "beta")
    alpha = validate.finite_float(alpha, "alpha")
    if alpha * beta < 0:
        raise validate.error("alpha * beta", "non-negative (real eigenvalues)", alpha * beta)
    k = np.arange(1, n + 1)
    return 2 * math.sqrt(alpha * beta) * np.cos(k * math.pi / (n + 1))


# ----------------------------------------------------------------------------- hidden chains
def evoked_response(
    run: Callable[[Tensor], Tensor],
    input_size: int,
    *,
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
) -> Tensor:
    r"""How far one input pulse moves each unit, step by step: :math:`|h_t^{pulse} - h_t^{free}|`.

    The one Fig. 5/Fig. 6 procedure for every network type. ``run`` maps an input sequence of
    shape ``(steps + 1, input_size)`` (float64) to the hidden states, shape ``(steps + 1, N)``,
    starting from rest. It is called twice: with ``amplitude`` on input ``channel`` at step 0 and
    zero input afterwards, and with zero input throughout. Their difference removes what the
    network does without any input (drift driven by its biases), so only the pulse orders the
    units. With ``amplitude=0`` the response is exactly zero: the control in which nothing but
    the tie-break of :func:`peak_order` decides the order.

    Args:
        run: the network, as a function of its input sequence.
        input_size: number of input channels.
        steps: free-running steps after the pulse. Default: ``100``.
        channel: input channel of the pulse. Default: ``0``.
        amplitude: pulse size. Default: ``1.0``.

    Returns:
        float64 tensor of shape ``(steps + 1, N)``.

    Examples:
        >>> w = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)   # unit 0 drives unit 1
        >>> def run(x):                                # h_t = relu(W h_{t-1} + x_t + 1): a bias drift
        ...     h, out = torch.zeros(2, dtype=torch.float64), []
        ...     for xt in x:
        ...         h = torch.relu(w @ h + xt + 1.0)
        ...         out.append(h)
        ...     return torch.stack(out)
        >>> evoked_response(run, 2, steps=3).tolist()
        [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    """
    input_size = validate.positive_int(input_size, "input_size")
    steps = validate.non_negative_int(steps, "steps")
    channel = validate.non_negative_int(channel, "channel")
    if channel >= input_size:
        raise validate.error("channel", f"in [0, {input_size})", channel)
    amplitude = validate.finite_float(amplitude, "amplitude")
    x = torch.zeros(steps + 1, input_size, dtype=torch.float64)
    x[0, channel] = amplitude
    pulsed, free = run(x), run(torch.zeros_like(x))
    for name, out in (("run(pulse)", pulsed), ("run(no pulse)", free)):
        if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != steps + 1:
            got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__
            raise validate.error(name, f"a tensor of shape ({steps + 1}, N)", got, raw=True)
    return (pulsed.to(torch.float64) - free.to(torch.float64)).abs()


def _rnn(weight_hh, weight_ih, bias, nonlinearity: str) -> tuple[Callable[[Tensor], Tensor], int]:
    """The vanilla RNN :math:`h_t = f(W h_{t-1} + U x_t + b)` from rest, as a function of its
    inputs, and its input size (``U = I`` when ``weight_ih`` is None)."""
    w = torch.as_tensor(_matrix(weight_hh, "weight_hh"))
    n = w.shape[0]
    f = validate.nonlinearity(nonlinearity, allow_linear=True)
    u = torch.eye(n, dtype=torch.float64) if weight_ih is None else validate.real_array(weight_ih, "weight_ih", ndim=2)
    if u.shape[0] != n:
        raise validate.error("weight_ih", f"of shape ({n}, d)", f"shape {tuple(u.shape)}", raw=True)
    b = torch.zeros(n, dtype=torch.float64) if bias is None else validate.real_array(bias, "bias", length=n)

    def run(x: Tensor) -> Tensor:
        drive = x @ u.T + b
        out = torch.empty(x.shape[0], n, dtype=torch.float64)
        h = torch.zeros(n, dtype=torch.float64)
        for t in range(x.shape[0]):
            h = f(w @ h + drive[t])
            out[t] = h
        return out

    return run, u.shape[1]


def pulse_response(
    weight_hh,
    weight_ih=None,
    bias=None,
    *,
    nonlinearity: Literal["linear", "elu", "relu", "tanh"] = "elu",
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
    subtract_free: bool = False,
) -> Tensor:
    r"""Response of :math:`h_t = f(W h_{t-1} + U x_t + b)` to one input pulse, then free running.

    At step 0 the input is ``amplitude`` on ``channel`` (zero elsewhere), from ``h_{-1} = 0``;
    afterwards the input is zero for ``steps`` steps. Without ``weight_ih`` the pulse is a unit
    vector into unit ``channel``.

    Args:
        weight_hh, weight_ih, bias: the network (``bias`` of length N; default zero).
        nonlinearity: ``"linear"``, ``"elu"`` (default), ``"relu"`` or ``"tanh"``.
        steps, channel, amplitude: the pulse (see :func:`evoked_response`).
        subtract_free: return :math:`|h_t^{pulse} - h_t^{free}|` (:func:`evoked_response`, what
            Fig. 5 orders by) instead of the hidden state itself (default).

    Returns:
        float64 tensor of shape ``(steps + 1, N)``: the hidden state after each step (or its
        distance from the run without the pulse).

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> r = pulse_response(chain_matrix(4, 1.0), nonlinearity="linear", steps=3)
        >>> r.argmax(dim=0).tolist()                # unit k peaks at step k
        [0, 1, 2, 3]
    """
    run, d = _rnn(weight_hh, weight_ih, bias, nonlinearity)
    if validate.flag(subtract_free, "subtract_free"):
        return evoked_response(run, d, steps=steps, channel=channel, amplitude=amplitude)
    steps = validate.non_negative_int(steps, "steps")
    channel = validate.non_negative_int(channel, "channel")
    if channel >= d:
        raise validate.error("channel", f"in [0, {d})", channel)
    x = torch.zeros(steps + 1, d, dtype=torch.float64)
    x[0, channel] = validate.finite_float(amplitude, "amplitude")
    return run(x)


def peak_order(response, jitter: float = 1e-3, *, generator: torch.Generator | None = None) -> Tensor:
    """Order units by the step of their peak response; ``U(0, jitter)`` noise breaks ties.

    Returns ``order`` with ``order[r]`` the unit at rank ``r`` (earliest peak first). A unit
    that never responds (all zeros) peaks at step 0 and is ordered among the others that do by
    the jitter alone.

    Examples:
        >>> resp = torch.tensor([[0., 1., 0.], [1., 0., 0.], [0., 0., 1.]])   # peaks at 1, 0, 2
        >>> peak_order(resp, generator=torch.Generator().manual_seed(0)).tolist()
        [1, 0, 2]
    """
    r = validate.real_array(response, "response", ndim=2)
    jitter = validate.finite_float(jitter, "jitter", low=0.0)
    peak = r.argmax(dim=0).to(torch.float64)
    noise = torch.rand(r.shape[1], generator=generator, dtype=torch.float64) * jitter
    return torch.argsort(peak + noise, stable=True)


def diagonal_means(weight_hh, order) -> tuple[np.ndarray, np.ndarray]:
    r"""The diagonal means: mean recurrent weight :math:`W_{ij}` at each order difference ``rank(i) - rank(j)``.

    Returns ``(lags, mean)`` for lags ``-(N-1) ... N-1``; the mean runs over all ordered
    pairs (i, j) at that lag (the diagonal is lag 0).

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> lags, m = diagonal_means(chain_matrix(5, 1.0), torch.arange(5))
        >>> float(m[lags == 1][0]), float(np.abs(m[lags != 1]).max())
        (1.0, 0.0)
    """
    w = _matrix(weight_hh, "weight_hh")
    n = w.shape[0]
    order_arr = np.asarray(order.detach().cpu() if isinstance(order, Tensor) else order)
    if not (np.issubdtype(order_arr.dtype, np.integer) and sorted(order_arr.ravel().tolist()) == list(range(n))
            and order_arr.ndim == 1):
        shown = order_arr.ravel().tolist()
        raise validate.error("order", f"a permutation of range({n}) (integers)",
                             f"{shown[:10]}{'...' if len(shown) > 10 else ''}", raw=True)
    order_arr = order_arr.astype(np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order_arr] = np.arange(n)
    lag = rank[:, None] - rank[None, :]
    lags = np.arange(-(n - 1), n)
    sums = np.bincount((lag + n - 1).ravel(), weights=w.ravel(), minlength=2 * n - 1)
    counts = np.bincount((lag + n - 1).ravel(), minlength=2 * n - 1)
    return lags, sums / counts


def pulse_diagonal_means(
    weight_hh,
    weight_ih=None,
    bias=None,
    *,
    nonlinearity: str = "elu",
    steps: int = 100,
    channel: int = 0,
    amplitude: float = 1.0,
    jitter: float = 1e-3,
    subtract_free: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole Fig. 5 procedure for one network: pulse, peak order, diagonal means.

    Units are ordered by the peak of :func:`evoked_response` (the pulsed run minus the run
    without the pulse); ``subtract_free=False`` orders by the raw hidden state instead, which
    lets bias drift order the units (kept to show that pitfall). ``amplitude=0`` is the
    control: no pulse, so the order is the random tie-break alone.

    Examples:
        >>> from nnrnn.init import chain_matrix
        >>> lags, m = pulse_diagonal_means(chain_matrix(6, 1.0), nonlinearity="linear", steps=10)
        >>> int(lags[np.argmax(m)])
        1
    """
    resp = pulse_response(
        weight_hh, weight_ih, bias, nonlinearity=nonlinearity, steps=steps, channel=channel, amplitude=amplitude,
        subtract_free=subtract_free,
    )
    return diagonal_means(weight_hh, peak_order(resp, jitter, generator=generator))
