r"""Stored runs to verdicts: the statistics and the claim table of the results page.

Every claim of the paper that the book tests gets one row: the paper's value (cited), ours (the
profile, the number of runs and seeds), a statistical test and a **verdict computed from them**
(:func:`verdict`); no verdict is written by hand, and the chapters' own verdict sentences call
the same function.

Verdicts and their tests are in :mod:`nnrnn.verdicts`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from . import memory as _memory
from . import replicate as _replicate
from . import sweep as _sweep
from . import weights as _weights
from .lm import replicate as _lm_replicate
from .init import orthogonal_matrix
from .store import read_run_meta, results_root
from .verdicts import VERDICTS, Verdict, difference_verdict, increase_verdict, success_verdict, verdict

__all__ = ["archive_root", "archive_commit", "archive_status", "stage2_plan", "replicate_runs", "claims", "NORMAL", "NON_NORMAL"]

NORMAL = ("identity", "orthogonal")
NON_NORMAL = ("chain", "fb_chain")

# ----------------------------------------------------------------------------- the archive
_REPO = Path(__file__).resolve().parent.parent


def archive_root() -> Path:
    """Where the committed results archive lives: ``$NNRNN_ARCHIVE_DIR``, else the repository's ``data/``.

    It is read, never written, by the results page, so a build with its own scratch store
    (``NNRNN_RESULTS_DIR``, as the tests use) still shows the archive.
    """
    env = os.environ.get("NNRNN_ARCHIVE_DIR")
    return Path(env) if env else _REPO / "data"


def archive_commit(root=None) -> str:
    """The last commit that changed the archive's run store, as ``"<sha> (<date>)"``, or a note why not."""
    root = Path(root) if root is not None else archive_root()
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h (%cs)", "--", str(root / "runs")], cwd=_REPO,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return out.stdout.strip() or "not committed yet"


def archive_status(root=None) -> pd.DataFrame:
    """Per task: pilot and stage-2 runs stored (of planned) and the worker time they took.

    Worker time sums each run's share of its lockstep group's wall time (``wall_s / lockstep_runs``).
    """
    rows = []
    for task in _replicate.TASKS:
        pilot = _replicate.pilot_grid(task)
        p = _sweep.load_runs(task, configs=pilot, root=root)
        s2 = replicate_runs(task, root)
        planned = len(_replicate._STAGE2[task]["seeds"]) * len(_replicate.PILOT_SCALES)
        rows.append({"task": task, "pilot runs": f"{len(p)} / {len(pilot)}", "stage-2 runs": f"{len(s2)} / {planned}",
                     "worker hours": float(sum(_worker_seconds(r, root) for r in (p, s2)) / 3600)})
    return pd.DataFrame(rows).set_index("task")


def _worker_seconds(runs: pd.DataFrame, root) -> float:
    total = 0.0
    for r in runs.itertuples(index=False):
        meta = read_run_meta(results_root(root) / "runs" / r.task / r.hash, verify=False)
        prov = meta.get("provenance", {})
        total += float(prov.get("wall_s", r.wall_s or 0.0)) / max(1, int(prov.get("lockstep_runs", 1)))
    return total


def stage2_plan(task: str, root=None) -> list:
    """The stage-2 configs of ``task`` once its pilot is complete in the archive, else ``[]``."""
    pilot = _replicate.pilot_grid(task)
    runs = _sweep.load_runs(task, configs=pilot, root=root)
    if len(runs) < len(pilot):
        return []
    selection = _replicate.select(task, _replicate.pilot_scores(runs, _sweep.load_history(runs, root=root)))
    return _replicate.stage2_grid(task, selection)


def replicate_runs(task: str, root=None) -> pd.DataFrame:
    """The stored stage-2 runs of the replicate protocol for ``task`` (empty if the pilot is incomplete)."""
    plan = stage2_plan(task, root)
    if not plan:
        return _sweep.load_runs(task, configs=[], root=root)
    return _sweep.load_runs(task, configs=plan, root=root)


def _row(claim: str, source: str, paper: str, ours: str, v: Verdict | None, profile: str, n: str) -> dict[str, Any]:
    return {"claim": claim, "where in the paper": source, "paper": paper, "ours": ours, "profile": profile,
            "runs": n, "test": "-" if v is None else v.describe(), "verdict": VERDICTS[4] if v is None else v.label}


def _theory_rows() -> list[dict[str, Any]]:
    n = 100
    chain = _memory.chain_total_memory(n, 1.05)
    q = orthogonal_matrix(n, generator=torch.Generator().manual_seed(0)) * 0.99
    v = np.zeros(n)
    v[0] = 1.0
    normal = _memory.total_memory(q, v)
    effect = chain - normal
    v1 = Verdict(verdict(effect, True, True), effect, "exact computation")
    return [_row("Non-normal networks hold more Fisher memory than normal ones (J_tot)", "§2, Eq. 4, Fig. 1b",
                 "J_tot = 1 for every normal W; up to N for non-normal W",
                 f"chain α = 1.05: J_tot = {chain:.3f}; 0.99·Q: J_tot = {normal:.3f} (N = {n}, v = e₀)", v1,
                 "theory (any profile)", "exact")]


def _benchmark_rows(task: str, root) -> list[dict[str, Any]]:
    figs = {"copy": ("Fig. 3a", "Fig. 3d"), "addition": ("Fig. 3b", "Fig. 3e"), "psmnist": ("Fig. 3c", "Fig. 3f")}[task]
    name = {"copy": "copy (T = 500)", "addition": "addition (T = 750)", "psmnist": "psMNIST (T = 784)"}[task]
    paper_success = {"copy": "identity 0/594, orthogonal 0/594, chain 46/462, feedback chain 11/462",
                     "addition": "bars only (no counts in the text)", "psmnist": "bars only (no counts in the text)"}[task]
    runs = replicate_runs(task, root)
    planned = len(stage2_plan(task, root)) or len(_replicate._STAGE2[task]["seeds"]) * len(_replicate.PILOT_SCALES)
    if len(runs) < planned:  # a verdict on part of stage 2 would depend on which runs finished first
        missing = ("no stage-2 runs in the archive yet" if runs.empty else
                   f"{len(runs)} of {planned} stage-2 runs in the archive; the verdict waits for all of them")
        n = f"{len(runs)} of {planned}"
        return [_row(f"{name}: non-normal initializers succeed more often", figs[1], paper_success, missing, None, "replicate", n),
                _row(f"{name}: non-normal initializers reach a lower validation loss", figs[0],
                     "non-normal curves lower (Fig. 3, 'generally do better')", missing, None, "replicate", n)]
    seeds = sorted(set(runs["seed"]))
    n_text = f"{len(runs)} ({len(seeds)} seeds per initializer)"
    nn = runs[runs["init"].isin(NON_NORMAL)]
    no = runs[runs["init"].isin(NORMAL)]
    per_init = ", ".join(f"{i} {int(g['success'].sum())}/{len(g)}" for i, g in runs.groupby("init", sort=False))
    rows = []
    if len(nn) and len(no):
        v = success_verdict(int(nn["success"].sum()), len(nn), int(no["success"].sum()), len(no), at_paper_scale=True)
        rows.append(_row(f"{name}: non-normal initializers succeed more often", figs[1], paper_success,
                         f"successes: {per_init}", v, "replicate", n_text))
        loss_nn = nn["final_val_loss"].where(~nn["diverged"]).dropna().to_numpy()
        loss_no = no["final_val_loss"].where(~no["diverged"]).dropna().to_numpy()
        means = ", ".join(f"{i} {g['final_val_loss'].mean():.4g}" for i, g in runs.groupby("init", sort=False))
        try:
            v2 = difference_verdict(loss_no, loss_nn, at_paper_scale=True)
        except ValueError:
            v2 = None
        rows.append(_row(f"{name}: non-normal initializers reach a lower validation loss", figs[0],
                         "non-normal curves lower (Fig. 3, 'generally do better')",
                         f"mean final validation loss: {means} (effect: normal minus non-normal)", v2, "replicate", n_text))
    return rows


def _table2_rows(root) -> list[dict[str, Any]]:
    frames = []
    for task in _replicate.TASKS:
        runs = replicate_runs(task, root)
        normal = runs[runs["init"].isin(NORMAL) & ~runs["diverged"]]
        if len(normal):
            frames.append(_weights.henrici_table(normal, root=root))
    claim = "Training moves normal-initialized networks away from normality (Henrici index)"
    if not frames:
        return [_row(claim, "Table 2", "d(W) grows from 0 to well above 0 after training",
                     "no stage-2 runs of identity/orthogonal in the archive yet", None, "replicate", "0")]
    table = pd.concat(frames, ignore_index=True)
    increase = (table["henrici_after"] - table["henrici_before"]).to_numpy()
    floor = float(table.filter(like="floor").max(axis=1).max()) if len(table.filter(like="floor").columns) else 0.0
    v = increase_verdict(increase, at_paper_scale=True, floor=floor)
    ours = (f"d(W) before {table['henrici_before'].mean():.3g}, after {table['henrici_after'].mean():.3g} "
            f"(mean over networks; float32 noise floor {floor:.2g})")
    return [_row(claim, "Table 2", "d(W) grows from 0 to well above 0 after training", ours, v, "replicate", f"{len(table)} networks")]


def _language_rows(root) -> list[dict[str, Any]]:
    """Table 1 / Fig. 4 and Table 3 / Fig. 6 from the language-model replicate runs (:mod:`nnrnn.lm.replicate`)."""
    return _lm_replicate.claims_rows(root)


def claims(root=None, *, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """The results page's table: one row per claim, with the paper's value, ours, test and verdict."""
    rows = _theory_rows()
    for task in tasks:
        rows += _benchmark_rows(task, root)
    rows += _table2_rows(root)
    rows += _language_rows(root)
    return pd.DataFrame(rows)
