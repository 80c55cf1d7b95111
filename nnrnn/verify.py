r"""Re-check the results archive: file integrity, then a partial retraining of sampled runs.

``nnrnn verify`` (``make verify``) picks stored runs at random, checks the SHA-256 of each of
their files against the one recorded in ``config.json``, retrains each run from its config up to
its first validation points (lockstep trainer, the one the archive was trained with) and compares
the retrained history with the stored one.

**Tolerance.** The retraining may run on another CPU, whose BLAS sums in another order. As
derived in ``tests/test_lockstep.py``, that changes each float32 weight by at most one unit in the
last place per update, so after ``U`` updates we allow ``4 u U max(1, |value|)`` (``u = 2**-24``)
for every history value (losses, metrics, the spectral radius and the Henrici index of W).
Anything beyond that is a real difference: other data, another code path, a damaged file.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .cli import HelpFormatter, existing_dir, non_negative_int, positive_int
from .data.errors import DataError
from .executors import torch_threads
from .lockstep import train_group
from .store import RunCorrupt, read_run_meta, results_root
from .train import TrainConfig

__all__ = ["U", "archived_runs", "archived_lm_runs", "retrain_group", "verify_run", "main"]

#: float32 unit roundoff.
U = 2.0**-24


def archived_runs(root=None, tasks: Sequence[str] | None = None) -> list[Path]:
    """Every stored run folder of the synthetic tasks under ``<root>/runs`` (sorted)."""
    base = results_root(root) / "runs"
    names = tasks if tasks is not None else ("copy", "addition", "psmnist")
    return sorted(d for t in names if (base / t).is_dir() for d in (base / t).iterdir()
                  if not d.name.startswith(".") and d.is_dir())


def archived_lm_runs(root=None) -> list[Path]:
    """Every stored language-model run folder (``<root>/runs/lm-<corpus>/<hash>``, sorted): their files
    are checked against their SHA-256 with the rest, but they are not retrained (hours each)."""
    base = results_root(root) / "runs"
    return sorted(d for c in base.glob("lm-*") if c.is_dir() for d in c.iterdir() if not d.name.startswith(".") and d.is_dir())


def _first_points(history: pd.DataFrame, points: int) -> pd.DataFrame:
    after = history[history["update"] > 0]
    return history[history["update"] <= int(after["update"].iloc[min(points, len(after)) - 1])] if len(after) else history


def retrain_group(cfg: TrainConfig, meta: dict[str, Any]) -> list[TrainConfig]:
    """The lockstep group that retrains ``cfg`` the way it was trained: alone, or stacked with others.

    A run's float rounding depends on whether it trained alone (K = 1: plain matrix products) or
    in a stack (K >= 2: batched products, whose result per run does not depend on the other runs
    or their number, at one thread). Early in training the two differ only in the last bits, but
    some settings amplify that: the demo addition run ``fb_chain 0.04, lr 3e-4`` reaches a
    validation loss of 0.36 after 200 updates in a stack and 0.25 alone. So a run that trained in
    a stack (its provenance's ``lockstep_runs``) is retrained beside a companion that stays in the
    stack: the same config, orthogonal 1.0 at lr 1e-6 and the next seed, which neither stops nor
    diverges within a few validation points; its result is discarded.
    """
    if int(meta.get("provenance", {}).get("lockstep_runs", 1)) < 2:
        return [cfg]
    return [cfg, _companion(cfg)]


def _companion(cfg: TrainConfig) -> TrainConfig:
    """A run that keeps ``cfg`` in a stack: orthogonal 1.0 at a tiny learning rate (never stops early or diverges)."""
    return dataclasses.replace(cfg, init="orthogonal", scale=1.0, lr=1e-6, seed=cfg.seed + 1)


def verify_run(folder: str | Path, *, points: int = 1, probe: bool = True) -> dict[str, Any]:
    """Check one stored run: file hashes, then its history up to its first ``points`` validation points.

    Returns a summary with ``ok`` (``True``, ``False``, or ``None``: cannot be checked here) and,
    when not ok, ``problem`` naming what differed. With ``probe``, a run that differs is retrained
    once more in the other layout (alone or stacked): where the two layouts disagree as well, the
    run amplifies rounding: any other summation order (another CPU's kernels, thread count or
    layout) changes its trajectory, so its stored numbers are not a test of the code (``ok=None``,
    and :func:`main` checks another run instead). A run that differs while its two layouts agree
    is a failure.
    """
    folder = Path(folder)
    t0 = time.perf_counter()
    try:
        meta = read_run_meta(folder)
    except RunCorrupt as exc:
        return {"run": str(folder), "ok": False, "problem": str(exc)}
    cfg = TrainConfig.from_dict(meta["config"])
    stored = _first_points(pd.read_csv(folder / "history.csv"), points)
    if stored["val_loss"].isna().any():  # the run diverged before its first point: compare what exists
        stored = stored[stored["val_loss"].notna()]
    upto = int(stored["update"].max())
    with torch_threads(1):  # every sweep run trains with one torch thread (nnrnn.executors)
        result = train_group(retrain_group(cfg, meta), progress=False, max_updates=upto)[0]
    out = {"run": str(folder), "task": cfg.task, "hash": cfg.hash(), "updates": upto, "wall_s": 0.0}
    out.update(_compare(result.history, stored, upto))
    if not out["ok"] and probe and "max_rel_excess" in out:
        # Is the run rounding-sensitive up to here? Retrain it in the other layout (alone <-> stacked):
        # if even the two layouts on this machine disagree beyond the tolerance, it is.
        group = retrain_group(cfg, meta)
        other = [cfg] if len(group) > 1 else [cfg, _companion(cfg)]
        with torch_threads(1):
            alt = train_group(other, progress=False, max_updates=upto)[0]
        layouts = _compare(alt.history, result.history[result.history["update"] <= upto], upto)
        if not layouts["ok"]:
            out.update(ok=None, problem=f"rounding-sensitive (alone and stacked disagree here too: {layouts['problem']}); "
                                        f"its numbers come back only with the rounding of {meta.get('provenance', {}).get('machine')!r}")
    out["wall_s"] = time.perf_counter() - t0
    return out


def _compare(history: pd.DataFrame, stored: pd.DataFrame, upto: int) -> dict[str, Any]:
    """``history`` against ``stored`` at ``stored``'s points, within 4uU·max(1, |v|) (U = ``upto``)."""
    new = history[history["update"] <= upto]
    cols = [c for c in stored.columns if c not in ("wall_s",) and c in new.columns]
    if list(new["update"]) != list(stored["update"]):
        return {"ok": False, "problem": f"validation points differ: stored {list(stored['update'])}, retrained {list(new['update'])}"}
    x, y = new[cols].to_numpy(float), stored[cols].to_numpy(float)
    tol = 4 * U * max(upto, 1) * np.maximum(1.0, np.abs(np.nan_to_num(y)))
    diff = np.abs(np.nan_to_num(x) - np.nan_to_num(y))
    bad = (diff > tol) | (np.isnan(x) != np.isnan(y))
    out: dict[str, Any] = {"ok": not bad.any(), "max_rel_excess": float((diff / tol).max()) if diff.size else 0.0}
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        out["problem"] = (f"{cols[c]} at update {int(y[r, 0])}: stored {y[r, c]!r}, retrained {x[r, c]!r}, "
                          f"allowed difference {tol[r, c]:.3g}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="nnrnn verify",
        description="Check the SHA-256 of archived runs and retrain a random sample up to their first validation points.",
        epilog="examples:\n  nnrnn verify                                    # two runs, a fresh random pick\n"
        "  nnrnn verify --sample 2 --max-updates 1000      # two runs whose first points come early\n"
        "  nnrnn verify --sample 0 --root /data/archive    # the SHA-256 of every file only",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--sample", type=non_negative_int, default=2,
                   help="runs to retrain, picked at random (0 checks the files' SHA-256 only)")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help="random seed of the pick (default: a fresh one, printed)")
    p.add_argument("--points", type=positive_int, default=1, help="validation points to compare after update 0")
    p.add_argument("--max-updates", type=positive_int, default=None,
                   help="pick only runs whose first points come within this many updates (default: any)")
    p.add_argument("--root", type=existing_dir, default=None, metavar="DIR",
                   help="an existing results root (default: the repository's data/ folder)")
    a = p.parse_args(argv)
    runs, lm_runs = archived_runs(a.root), archived_lm_runs(a.root)
    corrupt = []
    for d in runs + lm_runs:
        try:
            read_run_meta(d)
        except RunCorrupt as exc:
            corrupt.append(str(exc))
    print(f"{len(runs) + len(lm_runs)} archived runs under {results_root(a.root) / 'runs'} ({len(lm_runs)} language "
          f"models: checked, not retrained); {len(runs) + len(lm_runs) - len(corrupt)} intact")
    for c in corrupt:
        print(f"  CORRUPT: {c}")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**31)
    intact = [d for d in runs if not any(str(d) in c for c in corrupt)]
    if a.max_updates is not None:
        intact = [d for d in intact if _first_points(pd.read_csv(d / "history.csv"), a.points)["update"].max() <= a.max_updates]
    order = random.Random(seed).sample(intact, len(intact))  # a random order; the first checkable ones are used
    target = min(a.sample, len(intact))
    print(f"retraining {target} run(s) (seed {seed}, {a.points} validation point(s) each)")
    failed = checked = 0
    for d in order:
        if checked >= target:
            break
        try:
            r = verify_run(d, points=a.points)
        except DataError as exc:  # psMNIST without MNIST: say which run and why, check the others
            print(f"  {d.parent.name}/{d.name}: CANNOT RETRAIN: {exc}")
            failed += 1
            checked += 1
            continue
        if r["ok"] is None:
            print(f"  {d.parent.name}/{d.name}: NOT CHECKABLE, {r['problem']}; picking another run")
            continue
        checked += 1
        status = "ok" if r["ok"] else f"DIFFERS: {r['problem']}"
        extra = f", largest difference {r['max_rel_excess']:.2g} of the allowed" if "max_rel_excess" in r else ""
        print(f"  {d.parent.name}/{d.name}: {status} ({r.get('updates', 0)} updates, {r['wall_s']:.0f} s{extra})")
        failed += not r["ok"]
    if checked < target:
        print(f"only {checked} of the {target} requested runs could be checked")
        failed += 1
    return 1 if corrupt or failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
