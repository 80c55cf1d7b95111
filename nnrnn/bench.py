"""Benchmarks: the Elman RNN engine against ``torch.nn.RNN``, and sweep throughput.

``python -m nnrnn.bench sweep`` measures the run-updates per second a sweep gets from the usable
cores: a process pool of single-run trainers against lockstep groups (:func:`bench_sweep`).

``python -m nnrnn.bench rnn`` times, side by side in one run, one full training step (forward
over the sequence, loss, backward, RMSprop step with global grad-norm clipping at 10) and one
forward pass (under ``torch.no_grad()``) at the paper's sizes (Orhan & Pitkow, 2020, §4.1):

========  =====  =====  =====  ========  ====================
size      T      B      N      inputs    readout
========  =====  =====  =====  ========  ====================
copy      500    16     100    10        9-way, every step
addition  750    16     100    2         1, last step
psmnist   784    16     100    1         10-way, last step
psmnist   784    128    100    1         10-way, last step
========  =====  =====  =====  ========  ====================

for these models: our engine with elu and with relu (``engine="auto"``: the C++ loop on the CPU
when it builds), our pure-PyTorch engine with elu (the fallback), ``torch.nn.RNN(relu)`` and a
naive autograd loop with elu. Both commands interleave their variants (A B C A B C ...,
:func:`interleave`) so that load from other processes hits them alike, report medians, and give
a ratio as the median over rounds of the ratio within a round (:func:`paired_ratio`).

Peak memory is measured in one extra, untimed training step: the largest number of bytes
allocated by torch's allocator beyond those held at the start of the step, from the
allocation events of ``torch.profiler`` (``profile_memory=True``) on the CPU, and
``torch.cuda.max_memory_allocated`` on CUDA.

Nothing here is a test: timings depend on the machine and its load. ``--quick`` runs a tiny
version (short sequences, two repeats) for the smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Hashable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.benchmark import Timer

from . import init as _init
from . import lockstep as _lockstep
from . import models
from .cli import HelpFormatter, device, non_negative_int, positive_int
from .profiles import resolve_device
from .resources import available_cpus
from .store import machine
from .tasks import stream_generator
from .train import TrainConfig, _datasets, initial_model, make_optimizer

try:
    import resource
except ImportError:  # Windows: no peak-memory figure
    resource = None

__all__ = ["BenchSize", "SIZES", "bench_rnn", "format_table", "SWEEP_SIZES", "bench_sweep",
           "sweep_configs", "update_flops", "gemm_gflops", "interleave", "paired_ratio", "main"]


@dataclass(frozen=True)
class BenchSize:
    """One benchmark size: sequence length, batch, hidden units, inputs, outputs, readout."""

    name: str
    seq_len: int
    batch: int
    hidden: int
    inputs: int
    outputs: int
    per_step: bool
    loss: str  # "ce" (cross-entropy) or "mse"


#: The paper's sizes; psMNIST uses N = 100 here (the authors' code), at batch 16 and 128.
SIZES: tuple[BenchSize, ...] = (
    BenchSize("copy", 500, 16, 100, 10, 9, True, "ce"),
    BenchSize("addition", 750, 16, 100, 2, 1, False, "mse"),
    BenchSize("psmnist-b16", 784, 16, 100, 1, 10, False, "ce"),
    BenchSize("psmnist-b128", 784, 128, 100, 1, 10, False, "ce"),
)

#: (label, nonlinearity, implementation): "ours" = ElmanRNN(engine=auto), "python" = the pure
#: PyTorch engine, "torch" = torch.nn.RNN, "autograd" = the naive loop.
CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("ours elu", "elu", "ours"),
    ("ours relu", "relu", "ours"),
    ("ours-python elu", "elu", "python"),
    ("nn.RNN relu", "relu", "torch"),
    ("autograd elu", "elu", "autograd"),
)
_BASELINE = "nn.RNN relu"


class _TorchRNNModel(nn.Module):
    """``torch.nn.RNN`` plus a linear readout, for comparison."""

    def __init__(self, size: BenchSize, nonlinearity: str) -> None:
        super().__init__()
        self.rnn = nn.RNN(size.inputs, size.hidden, nonlinearity=nonlinearity, batch_first=True)
        self.readout = nn.Linear(size.hidden, size.outputs)
        self.per_step = size.per_step

    def forward(self, x: Tensor) -> Tensor:
        out, h = self.rnn(x)
        return self.readout(out) if self.per_step else self.readout(h[-1])


def _make_model(size: BenchSize, nonlinearity: str, kind: str, seed: int) -> nn.Module:
    """A model of one kind, with the same starting weights for every kind (orthogonal W)."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "torch":
        model = _TorchRNNModel(size, nonlinearity)
        w_hh, w_ih = model.rnn.weight_hh_l0, model.rnn.weight_ih_l0
        biases = [model.rnn.bias_ih_l0, model.rnn.bias_hh_l0]
    else:
        engine = {"ours": None, "python": "python", "autograd": "autograd"}[kind]
        rnn = models.ElmanRNN(size.inputs, size.hidden, nonlinearity, engine=engine)
        model = models.SequenceModel(rnn, nn.Linear(size.hidden, size.outputs), size.per_step)
        w_hh, w_ih, biases = rnn.weight_hh, rnn.weight_ih, [rnn.bias]
    _init.init_rnn_(w_hh, w_ih, "orthogonal", 1.0, generator=gen)
    with torch.no_grad():
        for b in biases:
            b.zero_()
        bound = size.hidden**-0.5
        for p in model.readout.parameters():
            p.copy_((2 * torch.rand(p.shape, generator=gen) - 1) * bound)
    return model


def _batch(size: BenchSize, device: torch.device, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    x = torch.rand(size.batch, size.seq_len, size.inputs, generator=generator)
    if size.loss == "mse":
        y = torch.rand(size.batch, size.outputs, generator=generator)
    elif size.per_step:
        y = torch.randint(size.outputs, (size.batch, size.seq_len), generator=generator)
    else:
        y = torch.randint(size.outputs, (size.batch,), generator=generator)
    return x.to(device), y.to(device)


def _loss(size: BenchSize, logits: Tensor, y: Tensor) -> Tensor:
    if size.loss == "mse":
        return F.mse_loss(logits, y)
    if size.per_step:
        return F.cross_entropy(logits.reshape(-1, size.outputs), y.reshape(-1))
    return F.cross_entropy(logits, y)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (the profiler's start/stop lines are written there from C++)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def interleave(fns: Mapping[Hashable, Callable[[], float]], rounds: int, warmup: int = 0) -> dict[Hashable, list[float]]:
    """Call every function once per round, always in the same order (A B C A B C ...).

    Returns each function's values from the ``rounds`` rounds after ``warmup`` untimed ones, so
    that load which comes and goes during a benchmark falls on every variant alike.

    Examples:
        >>> calls = []
        >>> fns = {k: (lambda k=k: calls.append(k) or len(calls)) for k in "ab"}
        >>> interleave(fns, rounds=2, warmup=1), "".join(calls)
        ({'a': [3, 5], 'b': [4, 6]}, 'ababab')
    """
    out: dict[Hashable, list[float]] = {key: [] for key in fns}
    for r in range(warmup + rounds):
        for key, fn in fns.items():
            value = fn()
            if r >= warmup:
                out[key].append(value)
    return out


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """The median over rounds of ``a[i] / b[i]``: two variants compared within each round.

    Examples:
        >>> a, b = [2.0, 9.0, 4.0], [1.0, 3.0, 1.0]  # load tripled both in round 2
        >>> paired_ratio(a, b), statistics.median(a) / statistics.median(b)
        (3.0, 4.0)
    """
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def _timed_ms(fn: Callable[[], None], device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return 1e3 * (time.perf_counter() - t0)


def _peak_bytes(fn: Callable[[], None], device: torch.device) -> float:
    """Peak bytes allocated by torch beyond those held at the start of ``fn()`` (NaN if unknown)."""
    if device.type == "cuda":
        _sync(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - start
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    try:  # the allocation events, in time order (a private attribute: may move between versions)
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:
        return float("nan")
    events.sort(key=lambda e: e.start_ns())
    cur = peak = 0
    for e in events:
        cur += e.nbytes()
        peak = max(peak, cur)
    return peak


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {machine()}, {torch.get_num_threads()} torch threads"


def bench_rnn(
    sizes: Sequence[BenchSize] = SIZES,
    *,
    repeats: int = 7,
    warmup: int = 2,
    device: str = "cpu",
    seed: int = 0,
    candidates: Sequence[tuple[str, str, str]] = CANDIDATES,
) -> list[dict]:
    """Time a training step and a forward pass for every candidate at every size.

    Returns one dict per (size, candidate) with the median milliseconds, the ratios to
    ``nn.RNN relu`` and the peak memory in MiB.
    """
    dev = resolve_device(device)
    rows = []
    for size in sizes:
        gen = torch.Generator().manual_seed(seed)
        x, y = _batch(size, dev, gen)
        setups = {}
        for label, act, kind in candidates:
            model = _make_model(size, act, kind, seed).to(dev)
            opt = torch.optim.RMSprop(model.parameters(), lr=1e-5, alpha=0.9, eps=1e-7)

            def train_step(model=model, opt=opt) -> None:
                loss = _loss(size, model(x), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                opt.step()
                opt.zero_grad(set_to_none=True)  # here, so that a step frees what it allocates

            def forward(model=model) -> None:
                with torch.no_grad():
                    model(x)

            setups[label] = (train_step, forward)
        fns = {(label, part): (lambda fn=fn: _timed_ms(fn, dev)) for label, pair in setups.items()
               for part, fn in zip(("train", "fwd"), pair)}
        ms = interleave(fns, repeats, warmup)
        peak = {label: _peak_bytes(setups[label][0], dev) for label in setups}
        nan = [float("nan")] * repeats
        base_t, base_f = ms.get((_BASELINE, "train"), nan), ms.get((_BASELINE, "fwd"), nan)
        base_m = peak.get(_BASELINE, float("nan"))
        for label, act, kind in candidates:
            t, f = statistics.median(ms[label, "train"]), statistics.median(ms[label, "fwd"])
            rows.append({
                "size": size.name, "T": size.seq_len, "B": size.batch, "N": size.hidden, "model": label,
                "train_ms": t, "train_ratio": paired_ratio(ms[label, "train"], base_t),
                "forward_ms": f, "forward_ratio": paired_ratio(ms[label, "fwd"], base_f),
                "peak_mib": peak[label] / 2**20, "peak_ratio": peak[label] / base_m if base_m > 0 else float("nan"),
            })  # fmt: skip
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows of :func:`bench_rnn` as a fixed-width text table.

    Examples:
        >>> row = {"size": "copy", "T": 5, "B": 2, "N": 3, "model": "m", "train_ms": 1.0,
        ...        "train_ratio": 0.5, "forward_ms": 0.5, "forward_ratio": 0.5,
        ...        "peak_mib": 1.0, "peak_ratio": 1.0}
        >>> format_table([row]).splitlines()[2].split()
        ['copy', '5', '2', '3', 'm', '1.0', '0.50', '0.5', '0.50', '1.00', '1.00']
    """
    head = (
        f"{'size':<12} {'T':>4} {'B':>4} {'N':>4}  {'model':<16} {'train ms':>9} {'ratio':>6}"
        f" {'fwd ms':>9} {'ratio':>6} {'peak MiB':>9} {'ratio':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['size']:<12} {r['T']:>4} {r['B']:>4} {r['N']:>4}  {r['model']:<16} {r['train_ms']:>9.1f}"
            f" {r['train_ratio']:>6.2f} {r['forward_ms']:>9.1f} {r['forward_ratio']:>6.2f}"
            f" {r['peak_mib']:>9.2f} {r['peak_ratio']:>5.2f}"
        )
    return "\n".join(lines)


def _pick_sizes(names: str, known: Mapping[str, object]) -> dict:
    """The sizes named in ``names`` (comma-separated; empty: all), in the order given."""
    bad = [w for w in names.split(",") if w not in known] if names else []
    if bad:
        raise SystemExit(f"unknown size(s) {bad}; expected some of {list(known)}")
    return {w: known[w] for w in names.split(",")} if names else dict(known)


def _write_json(path: str, payload: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=1))
        print(f"wrote {path}")


def _rnn_command(args: argparse.Namespace) -> int:
    dev = resolve_device(args.device)
    sizes = tuple(_pick_sizes(args.sizes, {s.name: s for s in SIZES}).values())
    repeats, warmup = args.repeats, 2
    if args.quick:
        sizes = tuple(
            BenchSize(s.name, min(s.seq_len, 40), min(s.batch, 8), 16, s.inputs, s.outputs, s.per_step, s.loss)
            for s in sizes
        )
        repeats, warmup = min(repeats, 2), 1
    engine = models.resolve_engine(None, dev, torch.float32)
    print(f"nnrnn.bench rnn: torch {torch.__version__}; device: {_device_name(dev)}")
    print(f"our engine: {engine} (NNRNN_ENGINE or auto); {repeats} interleaved rounds (every model once per round)")
    print(f"after {warmup} warm-up round(s); median ms")
    print("train = forward + loss + backward + clip_grad_norm_(10) + RMSprop step; fwd = forward under no_grad")
    if dev.type == "cuda":
        print("peak = torch.cuda.max_memory_allocated during one training step, beyond the memory held before it")
    else:
        print("peak = max bytes allocated by torch's CPU allocator during one untimed training step, beyond those")
        print("       held before it (allocation events of torch.profiler, profile_memory=True)")
    note = " (--quick: tiny sizes, not the paper's)" if args.quick else ""
    print(f"ratio = median over rounds of this model / {_BASELINE} in the same round, same size{note}")
    print()
    rows: list[dict] = []
    for i, size in enumerate(sizes):  # one size at a time, printed as soon as it is done
        new = bench_rnn([size], repeats=repeats, warmup=warmup, device=args.device, seed=args.seed)
        lines = format_table(new).splitlines()
        print("\n".join(lines if i == 0 else lines[2:]), flush=True)
        rows += new
    meta = {"torch": torch.__version__, "device": _device_name(dev), "engine": engine, "quick": args.quick}
    _write_json(args.json, {"meta": meta, "sizes": [asdict(s) for s in sizes], "rows": rows})
    first = next((r for r in rows if r["model"] == "ours elu"), None)
    if first is not None:
        print(f"training step at {first['size']} size: ours elu {first['train_ratio']:.2f}x {_BASELINE}")
    return 0


# ----------------------------------------------------------------------------- bench sweep
#: name -> (task, T, N): the paper's sizes (§4.1); psMNIST at N = 25 (the paper's text) and 100 (its code).
SWEEP_SIZES: dict[str, tuple[str, int | None, int]] = {
    "copy": ("copy", 500, 100), "addition": ("addition", 750, 100),
    "psmnist-n25": ("psmnist", None, 25), "psmnist-n100": ("psmnist", None, 100),
}  # fmt: skip
SWEEP_KS: tuple[int, ...] = (8, 32, 128)
_QUICK_SIZES = {"copy": ("copy", 30, 8)}
_INITS = (("identity", 1.0), ("orthogonal", 1.0), ("chain", 1.0), ("fb_chain", 0.04))


def sweep_configs(task: str, T: int | None, hidden: int, k: int, *, batch: int = 16, device: str = "cpu",
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
        TrainConfig(task=task, T=T, hidden_size=hidden, init=_INITS[i % 4][0], scale=_INITS[i % 4][1], lr=(1e-5, 3e-5, 1e-4)[i % 3],
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
    """One run stepped as :func:`nnrnn.train.train` steps it: yields 0 once built, then 1 per update."""
    device, task = resolve_device(cfg.device), cfg.make_task()
    data = _datasets(cfg.task, cfg.T, cfg.n_train, cfg.n_val, cfg.seed)[0].to(device)
    model = initial_model(cfg, device).train()
    opt, params, order = make_optimizer(model.parameters(), cfg), list(model.parameters()), stream_generator(cfg.seed, "order")
    yield 0
    while True:
        perm = torch.randperm(cfg.n_train, generator=order).to(device)
        for start in range(0, cfg.n_train, cfg.batch_size):
            x, y = data.batch(perm[start : start + cfg.batch_size])
            opt.zero_grad(set_to_none=True)
            loss = task.loss(model(x), y)
            loss.item()
            loss.backward()
            float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm))
            opt.step()
            yield 1


def lockstep_updates(cfgs: Sequence[TrainConfig]) -> Iterator[int]:
    """A lockstep group (``nnrnn.lockstep._Group``) without validation: yields 0 once built, then each step's run-updates."""
    group = _lockstep._Group(cfgs, resolve_device(cfgs[0].device), time.perf_counter())
    yield 0
    while group.active:
        runs = len(group.active)
        group.step()
        yield runs


def time_updates(updates: Iterator[int], seconds: float, min_steps: int, device: torch.device) -> tuple[int, float]:
    """Take steps of ``updates`` for at least ``seconds`` and ``min_steps`` steps; ``(run-updates, wall seconds)``."""
    done = steps = 0
    _sync(device)
    t0 = time.perf_counter()
    while steps < min_steps or time.perf_counter() - t0 < seconds:
        done += next(updates)
        steps += 1
    _sync(device)
    return done, time.perf_counter() - t0


def _peak_rss() -> float:
    """This process's peak resident memory in bytes (NaN where ``resource`` is missing)."""
    if resource is None:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024.0)


def _worker(conn, cfgs: list[TrainConfig], lockstep: bool, threads: int) -> None:
    """A benchmark process: build the runs, then time windows on request until sent ``None``."""
    try:
        torch.set_num_threads(threads)
        base = _peak_rss()
        updates = lockstep_updates(cfgs) if lockstep else single_run_updates(cfgs[0])
        conn.send(("ready", base, next(updates)))  # next(): build the runs
        while (msg := conn.recv()) is not None:
            conn.send(("done", *time_updates(updates, *msg, torch.device("cpu")), _peak_rss()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", f"{type(e).__name__}: {e}"))


@dataclass
class _Variant:
    """One layout of a sweep: a process per group of runs, each with ``threads`` torch threads."""

    label: str
    groups: list[list[TrainConfig]]
    lockstep: bool
    threads: int
    procs: list = field(default_factory=list)
    conns: list = field(default_factory=list)
    peak: list = field(default_factory=list)

    def start(self, ctx) -> None:
        for g in self.groups:
            here, there = ctx.Pipe()
            self.procs.append(ctx.Process(target=_worker, args=(there, g, self.lockstep, self.threads), daemon=True))
            self.procs[-1].start()
            self.conns.append(here)

    def ask(self, msg: tuple | None = None) -> list[tuple]:
        """Send ``msg`` (if any) to every process and return their answers."""
        for c in self.conns if msg is not None else ():
            c.send(msg)
        got = [c.recv() for c in self.conns]
        for m in got:
            if m[0] == "error":
                raise RuntimeError(f"{self.label}: a benchmark process failed: {m[1]}")
        return [m[1:] for m in got]

    def measure(self, seconds: float, min_steps: int) -> float:
        """Run-updates per second of all its processes together, over one window."""
        got = self.ask((seconds, min_steps))
        self.peak = [g[2] for g in got]
        return sum(done / wall for done, wall, _ in got)

    def stop(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            proc.terminate()  # only if it still runs


def gemm_gflops(n: int, threads: int, min_s: float = 0.3) -> float:
    """The large-GEMM rate: GFLOP/s of ``torch.mm`` of two ``n x n`` float32 matrices on ``threads`` threads (median)."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    timer = Timer("torch.mm(a, b, out=c)", globals={"torch": torch, "a": a, "b": b, "c": c}, num_threads=threads)
    return 2 * n**3 / timer.blocked_autorange(min_run_time=min_s).median / 1e9


def bench_sweep(
    sizes: Mapping[str, tuple[str, int | None, int]] = SWEEP_SIZES,
    *,
    ks: Sequence[int] = SWEEP_KS,
    batch: int = 16,
    cores: int | None = None,
    rounds: int = 5,
    window_s: float = 2.0,
    gemm_n: int = 2048,
    log: Callable[[str], None] = print,
) -> tuple[list[dict], dict[int, float]]:
    """Sweep throughput of the process pool and of lockstep groups, interleaved, at each size.

    For every size, every variant runs in processes of its own, started once: the **pool**
    (``cores`` processes of one torch thread, each stepping one run as :func:`nnrnn.train.train`
    does), and for each ``K`` in ``ks`` a **lockstep** group of ``K`` runs in one process of
    ``cores`` threads and, where ``cores > 1``, the same ``K`` runs as ``cores`` processes of one
    thread (``K / cores`` runs each, "per core"). After one warm-up round, ``rounds`` rounds time
    every variant over a window of at least ``window_s`` seconds and two updates, in turn with
    the large-GEMM rate on 1 and ``cores`` threads (:func:`gemm_gflops` of ``gemm_n``).

    Returns ``(rows, gemm)``: one dict per size and variant (median run-updates per second,
    ratio to the pool, GFLOP/s by :func:`update_flops`, peak resident memory) and the median
    GEMM GFLOP/s per thread count.
    """
    cores = cores or available_cpus()
    rows: list[dict] = []
    gemm_all: dict[int, list[float]] = {t: [] for t in sorted({1, cores})}
    for first, (name, (task, T, hidden)) in enumerate(sizes.items()):
        cfgs = sweep_configs(task, T, hidden, max(max(ks), cores), batch=batch)
        variants = [_Variant("process pool", [[c] for c in cfgs[:cores]], False, 1)]
        for k in ks:
            variants.append(_Variant(f"lockstep K={k}", [cfgs[:k]], True, cores))
            if cores > 1 and k >= cores:
                variants.append(_Variant(f"lockstep K={k} per core", [cfgs[i:k:cores] for i in range(cores)], True, 1))
        try:
            for v in variants:
                v.start(mp.get_context("spawn"))
            base = {v.label: [b for b, _ in v.ask()] for v in variants}
            fns: dict[Hashable, Callable[[], float]] = {v.label: partial(v.measure, window_s, 2) for v in variants}
            fns.update({("gemm", t): partial(gemm_gflops, gemm_n, t) for t in gemm_all})
            got = interleave(fns, rounds, warmup=1)
        finally:
            for v in variants:
                v.stop()
        for t in gemm_all:
            gemm_all[t] += got["gemm", t]
        gemm = statistics.median(got["gemm", cores])
        flops = update_flops(cfgs[0])
        for v in variants:
            rate, runs, per = statistics.median(got[v.label]), sum(map(len, v.groups)), len(v.groups[0])
            rows.append({
                "size": name, "T": cfgs[0].seq_len, "B": batch, "N": hidden, "variant": v.label, "runs": runs,
                "layout": f"{len(v.groups)} proc x {v.threads} thr x {per} run", "run_updates_per_s": rate,
                "core_ms_per_update": 1e3 * cores / rate, "vs_pool": paired_ratio(got[v.label], got["process pool"]),
                "gflops": rate * flops / 1e9, "gemm_fraction": rate * flops / 1e9 / gemm,
                "peak_mib_per_process": max(v.peak) / 2**20,
                "mib_per_run": sum(p - b for p, b in zip(v.peak, base[v.label])) / runs / 2**20,
            })  # fmt: skip
        log(format_sweep_table([r for r in rows if r["size"] == name], header=not first))
    return rows, {t: statistics.median(v) for t, v in gemm_all.items()}


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
  runs (nnrnn.lockstep) in 1 process x {c} threads, or in {c} processes x 1 thread x K/{c} runs ('per core')
{rounds} interleaved rounds (A B C A B C ...) of windows >= {window:g} s and 2 updates after a warm-up round; medians;
  'vs pool' = median over rounds of the ratio within a round
run-upd/s = run-updates per second (wall clock, all processes of a variant); core-ms = {c} x wall ms per run-update
GFLOP/s: forward and backward matmuls (nnrnn.bench.update_flops); %GEMM: of torch.mm {n}^3 float32 on {c} threads
  (medians of torch.utils.benchmark, then over rounds); MiB: peak resident memory, per process (max) and per run
  (beyond the memory of each process before it built its runs)"""


def _sweep_command(args: argparse.Namespace) -> int:
    sizes, rounds, window, gemm_n, batch = _pick_sizes(args.sizes, SWEEP_SIZES), args.rounds, args.window, 2048, 16
    ks = tuple(int(k) for k in args.ks.split(",")) if args.ks else SWEEP_KS
    if args.quick:
        sizes, ks, rounds, window, gemm_n, batch = _QUICK_SIZES, (2, 4), min(rounds, 2), 0.05, 256, 4
    cores = args.cores or available_cpus()
    engine = models.resolve_engine(None, torch.device("cpu"), torch.float32)
    print(_SWEEP_HEAD.format(date=time.strftime("%Y-%m-%d %H:%M %Z"), machine=machine(), usable=available_cpus(),
                             torch=torch.__version__, engine=engine, c=cores, rounds=rounds, window=window, n=gemm_n))
    print("--quick: copy at T = 30, N = 8, B = 4; K = 2, 4; short windows (not the paper's sizes)\n" if args.quick else "")
    rows, gemm = bench_sweep(sizes, ks=ks, batch=batch, cores=cores, rounds=rounds, window_s=window, gemm_n=gemm_n,
                             log=lambda s: print(s, flush=True))
    print(f"large GEMM (torch.mm {gemm_n}^3 float32):", ", ".join(f"{g:.1f} GFLOP/s on {t} thread(s)" for t, g in gemm.items()))
    meta = {"torch": torch.__version__, "machine": machine(), "cores": cores, "date": time.strftime("%Y-%m-%d"),
            "quick": args.quick, "rounds": rounds, "window_s": window, "gemm_n": gemm_n}
    _write_json(args.json, {"meta": meta, "gemm_gflops": gemm, "rows": rows})
    copy = [r for r in rows if r["size"] == "copy" and r["variant"] != "process pool"]
    if not copy:  # the last line is about copy size
        return 0
    best = max(copy, key=lambda r: r["vs_pool"])
    print(f"best lockstep layout at copy size: {best['variant']} ({best['layout']}),"
          f" {100 * best['gemm_fraction']:.1f}% of the {cores}-thread GEMM rate")
    print(f"sweep throughput at copy size: lockstep {best['vs_pool']:.2f}x process pool")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``nnrnn bench rnn|sweep [--quick] ...`` (``--help`` lists the options and their defaults)."""
    ex, hf = "examples:\n  nnrnn bench {0} --quick\n  nnrnn bench {0} {1}", HelpFormatter
    parser = argparse.ArgumentParser(prog="nnrnn bench", description=__doc__.split("\n\n")[0], formatter_class=hf,
                                     epilog="examples:\n  nnrnn bench rnn --quick\n  nnrnn bench sweep --quick")
    sub = parser.add_subparsers(dest="command", metavar="<benchmark>", required=True)
    text = "Elman engine vs torch.nn.RNN: training step, forward pass, peak memory"
    rnn = sub.add_parser("rnn", help=text, description=text, formatter_class=hf, epilog=ex.format("rnn", "--device cuda"))
    text = "sweep throughput: a process pool of single-run trainers vs lockstep groups"
    swp = sub.add_parser("sweep", help=text, description=text, formatter_class=hf, epilog=ex.format("sweep", "--ks 8,32"))
    for p, quick in ((rnn, "tiny sizes and two repeats"), (swp, "tiny sizes, K = 2, 4, two rounds of short windows")):
        p.add_argument("--quick", action="store_true", help=quick + " (smoke test)")
        p.add_argument("--json", default="", metavar="FILE", help="also write the rows to this JSON file (default: none)")
    rnn.add_argument("--repeats", type=positive_int, default=7, help="timed repeats per model")
    rnn.add_argument("--sizes", default="", help=f"comma-separated subset of {','.join(s.name for s in SIZES)} (default: all)")
    rnn.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:N or auto")
    rnn.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and the data")
    rnn.add_argument("--threads", type=non_negative_int, default=0, help="torch.set_num_threads for this run (0: leave as is)")
    swp.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up round, at least 1")
    swp.add_argument("--window", type=float, default=2.0, help="minimum seconds per variant and round (> 0)")
    swp.add_argument("--sizes", default="", help=f"comma-separated subset of {','.join(SWEEP_SIZES)} (default: all)")
    swp.add_argument("--ks", default="", help="comma-separated lockstep group sizes (default: 8,32,128)")
    swp.add_argument("--cores", type=non_negative_int, default=0, help="pool processes and lockstep threads (0: usable CPUs)")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        if args.rounds < 1 or not 0 < args.window < float("inf"):
            swp.error(f"--rounds and --window must be positive, got {args.rounds} and {args.window}")
        if args.ks and not all(k.isdigit() and int(k) > 0 for k in args.ks.split(",")):
            swp.error(f"--ks must be positive integers separated by commas, got {args.ks!r}")
        return _sweep_command(args)
    if args.threads:
        torch.set_num_threads(args.threads)  # the command line only; the library never does this
    return _rnn_command(args)


if __name__ == "__main__":
    sys.exit(main())
