"""``nnrnn sweep`` (``python -m nnrnn.sweep``): plan, run or resume a sweep from the command line.

Every bad option is an argparse error (exit status 2) before anything is planned or trained (a
``--device cuda`` where CUDA is not available too);
``--dry-run`` prints the plan as a table with an estimate of the core-hours it needs, from the
time per update measured on this machine for the sweep's first config. A sweep in which a run
raised, could not start or could not be stored names every such run on stderr and exits with
status 1, after the other runs are stored.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Sequence

import pandas as pd

from . import init as _init
from . import lockstep as _lockstep
from . import profiles as _profiles
from .cli import name_list, positive_int
from .data import DataError
from .executors import EXECUTORS, runs_here
from .store import check_writable, is_stored, results_root
from .sweep import Grid, grid, run_dir, run_sweep
from .train import TrainConfig

__all__ = ["main", "measure_update_seconds", "plan_table"]

_EXAMPLES = """\
examples:
  nnrnn sweep --task copy --profile demo                   # train what is missing, one process per usable core
  nnrnn sweep --task copy --profile paper --dry-run        # the plan, what is stored, and an estimate
  nnrnn sweep --task psmnist --profile demo --inits chain,orthogonal --seeds 1,2
  nnrnn sweep --task copy --profile paper --executor dask --scheduler tcp://host:8786
"""


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated non-negative integers, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"must be comma-separated non-negative integers, got {text!r}")
    return seeds


def measure_update_seconds(cfg: TrainConfig, updates: int = 3) -> float:
    """Seconds per training update of ``cfg`` on this machine (lockstep trainer, one run, after a warm-up).

    The data set is shrunk to a few batches (the time per update does not depend on its size).
    """
    small = cfg.replace(n_train=cfg.batch_size * (updates + 1), n_val=cfg.batch_size, epochs=1)
    group = _lockstep.Group([small], _profiles.resolve_device(cfg.device), time.perf_counter())
    group.step()
    t0 = time.perf_counter()
    for _ in range(updates):
        group.step()
    return (time.perf_counter() - t0) / updates


def plan_table(g: Grid, root=None, seconds_per_update: float | None = None) -> pd.DataFrame:
    """Per initializer: runs, stored, to train, updates per run at most, and estimated core-hours.

    The estimate assumes no early stopping (an upper bound) and one core per run.
    """
    rows = []
    cfgs = g.configs()
    for init in g.inits:
        mine = [c for c in cfgs if c.init == init]
        stored = sum(is_stored(run_dir(c, root)) for c in mine)
        updates = mine[0].epochs * mine[0].updates_per_epoch
        row: dict[str, Any] = {"initializer": init, "runs": len(mine), "stored": stored, "to train": len(mine) - stored,
                               "updates per run (at most)": updates}
        if seconds_per_update is not None:
            row["core-hours (at most)"] = round((len(mine) - stored) * updates * seconds_per_update / 3600, 2)
        rows.append(row)
    return pd.DataFrame(rows).set_index("initializer")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="nnrnn sweep", description="Run (or resume) a sweep of vanilla-RNN training runs and store each run.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, choices=sorted(_profiles.SWEEPS), help="the benchmark")
    p.add_argument("--profile", default="demo", choices=list(_profiles.SWEEPS["copy"]),
                   help="the grid (default: demo); the replicate set runs with `nnrnn replicate`")
    p.add_argument("--executor", default="local", choices=list(EXECUTORS),
                   help="local: a process pool (default); serial: this process; dask: a Dask cluster")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address, e.g. tcp://host:8786, with --executor dask (default: none: a local Dask cluster)")
    p.add_argument("--workers", type=positive_int, default=None, help="local processes (default: the usable CPUs)")
    p.add_argument("--group-size", type=positive_int, default=None,
                   help="runs per lockstep group (default: chosen; 1 trains every run alone)")
    p.add_argument("--root", default=None, help="results root (default: the repository's data/ folder)")
    p.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"], help="where to train (default: cpu; not hashed)")
    p.add_argument("--inits", type=name_list(list(_init.INITIALIZERS), "initializers"), default=None,
                   help="comma-separated subset of initializers (default: all)")
    p.add_argument("--seeds", type=_seed_list, default=None, help="comma-separated seeds (default: the profile's)")
    p.add_argument("--dry-run", action="store_true", help="print the plan with an estimate of core-hours and exit")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    a = p.parse_args(argv)
    if a.scheduler is not None and a.executor != "dask":
        p.error(f"--scheduler is used only with --executor dask, got --executor {a.executor}")
    no_device = ""
    if a.device and runs_here(a.executor, a.scheduler):
        try:  # before anything is planned or spawned (a Dask cluster's workers may have a GPU this machine lacks)
            _profiles.resolve_device(a.device)
        except ValueError as exc:
            if not a.dry_run:
                p.error(f"--device {a.device}: CUDA is not available on this machine; use --device cpu, or auto "
                        "(CUDA where there is one, else the CPU)")
            no_device = f"no estimate: {exc}"
    overrides: dict[str, Any] = {"device": a.device} if a.device else {}
    g = grid(a.task, a.profile, **overrides)
    if a.inits:
        g = g.replace(scales={k: v for k, v in g.scales.items() if k in a.inits})
    if a.seeds:
        g = g.replace(seeds=a.seeds)
    base = results_root(a.root)
    if not a.dry_run:
        try:
            check_writable(base)
        except ValueError as exc:
            p.error(str(exc))
    seconds, why = None, no_device
    if a.dry_run and not why:
        try:
            seconds = measure_update_seconds(g.configs()[0])
        except DataError as exc:  # psMNIST without MNIST here: the plan is still worth printing
            why = f"no estimate: the data is not here ({str(exc).splitlines()[0]})"
    print(f"{a.task} / {a.profile}: {g.describe()}")
    print(f"store: {base / 'runs' / a.task}")
    print(plan_table(g, a.root, seconds).to_string())
    if why:
        print(why)
        return 0
    if seconds is not None:
        print(f"measured here: {seconds * 1e3:.1f} ms per update of one run (lockstep trainer); "
              "the estimate assumes no early stopping")
        return 0
    report = run_sweep(g, root=a.root, executor=a.executor, max_workers=a.workers, scheduler=a.scheduler,
                       group_size=a.group_size, progress=a.progress or None, raise_errors=False)
    print(report)
    if report.failures():  # every failed run named, after the others are stored; exit status 1
        print(f"nnrnn sweep: {report.failures()}", file=sys.stderr)
        return 1
    return 0
