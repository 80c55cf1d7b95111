r"""A measured ceiling of lockstep over the process pool, from the recurrent GEMMs alone (issue 10).

A lockstep group (:mod:`nnrnn.lockstep`) gives every run its own ``W``: stacking K runs makes no
product larger, so it raises no GEMM's arithmetic intensity and can only amortize the per-update
overhead around the products. :func:`recurrence_ceiling` measures how much faster than the pool
those products could run at most if they were batched, on the same cores:

* **(a) pool** (``GEMMs: pool``): the sequential critical path of one run's update, one run per
  process, ``cores`` processes of one torch thread as the pool runs them. Per time step, forward:
  the ``(B x N) @ (N x N)`` product and ``tanh``; then per time step, backward: ``da = (dh + g_t)
  (1 - h_t^2)`` (``g_t``, the readout's gradient, where it reads every step) and ``dh = da @ W``.
  With the C++ engine (the pool's, ``engine="auto"``) these are its own loops (``forward_``, and
  ``backward`` with no weight or input gradient): one BLAS call per product, no Python between
  steps. Without it, the same steps as PyTorch calls.
* **(b) batched** (``GEMMs: K=k``): the same steps for ``k`` runs at once, per time step one
  ``torch.baddbmm`` of ``(k, B, N) @ (k, N, N)`` and ``tanh_``, backward two or three element-wise calls and
  one ``torch.bmm``: in one process on all ``cores`` threads and, where ``cores > 1`` and ``k >=
  cores``, in ``cores`` processes of one thread with ``k / cores`` runs each (``per core``, as
  lockstep's layouts).

The rate of each is run-updates per second of the recurrence only: the input projection, the
readout, ``dW`` and ``dU`` (large products over all steps at once, which batch without lockstep),
the loss and the optimizer step are left out on both sides. Both sides reuse their buffers and
flush subnormal floats, as the C++ engine does. The ceiling is the best (b) layout's median
within-round ratio to (a). The batched side makes about six PyTorch calls per step for all ``k``
runs (a few microseconds each) where (a) makes none, which lowers (b) most at small ``k``; at copy
size on one thread ``k = 8`` and ``k = 32`` ran alike, so the best over ``k`` is the figure to read.

The ratio is what batching the recurrent products gains over the pool's own loops, not a bound
on lockstep's whole update: the recurrence is only part of an update. How large a part, ``bench
sweep`` reports too (``recurrence_vs_pool`` in :func:`nnrnn.bench.sweep.sweep_ceilings`: the
recurrence alone against the pool's full updates); the rest, ``dW``, the input projection, the
readout, the loss and the optimizer step, each lockstep run still does for itself.
"""

from __future__ import annotations

import statistics
from functools import partial
from typing import Iterator, Mapping, Sequence

import torch
from torch import Tensor

from .. import models, paper
from ..resources import available_cpus
from .common import paired_ratio
from .workers import Variant, interleaved

__all__ = ["recurrence_flops", "recurrence_updates", "ceiling_variants", "ceiling_summary", "recurrence_ceiling"]

#: the label of the ceiling's (a) side; its (b) layouts are ``GEMMs: K=k`` and ``GEMMs: K=k per core``.
CEILING_POOL = "GEMMs: pool"
_TANH = models.ACT_CODE["tanh"]  # the C++ engine's code of the nonlinearity


def recurrence_flops(seq_len: int, batch: int, hidden: int) -> int:
    """Multiply-add FLOPs of the recurrence of one run-update: the forward and ``dh`` products, ``2 \\cdot 2TBN^2``.

    Examples:
        >>> recurrence_flops(500, 16, 100) / 1e6
        320.0
    """
    return 4 * seq_len * batch * hidden * hidden


def _torch_loops(out: Tensor, h0: Tensor, w: Tensor, wt: Tensor, grad: Tensor | None, grad_last: Tensor,
                 da: Tensor, dh: Tensor, tmp: Tensor) -> None:
    """Forward then backward through the recurrence with PyTorch calls: ``mm`` on ``(B, N)``, ``bmm`` on ``(K, B, N)``."""
    batched = out.dim() == 4
    addmm_, mm = (Tensor.baddbmm_, torch.bmm) if batched else (Tensor.addmm_, torch.mm)
    prev = h0
    for t in range(out.shape[0]):
        prev = addmm_(out[t], prev, wt).tanh_()  # out[t] = tanh(out[t] + h_{t-1} W^T)
    dh.copy_(grad_last)
    for t in range(out.shape[0] - 1, -1, -1):
        if grad is not None:
            dh.add_(grad[t])
        torch.mul(dh, out[t], out=tmp)
        torch.addcmul(dh, tmp, out[t], value=-1, out=da)  # da = dh (1 - h_t^2)
        if t > 0:
            mm(da, w, out=dh)


def recurrence_updates(seq_len: int, batch: int, hidden: int, runs: int = 1, *, batched: bool = False,
                       per_step: bool = True, seed: int = 0) -> Iterator[int]:
    """The recurrence of ``runs`` runs' updates (see the module): yields 0 once built, then ``runs`` per update.

    ``batched=False`` (one run): the C++ engine's loops when it builds, else PyTorch calls on
    ``(B, N)``; ``batched=True``: ``torch.baddbmm``/``torch.bmm`` on ``(runs, B, N)``. ``W`` is a
    random orthogonal matrix per run; ``out`` keeps its last ``tanh`` values as the next update's
    input projection (bounded, like the real one).

    Examples:
        >>> it = recurrence_updates(5, 2, 4, 3, batched=True)
        >>> next(it), next(it), next(it)
        (0, 3, 3)
    """
    if runs != 1 and not batched:
        raise ValueError(f"one run per process unless batched, got runs={runs}")
    # the caller's denormal mode (torch has no getter): restored after every batched step
    caller_flushes = float(torch.tensor([1e-39]) * 1.0) == 0.0
    gen = torch.Generator().manual_seed(seed)
    lead = (runs,) if batched else ()
    w = torch.linalg.qr(torch.randn(*lead, hidden, hidden, generator=gen))[0].contiguous()
    out = torch.rand(seq_len, *lead, batch, hidden, generator=gen) - 0.5
    h0 = torch.zeros(*lead, batch, hidden)
    grad = 0.1 * torch.randn(seq_len, *lead, batch, hidden, generator=gen) if per_step else None
    grad_last = 0.1 * torch.randn(*lead, batch, hidden, generator=gen)
    cpp = not batched and models.resolve_engine(None, torch.device("cpu"), torch.float32) == "cpp"
    if cpp:
        ops = torch.ops.nnrnn_elman
        x, w_ih = torch.zeros(seq_len, batch, 1), torch.zeros(hidden, 1)  # not read: no input gradient
        chunk = max(1, -(-models.CHUNK_ROWS // batch))  # as nnrnn.models calls it
        no_grads = (False,) * 5  # dx, dh0, dU, dW, db

        def step() -> None:
            ops.forward_(out, h0, w, _TANH)
            ops.backward(grad, None if per_step else grad_last, out, x, h0, w_ih, w, _TANH, *no_grads, chunk)
    else:
        wt = w.transpose(-1, -2).contiguous()  # W^T, as the C++ engine precomputes it
        da, dh, tmp = (torch.empty_like(h0) for _ in range(3))
        last = torch.zeros_like(grad_last) if per_step else grad_last

        def step() -> None:
            torch.set_flush_denormal(True)  # as the C++ engine does inside its loops, and only there
            try:
                _torch_loops(out, h0, w, wt, grad, last, da, dh, tmp)
            finally:
                torch.set_flush_denormal(caller_flushes)
    yield 0
    while True:
        step()
        yield runs


def ceiling_variants(seq_len: int, batch: int, hidden: int, ks: Sequence[int], cores: int, *,
                     per_step: bool = True) -> list[Variant]:
    """The ceiling's layouts: (a) first, then (b) for each ``k`` (one process of ``cores`` threads, then per core)."""
    work = partial(recurrence_updates, seq_len, batch, hidden, per_step=per_step)
    variants = [Variant(CEILING_POOL, [partial(work, 1, seed=i) for i in range(cores)], [1] * cores, 1)]
    for k in ks:
        variants.append(Variant(f"GEMMs: K={k}", [partial(work, k, batched=True)], [k], cores))
        if cores > 1 and k >= cores:
            per = [len(range(i, k, cores)) for i in range(cores)]
            builds = [partial(work, n, batched=True, seed=i) for i, n in enumerate(per)]
            variants.append(Variant(f"GEMMs: K={k} per core", builds, per, 1))
    return variants


def ceiling_summary(rates: Mapping[str, Sequence[float]], layouts: Mapping[str, str]) -> dict:
    """The best batched layout against the pool, from each variant's run-updates per second per round.

    ``rates`` holds :data:`CEILING_POOL` and the (b) labels; ``layouts`` their layouts. Returns
    ``{"ratio", "variant", "layout", "ratios", "run_updates_per_s"}``: the ceiling (the largest
    median within-round ratio to the pool), the layout that reached it, every (b) layout's ratio
    and every variant's median rate.

    Examples:
        >>> rates = {CEILING_POOL: [10.0, 5.0], "GEMMs: K=8": [12.0, 7.0], "GEMMs: K=8 per core": [11.0, 5.0]}
        >>> s = ceiling_summary(rates, dict.fromkeys(rates, "-"))
        >>> s["variant"], round(s["ratio"], 2), s["run_updates_per_s"][CEILING_POOL]
        ('GEMMs: K=8', 1.3, 7.5)
    """
    ratios = {label: paired_ratio(r, rates[CEILING_POOL]) for label, r in rates.items() if label != CEILING_POOL}
    best = max(ratios, key=ratios.__getitem__)
    return {"ratio": ratios[best], "variant": best, "layout": layouts[best], "ratios": ratios,
            "run_updates_per_s": {label: statistics.median(r) for label, r in rates.items()}}


def recurrence_ceiling(
    seq_len: int = paper.SEQUENCE_LENGTH["copy"],
    batch: int = paper.OPTIMIZER["batch_size"],
    hidden: int = paper.HIDDEN_SIZE["copy"],
    *,
    ks: Sequence[int] = (8, 32, 128),
    cores: int | None = None,
    per_step: bool = True,
    rounds: int = 5,
    window_s: float = 2.0,
) -> dict:
    """The ceiling on its own (default: copy size): :func:`ceiling_variants`, interleaved, then :func:`ceiling_summary`.

    ``bench sweep`` runs the same variants interleaved with its others instead.
    """
    variants = ceiling_variants(seq_len, batch, hidden, ks, cores or available_cpus(), per_step=per_step)
    got, _ = interleaved(variants, rounds, window_s)
    return ceiling_summary({v.label: got[v.label] for v in variants}, {v.label: v.layout for v in variants})
