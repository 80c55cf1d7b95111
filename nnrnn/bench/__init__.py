"""Benchmarks: the Elman RNN engine against ``torch.nn.RNN``, and sweep throughput.

``python -m nnrnn.bench sweep`` measures the run-updates per second a sweep gets from the usable
cores: a process pool of single-run trainers against lockstep groups (:func:`bench_sweep`,
:mod:`nnrnn.bench.sweep`), beside a measured ceiling of lockstep over the pool from the recurrent
GEMMs alone (:mod:`nnrnn.bench.ceiling`).

``python -m nnrnn.bench rnn`` times, side by side in one run, one full training step (forward
over the sequence, loss, backward, RMSprop step with global grad-norm clipping at 10) and one
forward pass (under ``torch.no_grad()``) at the paper's sizes (Orhan & Pitkow, 2020, §4.1;
:mod:`nnrnn.bench.rnn`, from :mod:`nnrnn.paper`):

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
from typing import Sequence

import torch

from ..cli import HelpFormatter, device, non_negative_int, positive_int
from .ceiling import ceiling_summary, ceiling_variants, recurrence_ceiling, recurrence_flops, recurrence_updates
from .common import interleave, paired_ratio
from .rnn import CANDIDATES, SIZES, BenchSize, bench_rnn, format_table, rnn_command
from .sweep import (SWEEP_KS, SWEEP_SIZES, bench_sweep, format_sweep_table, gemm_gflops, lockstep_updates,
                    single_run_updates, sweep_ceilings, sweep_command, sweep_configs, update_flops)
from .workers import time_updates

__all__ = ["BenchSize", "SIZES", "bench_rnn", "format_table", "SWEEP_SIZES", "bench_sweep",
           "sweep_configs", "update_flops", "gemm_gflops", "interleave", "paired_ratio", "main",
           "CANDIDATES", "SWEEP_KS", "format_sweep_table", "single_run_updates", "lockstep_updates", "time_updates",
           "sweep_ceilings", "recurrence_ceiling", "recurrence_updates", "recurrence_flops", "ceiling_variants",
           "ceiling_summary"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``nnrnn bench rnn|sweep [--quick] ...`` (``--help`` lists the options and their defaults)."""
    ex, hf = "examples:\n  nnrnn bench {0} --quick\n  nnrnn bench {0} {1}", HelpFormatter
    parser = argparse.ArgumentParser(prog="nnrnn bench", description=__doc__.split("\n\n")[0], formatter_class=hf,
                                     epilog="examples:\n  nnrnn bench rnn --quick\n  nnrnn bench sweep --quick")
    sub = parser.add_subparsers(dest="command", metavar="<benchmark>", required=True)
    text = "Elman engine vs torch.nn.RNN: training step, forward pass, peak memory"
    rnn = sub.add_parser("rnn", help=text, description=text, formatter_class=hf, epilog=ex.format("rnn", "--device cuda"))
    text = "sweep throughput: a process pool of single-run trainers vs lockstep groups, and its GEMM ceiling"
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
        return sweep_command(args)
    if args.threads:
        torch.set_num_threads(args.threads)  # the command line only; the library never does this
    return rnn_command(args)
