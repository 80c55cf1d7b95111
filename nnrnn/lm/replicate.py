r"""The ``replicate`` profile of the language models: the paper's models on character PTB, smaller and shorter.

The paper's language-model evidence, Table 1 and Fig. 4 (vanilla RNNs) and Table 3 and Fig. 6
(LSTMs), comes from 3-layer awd-lstm-lm models trained for 500 epochs. At that size one epoch of
character PTB costs, measured here, 0.24 CPU-hours for a vanilla RNN and 1.0 for an LSTM
(:func:`cost_table`): one paper run is about 120 (vanilla) or 510 (LSTM) CPU-hours, and the 12
runs of one table take about 30 (vanilla) or 130 (LSTM) days on two cores. This profile keeps
what defines the experiment and reduces what a 2-core CPU cannot afford. Everything below is our
choice, stated here and on the results page.

**Kept** (:func:`~nnrnn.lm.config.paper_config` for ``"ptb-char"``): the corpus (all 5.0
million training characters every epoch, all of validation and test), 3 layers, embedding
size 200 with the decoder tied to it, BPTT windows of mean length 150 with awd-lstm-lm's random
lengths, batch 128, Adam at lr 2e-3 with weight decay 1.2e-6 and clipping at 0.25, the test at
batch 1 with the best-validation weights, and the dropouts (vanilla RNNs: the paper's, 0.1
except ``dropoute = 0``; LSTMs: awd-lstm-lm's char-PTB command, 0.1/0.25/0.1/0/0.5).

**Reduced.**

* *Size*: vanilla layers of 256 units instead of 1000 (200 → 256 → 256 → 200); LSTM layers of
  128 units (200 → 128 → 128 → 200), which have as many recurrent weights as a 256-unit vanilla
  layer (4 × 128² = 256²), so both sets train models of comparable size.
* *Epochs*: 10 (vanilla) and 5 (LSTM) instead of 500, 2 % and 1 % of the paper's. The learning
  rate is divided by 10 after the same fractions of the run as awd-lstm-lm's ``--when 300 400``
  (60 % and 80 %): after epochs 6 and 8 (vanilla), 3 and 4 (LSTM).
* *Validation*: twice per epoch instead of once, so that the curves have 20 points (vanilla)
  or 10 (LSTM) and the best-validation weights are picked from more than a handful; it costs
  about 5 % of the training time.
* *Scales*: one per initializer, :data:`~nnrnn.lm.config.DEFAULT_SCALE` (vanilla: λ = 1 for
  identity and orthogonal, α = 1 for the chain, β = 0.04 with forward gain 1 for the feedback
  chain; LSTMs: the authors' code defaults). The paper's Table 1 reports each vanilla
  initializer at the best of 21 scales (63 runs per initializer); we cannot afford the sweep.
* *Seeds*: the paper's three (1, 2, 3).

**Runs**: vanilla RNNs with the four initializers of Table 1 (identity, orthogonal, chain,
feedback chain), LSTMs with the four of Table 3 (orthogonal, chain, plain, mixed), 3 seeds
each: 24 runs, about 2.1 hours (vanilla) and 2.2 hours (LSTM) on two free cores, one
single-threaded run per core (extrapolated from the measurements below). Runs are stored in
the language-model run store (:mod:`nnrnn.lm.runs`); the trainer keeps a resumable checkpoint
after every epoch (about 2 CPU-minutes of work for a vanilla epoch, 4.5 for an LSTM one), so an
interruption costs minutes, and a resumed run ends exactly as an uninterrupted one.

**How the costs were measured** (:func:`measure`, :data:`MEASURED`; 2026-12-01, torch 2.13.0
CPU build, one thread, on a 2-core Intel Xeon shared with a training job, so CPU time rather than
wall time): a few training updates of the full-size model and of the reduced one, each a window of
150 rows × 128 columns with dropouts, backward pass, clipping and Adam, after an untimed warm-up
update; and the evaluation of two windows at the validation (10) and test (1) batch sizes. The
cost of an epoch is extrapolated linearly in tokens (the work per token of every layer is fixed
at a given batch size; awd-lstm-lm's random windows, of mean length about 146, change the
number of updates per epoch by a few per cent, which we neglect). FLOPs are counted by torch's
``FlopCounterMode`` on one update (matrix products only): 20 MFLOP per training character at
the paper's vanilla size, 81 for its LSTM, run at about 110-120 GFLOP/s on one core.

**GPU estimate: an assumption, not a measurement** (no GPU was available): the counted FLOPs
divided by an assumed sustained 10 TFLOP/s, but never less than an assumed 0.1 ms per
sequential time step of the whole stack (kernel launches bound a recurrent layer at small
batches; it matters for the batch-1 test). The paper-size estimate is about 24 GPU-hours
for the 12 vanilla runs and 74 for the 12 LSTM runs (without the paper's 21-scale sweep, which
multiplies the vanilla figure by 21); the replicate runs would take about half an hour each set,
bound by the step latency rather than by arithmetic.

**Verdicts** (:func:`claims_rows`): per claim, the initializer the paper finds best (vanilla: the
feedback chain; LSTM: mixed, best on char-PTB) against the *best other* initializer of the set
(the lowest mean test loss over seeds; picking it from the same runs can only make the claim
harder to support), by :func:`nnrnn.verdicts.difference_verdict` (bootstrap over seeds) of
their test losses in bits. With three seeds the interval is rough, and the runs are smaller and
shorter than the paper's: the row's profile column says so.

``python -m nnrnn.lm.replicate [--cell rnn|lstm] [--dry-run]`` trains (or resumes) the missing
runs; :func:`cost_table` prints the costs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from .. import store as _store
from .. import validate
from ..cli import HelpFormatter, existing_dir, positive_int
from ..data import batchify, get_batch
from ..plotting import INIT_LABELS
from ..verdicts import VERDICTS, Verdict, difference_verdict, verdict
from . import runs as _runs
from .config import CELLS, INITS, PAPER_TABLE1, PAPER_TABLE3, LMConfig, paper_config
from .model import build_model
from .train import evaluate

__all__ = [
    "CORPUS",
    "SEEDS",
    "REPLICATE_INITS",
    "REPLICATE_CHANGES",
    "PTB_CHAR_TOKENS",
    "MEASURED",
    "GPU_FLOPS",
    "GPU_STEP_S",
    "configs",
    "measure",
    "cost_table",
    "plan",
    "run",
    "load_results",
    "claims_rows",
    "claim_row",
    "scale_text",
    "KEEP_WEIGHTS",
    "CLAIMS",
]

CORPUS = "ptb-char"
#: the paper's three seeds per setting.
SEEDS: tuple[int, ...] = (1, 2, 3)
#: the initializers of Table 1 (vanilla) and Table 3 (LSTM).
REPLICATE_INITS: dict[str, tuple[str, ...]] = {
    "rnn": INITS["rnn"][:4],
    "lstm": ("orthogonal", "chain", "plain", "mixed"),
}
#: what the profile changes in :func:`paper_config` (see the module docstring).
REPLICATE_CHANGES: dict[str, dict[str, Any]] = {
    "rnn": dict(nhid=256, epochs=10, when=(6, 8), evals_per_epoch=2),
    "lstm": dict(nhid=128, epochs=5, when=(3, 4), evals_per_epoch=2),
}
#: tokens of character PTB (:func:`nnrnn.data.load_corpus`): vocabulary, training, validation, test.
PTB_CHAR_TOKENS = {"vocabulary": 50, "train": 5_017_483, "valid": 393_043, "test": 442_424}
#: the GPU assumptions of :func:`cost_table`: sustained FLOP/s, and seconds per sequential time
#: step of the whole stack (a floor: kernel launches). Assumed, not measured.
GPU_FLOPS = 1e13
GPU_STEP_S = 1e-4

#: :func:`measure` of the paper's and of the replicate models (``(cell, size)``), in CPU seconds
#: and FLOPs per token, one thread (see the module docstring for how and where).
MEASURED: dict[tuple[str, str], dict[str, float]] = {
    ("rnn", "paper"): dict(train_cpu_s=0.000168, valid_cpu_s=8.4e-05, test_cpu_s=0.00038,
                    train_flop=20200000.0, eval_flop=6900000.0, threads=1),
    ("rnn", "replicate"): dict(train_cpu_s=2.39e-05, valid_cpu_s=7.82e-06, test_cpu_s=1.76e-05,
                        train_flop=2050000.0, eval_flop=698000.0, threads=1),
    ("lstm", "paper"): dict(train_cpu_s=0.00071, valid_cpu_s=0.000362, test_cpu_s=0.00157,
                     train_flop=80600000.0, eval_flop=27500000.0, threads=1),
    ("lstm", "replicate"): dict(train_cpu_s=5.08e-05, valid_cpu_s=1.2e-05, test_cpu_s=3.58e-05,
                         train_flop=3360000.0, eval_flop=1140000.0, threads=1),
}


def configs(cell: str = "rnn", *, seeds: Sequence[int] = SEEDS, inits: Sequence[str] | None = None,
            **changes: Any) -> list[LMConfig]:
    """The replicate runs of ``cell``: every initializer x seed, at the reduced size.

    ``changes`` override config fields on top of :data:`REPLICATE_CHANGES` (e.g. tiny sizes for
    a test); the profile itself is ``configs(cell)``.

    Examples:
        >>> cfgs = configs("rnn")
        >>> len(cfgs), cfgs[0].nhid, cfgs[0].nlayers, cfgs[0].bptt, cfgs[0].epochs, cfgs[0].when
        (12, 256, 3, 150, 10, (6, 8))
        >>> sorted({c.init for c in configs("lstm")})
        ['chain', 'mixed', 'orthogonal', 'plain']
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {list(CELLS)}, got {cell!r}")
    inits = tuple(REPLICATE_INITS[cell] if inits is None else inits)
    seeds = tuple(seeds)
    if not inits or not seeds:
        raise ValueError(f"need at least one initializer and one seed, got inits={inits!r}, seeds={seeds!r}")
    kw = {**REPLICATE_CHANGES[cell], **changes}
    return [paper_config(CORPUS, cell, init, seed, **kw) for init in inits for seed in seeds]


# ----------------------------------------------------------------------------- costs
def _train_step(model, opt, params, cfg: LMConfig, data, targets, hidden):
    """One update as :func:`nnrnn.lm.train.train_lm` makes it (loss, AR/TAR, backward, clip, Adam)."""
    opt.zero_grad(set_to_none=True)
    logits, hidden, raw, dropped = model(data, hidden, return_h=True)
    loss = F.cross_entropy(logits.reshape(-1, model.ntoken), targets)
    if cfg.ar_alpha:
        loss = loss + cfg.ar_alpha * dropped.pow(2).mean()
    if cfg.tar_beta:
        loss = loss + cfg.tar_beta * (raw[1:] - raw[:-1]).pow(2).mean()
    loss.backward()
    if cfg.clip:
        torch.nn.utils.clip_grad_norm_(params, cfg.clip)
    opt.step()
    return [h.detach() if isinstance(h, torch.Tensor) else tuple(x.detach() for x in h) for h in hidden]


def _flops(fn) -> int:
    """Matrix-product FLOPs of ``fn()`` counted by ``torch.utils.flop_counter.FlopCounterMode``.

    oneDNN's fused CPU LSTM is invisible to the counter, so it is switched off while counting
    (torch then runs the LSTM as plain matrix products); its warning about TF32 is not ours.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
            fn()
    return int(counter.get_total_flops())


def measure(cfg: LMConfig, *, windows: int = 2, ntoken: int = PTB_CHAR_TOKENS["vocabulary"],
            threads: int = 1, flop_steps: int = 8) -> dict[str, float]:
    """CPU seconds and FLOPs per token of ``cfg``'s model: training, validation and test.

    * training: ``windows`` updates of ``bptt`` rows x ``batch_size`` columns, each as
      :func:`~nnrnn.lm.train.train_lm` makes it (dropouts, AR/TAR, backward, clipping, Adam),
      after one untimed warm-up update;
    * validation and test: :func:`~nnrnn.lm.train.evaluate` on ``windows`` windows at
      ``eval_batch_size`` and ``test_batch_size`` columns.

    Time is the CPU time of this process (``time.process_time``) on ``threads`` torch threads,
    so other jobs on the machine do not inflate it (they may still slow it through shared
    caches). Tokens are random ids: the cost does not depend on them. FLOPs are the matrix
    products of one update of ``flop_steps`` rows (and of one forward pass), counted by torch's
    ``FlopCounterMode`` with the vanilla layers on their reference (autograd) engine; both grow
    linearly with the rows, so they are divided by the tokens of that window.

    Returns:
        ``train_cpu_s``, ``valid_cpu_s`` and ``test_cpu_s`` (CPU seconds per token),
        ``train_flop`` and ``eval_flop`` (FLOPs per token) and ``threads``.

    Examples:
        >>> cfg = configs("rnn", nhid=8, emsize=8, bptt=5, batch_size=4, eval_batch_size=2)[0]
        >>> m = measure(cfg)
        >>> sorted(m), m["eval_flop"] > 0
        (['eval_flop', 'test_cpu_s', 'threads', 'train_cpu_s', 'train_flop', 'valid_cpu_s'], True)
    """
    validate.integer(windows, "windows", low=1)
    validate.integer(threads, "threads", low=1)
    validate.integer(flop_steps, "flop_steps", low=1)
    validate.integer(ntoken, "ntoken", low=2)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    try:
        model = build_model(cfg, ntoken)
        model.dropout_generator = torch.Generator().manual_seed(1)
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.wdecay)
        rows = cfg.bptt * windows + 1
        source = batchify(torch.randint(ntoken, (rows * cfg.batch_size,), generator=gen), cfg.batch_size)
        model.train()
        hidden = model.init_hidden(cfg.batch_size)
        data, targets = get_batch(source, 0, min(cfg.bptt, 10))
        hidden = _train_step(model, opt, params, cfg, data, targets, hidden)  # warm-up, not timed
        t0 = time.process_time()
        for i in range(0, cfg.bptt * windows, cfg.bptt):
            data, targets = get_batch(source, i, cfg.bptt)
            hidden = _train_step(model, opt, params, cfg, data, targets, hidden)
        train_s = (time.process_time() - t0) / (cfg.bptt * windows * cfg.batch_size)

        per_token = {}
        for name, bsz in (("valid", cfg.eval_batch_size), ("test", cfg.test_batch_size)):
            tokens = torch.randint(ntoken, ((cfg.bptt * windows + 1) * bsz,), generator=gen)
            t0 = time.process_time()
            evaluate(model, tokens, batch_size=bsz, bptt=cfg.bptt)
            per_token[name] = (time.process_time() - t0) / (cfg.bptt * windows * bsz)

        # the vanilla engines' loops write in place, which the counter does not see; the
        # reference engine runs the same matrix products as plain torch operations
        for layer in model.rnns:
            if hasattr(layer, "engine"):
                layer.engine = "autograd"
        steps = min(flop_steps, cfg.bptt)
        data, targets = get_batch(source, 0, steps)
        train_flop = _flops(lambda: _train_step(model, opt, params, cfg, data, targets,
                                                model.init_hidden(cfg.batch_size))) / (steps * cfg.batch_size)
        model.eval()
        with torch.no_grad():
            eval_flop = _flops(lambda: model(data, model.init_hidden(cfg.batch_size))) / (steps * cfg.batch_size)
    finally:
        torch.set_num_threads(saved)
    return {"train_cpu_s": train_s, "valid_cpu_s": per_token["valid"], "test_cpu_s": per_token["test"],
            "train_flop": train_flop, "eval_flop": eval_flop, "threads": threads}


def _size_configs(cell: str, size: str) -> list[LMConfig]:
    if size == "replicate":
        return configs(cell)
    return [paper_config(CORPUS, cell, init, seed) for init in REPLICATE_INITS[cell] for seed in SEEDS]


def _sizes(cfg: LMConfig) -> str:
    return f"{cfg.nlayers} layers, " + " → ".join([str(cfg.emsize)] + [str(n) for _, n in cfg.layer_sizes])


def cost_table(measurements: dict[tuple[str, str], dict[str, float]] | None = None, *, cores: int = 2,
               gpu_flops: float = GPU_FLOPS, gpu_step_s: float = GPU_STEP_S) -> pd.DataFrame:
    """The cost of the paper's character-PTB runs and of the replicate runs, measured and extrapolated.

    One row per ``(cell, size)`` of ``measurements`` (default :data:`MEASURED`; a fresh one:
    ``{(cell, size): measure(cfg)}`` with ``size`` ``"paper"`` or ``"replicate"``). Per epoch:
    the training tokens at the measured training cost plus ``evals_per_epoch`` passes over
    the validation tokens; per run: the epochs, the untrained validation point and the test.
    "All runs" is the 12 runs of a set (4 initializers x 3 seeds, one scale each, as this
    profile trains them; the paper's vanilla scale sweep is 21 times more) on ``cores`` free
    cores, one single-threaded run per core.

    The GPU columns are an **assumption** (no GPU was measured): per pass, the counted FLOPs over
    ``gpu_flops`` sustained, but at least ``gpu_step_s`` per sequential time step (rows of the
    batchified split).

    Examples:
        >>> m = {("rnn", "replicate"): dict(train_cpu_s=2e-5, valid_cpu_s=8e-6, test_cpu_s=2e-5,
        ...                                 train_flop=2e6, eval_flop=7e5, threads=1)}
        >>> t = cost_table(m)
        >>> round(float(t.loc[("rnn", "replicate"), "CPU hours per epoch"]), 4)
        0.0296
    """
    measurements = MEASURED if measurements is None else measurements
    if not measurements:
        raise ValueError("no measurements: pass {(cell, size): measure(cfg)} or fill MEASURED")
    validate.integer(cores, "cores", low=1)
    if not (gpu_flops > 0 and gpu_step_s >= 0):
        raise ValueError(f"gpu_flops must be > 0 and gpu_step_s >= 0, got {gpu_flops!r} and {gpu_step_s!r}")
    rows = {}
    for (cell, size), m in measurements.items():
        if cell not in CELLS or size not in ("paper", "replicate"):
            raise ValueError(f"measurement keys are (cell, size) with cell in {list(CELLS)} and size in "
                             f"['paper', 'replicate'], got {(cell, size)!r}")
        cfgs = _size_configs(cell, size)
        c = cfgs[0]
        n_train, n_valid, n_test = (PTB_CHAR_TOKENS[k] if getattr(c, f"{k}_tokens") is None
                                    else getattr(c, f"{k}_tokens") for k in ("train", "valid", "test"))
        valid_s = n_valid * m["valid_cpu_s"]
        epoch_s = n_train * m["train_cpu_s"] + c.evals_per_epoch * valid_s
        run_s = c.epochs * epoch_s + valid_s + n_test * m["test_cpu_s"]

        def gpu(tokens: int, flop: float, batch: int) -> float:
            return max(tokens * flop / gpu_flops, tokens / batch * gpu_step_s)

        gpu_valid = gpu(n_valid, m["eval_flop"], c.eval_batch_size)
        gpu_epoch = gpu(n_train, m["train_flop"], c.batch_size) + c.evals_per_epoch * gpu_valid
        gpu_run = c.epochs * gpu_epoch + gpu_valid + gpu(n_test, m["eval_flop"], c.test_batch_size)
        rows[(cell, size)] = {
            "model": _sizes(c),
            "epochs": c.epochs,
            "runs": len(cfgs),
            "training µs per token (CPU, measured)": 1e6 * m["train_cpu_s"],
            "validation µs per token (CPU, measured)": 1e6 * m["valid_cpu_s"],
            "test µs per token (CPU, measured)": 1e6 * m["test_cpu_s"],
            "training MFLOP per token (counted)": m["train_flop"] / 1e6,
            "CPU GFLOP/s in training": m["train_flop"] / m["train_cpu_s"] / 1e9,
            "CPU hours per epoch": epoch_s / 3600,
            "CPU hours per run": run_s / 3600,
            f"hours for all runs on {cores} cores": len(cfgs) * run_s / cores / 3600,
            "GPU seconds per epoch (assumed rate)": gpu_epoch,
            "GPU hours for all runs (assumed rate)": len(cfgs) * gpu_run / 3600,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["cell", "size"])
    return table


# ----------------------------------------------------------------------------- the driver
def plan(cell: str, root=None, **changes: Any) -> pd.DataFrame:
    """The replicate runs of ``cell`` and whether each is stored under ``root``.

    Examples:
        >>> p = plan("lstm", root="/nonexistent")
        >>> len(p), int(p["stored"].sum())
        (12, 0)
    """
    return pd.DataFrame([{"init": c.init, "seed": c.seed, "hash": c.hash(), "stored": _store.is_stored(_runs.run_dir(c, root))}
                         for c in configs(cell, **changes)])


def run(cells: Sequence[str] = CELLS, *, root=None, dry_run: bool = False, executor: Any = "local",
        max_workers: int | None = None, data_dir=None, progress: bool | None = None,
        **changes: Any) -> dict[str, _runs.LMRuns | None]:
    """Train (or resume) the missing replicate runs of ``cells`` through :func:`nnrnn.lm.runs.sweep`.

    Stored runs are loaded, not retrained; a run that was interrupted resumes from its last
    epoch's checkpoint (under ``<root>/runs/lm-ptb-char/.checkpoints/``). ``executor="local"``
    trains one single-threaded run per core; ``dry_run`` prints the plan and trains nothing.
    ``changes`` override config fields (tests use tiny sizes).

    Returns:
        per cell, the loaded :class:`~nnrnn.lm.runs.LMRuns` (``None`` for a dry run).
    """
    out: dict[str, _runs.LMRuns | None] = {}
    for cell in cells:
        cfgs = configs(cell, **changes)
        done = sum(_store.is_stored(_runs.run_dir(c, root)) for c in cfgs)
        print(f"language models, {cell}: {len(cfgs)} replicate runs ({_sizes(cfgs[0])}, {cfgs[0].epochs} epochs), "
              f"{done} stored under {_store.results_root(root) / 'runs'}", flush=True)
        out[cell] = None if dry_run else _runs.sweep(cfgs, root=root, executor=executor, max_workers=max_workers,
                                                     data_dir=data_dir, progress=progress)
    return out


#: the replicate runs of archive v1 that kept their weights: the trained orthogonal LSTMs, whose gate
#: profiles are the paper's Fig. 6. Archive v1 dropped the other language models' weights before
#: they were committed (their history, test loss and provenance stay, checked by ``nnrnn verify``);
#: since issue 19 nothing drops the final weights of a stage-2 run, so every new run keeps them.
KEEP_WEIGHTS: frozenset[tuple[str, str]] = frozenset({("lstm", "orthogonal")})


# ----------------------------------------------------------------------------- claims
#: per cell: the claim, where the paper makes it, its table, and the initializer it finds best.
CLAIMS = {
    "rnn": dict(claim="Language modelling: the feedback chain gives the lowest test loss (vanilla RNN)",
                where="Table 1, Fig. 4", table=PAPER_TABLE1, best="fb_chain",
                note="the feedback chain is lowest on all three corpora (enwik8 less clearly)"),
    "lstm": dict(claim="LSTM: non-normal (mixed) initialization helps", where="Table 3, Fig. 6", table=PAPER_TABLE3,
                 best="mixed",
                 note="mixed is lowest on char-PTB and enwik8; on word PTB the chain is nominally lowest"),
}


#: an initializer whose mean test loss lies within this many bits of :func:`unigram_reference` learned the
#: characters' frequencies only (our threshold; a model that uses any context is far below).
UNIGRAM_BAND = 0.01


def unigram_reference(cfg: LMConfig) -> float:
    """The test loss in bits of a model that knows only the characters' frequencies in ``cfg``'s
    training text and nothing of their order (:func:`nnrnn.lm.analysis.unigram_bits` on ``cfg``'s own
    splits). Loads the corpus (once per process); :class:`nnrnn.data.DataNotFoundError` where it is
    neither on disk nor downloadable."""
    from . import train as _train  # lazy: the corpus loader, only where the reference is asked for
    from .analysis import unigram_bits  # lazy: as above

    corpus = _train.get_corpus(cfg.corpus, None, True)
    train, _, test = _train.split_corpus(cfg, corpus)
    return unigram_bits(train, test, len(corpus.dictionary))


def load_results(cell: str, root=None) -> pd.DataFrame:
    """The stored replicate runs of ``cell``: ``init``, ``seed``, ``hash``, ``status`` and ``test_bits``."""
    rows = []
    for cfg in configs(cell):
        if _store.is_stored(_runs.run_dir(cfg, root)):
            result = _runs.load_run(_runs.run_dir(cfg, root))["result"]
            rows.append({"init": cfg.init, "seed": cfg.seed, "hash": cfg.hash(), "status": result["status"],
                         "test_bits": float(result["test_bits"])})
    return pd.DataFrame(rows, columns=["init", "seed", "hash", "status", "test_bits"])


def _paper_text(cell: str) -> str:
    spec = CLAIMS[cell]
    values = ", ".join(f"{INIT_LABELS.get(i, i)} {spec['table'][i][CORPUS][0]:.3f} ± {spec['table'][i][CORPUS][1]:.3f}"
                       for i in REPLICATE_INITS[cell])
    c = paper_config(CORPUS, cell)
    return (f"char-PTB test bits (mean ± s.e.m., 3 runs; {_sizes(c)}, {c.epochs} epochs): {values}; "
            f"{spec['note']}")


def _row(cell: str, ours: str, v: Verdict | None, n: str) -> dict[str, Any]:
    """One claim row in the format of :mod:`nnrnn.results`' claim table."""
    spec = CLAIMS[cell]
    c = configs(cell)[0]
    profile = f"replicate (char-PTB, {_sizes(c)}, {c.epochs} of {paper_config(CORPUS, cell).epochs} epochs)"
    return {"claim": spec["claim"], "where in the paper": spec["where"], "paper": _paper_text(cell), "ours": ours,
            "profile": profile, "runs": n, "test": "-" if v is None else v.describe(),
            "verdict": VERDICTS[4] if v is None else v.label}


def scale_text(v: Verdict) -> str:
    """What a test outside the paper's scale found, in words: its direction, whether it is
    significant, and the label the same test would get at the paper's scale (``"consistent"``...)."""
    way = "the paper's way" if v.effect > 0 else "against the paper's claim" if v.effect < 0 else "neither way"
    sig = "significant" if v.significant else "not significant"
    return (f"at our scale the difference points {way} ({sig}); these numbers, had they come from runs at the "
            f"paper's scale, would get the label \"{verdict(v.effect, v.significant, True)}\" (a statement about "
            "this test's outcome, not a prediction of what full-scale runs would show)")


def claim_row(cell: str, results: pd.DataFrame) -> dict[str, Any]:
    """The results page's row of ``cell``'s claim (Table 1 or Table 3) from its stored runs ``results`` (:func:`load_results`)."""
    spec = CLAIMS[cell]
    planned = len(configs(cell))
    label = lambda i: INIT_LABELS.get(i, i)  # noqa: E731
    if results.empty:
        return _row(cell, "no language-model runs in the archive yet", None, f"0 of {planned}")
    finite = results[np.isfinite(results["test_bits"].astype(float))]
    values = {i: finite.loc[finite["init"] == i, "test_bits"].to_numpy(float) for i in REPLICATE_INITS[cell]}
    diverged = {i: int(((results["init"] == i) & ~np.isfinite(results["test_bits"].astype(float))).sum())
                for i in REPLICATE_INITS[cell]}
    n_text = f"{len(results)} of {planned} ({len(set(results['seed']))} seeds)"
    lost = ", ".join(f"{label(i)} {k} diverged" for i, k in diverged.items() if k)
    if lost:
        n_text += f"; {lost}"
    short = [label(i) for i, x in values.items() if len(x) < 2]
    if short:
        return _row(cell, f"{len(results)} of {planned} runs stored; the test needs two finished runs of every "
                          f"initializer, missing for {', '.join(short)}", None, n_text)
    means = {i: float(x.mean()) for i, x in values.items()}
    sem = {i: float(x.std(ddof=1) / math.sqrt(len(x))) for i, x in values.items()}
    target = spec["best"]
    other = min((i for i in values if i != target), key=lambda i: means[i])
    # a model a quarter of the paper's width trained for 2 % of its epochs is not the paper's scale:
    # the test is reported, the verdict says so (our choice)
    v = difference_verdict(values[other], values[target], at_paper_scale=False)
    listed = ", ".join(f"{label(i)} {means[i]:.3f} ± {sem[i]:.3f}" for i in values)
    ours = (f"char-PTB test bits (mean ± s.e.m. over seeds): {listed}; effect = {label(other)} (the best other) "
            f"minus {label(target)} = {v.effect:+.4f} bits; {scale_text(v)}")
    return _row(cell, ours, v, n_text)


def claims_rows(root=None) -> list[dict[str, Any]]:
    """The results page's rows for Table 1 / Fig. 4 and Table 3 / Fig. 6, from the stored replicate runs.

    Each row has the keys of :mod:`nnrnn.results`' claim table (``claim``, ``where in the
    paper``, ``paper``, ``ours``, ``profile``, ``runs``, ``test``, ``verdict``). The verdict
    compares the initializer the paper finds best with the best other one of the set (see the
    module docstring); without two finished runs of every initializer it is "not tested at the
    paper's scale" and the row says what is missing.
    """
    return [claim_row(cell, load_results(cell, root)) for cell in ("rnn", "lstm")]


# ----------------------------------------------------------------------------- command line
def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m nnrnn.lm.replicate``: train (or resume) the replicate runs; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="python -m nnrnn.lm.replicate", formatter_class=HelpFormatter,
        description="Train (or resume) the replicate language-model runs (character PTB).",
        epilog="examples:\n"
        "  python -m nnrnn.lm.replicate --dry-run              # the runs of both cells and what is stored\n"
        "  python -m nnrnn.lm.replicate --costs                # the measured cost table\n"
        "  python -m nnrnn.lm.replicate --cell rnn --workers 2 # train the vanilla runs, two processes",
    )
    p.add_argument("--cell", default=None, choices=list(CELLS),
                   help="only the vanilla (rnn) or the LSTM runs (default: both)")
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="an existing corpus directory (default: $NNRNN_DATA_DIR or the download cache)")
    p.add_argument("--executor", default="local", choices=["serial", "local"],
                   help="local: one single-threaded run per core; serial: one run, all threads")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: the usable CPUs)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and what is stored, train nothing")
    p.add_argument("--costs", action="store_true", help="print the measured cost table and exit")
    a = p.parse_args(argv)
    if a.costs:
        print(cost_table().round(3).T.to_string())
        return 0
    cells = CELLS if a.cell is None else (a.cell,)
    run(cells, root=a.root, dry_run=a.dry_run, executor=a.executor, max_workers=a.workers, data_dir=a.data_dir,
        progress=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
