"""Command line: ``python -m nnrnn.lm --cell rnn|lstm --profile smoke|demo|paper ...``.

Trains (or resumes) the language-model runs of chapter 07 (``--cell rnn``) or 09
(``--cell lstm``) into the run store and prints their summary.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from .. import store as _store
from ..profiles import PROFILES
from .analysis import summarize
from .config import CELLS
from .runs import is_done, sweep
from .settings import profile_configs

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    p = argparse.ArgumentParser(
        prog="python -m nnrnn.lm",
        description="Train (or resume) the language-model runs of chapter 07 (--cell rnn) or 09 (--cell lstm).",
    )
    p.add_argument("--cell", required=True, choices=list(CELLS))
    p.add_argument("--profile", default="demo", choices=list(PROFILES))
    p.add_argument("--corpora", default=None, help="comma-separated subset of ptb, ptb-char, enwik8")
    p.add_argument("--inits", default=None, help="comma-separated subset of initializers")
    p.add_argument("--seed", type=int, default=0, help="base seed: runs use seed+1 .. seed+n")
    p.add_argument("--grid", action="store_true", help="vanilla only: the paper's 21-value scale grids "
                   "(without it, one scale per initializer: see nnrnn.lm.settings)")
    p.add_argument("--executor", default="serial", choices=["serial", "local", "dask"])
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--data-dir", default=None, help="corpus directory (default: NNRNN_DATA_DIR or the cache)")
    p.add_argument("--device", default=None, help="cpu | cuda | auto (not part of the run hash)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    a = p.parse_args(argv)
    split = lambda s: None if s is None else [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    cfgs = profile_configs(a.cell, a.profile, seed=a.seed, corpora=split(a.corpora), inits=split(a.inits), grid=a.grid)
    done = sum(is_done(c, a.root) for c in cfgs)
    print(f"{a.cell} / {a.profile}: {len(cfgs)} runs, {done} already stored under {_store.results_root(a.root) / 'runs'}")
    if a.dry_run:
        return 0
    runs = sweep(cfgs, root=a.root, executor=a.executor, max_workers=a.workers, scheduler=a.scheduler,
                 data_dir=a.data_dir, device=a.device, progress=True)
    print(summarize(runs.results).to_string(index=False))
    return 0
