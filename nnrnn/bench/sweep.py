"""``nnrnn bench sweep``: the run-updates per second a sweep gets from the usable cores.

A process pool of single-run trainers against lockstep groups (:func:`bench_sweep`), with the
ceiling of lockstep over the pool from the recurrent GEMMs alone (:mod:`nnrnn.bench.ceiling`)
timed in the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from typing import Callable, Hashable, Iterator, Mapping, Sequence

import torch
from torch.utils.benchmark import Timer

from .. import fused as _fused
from .. import lockstep as _lockstep
from .. import models, paper
from ..profiles import resolve_device
from ..resources import available_cpus
from ..store import machine
from ..tasks import stream_generator
from ..train import TrainConfig, initial_model, make_optimizer
from .ceiling import CEILING_POOL, ceiling_summary, ceiling_variants, recurrence_flops
from .common import paired_ratio, pick_sizes, write_json
from .workers import Variant, interleaved

__all__ = ["SWEEP_SIZES", "SWEEP_KS", "bench_sweep", "sweep_configs", "update_flops", "gemm_gflops",
           "single_run_updates", "lockstep_updates", "format_sweep_table", "sweep_ceilings"]

_B = paper.OPTIMIZER["batch_size"]
#: name -> (task, T, N): the paper's sizes (§4.1); psMNIST at N = 25 (the paper's text) and 100 (its code).
SWEEP_SIZES: dict[str, tuple[str, int | None, int]] = {
    "copy": ("copy", paper.SEQUENCE_LENGTH["copy"], paper.HIDDEN_SIZE["copy"]),
    "addition": ("addition", paper.SEQUENCE_LENGTH["addition"], paper.HIDDEN_SIZE["addition"]),
    "psmnist-n25": ("psmnist", None, paper.PSMNIST_HIDDEN_TEXT),
    "psmnist-n100": ("psmnist", None, paper.PSMNIST_HIDDEN_CODE),
}
SWEEP_KS: tuple[int, ...] = (8, 32, 128)
_QUICK_SIZES = {"copy": ("copy", 30, 8)}
#: our choice: the four initializers at one scale each, and the paper's learning rates from 1e-5
#: to 1e-4 (small: no run diverges or leaves the group while it is timed).
_INITS = (("identity", 1.0), ("orthogonal", 1.0), ("chain", 1.0), ("fb_chain", 0.04))
_LRS = tuple(sorted(lr for lr in paper.PAPER_LRS if 1e-5 <= lr <= 1e-4))


def sweep_configs(task: str, T: int | None, hidden: int, k: int, *, batch: int = _B, device: str = "cpu",
                  n_train: int | None = None, n_val: int = 16) -> list[TrainConfig]:
    """``k`` distinct configs that fit one lockstep group, as a sweep's group holds them.

    The four initializers, small learning rates (no run diverges or leaves the group while it is
    timed) and a seed of each run's own (own data, initial weights and batch order); training
    sets of ``n_train`` sequences (default ``8 * batch``) and no early stop.

    Examples:
        >>> cfgs = sweep_configs("copy", 30, 8, 5)
        >>> [c.init for c in cfgs], len({c.hash() for c in cfgs})
        (['identity', 'orthogonal', 'chain', 'fb_chain', 'identity'], 5)
    """
    return [
        TrainConfig(task=task, T=T, hidden_size=hidden, init=_INITS[i % 4][0], scale=_INITS[i % 4][1], lr=_LRS[i % len(_LRS)],
                    seed=1 + i, n_train=n_train or 8 * batch, n_val=n_val, batch_size=batch, early_stop=0.0, device=device)
        for i in range(k)
    ]  # fmt: skip


def update_flops(cfg: TrainConfig) -> int:
    r"""Multiply-add FLOPs of one update of one run: the matmuls of forward and backward.

    The recurrence ``3 \cdot 2TBN^2`` (forward, ``dh`` and ``dW``), the input projection
    ``2 \cdot 2TBdN`` (forward and ``dU``) and the readout ``3 \cdot 2RNO`` (forward, ``dV`` and
    the states' gradient) over ``R = TB`` rows (a readout at every step) or ``B`` (last step);
    element-wise work is not counted.

    Examples:
        >>> update_flops(TrainConfig(task="copy", T=500, hidden_size=100)) / 1e6  # copy: d = 10, O = 9
        555.2
    """
    task = cfg.make_task()
    t, b, n = task.T, cfg.batch_size, cfg.hidden_size
    rows = t * b if task.per_step else b
    return 6 * t * b * n * n + 4 * t * b * task.input_size * n + 6 * rows * n * task.output_size


def single_run_updates(cfg: TrainConfig) -> Iterator[int]:
    """One run stepped as :func:`nnrnn.train.train` steps it (with the step it chooses, fused or
    reference: :func:`nnrnn.fused.choose_step`): yields 0 once built, then 1 per update."""
    device, task = resolve_device(cfg.device), cfg.make_task()
    data = task.datasets(cfg.n_train, cfg.n_val, cfg.seed)[0].to(device)
    model = initial_model(cfg, device).train()
    params, order = list(model.parameters()), stream_generator(cfg.seed, "order")
    if _fused.choose_step(None, model, task, loss=cfg.loss) == "fused":
        step = _fused.FusedStep(model, task, lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps, clip_norm=cfg.clip_norm)
    else:
        opt = make_optimizer(model.parameters(), cfg)

        def step(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
            return _fused.reference_step(model, opt, task, x, y, cfg.clip_norm, params)

    yield 0
    while True:
        perm = torch.randperm(cfg.n_train, generator=order).to(device)
        for start in range(0, cfg.n_train, cfg.batch_size):
            x, y = data.batch(perm[start : start + cfg.batch_size])
            step(x, y)
            yield 1


def lockstep_updates(cfgs: Sequence[TrainConfig]) -> Iterator[int]:
    """A lockstep group (``nnrnn.lockstep.Group``, with the step it chooses: fused where it can) without
    validation: yields 0 once built, then each step's run-updates."""
    group = _lockstep.Group(cfgs, resolve_device(cfgs[0].device), time.perf_counter())
    yield 0
    while group.active:
        runs = len(group.active)
        group.step()
        yield runs


def gemm_gflops(n: int, threads: int, min_s: float = 0.3) -> float:
    """The large-GEMM rate: GFLOP/s of ``torch.mm`` of two ``n x n`` float32 matrices on ``threads`` threads (median)."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    timer = Timer("torch.mm(a, b, out=c)", globals={"torch": torch, "a": a, "b": b, "c": c}, num_threads=threads)
    return 2 * n**3 / timer.blocked_autorange(min_run_time=min_s).median / 1e9


def bench_sweep(
    sizes: Mapping[str, tuple[str, int | None, int]] = SWEEP_SIZES,
    *,
    ks: Sequence[int] = SWEEP_KS,
    batch: int = _B,
    cores: int | None = None,
    rounds: int = 5,
    window_s: float = 2.0,
    gemm_n: int = 2048,
    ceiling_ks: Sequence[int] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[dict], dict[int, float]]:
    """Sweep throughput of the process pool and of lockstep groups, interleaved, at each size.

    For every size, every variant runs in processes of its own, started once: the **pool**
    (``cores`` processes of one torch thread, each stepping one run as :func:`nnrnn.train.train`
    does), and for each ``K`` in ``ks`` a **lockstep** group of ``K`` runs in one process of
    ``cores`` threads and, where ``cores > 1``, the same ``K`` runs as ``cores`` processes of one
    thread (``K / cores`` runs each, "per core"); then the layouts of the **ceiling** from the
    recurrent GEMMs alone (:func:`nnrnn.bench.ceiling.ceiling_variants` for each ``K`` in
    ``ceiling_ks``, default ``ks``; rows ``GEMMs: ...``). After one warm-up round, ``rounds``
    rounds time every variant over a window of at least ``window_s`` seconds and two updates, in
    turn with the large-GEMM rate on 1 and ``cores`` threads (:func:`gemm_gflops` of ``gemm_n``).

    Returns ``(rows, gemm)``: one dict per size and variant (median run-updates per second and
    those of each round, ratio to the pool, GFLOP/s by :func:`update_flops`, peak resident memory;
    ``"ceiling"``: whether it is a ceiling row, whose ratio is to ``GEMMs: pool`` and whose
    GFLOP/s count :func:`~nnrnn.bench.ceiling.recurrence_flops`) and the median GEMM GFLOP/s per
    thread count.
    """
    cores = cores or available_cpus()
    rows: list[dict] = []
    gemm_all: dict[int, list[float]] = {t: [] for t in sorted({1, cores})}
    for first, (name, (task, T, hidden)) in enumerate(sizes.items()):
        cfgs = sweep_configs(task, T, hidden, max(max(ks), cores), batch=batch)
        variants = [Variant("process pool", [partial(single_run_updates, c) for c in cfgs[:cores]], [1] * cores, 1)]
        for k in ks:
            variants.append(Variant(f"lockstep K={k}", [partial(lockstep_updates, cfgs[:k])], [k], cores))
            if cores > 1 and k >= cores:
                groups = [cfgs[i:k:cores] for i in range(cores)]
                variants.append(Variant(f"lockstep K={k} per core", [partial(lockstep_updates, g) for g in groups],
                                         list(map(len, groups)), 1))
        seq_len, per_step = cfgs[0].make_task().T, cfgs[0].make_task().per_step
        ceiling = ceiling_variants(seq_len, batch, hidden, ks if ceiling_ks is None else ceiling_ks, cores, per_step=per_step)
        extra = {("gemm", t): partial(gemm_gflops, gemm_n, t) for t in gemm_all}
        got, base = interleaved(variants + ceiling, rounds, window_s, extra)
        for t in gemm_all:
            gemm_all[t] += got["gemm", t]
        gemm = statistics.median(got["gemm", cores])
        for vs, pool, flops in ((variants, "process pool", update_flops(cfgs[0])),
                                (ceiling, CEILING_POOL, recurrence_flops(seq_len, batch, hidden))):
            for v in vs:
                rate, runs = statistics.median(got[v.label]), sum(v.runs)
                rows.append({
                    "size": name, "T": seq_len, "B": batch, "N": hidden, "variant": v.label, "runs": runs,
                    "layout": v.layout, "run_updates_per_s": rate, "rounds": got[v.label], "ceiling": vs is ceiling,
                    "core_ms_per_update": 1e3 * cores / rate, "vs_pool": paired_ratio(got[v.label], got[pool]),
                    "gflops": rate * flops / 1e9, "gemm_fraction": rate * flops / 1e9 / gemm,
                    "peak_mib_per_process": max(v.peak) / 2**20,
                    "mib_per_run": sum(p - b for p, b in zip(v.peak, base[v.label])) / runs / 2**20,
                })  # fmt: skip
        log(format_sweep_table([r for r in rows if r["size"] == name], header=not first))
    return rows, {t: statistics.median(v) for t, v in gemm_all.items()}


def sweep_ceilings(rows: Sequence[dict]) -> dict[str, dict]:
    """Per size, :func:`nnrnn.bench.ceiling.ceiling_summary` of the ceiling rows of :func:`bench_sweep`.

    Plus ``recurrence_vs_pool``: the largest median within-round ratio of a ceiling row's rate (the
    recurrence alone, batched or not) to the process pool's (full updates), and
    ``recurrence_variant``: that row. Its inverse is about the share of a pool update spent in the
    recurrent products; it would bound lockstep over the pool only if lockstep did nothing else per
    run, while each lockstep run still does its own ``dW``, input projection, readout and loss.
    """
    out: dict[str, dict] = {}
    for size in dict.fromkeys(r["size"] for r in rows):
        here = [r for r in rows if r["size"] == size]
        ceil, pool = [r for r in here if r["ceiling"]], [r for r in here if r["variant"] == "process pool"]
        if len(ceil) > 1:
            out[size] = ceiling_summary({r["variant"]: r["rounds"] for r in ceil}, {r["variant"]: r["layout"] for r in ceil})
            if pool:
                alone = {r["variant"]: paired_ratio(r["rounds"], pool[0]["rounds"]) for r in ceil}
                out[size]["recurrence_variant"] = fastest = max(alone, key=alone.__getitem__)
                out[size]["recurrence_vs_pool"] = alone[fastest]
    return out


def format_sweep_table(rows: list[dict], header: bool = True) -> str:
    """The rows of :func:`bench_sweep` as a fixed-width text table."""
    head = (f"{'size':<13}{'T':>4}{'N':>4}  {'variant':<25}{'layout':<25}{'run-upd/s':>10}{'core-ms':>9}"
            f"{'vs pool':>8}{'GFLOP/s':>8}{'%GEMM':>6}{'MiB/proc':>9}{'MiB/run':>8}")
    lines = [head, "-" * len(head)] if header else []
    lines += [
        f"{r['size']:<13}{r['T']:>4}{r['N']:>4}  {r['variant']:<25}{r['layout']:<25}{r['run_updates_per_s']:>10.1f}"
        f"{r['core_ms_per_update']:>9.2f}{r['vs_pool']:>8.2f}{r['gflops']:>8.1f}{100 * r['gemm_fraction']:>6.1f}"
        f"{r['peak_mib_per_process']:>9.0f}{r['mib_per_run']:>8.1f}" for r in rows
    ]
    return "\n".join(lines)


_SWEEP_HEAD = """nnrnn.bench sweep, {date}; torch {torch}; engine: {engine}
machine: {machine}; usable CPUs: {usable} (using {c})
process pool: {c} processes x 1 torch thread, each stepping one run as nnrnn.train.train does; lockstep: groups of K
  runs (nnrnn.lockstep, {step} step) in 1 process x {c} threads, or in {c} processes x 1 thread x K/{c} runs ('per core')
GEMMs (the ceiling, nnrnn.bench.ceiling): the recurrence alone (forward (B x N) @ (N x N) + tanh, backward
  element-wise + dh @ W, per step): 'GEMMs: pool' one run per process as the pool, in the engine's own loops;
  'GEMMs: K=..' K runs batched (torch.baddbmm/bmm per step); their 'vs pool' is to 'GEMMs: pool', their
  GFLOP/s count those two products only
{rounds} interleaved rounds (A B C A B C ...) of windows >= {window:g} s and 2 updates after a warm-up round; medians;
  'vs pool' = median over rounds of the ratio within a round
run-upd/s = run-updates per second (wall clock, all processes of a variant); core-ms = {c} x wall ms per run-update
GFLOP/s: forward and backward matmuls (nnrnn.bench.update_flops); %GEMM: of torch.mm {n}^3 float32 on {c} threads
  (medians of torch.utils.benchmark, then over rounds); MiB: peak resident memory, per process (max) and per run
  (beyond the memory of each process before it built its runs)"""


def sweep_command(args: argparse.Namespace) -> int:
    sizes, rounds, window, gemm_n, batch = pick_sizes(args.sizes, SWEEP_SIZES), args.rounds, args.window, 2048, _B
    ks = tuple(int(k) for k in args.ks.split(",")) if args.ks else SWEEP_KS
    ceiling_ks = ks
    if args.quick:
        sizes, ks, rounds, window, gemm_n, batch = _QUICK_SIZES, (2, 4), min(rounds, 2), 0.05, 256, 4
        ceiling_ks = (4,)
    cores = args.cores or available_cpus()
    engine = models.resolve_engine(None, torch.device("cpu"), torch.float32)
    print(_SWEEP_HEAD.format(date=time.strftime("%Y-%m-%d %H:%M %Z"), machine=machine(), usable=available_cpus(),
                             torch=torch.__version__, engine=engine, c=cores, rounds=rounds, window=window, n=gemm_n,
                             step=_lockstep.choose_step(None, sweep_configs("copy", 30, 8, 1)[0])))
    print("--quick: copy at T = 30, N = 8, B = 4; K = 2, 4 (GEMMs: K = 4); short windows (not the paper's sizes)\n"
          if args.quick else "")
    rows, gemm = bench_sweep(sizes, ks=ks, batch=batch, cores=cores, rounds=rounds, window_s=window, gemm_n=gemm_n,
                             ceiling_ks=ceiling_ks, log=lambda s: print(s, flush=True))
    print(f"large GEMM (torch.mm {gemm_n}^3 float32):", ", ".join(f"{g:.1f} GFLOP/s on {t} thread(s)" for t, g in gemm.items()))
    ceilings = sweep_ceilings(rows)
    meta = {"torch": torch.__version__, "machine": machine(), "cores": cores, "date": time.strftime("%Y-%m-%d"),
            "quick": args.quick, "rounds": rounds, "window_s": window, "gemm_n": gemm_n}
    write_json(args.json, {"meta": meta, "gemm_gflops": gemm, "rows": rows, "ceiling": ceilings})
    copy = [r for r in rows if r["size"] == "copy" and r["variant"] != "process pool" and not r["ceiling"]]
    if not copy:  # the last lines are about copy size
        return 0
    best = max(copy, key=lambda r: r["vs_pool"])
    print(f"best lockstep layout at copy size: {best['variant']} ({best['layout']}),"
          f" {100 * best['gemm_fraction']:.1f}% of the {cores}-thread GEMM rate")
    if "copy" in ceilings:
        c = ceilings["copy"]
        alone = (f"; the recurrence alone ({c['recurrence_variant']}): {c['recurrence_vs_pool']:.2f}x the pool's full"
                 " updates" if "recurrence_vs_pool" in c else "")
        print(f"ceiling of lockstep over pool from the recurrent GEMMs alone: {c['ratio']:.2f}x"
              f" ({c['variant']}, {c['layout']}{alone})")
    print(f"sweep throughput at copy size: lockstep {best['vs_pool']:.2f}x process pool")
    return 0
