r"""Stored runs to tables, figures' data and verdicts: what the chapters and the results page show.

* **Tables and figures' data** of a sweep's stored runs (:func:`nnrnn.sweep.load_runs`,
  :func:`nnrnn.sweep.load_history`): :func:`success_counts` (Fig. 3d-f), :func:`best_settings`
  and :func:`best_curves` (Fig. 3a-c), and their pooling into normal and non-normal
  initializers (:func:`group_counts`, :func:`group_losses`, :func:`success_test`).

Verdicts and their tests are in :mod:`nnrnn.verdicts`; what a page shows of them (the settings
tables, the results page's claims) is in :mod:`nnrnn.pages`. The stored replicate runs (the
stage-2 plan, what is stored and in training) are read by :mod:`nnrnn.archive`.
"""

from __future__ import annotations

import warnings
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from . import paper as _paper
from . import validate
from .verdicts import Verdict, success_power, success_verdict

__all__ = ["NORMAL", "NON_NORMAL", "INITS", "success_counts", "best_settings", "best_curves", "group_counts",
           "group_losses", "success_test", "success_power_text"]

#: the normal and the non-normal initializers of the synthetic tasks (the groups the verdicts compare).
NORMAL = ("identity", "orthogonal")
NON_NORMAL = ("chain", "fb_chain")
#: the four, in the order of the tables and figures.
INITS = NORMAL + NON_NORMAL


# ----------------------------------------------------------------------------- summaries of stored runs
def success_counts(runs: pd.DataFrame, inits: Sequence[str] | None = None) -> pd.DataFrame:
    """Successful, diverged and total runs per initializer (Fig. 3d-e).

    Examples:
        >>> df = pd.DataFrame({"init": ["chain", "chain", "identity"], "success": [True, False, False],
        ...                    "diverged": [False, False, True]})
        >>> success_counts(df, ["identity", "chain"]).to_dict("index")["chain"]
        {'n_success': 1, 'n_runs': 2, 'n_diverged': 0}
    """
    inits = list(inits) if inits is not None else [i for i in INITS if i in set(runs["init"])] or sorted(set(runs["init"]))
    g = runs.groupby("init")
    out = pd.DataFrame(
        {
            "n_success": g["success"].sum().reindex(inits, fill_value=0).astype(int),
            "n_runs": g.size().reindex(inits, fill_value=0).astype(int),
            "n_diverged": g["diverged"].sum().reindex(inits, fill_value=0).astype(int),
        }
    )
    out.index.name = "init"
    return out


def best_settings(runs: pd.DataFrame, select: Literal["mean_final"] = "mean_final") -> pd.DataFrame:
    """The best (scale, lr) of each initializer: lowest mean final validation loss over seeds.

    A diverged run counts as an infinite loss, so a setting with a diverged seed is chosen only
    if every setting has one. Ties go to more successes.

    Returns:
        one row per init: ``scale``, ``lr``, ``mean_final_val_loss``, ``sem_final_val_loss``,
        ``n_seeds``, ``n_success``.
    """
    validate.choice(select, "select", ("mean_final",))
    df = runs.assign(_loss=runs["final_val_loss"].where(~runs["diverged"], np.inf).fillna(np.inf))
    agg = (
        df.groupby(["init", "scale", "lr"])
        .agg(
            mean_final_val_loss=("_loss", "mean"),
            sem_final_val_loss=("_loss", lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 and np.isfinite(v).all() else 0.0),
            n_seeds=("_loss", "size"),
            n_success=("success", "sum"),
        )
        .reset_index()
        .sort_values(["init", "mean_final_val_loss", "n_success"], ascending=[True, True, False], kind="stable")
    )
    best = agg.groupby("init", sort=False).head(1).set_index("init")
    order = [i for i in INITS if i in best.index] + [i for i in best.index if i not in INITS]
    return best.loc[order]


def best_curves(history: pd.DataFrame, best: pd.DataFrame, column: str = "val_loss", x: str = "epoch") -> pd.DataFrame:
    """Mean and s.e.m. over seeds of ``column`` against training progress at each init's best setting.

    ``x`` is the progress column of the history (``"epoch"`` or ``"update"``).

    Runs that stopped early keep their last value for the later evaluation points (their loss
    no longer changes); diverged runs drop out from the point where they diverged.

    Returns:
        long form with ``init``, ``x`` (the progress column), ``mean``, ``sem``, ``n``.
    """
    frames = []
    for init, b in best.iterrows():
        h = history[(history["init"] == init) & np.isclose(history["scale"], b["scale"]) & np.isclose(history["lr"], b["lr"])]
        if h.empty:
            continue
        wide = h.pivot_table(index=x, columns="seed", values=column, aggfunc="last", dropna=False)
        # carry the last finite value forward only after the run's final row (early stopping)
        last_epoch = h.groupby("seed")[x].max()
        for seed in wide.columns:
            after = wide.index > last_epoch[seed]
            diverged = h[h["seed"] == seed][column].isna().iloc[-1]
            if not diverged:
                wide.loc[after, seed] = wide[seed].loc[~after].ffill().iloc[-1]
        values = wide.to_numpy(dtype=float)
        n = np.isfinite(values).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=1)
            sd = np.nanstd(values, axis=1, ddof=1)
        sem = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), 0.0)
        frames.append(pd.DataFrame({"init": init, x: wide.index.to_numpy(), "mean": mean, "sem": sem, "n": n}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["init", x, "mean", "sem", "n"])


def group_counts(counts: pd.DataFrame) -> dict[str, int]:
    """:func:`success_counts` pooled into the normal (:data:`NORMAL`) and non-normal (:data:`NON_NORMAL`) groups.

    Examples:
        >>> counts = pd.DataFrame({"n_success": [0, 3, 1], "n_runs": [4, 4, 4]}, index=["identity", "chain", "fb_chain"])
        >>> group_counts(counts)
        {'success_normal': 0, 'runs_normal': 4, 'success_nonnormal': 4, 'runs_nonnormal': 8}
    """
    out = {}
    for group, inits in (("normal", NORMAL), ("nonnormal", NON_NORMAL)):
        rows = counts.loc[[i for i in inits if i in counts.index]]
        out.update({f"success_{group}": int(rows["n_success"].sum()), f"runs_{group}": int(rows["n_runs"].sum())})
    return out


def group_losses(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The final validation losses of the runs that did not diverge: (normal, non-normal) initializers."""
    ok = runs[~runs["diverged"].astype(bool)]
    return tuple(ok.loc[ok["init"].isin(g), "final_val_loss"].dropna().to_numpy(float) for g in (NORMAL, NON_NORMAL))


def success_power_text(task: str, runs_per_init: dict[str, int]) -> str:
    """How likely the success test is to come out significant for ``task`` with ``runs_per_init``
    runs per initializer, were each initializer as successful as in the paper (its counts over its
    whole grid, :data:`nnrnn.paper.PAPER_SUCCESS`; :func:`nnrnn.verdicts.success_power`). ``""``
    where the paper gives no counts (addition and psMNIST: bars only).

    Examples:
        >>> success_power_text("addition", {"chain": 6})
        ''
    """
    paper = _paper.PAPER_SUCCESS[task]
    if not paper:
        return ""
    group = {name: [(int(runs_per_init.get(i, 0)), k / n) for i, (k, n) in paper.items() if i in members]
             for name, members in (("a", NON_NORMAL), ("b", NORMAL))}
    n_nonnormal = sum(n for n, _ in group["a"])
    if not n_nonnormal or not sum(n for n, _ in group["b"]):
        return ""
    power = success_power(group["a"], group["b"])
    expected = sum(n * p for n, p in group["a"])
    return (f"power at the paper's success rates (its counts over its whole grid, Fig. 3d): {power:.2g}, with "
            f"{expected:.2f} successes expected among our {n_nonnormal} non-normal runs")


def success_test(counts: pd.DataFrame, *, at_paper_scale: bool) -> Verdict | None:
    """The test of "non-normal initializers succeed more often" on :func:`success_counts` (``None`` if a group is empty)."""
    g = group_counts(counts)
    if not g["runs_normal"] or not g["runs_nonnormal"]:
        return None
    return success_verdict(g["success_nonnormal"], g["runs_nonnormal"], g["success_normal"], g["runs_normal"],
                           at_paper_scale=at_paper_scale)
