r"""How far a float32 evaluation of a stored network can be from the exact one: an a-posteriori bound.

``nnrnn verify`` recomputes a run's final validation loss and accuracy from its stored weights and
compares them with the stored numbers. Both are floating-point computations of one exact value
(the stored float32 weights, the stored float32 inputs, exact arithmetic), possibly by different
code: the fused C++ step, the C++ or Python engine, a lockstep stack's batched products, another
CPU's BLAS summation order. :func:`bounded_evaluation` computes that exact value to float64 and,
in the same pass, a bound on the distance of *any* such computation in precision ``u`` from it.
The allowance for the stored number is the sum of the float32 bound (the stored computation) and
the float64 bound (the recomputation).

**Model of rounding.** With ``u = 2**-24`` (float32; ``2**-53`` for float64) and
``gamma_n = n u / (1 - n u)``, any evaluation order of a dot product of ``n`` terms gives
``|fl(sum a_k b_k) - sum a_k b_k| <= gamma_n sum |a_k b_k|``. A step
``h_t = f(W h_{t-1} + U x_t + b)`` of ``N`` units and ``d`` inputs therefore adds to its
pre-activation a local error of at most

.. math:: r_t = \gamma_{N+d+1} (|W| |h_{t-1}| + |U| |x_t| + |b|)

(componentwise), the nonlinearity adds ``kappa u |h_t|`` (:data:`ACT_ROUNDING`: relu is exact;
the engines' elu and tanh are built on an ``expm1`` accurate to about ``2u`` and are within
``8u`` of the exact function), the readout ``o = V h + c`` adds
``gamma_{N+1} (|V| |h| + |c|)``, the loss of each term adds its own evaluation rounding (below),
and the mean over the ``n`` terms of a batch adds ``gamma_D`` of the mean of ``|loss|``
(:func:`reduction_depth`).

**Amplification through the recurrence.** A local error ``delta`` at step ``s`` reaches the mean
loss ``L`` through the recurrence as ``(dL/da_s) . delta`` to first order in ``u``: the adjoint
``lambda_s = dL/da_s`` (backpropagation through time, done here in float64 along the
recomputed trajectory) is exactly the amplification that rounding suffers on its way through
the remaining steps, the readout and the loss. So

.. math:: |\hat L - L| \le \sum_s |\lambda^a_s| \cdot r_s + \sum_s |\lambda^h_s| \cdot \kappa u |h_s|
          + |\partial L / \partial o| \cdot r^o + \text{(loss and mean roundings)} + O(u^2)

with ``lambda^h_s = dL/dh_s``. The same with ``L`` replaced by one logit of the last step gives
that logit's bound, for the accuracy (below). The bound follows the network's actual
trajectory: an exploding run (|h| growing like 1.02^T) gets its growth in ``|h|`` and in the
adjoint, a contracting or saturated one gets the contraction. Propagating a norm or a
componentwise bound instead (``e_t <= |W| e_{t-1} + r_t``) is rigorous to all orders but
multiplies ``||W||_2`` (or the spectral radius of ``|W|``, near ``0.8 sqrt(N)`` for a dense
orthogonal matrix) over the steps: ``||W||_2^T`` alone is 1e100 and more for most archived
runs, an allowance no forged number could exceed.

**Why the float64 states serve for both computations.** The coefficients of the bound (``|h|``,
``|lambda|``, the loss's derivative) are taken at the float64 trajectory, not at the exact one nor
at the stored float32 one. They differ from both by the state errors themselves, so the bound
changes by a relative amount of the size of the relative state error, a term of second order
in ``u`` (``O(u^2)`` times the amplification squared). It is negligible exactly while the
first-order picture holds, i.e. while the rounding, amplified, stays small against the values
(a relu unit whose pre-activation lies within rounding of 0, where the derivative jumps, is such
a second-order event). :mod:`nnrnn.verify` checks the premise on every run by evaluating it in
float32 here too: that evaluation, by this machine's code and summation order, must lie within
the bound.

**Loss evaluation.** Cross-entropy (class targets): ``log_softmax`` then the target's entry, at
most four roundings of the magnitudes ``|o_max|``, ``|o_y|``, the log-sum and the loss ``l``
(each at most ``l`` or the logits), and the log-sum's own error (``C - 1`` additions, ``exp``
within ``2u``, the shifted logits' errors at most ``u/e`` each): at most
``u (2|o_max| + 2|o_y| + 4 l + 2C + 8)`` per term. MSE (real targets): a difference and a
square, ``gamma_3 l`` per term. Its sensitivity to the logits (cross-entropy:
``|dl| <= |do_y| + max_j |do_j| <= 2 max_j |do_j|``; MSE: ``|dl| = 2 |o - y| |do|`` to first
order) is part of the adjoint.

**Accuracy.** An example's predicted class can differ between two evaluations only if its two
top logits are within their error bounds of a tie: ``o_k - o_j <= E_k + E_j`` for the top class
``k`` and some ``j`` (``E`` the float32 plus float64 bound of each logit). The allowance of a
metric that is a fraction of correctly classified examples is the fraction of such examples
(those the metric counts), plus, on each side, ``2u`` of the value: the tasks count the hits
exactly and divide once in float32 (``.float().mean()``), the recomputation too. That needs one
adjoint per class, cheap for a last-step readout (psMNIST); for a readout at every step (copy)
it would need one per step and class, and one flipped sequence (``1/n``) is allowed instead, as
before: that allowance is not derived.

Each factor ``gamma_n(u) / u`` is evaluated at float32's ``u``, where it is largest: the bound is
computed once, over ``u``, and scaled by either precision's ``u``. What is not covered: underflow
(an absolute error below 1e-45 per operation), the bound's own float64 arithmetic (a relative
1e-13), and a loss other than torch's cross-entropy or MSE (a ``TypeError`` says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import validate
from .models import SequenceModel

__all__ = ["U32", "U64", "ACT_ROUNDING", "gamma", "reduction_depth", "Bounded", "bounded_evaluation"]

#: unit roundoffs of float32 and float64.
U32, U64 = 2.0**-24, 2.0**-53
#: the nonlinearities' own rounding, in units of ``u``, relative to ``|f(a)|`` (module docstring).
#: Each is 1-Lipschitz with derivative in [0, 1], which the adjoint uses.
ACT_ROUNDING = {"elu": 8.0, "relu": 0.0, "tanh": 8.0}
#: values (steps x sequences x units) per chunk of the recomputation: its float64 tensors stay near 64 MB.
CHUNK_VALUES = 1 << 23


def gamma(n: int, u: float) -> float:
    """``n u / (1 - n u)``: the relative error bound of ``n`` sequential roundings of unit roundoff ``u``.

    Examples:
        >>> gamma(0, U32), gamma(1, U32) > U32
        (0.0, True)
    """
    n = validate.non_negative_int(n, "n")
    if n * u >= 1:
        raise ValueError(f"gamma_n needs n u < 1, got n = {n}, u = {u!r}")
    return n * u / (1 - n * u)


def reduction_depth(n: int) -> int:
    """The most roundings one term meets in torch's mean of ``n`` terms: ``16 (ceil(log16 n) + 1)``.

    Torch sums in a cascade (CPU: accumulators of 16 terms each, carried level by level into the
    next, ``ceil(log16 n)`` levels, plus the vector lanes' final combination; CUDA: a tree of depth
    ``log2 n``), never one term after another, so each term meets at most 16 roundings per level.
    A sequential sum (depth ``n - 1``) would need ``gamma_{n-1}``: 1.5 % for the copy task's
    250 000 terms per batch, where torch's error is a few ``u`` (``tests/test_verify_bound.py``
    checks this bound on the torch in use).

    Examples:
        >>> reduction_depth(1), reduction_depth(16), reduction_depth(250_000)
        (0, 32, 96)
    """
    n = validate.positive_int(n, "n")
    return 0 if n == 1 else 16 * (math.ceil(math.log2(n) / 4) + 1)


@dataclass(frozen=True)
class Bounded:
    """One recomputed number: its float64 ``value``, the bounds ``bound32`` and ``bound64`` on the
    distance of a float32 and of a float64 evaluation from the exact value, and ``allowance``, their
    sum: the largest difference a float32 evaluation (the stored number) can have from this one."""

    value: float
    bound32: float
    bound64: float

    @property
    def allowance(self) -> float:
        return self.bound32 + self.bound64


def _fprime(h: Tensor, act: str) -> Tensor:
    """The nonlinearity's derivative from its output (as the engines compute it)."""
    if act == "elu":
        return h.clamp(max=0.0) + 1.0
    if act == "relu":
        return (h > 0).to(h.dtype)
    return 1.0 - h * h


def _term_losses(o: Tensor, y: Tensor, classify: bool) -> tuple[Tensor, Tensor]:
    """Each term's loss and the bound on its evaluation's rounding, over ``u`` (module docstring)."""
    if classify:
        o2, y2 = o.reshape(-1, o.shape[-1]), y.reshape(-1)
        loss = F.cross_entropy(o2, y2, reduction="none")
        oy = o2.gather(1, y2[:, None])[:, 0]
        return loss, 2 * o2.amax(1).abs() + 2 * oy.abs() + 4 * loss + 2 * o2.shape[-1] + 8
    loss = (o - y).square().reshape(-1)
    return loss, gamma(3, U32) / U32 * loss


def _check_model(model: nn.Module) -> str:
    if not isinstance(model, SequenceModel) or not isinstance(model.readout, nn.Linear):
        raise TypeError(f"bounded_evaluation needs a SequenceModel with a linear readout, got {type(model).__name__}")
    if model.rnn.weight_hh.dtype != torch.float64:
        raise TypeError(f"bounded_evaluation runs the model in float64, got {model.rnn.weight_hh.dtype}")
    return validate.choice(model.rnn.nonlinearity, "nonlinearity", tuple(ACT_ROUNDING))


@torch.no_grad()
def _chunk(model: SequenceModel, task, x: Tensor, y: Tensor, act: str,
           n_mean: int) -> tuple[float, Tensor, float, Tensor | None]:
    """One chunk: its float64 mean loss and outputs, the bound on its mean loss over ``u``, and, for a
    last-step classifier, the bound on each logit over ``u`` ``(C, B)`` (``None`` otherwise).

    Each factor ``gamma_n(u) / u`` is taken at float32's ``u``, which makes it no smaller than at
    float64's: the bound over ``u`` times either precision's ``u`` bounds that precision's error.
    """
    rnn, ro, classify = model.rnn, model.readout, not y.is_floating_point()
    W, Uw, b, V = rnn.weight_hh, rnn.weight_ih, rnn.bias, ro.weight
    N, d = W.shape[0], Uw.shape[1]
    c = ro.bias.abs() if ro.bias is not None else 0.0
    h, _ = rnn.forward_time_major(x)  # (T, B, N)
    with torch.enable_grad():
        o = (ro(h).transpose(0, 1) if model.per_step else ro(h[-1])).requires_grad_(True)
        mean = task.loss(o, y)
        (g_o,) = torch.autograd.grad(mean, o)  # dL/do of the chunk's mean loss
    o = o.detach()
    terms, evals = _term_losses(o, y, classify)
    if abs(float(terms.mean()) - float(mean)) > 1e-9 * max(1.0, abs(float(mean))):
        raise TypeError(f"the task's loss is neither torch's cross-entropy (class targets) nor MSE (real targets): "
                        f"mean {float(mean)!r}, {'cross-entropy' if classify else 'MSE'} {float(terms.mean())!r}")
    g_o = g_o.transpose(0, 1) if model.per_step else g_o  # (T, B, C) or (B, C)
    logits = classify and not model.per_step
    direct = g_o @ V  # dL/dh through the readout: at every step, or at the last
    seed = None if model.per_step else torch.cat(  # the loss's adjoint and, for the accuracy, one per logit
        [direct[None], V[:, None, :].expand(-1, h.shape[1], -1)] if logits else [direct[None]])
    # the weight of |dL/dh_t| in the bound over u: the activation's rounding, and the pre-activation's
    # local rounding r_t = gamma (|W| |h_{t-1}| + |U| |x_t| + |b|) seen through f'(a_t) in [0, 1]
    fp = _fprime(h, act)
    r = h.abs() @ W.abs().T
    r = torch.cat([torch.zeros_like(r[:1]), r[:-1]]).add_(x.transpose(0, 1).abs() @ Uw.abs().T)
    if b is not None:
        r.add_(b.abs())
    w = r.mul_(fp).mul_(gamma(N + d + 1, U32) / U32).add_(h.abs(), alpha=ACT_ROUNDING[act])
    lam = torch.zeros(1 if seed is None else seed.shape[0], *h.shape[1:], dtype=h.dtype)
    acc = torch.zeros_like(lam)
    for t in range(h.shape[0] - 1, -1, -1):
        lam += direct[t] if seed is None else (seed if t == h.shape[0] - 1 else 0.0)
        acc.addcmul_(lam.abs(), w[t])
        lam = (lam * fp[t]) @ W
    acc = acc.sum(-1)
    g_ro = gamma(N + 1, U32) / U32
    ro_mag = (h.abs() if model.per_step else h[-1].abs()) @ V.abs().T + c  # the readout's rounding over gamma
    loss = (float(acc[0].sum()) + g_ro * float((g_o.abs() * ro_mag).sum()) + float(evals.mean())
            + gamma(reduction_depth(n_mean), U32) / U32 * float(terms.abs().mean()) + abs(float(mean)))
    return float(mean), o, loss, (acc[1:] + g_ro * ro_mag.T) if logits else None


def _uncertain(o: Tensor, e: Tensor) -> Tensor:
    """The examples whose top logit is within the logits' bounds ``e`` ``(C, B)`` of a tie with another."""
    top = o.argmax(-1, keepdim=True)
    eb = e.T
    near = o.gather(1, top) - o <= eb.gather(1, top) + eb
    return near.scatter_(1, top, False).any(1)


def bounded_evaluation(model: nn.Module, task, data, batch_size: int) -> dict[str, Bounded]:
    """The mean loss and metrics of a float64 ``model`` over ``data``, each with its rounding bounds.

    ``batch_size`` is the stored evaluation's (``TrainConfig.eval_batch_size``): its means are over
    at most that many sequences (times ``T`` for a readout at every step), which sets the
    reduction's depth; the recomputation goes in chunks of at most :data:`CHUNK_VALUES` states.
    The task's loss must be torch's cross-entropy or MSE, its metrics fractions of correctly
    classified terms (the tasks' accuracies).
    """
    act = _check_model(model)
    batch_size = validate.positive_int(batch_size, "batch_size")
    n, N = len(data), model.rnn.hidden_size
    T = data.batch(torch.arange(1))[0].shape[1]
    chunk = max(1, min(batch_size, CHUNK_VALUES // (T * N)))
    n_mean = batch_size * (T if model.per_step else 1)
    totals: dict[str, tuple[float, float, float]] = {}
    for start in range(0, n, chunk):
        idx = torch.arange(start, min(start + chunk, n))
        x, y = data.batch(idx)
        x, y = x.double(), (y.double() if y.is_floating_point() else y)
        mean, o, bound, e = _chunk(model, task, x, y, act, n_mean)
        w = len(idx) / n
        _add(totals, "loss", w, mean, U32 * bound, U64 * bound)
        metrics = task.metrics(o, y)
        flips = dict.fromkeys(metrics, 0.0)  # a readout at every step: one flipped sequence, added below
        if metrics and e is not None:  # the terms within their logits' bounds of a tie, as each metric counts them
            near = _uncertain(o, (U32 + U64) * e)
            flips = task.metrics(F.one_hot(torch.where(near, y, (y + 1) % o.shape[-1]), o.shape[-1]).double(), y)
        for k, value in metrics.items():  # a count (exact), then a division in float32 (.float().mean()) on both sides
            m, f = abs(float(value)), float(flips[k])
            _add(totals, k, w, float(value), f + 2 * U32 * (m + f), 2 * U32 * m)
    one_seq = 1.0 / n if model.per_step else 0.0
    tail = gamma(len(range(0, n, chunk)) + 1, U64)  # the chunks' weighted sum in Python floats
    return {k: Bounded(v, b32 + (one_seq if k != "loss" else 0.0), b64 + tail * max(1.0, abs(v)))
            for k, (v, b32, b64) in totals.items()}


def _add(totals: dict, key: str, w: float, value: float, b32: float, b64: float) -> None:
    v, a, b = totals.get(key, (0.0, 0.0, 0.0))
    totals[key] = (v + w * value, a + w * b32, b + w * b64)
