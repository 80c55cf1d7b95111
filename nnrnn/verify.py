r"""Re-check the results archive: its integrity, the evidence in its weights, and a partial retraining.

``nnrnn verify`` (``make verify``) does three things, each on any x86 CPU:

1. **Integrity** (every run, seconds): :func:`nnrnn.archive.check_archive` against the committed
   manifest ``data/MANIFEST.json`` (every file's SHA-256, ``config.json`` included; no run
   missing or added; folder name, stored hash and config hash agree; each ``result`` agrees with
   its ``history.csv``; each claim reads the runs the manifest lists for it).
2. **Evidence in the weights** (every run that kept ``weights.pt``): the final validation loss
   and metrics are recomputed from the stored weights with one forward pass over the run's
   validation set, in float64, and must equal the stored float32 numbers within the bound
   :func:`nnrnn.rounding.bounded_evaluation` derives in the same pass: how far any float32
   evaluation (the stored one, by whatever code and summation order) and the float64 one can be
   from the exact value, with the amplification of rounding through the recurrence. The same
   evaluation in float32 here must lie within it too. Pruned runs (pilots) get checks 1 and 3 only.
3. **Retraining** (a random sample): a run is retrained from its config, in the layout it
   trained in (alone or in a lockstep stack), twice: here, and in a subprocess whose BLAS
   (MKL) takes another code path (``MKL_CBWR``) and so sums in another order, as another CPU
   does. The stored history is compared only up to the **horizon**: the validation points up
   to which the two retrainings agree within the allowance. Past it, training amplifies
   rounding (RMSprop's first steps and a growing chain do), any CPU's numbers differ from any
   other's, and a stored number there is evidence of nothing but that CPU's rounding.

**Allowance** (retraining). One float32 unit roundoff ``u = 2**-24`` per sequential operation, four times:
``4 u (U + T) max(1, |v|)`` for a value ``v`` recorded after ``U`` updates of a network run for
``T`` steps. An update changes each float32 weight by at most one unit in the last place when the
summation order changes (derived in ``tests/test_lockstep.py``); a forward pass of ``T`` steps
passes its state through ``T`` rounded matrix products. Anything beyond it, at a point where the
checking machine's own two summation orders agree within it, is a real difference: other data,
another code path, an edited number.

**What it cannot detect.** A change of a stored number past a run's horizon, in a run whose
weights were pruned, that keeps ``result`` and ``history.csv`` consistent and the manifest
updated with it: that is a visible commit in ``git log -- data/``, not something a re-check can
tell from rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from . import archive as _archive
from .cli import HelpFormatter, existing_dir, non_negative_int, positive_int
from .data.errors import DataError
from .executors import torch_threads
from .fused import STEPS
from .lockstep import STEPS as LOCKSTEP_STEPS
from .lockstep import train_group
from .rounding import bounded_evaluation
from .store import RunCorrupt, read_run_meta, results_root
from .train import TrainConfig, evaluate, initial_model, train

__all__ = ["U", "allowance", "archived_runs", "archived_lm_runs", "retrain_group", "retrain", "verify_run",
           "evidence_run", "main"]

#: float32 unit roundoff.
U = 2.0**-24
#: the two MKL code paths the retrain check alternates between (``MKL_CBWR``): each sums in its own order.
_ORDERS = ("COMPATIBLE", "AVX2")


def allowance(updates: int, steps: int, value) -> np.ndarray:
    """``4 u (U + T) max(1, |v|)``: the rounding allowance of a value recorded after ``updates``
    updates of a network run over ``steps`` time steps (module docstring).

    Examples:
        >>> float(allowance(0, 1, 0.5)) == 4 * U
        True
    """
    return 4 * U * (max(int(updates), 0) + max(int(steps), 1)) * np.maximum(1.0, np.abs(np.nan_to_num(value)))


def archived_runs(root=None, tasks: Sequence[str] | None = None) -> list[Path]:
    """Every stored run folder of the synthetic tasks under ``<root>/runs`` (sorted)."""
    base = results_root(root) / "runs"
    names = tasks if tasks is not None else ("copy", "addition", "psmnist")
    return sorted(d for t in names if (base / t).is_dir() for d in (base / t).iterdir()
                  if not d.name.startswith(".") and d.is_dir())


def archived_lm_runs(root=None) -> list[Path]:
    """Every stored language-model run folder (``<root>/runs/lm-<corpus>/<hash>``, sorted): their files
    are checked with the rest, but they are not retrained (hours each)."""
    base = results_root(root) / "runs"
    return sorted(d for c in base.glob("lm-*") if c.is_dir() for d in c.iterdir() if not d.name.startswith(".") and d.is_dir())


def _first_points(history: pd.DataFrame, points: int) -> pd.DataFrame:
    after = history[history["update"] > 0]
    return history[history["update"] <= int(after["update"].iloc[min(points, len(after)) - 1])] if len(after) else history


def retrain_group(cfg: TrainConfig, meta: dict[str, Any]) -> list[TrainConfig]:
    """The lockstep group that retrains ``cfg`` the way it was trained: alone, or stacked with others.

    A run's float rounding depends on whether it trained alone (K = 1: plain matrix products) or
    in a stack (K >= 2: batched products, whose result per run does not depend on the other runs
    or their number, at one thread). So a run that trained in a stack (its provenance's
    ``lockstep_runs``) is retrained beside a companion that stays in the stack: the same config,
    orthogonal 1.0 at lr 1e-6 and the next seed, which neither stops nor diverges within a few
    validation points; its result is discarded.
    """
    if int(meta.get("provenance", {}).get("lockstep_runs", 1)) < 2:
        return [cfg]
    return [cfg, _companion(cfg)]


def _companion(cfg: TrainConfig) -> TrainConfig:
    """A run that keeps ``cfg`` in a stack: orthogonal 1.0 at a tiny learning rate (never stops early or diverges)."""
    return cfg.replace(init="orthogonal", scale=1.0, lr=1e-6, seed=cfg.seed + 1)


def retrain(folder: str | os.PathLike, upto: int) -> pd.DataFrame:
    """The history of the stored run in ``folder`` retrained here for ``upto`` updates, in its layout, one thread.

    With the step its provenance records. ``"fused"`` or ``"reference"``: :func:`nnrnn.train.train`
    with it, or, for a fused run that trained in a stack, :func:`nnrnn.lockstep.train_group` with
    the fused step in the stack :func:`retrain_group` gives (a lockstep run with the fused step
    computes what ``train`` computes alone, bit for bit, so alone is its layout too). ``"batched"``
    or none recorded, as in every run archived before the fused step existed: the lockstep
    trainer's batched engine, alone or in a stack as :func:`retrain_group` says.
    """
    meta = read_run_meta(folder)
    cfg = TrainConfig.from_dict(meta["config"])
    step = meta.get("provenance", {}).get("step", "batched")
    group = retrain_group(cfg, meta)
    if step not in {*STEPS, *LOCKSTEP_STEPS} or (step == "reference" and len(group) > 1):
        raise RunCorrupt(f"stored run {folder} records the training step {step!r}, not one of "
                         f"{sorted({*STEPS, *LOCKSTEP_STEPS})} (a stack trains with 'fused' or 'batched')")
    with torch_threads(1):  # every sweep run trains with one torch thread (nnrnn.executors)
        if step in STEPS and len(group) == 1:
            result = train(cfg, progress=False, step=step, max_updates=upto)
        else:
            result = train_group(group, progress=False, max_updates=upto, step=step)[0]
    return result.history[result.history["update"] <= upto].reset_index(drop=True)


def _other_order() -> str:
    """The ``MKL_CBWR`` code path for the second retraining: one this process does not use."""
    here = os.environ.get("MKL_CBWR", "").split(",")[0].upper()
    return _ORDERS[1] if here == _ORDERS[0] else _ORDERS[0]


def _start_other(folder: Path, upto: int) -> subprocess.Popen:
    env = {**os.environ, "MKL_CBWR": _other_order()}
    return subprocess.Popen([sys.executable, "-m", "nnrnn.verify", "--retrain-json", str(folder), "--upto", str(upto)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish_other(proc: subprocess.Popen) -> pd.DataFrame:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"the retraining in another summation order failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    return pd.DataFrame(json.loads(out))


def _columns(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    return [c for c in a.columns if c not in ("update", "epoch", "wall_s") and c in b.columns]


def _within(x: pd.DataFrame, y: pd.DataFrame, cols: list[str], steps: int) -> np.ndarray:
    """Per row: every column of ``x`` within the allowance of ``y`` (NaN only where NaN)."""
    xv, yv = x[cols].to_numpy(float), y[cols].to_numpy(float)
    tol = np.stack([allowance(u, steps, row) for u, row in zip(y["update"], yv)]) if len(yv) else yv
    diff = np.abs(np.nan_to_num(xv) - np.nan_to_num(yv))
    return ((diff <= tol) & (np.isnan(xv) == np.isnan(yv))).all(axis=1)


def _first_difference(x: pd.DataFrame, y: pd.DataFrame, cols: list[str], steps: int, row: int) -> str:
    for c in cols:
        a, b = float(x[c].iloc[row]), float(y[c].iloc[row])
        tol = float(allowance(int(y["update"].iloc[row]), steps, b))
        if (np.isnan(a) != np.isnan(b)) or abs(np.nan_to_num(a) - np.nan_to_num(b)) > tol:
            return f"{c} at update {int(y['update'].iloc[row])}: stored {b!r}, retrained {a!r}, allowed difference {tol:.3g}"
    return "no difference"  # pragma: no cover - called only for a row that differs


def _common_points(a: pd.Series, b: pd.Series) -> int:
    """How many leading validation points two retrainings share (the same updates, in order)."""
    a, b = list(a), list(b)
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return k


def verify_run(folder: str | os.PathLike, *, points: int = 1) -> dict[str, Any]:
    """Retrain one stored run up to its first ``points`` validation points, in two summation orders,
    and compare its stored history with the retraining up to their horizon (module docstring).

    Returns a summary: ``ok`` (``True``; ``False`` with ``problem``; ``None`` when not even update 0
    is the same in the two orders here), ``horizon`` (the last update compared), ``updates`` (the
    updates retrained) and ``wall_s``.
    """
    folder = Path(folder)
    t0 = time.perf_counter()
    try:
        meta = read_run_meta(folder)
    except RunCorrupt as exc:
        return {"run": str(folder), "ok": False, "problem": str(exc)}
    cfg = TrainConfig.from_dict(meta["config"])
    steps = cfg.make_task().T
    stored = _first_points(pd.read_csv(folder / "history.csv"), points)
    stored = stored[stored["val_loss"].notna()].reset_index(drop=True)  # a run diverged before a point: compare what exists
    upto = int(stored["update"].max())
    other = _start_other(folder, upto)  # the second order trains beside this one (one thread each)
    try:
        here = retrain(folder, upto)
    finally:
        alt = _finish_other(other)
    out: dict[str, Any] = {"run": str(folder), "task": cfg.task, "hash": cfg.hash(), "updates": upto}
    # where the two orders of this machine record different validation points (one diverged, or stopped early, before
    # the other), training is rounding-chaotic from there: only their common points can be compared
    m = _common_points(here["update"], alt["update"])
    here, alt = here.iloc[:m], alt.iloc[:m]
    if len(stored) < m or list(here["update"]) != list(stored["update"])[:m]:
        out.update(ok=False, problem=f"validation points differ: stored {list(stored['update'])}, retrained {list(here['update'])}")
    else:
        cols = _columns(stored, here)
        agree = _within(alt, here, cols, steps)
        n = int(np.argmin(agree)) if not agree.all() else len(agree)  # points before the first disagreement
        same_bits = bool(np.array_equal(here[cols].to_numpy(float), alt[cols].to_numpy(float), equal_nan=True))
        if same_bits and len(agree) > 1:  # no second order here (no MKL): only update 0 is safe to compare
            n, out["note"] = 1, "the second summation order gave identical numbers (no MKL code paths here): compared at update 0 only"
        if n == 0:
            out.update(ok=None, problem="not checkable here: its two summation orders differ already at update 0")
        else:
            ok = _within(here.iloc[:n], stored.iloc[:n], cols, steps)
            out["horizon"] = int(stored["update"].iloc[n - 1])
            out["ok"] = bool(ok.all())
            if not ok.all():
                out["problem"] = _first_difference(here, stored, cols, steps, int(np.argmin(ok)))
            if n < len(stored):
                out.setdefault("note", f"rounding-chaotic after update {out['horizon']}: two summation orders of this machine "
                                       f"disagree at update {int(stored['update'].iloc[n])}; compared up to update {out['horizon']}")
    out["wall_s"] = time.perf_counter() - t0
    return out


@torch.no_grad()
def evidence_run(folder: str | os.PathLike) -> dict[str, Any]:
    """Recompute a run's final validation loss and metrics from its stored weights, in float64, with their bounds.

    Returns ``ok`` (``None`` when there is nothing to recompute: weights pruned, or the run
    diverged), ``max_rel_excess``: the largest difference between a stored number and its
    recomputation as a fraction of its allowance (:func:`nnrnn.rounding.bounded_evaluation`: the
    float32 plus the float64 bound), ``here``: the same for this machine's own float32 evaluation
    (it must lie within the bound too: a check of the bound's first-order premise, module
    docstring of :mod:`nnrnn.rounding`), the numbers compared, and ``problem`` when over.
    """
    folder = Path(folder)
    meta = read_run_meta(folder)
    out: dict[str, Any] = {"run": str(folder)}
    if "weights.pt" not in (meta.get("files") or {}):
        return {**out, "ok": None, "problem": "weights pruned"}
    if meta["result"]["status"] == "diverged":
        return {**out, "ok": None, "problem": "diverged: no final numbers to recompute"}
    cfg = TrainConfig.from_dict(meta["config"])
    task = cfg.make_task()
    model = initial_model(cfg)
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True, map_location="cpu"))
    val = task.datasets(cfg.n_train, cfg.n_val, cfg.seed)[1]
    here = evaluate(model, task, val, cfg.eval_batch_size)  # float32, this machine's code and summation order
    bounded = bounded_evaluation(model.double().eval(), task, val, cfg.eval_batch_size)
    last = pd.read_csv(folder / "history.csv").iloc[-1]
    worst, worst_here, problems, numbers = 0.0, 0.0, [], {}
    for k, b in bounded.items():
        col = "val_loss" if k == "loss" else f"val_{k}"
        stored, tol = float(last[col]), b.allowance
        frac, frac_here = _fraction(stored, b.value, tol), _fraction(here[k], b.value, tol)
        numbers[col] = {"stored": stored, "recomputed": b.value, "allowance": tol, "fraction": frac, "here": frac_here}
        worst, worst_here = max(worst, frac), max(worst_here, frac_here)
        if not frac <= 1:
            problems.append(f"{col}: stored {stored!r}, recomputed from weights.pt {b.value!r}, allowed difference {tol:.3g}")
        if not frac_here <= 1:
            problems.append(f"{col}: this machine's float32 evaluation {here[k]!r} is outside the bound {tol:.3g} of the "
                            f"recomputation {b.value!r}: the bound's first-order premise fails for this run")
    out.update(ok=not problems, max_rel_excess=worst, here=worst_here, numbers=numbers)
    return {**out, **({"problem": "; ".join(problems)} if problems else {})}


def _fraction(a: float, b: float, tol: float) -> float:
    """``|a - b| / tol`` (``inf`` where they differ with no allowance, or either is not finite)."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("inf")
    return abs(a - b) / tol if tol > 0 else (0.0 if a == b else float("inf"))


def _claims(root) -> dict[str, list[str]]:
    """The runs each claim reads, as the manifest of the store ``root`` records them: the analysis plan's
    (:func:`nnrnn.evidence.claim_runs`) for a protocol-v2 store (its ``v2`` folder), else archive v1's."""
    from .evidence import PROTOCOL, claim_runs as plan_claim_runs  # lazy: the retraining subprocess needs no claims
    from .pages.claims import claim_runs  # lazy: as above (--retrain-json needs none of the results page)
    from .replicate import PROTOCOLS  # lazy: as above

    if Path(root).resolve().name == PROTOCOLS[PROTOCOL].folder:
        return plan_claim_runs(root)
    return claim_runs(root)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="nnrnn verify",
        description="Check the results archive: its manifest and every run's files, the final numbers of every run "
                    "with weights (recomputed from them), and a random sample of runs retrained up to their first points.",
        epilog="examples:\n  nnrnn verify                                    # everything, two runs retrained\n"
        "  nnrnn verify --sample 2 --max-updates 1000      # two runs whose first points come early\n"
        "  nnrnn verify --sample 0 --evidence 0            # the integrity checks only (seconds)\n"
        "  nnrnn verify --write-manifest                   # after adding runs on purpose: record them",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--sample", type=non_negative_int, default=2, help="runs to retrain, picked at random (0: none)")
    p.add_argument("--evidence", type=non_negative_int, default=None,
                   help="runs with weights whose final numbers are recomputed (default: all of them)")
    p.add_argument("--seed", type=non_negative_int, default=None,
                   help="random seed of the picks (default: a fresh one, printed)")
    p.add_argument("--points", type=positive_int, default=1, help="validation points to compare after update 0")
    p.add_argument("--max-updates", type=positive_int, default=None,
                   help="retrain only runs whose first points come within this many updates (default: any)")
    p.add_argument("--root", type=existing_dir, default=None, metavar="DIR",
                   help="an existing results root (default: the repository's data/ folder)")
    p.add_argument("--write-manifest", action="store_true", help="record the archive as it is now in MANIFEST.json and exit")
    p.add_argument("--retrain-json", type=existing_dir, default=None, help=argparse.SUPPRESS)
    p.add_argument("--upto", type=non_negative_int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.retrain_json is not None:  # the second summation order (verify_run's subprocess)
        print(json.dumps(retrain(a.retrain_json, a.upto).to_dict("list")))  # floats by repr: exact
        return 0
    root = results_root(a.root)
    if a.write_manifest:
        try:
            path = _archive.write_manifest(root, _claims(root))
        except ValueError as exc:
            print(exc)
            return 1
        print(f"wrote {path} ({len(_archive.run_folders(root))} runs)")
        return 0
    problems = _archive.check_archive(root, _claims(root))
    local = set(_archive.unlisted_runs(root))  # read by no claim (else a problem above): not the archive's
    runs = [d for d in archived_runs(root) if _archive.run_name(d) not in local]
    lm_runs = [d for d in archived_lm_runs(root) if _archive.run_name(d) not in local]
    if local:
        print(f"not in the archive: {len(local)} run folder(s) under {root / 'runs'} that the manifest does not list and "
              f"no claim reads (e.g. a book build's live runs; first: {sorted(local)[0]}), left out of every check")
    print(f"integrity: {len(runs) + len(lm_runs)} archived runs under {root / 'runs'} ({len(lm_runs)} language models: "
          f"integrity only), manifest {root / _archive.MANIFEST}: "
          + ("intact" if not problems else f"{len(problems)} problem(s)"))
    for msg in problems:
        print(f"  TAMPERED OR DAMAGED: {msg}")
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    bad = {str(Path(root) / "runs" / m.split(":")[0]) for m in problems}
    intact = [d for d in runs if str(d) not in bad]
    failed = 0
    with_weights = [d for d in intact if (d / "weights.pt").is_file()]
    pick = with_weights if a.evidence is None else rng.sample(with_weights, min(a.evidence, len(with_weights)))
    print(f"evidence: the final numbers of {len(pick)} of {len(with_weights)} runs with weights, recomputed from them")
    fractions = []
    for d in pick:
        try:
            r = evidence_run(d)
        except DataError as exc:
            print(f"  {d.parent.name}/{d.name}: CANNOT RECOMPUTE: {exc}")
            failed += 1
            continue
        if r["ok"] is False:
            print(f"  {d.parent.name}/{d.name}: DIFFERS: {r['problem']}")
            failed += 1
        if "max_rel_excess" in r:
            fractions.append((r["max_rel_excess"], r["here"], _archive.run_name(d)))
    if fractions:
        fractions.sort(reverse=True)
        print(f"  largest differences as a fraction of the allowance (stored; this machine's float32): "
              + ", ".join(f"{name} {f:.2g} ({h:.2g})" for f, h, name in fractions[:5]))
    if a.max_updates is not None:
        intact = [d for d in intact if _first_points(pd.read_csv(d / "history.csv"), a.points)["update"].max() <= a.max_updates]
    order = rng.sample(intact, len(intact))  # a random order; the first checkable ones are used
    target = min(a.sample, len(intact))
    print(f"retraining {target} run(s) (seed {seed}, {a.points} validation point(s) each, two summation orders)")
    checked = 0
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
        extra = f"; {r['note']}" if r.get("note") else ""
        print(f"  {d.parent.name}/{d.name}: {status} (compared up to update {r.get('horizon', 0)} of {r['updates']}, "
              f"{r['wall_s']:.0f} s{extra})")
        failed += not r["ok"]
    if checked < target:
        print(f"only {checked} of the {target} requested runs could be checked")
        failed += 1
    return 1 if problems or failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
