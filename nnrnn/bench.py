"""Speed and memory benchmark of the Elman RNN engine against ``torch.nn.RNN``.

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
naive autograd loop with elu. Repeats run round-robin over the models, so that load from other
processes hits them alike, and the table reports medians and ratios to ``nn.RNN(relu)``.

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
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import init as _init
from . import models
from .profiles import resolve_device

__all__ = ["BenchSize", "SIZES", "bench_rnn", "format_table", "main"]


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
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {name}, {torch.get_num_threads()} torch threads"


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
        train_ms: dict[str, list[float]] = {label: [] for label in setups}
        fwd_ms: dict[str, list[float]] = {label: [] for label in setups}
        for rep in range(warmup + repeats):
            for label, (train_step, forward) in setups.items():
                for fn, store in ((train_step, train_ms), (forward, fwd_ms)):
                    _sync(dev)
                    t0 = time.perf_counter()
                    fn()
                    _sync(dev)
                    if rep >= warmup:
                        store[label].append(1e3 * (time.perf_counter() - t0))
        peak = {label: _peak_bytes(setups[label][0], dev) for label in setups}
        base_t = statistics.median(train_ms[_BASELINE]) if _BASELINE in setups else float("nan")
        base_f = statistics.median(fwd_ms[_BASELINE]) if _BASELINE in setups else float("nan")
        base_m = peak.get(_BASELINE, float("nan"))
        for label, act, kind in candidates:
            t, f = statistics.median(train_ms[label]), statistics.median(fwd_ms[label])
            rows.append(
                {
                    "size": size.name,
                    "T": size.seq_len,
                    "B": size.batch,
                    "N": size.hidden,
                    "model": label,
                    "train_ms": t,
                    "train_ratio": t / base_t,
                    "forward_ms": f,
                    "forward_ratio": f / base_f,
                    "peak_mib": peak[label] / 2**20,
                    "peak_ratio": peak[label] / base_m if base_m > 0 else float("nan"),
                }
            )
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


def _rnn_command(args: argparse.Namespace) -> int:
    dev = resolve_device(args.device)
    sizes = SIZES
    if args.sizes:
        wanted = args.sizes.split(",")
        known = [s.name for s in SIZES]
        bad = [w for w in wanted if w not in known]
        if bad:
            raise SystemExit(f"unknown size(s) {bad}; expected some of {known}")
        sizes = tuple(s for s in SIZES if s.name in wanted)
    repeats, warmup = args.repeats, 2
    if args.quick:
        sizes = tuple(
            BenchSize(s.name, min(s.seq_len, 40), min(s.batch, 8), 16, s.inputs, s.outputs, s.per_step, s.loss)
            for s in sizes
        )
        repeats, warmup = min(repeats, 2), 1
    engine = models.resolve_engine(None, dev, torch.float32)
    print(f"nnrnn.bench rnn: torch {torch.__version__}; device: {_device_name(dev)}")
    print(f"our engine: {engine} (NNRNN_ENGINE or auto); {repeats} timed repeats after {warmup} warm-up, median ms")
    print("train = forward + loss + backward + clip_grad_norm_(10) + RMSprop step; fwd = forward under no_grad")
    if dev.type == "cuda":
        print("peak = torch.cuda.max_memory_allocated during one training step, beyond the memory held before it")
    else:
        print("peak = max bytes allocated by torch's CPU allocator during one untimed training step, beyond those")
        print("       held before it (allocation events of torch.profiler, profile_memory=True)")
    note = " (--quick: tiny sizes, not the paper's)" if args.quick else ""
    print(f"ratio = this model / {_BASELINE} at the same size{note}")
    print()
    rows: list[dict] = []
    for i, size in enumerate(sizes):  # one size at a time, printed as soon as it is done
        new = bench_rnn([size], repeats=repeats, warmup=warmup, device=args.device, seed=args.seed)
        lines = format_table(new).splitlines()
        print("\n".join(lines if i == 0 else lines[2:]), flush=True)
        rows += new
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"torch": torch.__version__, "device": _device_name(dev), "engine": engine, "quick": args.quick}
        path.write_text(json.dumps({"meta": meta, "sizes": [asdict(s) for s in sizes], "rows": rows}, indent=1))
        print(f"\nwrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m nnrnn.bench rnn [--quick] [--repeats R] [--sizes a,b] [--device D] [--threads K]``."""
    parser = argparse.ArgumentParser(prog="python -m nnrnn.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("rnn", help="Elman engine vs torch.nn.RNN: training step, forward pass, peak memory")
    p.add_argument("--quick", action="store_true", help="tiny sizes and two repeats (smoke test)")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per model (default 7)")
    p.add_argument("--sizes", default="", help="comma-separated subset of " + ",".join(s.name for s in SIZES))
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads for this run (default: leave as is)")
    p.add_argument("--json", default="", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be a positive integer, got {args.repeats}")
    if args.threads < 0:
        parser.error(f"--threads must be a non-negative integer, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)  # the command line only; the library never does this
    return _rnn_command(args)


if __name__ == "__main__":
    sys.exit(main())
