"""``nnrnn lm`` (``python -m nnrnn.lm``): the language-model runs of chapters 07 and 09.

Trains (or resumes) the runs of chapter 07 (``--cell rnn``) or 09 (``--cell lstm``) into the
run store and prints their summary. Every bad option is an argparse error (exit status 2)
before anything is planned or trained; ``--dry-run`` prints the plan as a table
(:func:`plan_table`) with an estimate of the core-hours it needs, from the CPU time of a couple
of training windows measured on this machine for the first config of each corpus
(:func:`nnrnn.lm.replicate.measure`).
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Sequence

import pandas as pd

from .. import store as _store
from ..cli import HelpFormatter, device, existing_dir, name_list, non_negative_int, positive_int
from ..profiles import PROFILES
from .analysis import summarize
from .config import CELLS, CORPORA, INITS, LMConfig
from .replicate import PTB_CHAR_TOKENS, measure
from .runs import run_dir, sweep
from .settings import profile_configs

__all__ = ["CORPUS_TOKENS", "main", "plan_table", "run_core_seconds"]

#: per corpus: the vocabulary and the tokens of each split (:func:`nnrnn.data.load_corpus`), for the
#: dry run's estimate when a config uses a whole split. Word PTB: counted from the files (words and
#: one ``<eos>`` per line); enwik8: the 90M / 5M / 5M byte split and about 205 distinct bytes.
CORPUS_TOKENS: dict[str, dict[str, int]] = {
    "ptb": {"vocabulary": 10_000, "train": 929_589, "valid": 73_760, "test": 82_430},
    "ptb-char": dict(PTB_CHAR_TOKENS),
    "enwik8": {"vocabulary": 205, "train": 90_000_000, "valid": 5_000_000, "test": 5_000_000},
}

_EXAMPLES = """\
examples:
  nnrnn lm --cell rnn --profile smoke                       # chapter 07's runs, seconds
  nnrnn lm --cell lstm --profile demo --dry-run             # the plan, what is stored, core-hours
  nnrnn lm --cell rnn --profile paper --corpora ptb-char --inits chain,fb_chain --dry-run
  nnrnn lm --cell rnn --profile paper --executor dask --scheduler tcp://host:8786
"""

def _tokens(cfg: LMConfig, split: str) -> int:
    n = getattr(cfg, f"{split}_tokens")
    return CORPUS_TOKENS[cfg.corpus][split] if n is None else n


def _windows(cfg: LMConfig) -> int:
    """Training windows of one run, counted at the mean length ``bptt`` (awd-lstm-lm's random lengths average about that)."""
    return cfg.epochs * math.ceil((_tokens(cfg, "train") // cfg.batch_size - 1) / cfg.bptt)


def run_core_seconds(cfg: LMConfig, m: dict[str, float]) -> float:
    """CPU seconds of one run of ``cfg`` at the per-token costs ``m``.

    ``m`` is a :func:`nnrnn.lm.replicate.measure` of a model of the same size: the training
    windows at ``train_cpu_s`` per token, the validation passes (before training and
    ``evals_per_epoch`` per epoch) at ``valid_cpu_s`` and the test pass at ``test_cpu_s``.

    Examples:
        >>> cfg = LMConfig(corpus="ptb-char", bptt=10, batch_size=4, epochs=2, train_tokens=4_001,
        ...                valid_tokens=100, test_tokens=100)
        >>> _windows(cfg), run_core_seconds(cfg, {"train_cpu_s": 1e-3, "valid_cpu_s": 0.0, "test_cpu_s": 0.0})
        (200, 8.0)
    """
    train = _windows(cfg) * cfg.bptt * cfg.batch_size * m["train_cpu_s"]
    valid = (1 + cfg.epochs * cfg.evals_per_epoch) * _tokens(cfg, "valid") * m["valid_cpu_s"]
    return train + valid + _tokens(cfg, "test") * m["test_cpu_s"]


def plan_table(cfgs: Sequence[LMConfig], root=None, measured: dict[str, dict[str, float]] | None = None) -> pd.DataFrame:
    """Per corpus and initializer: runs, stored, to train, training windows per run and core-hours.

    ``measured`` maps a corpus to a :func:`nnrnn.lm.replicate.measure` of its first config (CPU
    seconds per token, one thread); a corpus without one has no core-hours. The estimate counts
    one core per run, training and evaluation, and no divergence.

    Examples:
        >>> from nnrnn.lm.settings import profile_configs
        >>> plan_table(profile_configs("rnn", "smoke"), root="/nonexistent")["to train"].tolist()
        [1, 1, 1, 1]
    """
    groups: dict[tuple[str, str], list[LMConfig]] = {}
    for c in cfgs:
        groups.setdefault((c.corpus, c.init), []).append(c)
    rows = []
    for (corpus, init), mine in groups.items():
        todo = [c for c in mine if not _store.is_stored(run_dir(c, root))]
        row: dict[str, Any] = {"corpus": corpus, "initializer": init, "runs": len(mine), "stored": len(mine) - len(todo),
                               "to train": len(todo), "windows per run": _windows(mine[0])}
        if measured and corpus in measured:
            row["core-hours"] = round(sum(run_core_seconds(c, measured[corpus]) for c in todo) / 3600, 3)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["corpus", "initializer"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    p = argparse.ArgumentParser(
        prog="nnrnn lm", epilog=_EXAMPLES, formatter_class=HelpFormatter,
        description="Train (or resume) the language-model runs of chapter 07 (--cell rnn) or 09 (--cell lstm).",
    )
    p.add_argument("--cell", required=True, choices=list(CELLS), help="vanilla RNN (chapter 07) or LSTM (chapter 09)")
    p.add_argument("--profile", default="demo", choices=[x for x in PROFILES if x != "replicate"],
                   help="the runs of this profile (the replicate runs: python -m nnrnn.lm.replicate)")
    p.add_argument("--corpora", type=name_list(CORPORA, "corpora"), default=None,
                   help=f"comma-separated subset of {', '.join(CORPORA)} (default: the profile's)")
    every_init = list(dict.fromkeys(INITS["rnn"] + INITS["lstm"]))
    p.add_argument("--inits", type=name_list(every_init, "initializers"), default=None,
                   help="comma-separated subset of the cell's initializers: "
                   + "; ".join(f"{c}: {', '.join(v)}" for c, v in INITS.items()) + " (default: the profile's)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="base seed: runs use seed+1 .. seed+n")
    p.add_argument("--grid", action="store_true", help="vanilla only: the paper's 21-value scale grids "
                   "(without it, one scale per initializer: see nnrnn.lm.settings)")
    p.add_argument("--executor", default="serial", choices=["serial", "local", "dask"],
                   help="serial: this process; local: a process pool; dask: a Dask cluster")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786 (with --executor dask; default: none)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes of --executor local (default: the usable CPUs)")
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="an existing corpus directory (default: $NNRNN_DATA_DIR or the download cache)")
    p.add_argument("--device", type=device, default=None,
                   help="auto, cpu, cuda or cuda:N, not part of the run hash (default: the configs', auto)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan with an estimate of core-hours (measured here) and exit")
    a = p.parse_args(argv)
    if a.inits and any(i not in INITS[a.cell] for i in a.inits):
        p.error(f"argument --inits: --cell {a.cell} has the initializers {list(INITS[a.cell])}, got {','.join(a.inits)}")
    if a.grid and a.cell != "rnn":
        p.error("argument --grid: the paper gives scale grids only for vanilla RNNs (--cell rnn)")
    if a.scheduler is not None and a.executor != "dask":
        p.error(f"argument --scheduler: used only with --executor dask, got --executor {a.executor}")
    base = _store.results_root(a.root)
    if not a.dry_run:
        try:
            _store.check_writable(base)  # before training, not after
        except ValueError as exc:
            p.error(str(exc))
    cfgs = profile_configs(a.cell, a.profile, seed=a.seed, corpora=a.corpora, inits=a.inits, grid=a.grid)
    done = sum(_store.is_stored(run_dir(c, a.root)) for c in cfgs)
    print(f"{a.cell} / {a.profile}: {len(cfgs)} runs, {done} already stored under {base / 'runs'}")
    if a.dry_run:
        firsts: dict[str, LMConfig] = {}
        for c in cfgs:
            firsts.setdefault(c.corpus, c)
        measured = {k: measure(c, windows=2, ntoken=CORPUS_TOKENS[k]["vocabulary"], flop_steps=1) for k, c in firsts.items()}
        table = plan_table(cfgs, a.root, measured)
        print(table.to_string())
        for corpus, m in measured.items():
            c = firsts[corpus]
            print(f"measured here ({corpus}): {1e3 * m['train_cpu_s'] * c.bptt * c.batch_size:.1f} CPU ms per "
                  f"training window of {c.bptt} x {c.batch_size} tokens, one thread; core-hours include validation "
                  "and test")
        print(f"total: {table['core-hours'].sum():.3f} core-hours to train {table['to train'].sum()} runs, one core each")
        return 0
    runs = sweep(cfgs, root=a.root, executor=a.executor, max_workers=a.workers, scheduler=a.scheduler,
                 data_dir=a.data_dir, device=a.device, progress=True)
    print(summarize(runs.results).to_string(index=False))
    return 0
