r"""Initializers for recurrent networks (Orhan & Pitkow, 2020).

Orientation convention
----------------------
Everything in this package uses ``torch.nn.RNN``'s column convention

.. math:: h_t = f(W h_{t-1} + U x_t + b),

with ``W = weight_hh`` of shape ``(N, N)`` and ``U = weight_ih`` of shape ``(N, d)``.
``W[i, j]`` is the weight **from unit j to unit i**. The paper's chain
:math:`W_{ij} = \alpha\,\delta_{j,i-1}` therefore sits on the **sub-diagonal**: unit
``i-1`` drives unit ``i``, the signal runs ``0 -> 1 -> ... -> N-1``, and unit 0 is the
*source*. The source input matrix ``0.9 * eye(N, d)`` feeds input channel ``m`` into unit
``m``, so a scalar input enters the chain at its source.

(The authors' PyTorch helpers put the chain on the super-diagonal of ``weight_hh``, which
makes it run backwards in torch. That layout is available only as the explicit ablation
``orientation="reversed"``.)

Every in-place initializer is named ``name_(tensor, ..., *, generator=None)``, works under
``torch.no_grad()``, keeps the tensor's dtype and device and returns the same tensor, like
``torch.nn.init``; it refuses integer tensors (which would truncate the values written), complex
and empty ones, with a ``ValueError`` worded by :mod:`nnrnn.validate`. ``*_matrix`` constructors return new float64 tensors for the theory
chapters. Random initializers draw only from the ``generator`` they are given (or from a
fresh default generator of torch's global RNG when ``generator`` is ``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import Tensor

from . import paper, validate

__all__ = [
    "Orientation",
    "identity_",
    "orthogonal_",
    "chain_",
    "fb_chain_",
    "ramp_",
    "source_",
    "scaled_normal_",
    "plain_",
    "identity_matrix",
    "orthogonal_matrix",
    "chain_matrix",
    "fb_chain_matrix",
    "ramp_matrix",
    "lstm_",
    "LSTM_GATES",
    "LSTM_SCHEMES",
    "InitSpec",
    "INITIALIZERS",
    "get",
    "init_rnn_",
]

Orientation = Literal["forward", "reversed"]
_ORIENTATIONS = ("forward", "reversed")
_GROUPS = ("O", "SO")

#: torch's gate order in stacked LSTM weights.
LSTM_GATES = ("i", "f", "g", "o")


# ----------------------------------------------------------------------------- validation
# Thin wrappers over nnrnn.validate (one wording for every error); the in-place fills refuse
# integer tensors (the values would be truncated), complex and empty ones.
def _check_square(w: Tensor, name: str) -> int:
    return validate.float_tensor(w, name, square=True).shape[0]


def _check_2d(w: Tensor, name: str) -> None:
    validate.float_tensor(w, name, ndim=2)


def _check_orientation(orientation: str) -> None:
    validate.choice(orientation, "orientation", _ORIENTATIONS)


# ----------------------------------------------------------------------------- recurrent
def identity_(w: Tensor, gain: float = 1.0) -> Tensor:
    r"""Fill the square tensor ``w`` with a scaled identity (Le et al., 2015).

    .. math:: W = \lambda I

    Args:
        w: square recurrent weight.
        gain: the scale :math:`\lambda`. Default: ``1.0``.

    Examples:
        >>> w = identity_(torch.empty(3, 3), gain=0.5)
        >>> bool(torch.equal(w, 0.5 * torch.eye(3)))
        True
    """
    _check_square(w, "w")
    gain = validate.finite_float(gain, "gain")
    with torch.no_grad():
        w.zero_()
        w.fill_diagonal_(gain)
    return w


def orthogonal_(
    w: Tensor,
    gain: float = 1.0,
    *,
    group: Literal["O", "SO"] = "O",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill the square tensor ``w`` with a scaled random orthogonal matrix.

    .. math:: W = \lambda Q, \qquad Q \sim \mathrm{Haar}(G)

    ``Q`` is drawn from the Haar (uniform) measure on the orthogonal group ``O(N)``
    (``group="O"``, default, as Keras' ``Orthogonal`` used by the authors) or on the
    rotation group ``SO(N)`` (``group="SO"``, determinant +1): QR of a standard Gaussian
    matrix, with the signs of ``R``'s diagonal moved into ``Q`` (Mezzadri, 2007). The draw is
    made in float64 on the CPU from ``generator`` and then copied into ``w``, so equal
    generators give identical tensors on every device.

    Args:
        w: square recurrent weight.
        gain: the scale :math:`\lambda`. Default: ``1.0``.
        group: ``"O"`` or ``"SO"``. Default: ``"O"``.
        generator: source of randomness. Default: torch's global generator.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = orthogonal_(torch.empty(4, 4), generator=g)
        >>> bool(torch.allclose(w @ w.T, torch.eye(4), atol=1e-6))
        True
    """
    n = _check_square(w, "w")
    gain = validate.finite_float(gain, "gain")
    validate.choice(group, "group", _GROUPS)
    q = orthogonal_matrix(n, group=group, generator=generator)
    with torch.no_grad():
        w.copy_(gain * q)
    return w


def _band_(w: Tensor, offset: int, value: float) -> None:
    """Set the band ``w[i, i + offset]`` to ``value`` (in place, no checks)."""
    n = w.shape[0]
    if abs(offset) >= n:
        return
    idx = torch.arange(max(0, -offset), min(n, n - offset), device=w.device)
    w[idx, idx + offset] = value


def chain_(w: Tensor, alpha: float = 1.0, *, orientation: Orientation = "forward") -> Tensor:
    r"""Fill the square tensor ``w`` with a feedforward chain (Orhan & Pitkow, 2020).

    .. math:: W_{ij} = \alpha\,\delta_{j,i-1}

    Convention: h_t = f(W h_{t-1} + U x_t), so unit i-1 drives unit i and unit 0 is the
    source. ``orientation="reversed"`` puts the chain on the super-diagonal instead (unit
    i+1 drives unit i), the layout of the authors' PyTorch helpers; it is an ablation only.

    Args:
        w: square recurrent weight, e.g. ``rnn.weight_hh``.
        alpha: feedforward gain. Default: ``1.0``.
        orientation: ``"forward"`` (default) or ``"reversed"``.

    Examples:
        >>> w = chain_(torch.empty(4, 4), alpha=1.0)
        >>> bool(w[1, 0] == 1.0 and w[0, 1] == 0.0)
        True
    """
    _check_square(w, "w")
    alpha = validate.finite_float(alpha, "alpha")
    _check_orientation(orientation)
    with torch.no_grad():
        w.zero_()
        _band_(w, -1 if orientation == "forward" else 1, alpha)
    return w


def fb_chain_(
    w: Tensor, beta: float = 0.04, alpha: float = paper.FB_CHAIN_FORWARD_GAIN, *, orientation: Orientation = "forward"
) -> Tensor:
    r"""Fill the square tensor ``w`` with a chain with weak feedback (Orhan & Pitkow, 2020).

    .. math:: W_{ij} = \alpha\,\delta_{j,i-1} + \beta\,\delta_{j,i+1}

    The paper fixes the forward gain at ``alpha = 0.99`` and tunes the feedback ``beta``
    over 0.01 ... 0.07, so ``beta`` comes first. Unit 0 is the source (see :func:`chain_`).

    Args:
        w: square recurrent weight.
        beta: feedback gain (super-diagonal). Default: ``0.04``.
        alpha: feedforward gain (sub-diagonal). Default: ``0.99``.
        orientation: ``"forward"`` (default) or ``"reversed"`` (the two bands swapped).

    Examples:
        >>> w = fb_chain_(torch.empty(3, 3), beta=0.04)
        >>> [round(float(w[1, 0]), 2), round(float(w[0, 1]), 2), float(w[0, 0])]
        [0.99, 0.04, 0.0]
    """
    _check_square(w, "w")
    alpha = validate.finite_float(alpha, "alpha")
    beta = validate.finite_float(beta, "beta")
    _check_orientation(orientation)
    sign = -1 if orientation == "forward" else 1
    with torch.no_grad():
        w.zero_()
        _band_(w, sign, alpha)
        _band_(w, -sign, beta)
    return w


def ramp_(w: Tensor, end_gain: float = 0.01, *, orientation: Orientation = "forward") -> Tensor:
    r"""Fill the square tensor ``w`` with the antisymmetric linear ramp of the mixed LSTM init.

    .. math:: W_{ij} = \epsilon\,\frac{i - j}{N - 1}

    Weights grow linearly with the forward order difference ``i - j``, from ``-eps`` to
    ``+eps``, with a zero diagonal. This is the transpose of the authors' ``toeplitz`` ramp,
    matching their reversed torch layout to our forward one, so the ramp's positive side
    agrees with the chain's direction (:func:`chain_`). For ``N = 1`` the matrix is zero.

    Args:
        w: square recurrent weight of one gate.
        end_gain: ``eps``, the value at ``W[N-1, 0]``. Default: ``0.01``.
        orientation: ``"forward"`` (default) or ``"reversed"`` (transposed).

    Examples:
        >>> w = ramp_(torch.empty(3, 3), end_gain=0.01)
        >>> [round(float(w[2, 0]), 3), round(float(w[0, 2]), 3), float(w[1, 1])]
        [0.01, -0.01, 0.0]
    """
    n = _check_square(w, "w")
    end_gain = validate.finite_float(end_gain, "end_gain")
    _check_orientation(orientation)
    with torch.no_grad():
        w.copy_(ramp_matrix(n, end_gain))
        if orientation == "reversed":
            w.copy_(w.T.clone())
    return w


def plain_(
    w: Tensor, hidden_size: int | None = None, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill ``w`` with PyTorch's default RNN/LSTM init, :math:`U(-\sqrt{k}, \sqrt{k})`, k = 1/N.

    N is ``hidden_size``, by default ``w.shape[1]`` (the hidden size for ``weight_hh``
    blocks; pass it explicitly for input weights).

    Examples:
        >>> w = plain_(torch.empty(8, 4), generator=torch.Generator().manual_seed(0))
        >>> bool(w.abs().max() <= 0.5)
        True
    """
    _check_2d(w, "w")
    n = w.shape[1] if hidden_size is None else validate.positive_int(hidden_size, "hidden_size")
    bound = 1.0 / math.sqrt(n)
    with torch.no_grad():
        x = torch.rand(w.shape, generator=generator, dtype=torch.float64)
        w.copy_((2 * x - 1) * bound)
    return w


# ----------------------------------------------------------------------------- input
def source_(u: Tensor, gain: float = paper.INPUT_GAIN) -> Tensor:
    r"""Fill the input matrix ``u`` (shape ``(N, d)``) with the non-normal source init.

    .. math:: U = \gamma\, I_{N \times d}

    Input channel ``m`` enters unit ``m``; for a scalar input that is the chain's source.

    Args:
        u: input weight, e.g. ``rnn.weight_ih``, shape ``(N, d)``.
        gain: :math:`\gamma`. Default: ``0.9``.

    Examples:
        >>> u = source_(torch.empty(4, 2))
        >>> u[:, 0].tolist() == [0.8999999761581421, 0.0, 0.0, 0.0]
        True
    """
    _check_2d(u, "u")
    gain = validate.finite_float(gain, "gain")
    with torch.no_grad():
        u.zero_()
        k = min(u.shape)
        idx = torch.arange(k, device=u.device)
        u[idx, idx] = gain
    return u


def scaled_normal_(
    u: Tensor, std: float | None = None, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill the input matrix ``u`` (shape ``(N, d)``) with i.i.d. Gaussian entries.

    .. math:: U_{ij} \sim \mathcal{N}\big(0, (0.9/\sqrt{N})^2\big)

    The default standard deviation 0.9/sqrt(N) (N = ``u.shape[0]``, the hidden size) is the
    authors' ``RandomNormal(stddev=0.9/sqrt(N))``, used with the identity and orthogonal
    recurrent inits. The draw is made in float64 on the CPU and copied.

    Args:
        u: input weight.
        std: standard deviation. Default: ``0.9 / sqrt(u.shape[0])``.
        generator: source of randomness.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> scaled_normal_(torch.empty(100, 3), generator=g).shape
        torch.Size([100, 3])
    """
    _check_2d(u, "u")
    if std is None:
        std = paper.INPUT_GAIN / math.sqrt(u.shape[0])
    std = validate.finite_float(std, "std", low=0.0)
    with torch.no_grad():
        u.copy_(std * torch.randn(u.shape, generator=generator, dtype=torch.float64))
    return u


# ----------------------------------------------------------------------------- constructors
def identity_matrix(n: int, gain: float = 1.0) -> Tensor:
    """Return ``gain * I`` as a new ``(n, n)`` float64 tensor (see :func:`identity_`)."""
    return identity_(torch.empty(validate.positive_int(n, "n"), n, dtype=torch.float64), gain)


def orthogonal_matrix(
    n: int,
    gain: float = 1.0,
    *,
    group: Literal["O", "SO"] = "O",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Return ``gain * Q``, Q Haar-distributed on O(n) or SO(n), as float64 (see :func:`orthogonal_`).

    Examples:
        >>> q = orthogonal_matrix(5, group="SO", generator=torch.Generator().manual_seed(1))
        >>> round(float(torch.linalg.det(q)), 6)
        1.0
    """
    validate.positive_int(n, "n")
    gain = validate.finite_float(gain, "gain")
    validate.choice(group, "group", _GROUPS)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    d = torch.sign(torch.diagonal(r))
    d[d == 0] = 1.0
    q = q * d  # scale column j by sign(r_jj): Haar measure on O(n)
    if group == "SO" and torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return gain * q


def chain_matrix(n: int, alpha: float = 1.0, *, orientation: Orientation = "forward") -> Tensor:
    """Return the chain of :func:`chain_` as a new ``(n, n)`` float64 tensor."""
    return chain_(torch.empty(validate.positive_int(n, "n"), n, dtype=torch.float64), alpha, orientation=orientation)


def fb_chain_matrix(
    n: int, beta: float = 0.04, alpha: float = paper.FB_CHAIN_FORWARD_GAIN, *, orientation: Orientation = "forward"
) -> Tensor:
    """Return the feedback chain of :func:`fb_chain_` as a new ``(n, n)`` float64 tensor."""
    w = torch.empty(validate.positive_int(n, "n"), n, dtype=torch.float64)
    return fb_chain_(w, beta, alpha, orientation=orientation)


def ramp_matrix(n: int, end_gain: float = 0.01) -> Tensor:
    """Return the forward ramp ``W[i, j] = end_gain * (i - j) / (n - 1)`` as float64."""
    validate.positive_int(n, "n")
    end_gain = validate.finite_float(end_gain, "end_gain")
    if n == 1:
        return torch.zeros(1, 1, dtype=torch.float64)
    i = torch.arange(n, dtype=torch.float64)
    return end_gain * (i[:, None] - i[None, :]) / (n - 1)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class InitSpec:
    """A named vanilla-RNN initializer: how to fill ``weight_hh`` and ``weight_ih``.

    ``recurrent(w, scale, generator)`` fills the recurrent matrix with the given scale (λ for
    identity/orthogonal, α for the chain, β for the feedback chain); ``input(u, generator)``
    fills the input matrix as the paper pairs it.
    """

    name: str
    recurrent: Callable[[Tensor, float, torch.Generator | None], Tensor]
    input: Callable[[Tensor, torch.Generator | None], Tensor]
    scale_name: str
    description: str


INITIALIZERS: dict[str, InitSpec] = {
    "identity": InitSpec(
        "identity",
        lambda w, s, g: identity_(w, s),
        lambda u, g: scaled_normal_(u, generator=g),
        "lambda",
        "scaled identity λI; Gaussian input N(0, (0.9/√N)²)",
    ),
    "orthogonal": InitSpec(
        "orthogonal",
        lambda w, s, g: orthogonal_(w, s, generator=g),
        lambda u, g: scaled_normal_(u, generator=g),
        "lambda",
        "scaled Haar-random orthogonal λQ; Gaussian input N(0, (0.9/√N)²)",
    ),
    "chain": InitSpec(
        "chain",
        lambda w, s, g: chain_(w, s),
        lambda u, g: source_(u),
        "alpha",
        "chain α on the sub-diagonal; source input 0.9·I",
    ),
    "fb_chain": InitSpec(
        "fb_chain",
        lambda w, s, g: fb_chain_(w, s),
        lambda u, g: source_(u),
        "beta",
        "chain 0.99 with feedback β on the super-diagonal; source input 0.9·I",
    ),
}


def get(name: str) -> InitSpec:
    """Look up a vanilla-RNN initializer by name.

    Examples:
        >>> get("chain").scale_name
        'alpha'
    """
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown initializer {name!r}; expected one of {sorted(INITIALIZERS)}") from None


def init_rnn_(
    weight_hh: Tensor,
    weight_ih: Tensor,
    name: str,
    scale: float,
    *,
    generator: torch.Generator | None = None,
) -> None:
    """Initialize a vanilla RNN's recurrent and input weights in place by initializer name.

    Examples:
        >>> rnn = torch.nn.RNN(1, 4)
        >>> init_rnn_(rnn.weight_hh_l0, rnn.weight_ih_l0, "chain", 1.0)
        >>> rnn.weight_hh_l0[1, 0].item(), rnn.weight_ih_l0[0, 0].item() == 0.8999999761581421
        (1.0, True)
    """
    spec = get(name)
    scale = validate.finite_float(scale, "scale")
    _check_square(weight_hh, "weight_hh")
    _check_2d(weight_ih, "weight_ih")
    if weight_ih.shape[0] != weight_hh.shape[0]:
        raise ValueError(
            f"weight_ih must have {weight_hh.shape[0]} rows to match weight_hh, got shape {tuple(weight_ih.shape)}"
        )
    spec.recurrent(weight_hh, scale, generator)
    spec.input(weight_ih, generator)


# ----------------------------------------------------------------------------- LSTM
#: per-gate recurrent schemes for :func:`lstm_`; "mixed" = ramp in i, f, o and chain in g.
LSTM_SCHEMES = ("orthogonal", "chain", "fb_chain", "plain", "mixed")


def lstm_(
    weight_hh: Tensor,
    scheme: str,
    *,
    weight_ih: Tensor | None = None,
    alpha: float = 1.02,
    beta: float = 0.04,
    fb_alpha: float = paper.FB_CHAIN_FORWARD_GAIN,
    gain: float = 1.0,
    end_gain: float = 0.01,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Initialize stacked LSTM weights per gate, in torch's gate order (i, f, g, o).

    ``weight_hh`` has shape ``(4N, N)`` (e.g. ``lstm.weight_hh_l0``); each ``(N, N)`` block
    is treated as a vanilla RNN's recurrent matrix (Orhan & Pitkow, 2020, §3.3):

    * ``"orthogonal"``: an independent :func:`orthogonal_` block per gate, scaled by ``gain``;
    * ``"chain"``: a chain with gain ``alpha`` (default 1.02, the authors' code) in every gate;
    * ``"fb_chain"``: a chain with forward gain ``fb_alpha`` (default 0.99, the authors'
      code) and feedback ``beta`` in every gate;
    * ``"plain"``: PyTorch's default :math:`U(-1/\sqrt{N}, 1/\sqrt{N})`;
    * ``"mixed"``: the antisymmetric ramp :func:`ramp_` (``end_gain``) in the sigmoid gates
      i, f, o, and a chain with gain ``alpha`` in the tanh update gate g.

    If ``weight_ih`` (shape ``(4N, d)``) is given it is filled per gate as well: the source
    matrix ``0.9 I`` for the chain-like schemes (chain, fb_chain, mixed), the Gaussian
    N(0, (0.9/√N)²) for orthogonal and torch's default for plain.

    Examples:
        >>> w = lstm_(torch.empty(12, 3), "mixed")
        >>> g = w[6:9]                      # the update gate block
        >>> bool(g[1, 0] == 1.02 and g[0, 1] == 0.0)
        True
        >>> f = lstm_(torch.empty(12, 3), "fb_chain", beta=0.05, fb_alpha=0.95)[3:6]   # forget gate
        >>> [round(float(f[1, 0]), 2), round(float(f[0, 1]), 2)]
        [0.95, 0.05]
    """
    if not isinstance(weight_hh, Tensor) or weight_hh.ndim != 2 or weight_hh.shape[0] != 4 * weight_hh.shape[1]:
        shape = tuple(weight_hh.shape) if isinstance(weight_hh, Tensor) else type(weight_hh).__name__
        raise ValueError(f"lstm_ expects stacked weight_hh of shape (4N, N), got {shape}")
    if scheme not in LSTM_SCHEMES:
        raise ValueError(f"unknown LSTM scheme {scheme!r}; expected one of {list(LSTM_SCHEMES)}")
    fb_alpha = validate.finite_float(fb_alpha, "fb_alpha")
    n = weight_hh.shape[1]
    if weight_ih is not None:
        _check_2d(weight_ih, "lstm_ weight_ih")
        if weight_ih.shape[0] != 4 * n:
            raise ValueError(f"lstm_ expects stacked weight_ih of shape (4N, d) = ({4 * n}, d), got {tuple(weight_ih.shape)}")
    with torch.no_grad():
        for k, gate in enumerate(LSTM_GATES):
            block = weight_hh[k * n : (k + 1) * n]
            if scheme == "orthogonal":
                orthogonal_(block, gain, generator=generator)
            elif scheme == "chain":
                chain_(block, alpha)
            elif scheme == "fb_chain":
                fb_chain_(block, beta, fb_alpha)
            elif scheme == "plain":
                plain_(block, n, generator=generator)
            else:  # mixed
                if gate == "g":
                    chain_(block, alpha)
                else:
                    ramp_(block, end_gain)
            if weight_ih is not None:
                u = weight_ih[k * n : (k + 1) * n]
                if scheme in ("chain", "fb_chain", "mixed"):
                    source_(u)
                elif scheme == "orthogonal":
                    scaled_normal_(u, generator=generator)
                else:
                    plain_(u, n, generator=generator)
    return weight_hh
