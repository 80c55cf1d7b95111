"""``nnrnn bench rnn``: the Elman engine against ``torch.nn.RNN``, one training step and one forward pass.

The sizes are the paper's (:mod:`nnrnn.paper`): the tasks' sequence lengths, batch 16, N = 100
(psMNIST too, the authors' code) and, our addition, psMNIST at batch 128. The training step uses
the paper's optimizer settings (RMSprop with the Keras constants, global grad-norm clipping) at
the smallest learning rate of its grid, so that nothing diverges while it is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

from .. import fused as _fused
from .. import init as _init
from .. import models, paper
from ..profiles import resolve_device
from ..store import machine
from ..tasks import get_task
from .common import interleave, paired_ratio, pick_sizes, sync, timed_ms, write_json

__all__ = ["BenchSize", "SIZES", "CANDIDATES", "bench_rnn", "format_table", "quick_sizes", "load_warning"]


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


def _paper_size(name: str, task: str, loss: str, batch: int = paper.OPTIMIZER["batch_size"],
                hidden: int | None = None) -> BenchSize:
    """A task at the paper's sequence length and hidden size (default), with its inputs and readout."""
    t = get_task(task, T=paper.SEQUENCE_LENGTH[task])
    hidden = paper.HIDDEN_SIZE[task] if hidden is None else hidden
    return BenchSize(name, t.T, batch, hidden, t.input_size, t.output_size, t.per_step, loss)


#: The paper's sizes; psMNIST uses N = 100 (the authors' code) at batch 16 and 128 (ours), and N = 25
#: (the paper's text, the replicate profile's size) at batch 16.
SIZES: tuple[BenchSize, ...] = (
    _paper_size("copy", "copy", "ce"),
    _paper_size("addition", "addition", "mse"),
    _paper_size("psmnist-b16", "psmnist", "ce", hidden=paper.PSMNIST_HIDDEN_CODE),
    _paper_size("psmnist-b128", "psmnist", "ce", batch=128, hidden=paper.PSMNIST_HIDDEN_CODE),
    _paper_size("psmnist-n25", "psmnist", "ce", hidden=paper.PSMNIST_HIDDEN_TEXT),
)
#: the training step's learning rate: the smallest of the paper's grid (its value does not change the timing).
_LR = min(paper.PAPER_LRS)

#: (label, nonlinearity, implementation): "ours" = ElmanRNN(engine=auto), "python" = the pure
#: PyTorch engine, "torch" = torch.nn.RNN, "autograd" = the naive loop; "fused" and "reference":
#: the two training steps of :mod:`nnrnn.fused` with the task's loss (their forward pass is ours).
CANDIDATES: tuple[tuple[str, str, str], ...] = (
    ("fused step", "elu", "fused"),
    ("today's step", "elu", "reference"),
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
        engine = {"ours": None, "fused": None, "reference": None, "python": "python", "autograd": "autograd"}[kind]
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


def _task(size: BenchSize):
    """The task whose loss ``size`` uses (its sequence length does not matter to the steps)."""
    if size.loss == "mse":
        return get_task("addition", T=size.seq_len)
    return get_task("copy", T=max(size.seq_len, 21)) if size.per_step else get_task("psmnist")


def _loss(size: BenchSize, logits: Tensor, y: Tensor) -> Tensor:
    if size.loss == "mse":
        return F.mse_loss(logits, y)
    if size.per_step:
        return F.cross_entropy(logits.reshape(-1, size.outputs), y.reshape(-1))
    return F.cross_entropy(logits, y)


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
        sync(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - start
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
    ``nn.RNN relu`` (``step_ratio``: of the training step to "today's step", the reference) and
    the peak memory in MiB.
    """
    dev = resolve_device(device)
    opt_kw = dict(lr=_LR, alpha=paper.OPTIMIZER["rms_alpha"], eps=paper.OPTIMIZER["rms_eps"])
    clip = paper.OPTIMIZER["clip_norm"]
    rows = []
    for size in sizes:
        gen = torch.Generator().manual_seed(seed)
        x, y = _batch(size, dev, gen)
        setups = {}
        for label, act, kind in candidates:
            model = _make_model(size, act, kind, seed).to(dev)
            opt = torch.optim.RMSprop(model.parameters(), **opt_kw)

            def train_step(model=model, opt=opt) -> None:
                loss = _loss(size, model(x), y)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                opt.step()
                opt.zero_grad(set_to_none=True)  # here, so that a step frees what it allocates

            if kind == "fused":
                train_step = _fused.FusedStep(model, _task(size), lr=_LR, alpha=opt_kw["alpha"], eps=opt_kw["eps"],
                                              clip_norm=clip)
                train_step = (lambda step=train_step: step(x, y))
            elif kind == "reference":
                train_step = (lambda model=model, opt=opt: _fused.reference_step(model, opt, _task(size), x, y, clip))

            def forward(model=model) -> None:
                with torch.no_grad():
                    model(x)

            setups[label] = (train_step, forward)
        fns = {(label, part): (lambda fn=fn: timed_ms(fn, dev)) for label, pair in setups.items()
               for part, fn in zip(("train", "fwd"), pair)}
        ms = interleave(fns, repeats, warmup)
        peak = {label: _peak_bytes(setups[label][0], dev) for label in setups}
        nan = [float("nan")] * repeats
        base_t, base_f = ms.get((_BASELINE, "train"), nan), ms.get((_BASELINE, "fwd"), nan)
        base_m = peak.get(_BASELINE, float("nan"))
        today = ms.get(("today's step", "train"), nan)
        for label, act, kind in candidates:
            t, f = statistics.median(ms[label, "train"]), statistics.median(ms[label, "fwd"])
            rows.append({
                "size": size.name, "T": size.seq_len, "B": size.batch, "N": size.hidden, "model": label,
                "train_ms": t, "train_ratio": paired_ratio(ms[label, "train"], base_t),
                "forward_ms": f, "forward_ratio": paired_ratio(ms[label, "fwd"], base_f),
                "step_ratio": paired_ratio(ms[label, "train"], today),
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
        ['copy', '5', '2', '3', 'm', '1.0', '0.50', 'nan', '0.5', '0.50', '1.00', '1.00']
    """
    head = (
        f"{'size':<12} {'T':>4} {'B':>4} {'N':>4}  {'model':<16} {'train ms':>9} {'ratio':>6} {'vs ref':>6}"
        f" {'fwd ms':>9} {'ratio':>6} {'peak MiB':>9} {'ratio':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['size']:<12} {r['T']:>4} {r['B']:>4} {r['N']:>4}  {r['model']:<16} {r['train_ms']:>9.1f}"
            f" {r['train_ratio']:>6.2f} {r.get('step_ratio', float('nan')):>6.2f} {r['forward_ms']:>9.1f} {r['forward_ratio']:>6.2f}"
            f" {r['peak_mib']:>9.2f} {r['peak_ratio']:>5.2f}"
        )
    return "\n".join(lines)


def quick_sizes(sizes: Sequence[BenchSize]) -> tuple[BenchSize, ...]:
    """``--quick``'s sizes: sequences of at most 40 steps and 16 hidden units, each size's batch kept,
    so that a row is the batch its name says (``psmnist-b128`` runs batch 128, not 8).

    Examples:
        >>> [(s.name, s.seq_len, s.batch, s.hidden) for s in quick_sizes(SIZES) if s.name == "psmnist-b128"][0]
        ('psmnist-b128', 40, 128, 16)
    """
    return tuple(dataclasses.replace(s, seq_len=min(s.seq_len, 40), hidden=16) for s in sizes)


def load_warning() -> str:
    """A warning, when the 1-minute load average (:func:`os.getloadavg`) exceeds this machine's CPUs,
    that other processes competed for the cores while the benchmark ran, so that its ratios are
    unreliable; ``""`` on a machine that is not overloaded, or has no load average (Windows)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return ""
    cpus = os.cpu_count() or 1
    if load <= cpus:
        return ""
    return (f"warning: the 1-minute load average ({load:.1f}) exceeds the {cpus} CPUs of this machine: other "
            "processes competed for the cores, so the timings and ratios above are unreliable; rerun on a quiet machine")


def rnn_command(args: argparse.Namespace) -> int:
    dev = resolve_device(args.device)
    sizes = tuple(pick_sizes(args.sizes, {s.name: s for s in SIZES}).values())
    repeats, warmup = args.repeats, 2
    if args.quick:
        sizes = quick_sizes(sizes)
        repeats, warmup = min(repeats, 2), 1
    engine = models.resolve_engine(None, dev, torch.float32)
    clip = paper.OPTIMIZER["clip_norm"]
    print(f"nnrnn.bench rnn: torch {torch.__version__}; device: {_device_name(dev)}")
    print(f"our engine: {engine} (NNRNN_ENGINE or auto); {repeats} interleaved rounds (every model once per round)")
    print(f"after {warmup} warm-up round(s); median ms")
    print(f"train = forward + loss + backward + clip_grad_norm_({clip:g}) + RMSprop step; fwd = forward under no_grad")
    if dev.type == "cuda":
        print("peak = torch.cuda.max_memory_allocated during one training step, beyond the memory held before it")
    else:
        print("peak = max bytes allocated by torch's CPU allocator during one untimed training step, beyond those")
        print("       held before it (allocation events of torch.profiler, profile_memory=True)")
    note = " (--quick: tiny sizes, not the paper's)" if args.quick else ""
    print(f"ratio = median over rounds of this model / {_BASELINE} in the same round, same size{note}")
    print("vs ref = the same for the training step against today's step (the reference, nnrnn.fused.reference_step)")
    print()
    rows: list[dict] = []
    for i, size in enumerate(sizes):  # one size at a time, printed as soon as it is done
        new = bench_rnn([size], repeats=repeats, warmup=warmup, device=args.device, seed=args.seed)
        lines = format_table(new).splitlines()
        print("\n".join(lines if i == 0 else lines[2:]), flush=True)
        rows += new
    meta = {"torch": torch.__version__, "device": _device_name(dev), "engine": engine, "quick": args.quick}
    write_json(args.json, {"meta": meta, "sizes": [asdict(s) for s in sizes], "rows": rows})
    first = next((r for r in rows if r["model"] == "ours elu"), None)
    if first is not None:
        print(f"training step at {first['size']} size: ours elu {first['train_ratio']:.2f}x {_BASELINE}")
    fused = next((r for r in rows if r["model"] == "fused step"), None)
    if fused is not None:
        threads = "one thread" if torch.get_num_threads() == 1 else f"{torch.get_num_threads()} threads"
        print(f"training step at {fused['size']} size: fused {fused['step_ratio']:.2f}x reference ({threads})")
    if warning := load_warning():
        print(warning)
    return 0
