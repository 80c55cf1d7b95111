r"""Why chains diverge: what the archive's runs say about training a non-normal RNN (issue 24).

Every archived run of the ``replicate`` profile records, at each validation point, the spectral
radius :math:`\rho(W)` and Henrici's departure from normality :math:`d(W)` of its recurrent
matrix, and its outcome. This module turns them into the chapter's tables:

* :func:`pilot_outcomes`: each pilot setting (scale x learning rate) with its outcome
  (:data:`OUTCOMES`) and, for a diverged run, the update at which it diverged: the stability map;
* :func:`trajectories`: :math:`\rho(W)` and :math:`d(W)` over training, per stage-2 run;
* :func:`survival`: time to divergence per initializer, as Kaplan-Meier curves
  (:func:`nnrnn.stats.kaplan_meier`; a run that never diverged is censored at its last update);
* :func:`pseudospectrum`: the smallest singular value of :math:`zI - W` on a grid of complex
  :math:`z`, whose sublevel sets are the :math:`\varepsilon`-pseudospectra of :math:`W`
  (Trefethen & Embree, *Spectra and Pseudospectra*, 2005, ch. 2 and 39, the "grid + SVD" method).

The outcome classes are our choice, stated here: *success* is the paper's criterion (final
validation loss below half the random baseline); *at baseline* is a final loss within
:data:`AT_BASELINE` of the random baseline or above it (the replicate selection band); *below
baseline* is the rest; *diverged* is a run whose loss or gradient became NaN or infinite.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import replicate as _replicate
from . import results as _results
from . import stats as _stats
from . import sweep as _sweep
from .store import load_history

__all__ = ["OUTCOMES", "AT_BASELINE", "outcome", "pilot_outcomes", "stage2_runs", "trajectories", "survival", "pseudospectrum"]

#: the outcome classes of a run, from worst to best.
OUTCOMES: tuple[str, ...] = ("diverged", "at baseline", "below baseline", "success")
#: a final loss at least ``(1 - AT_BASELINE)`` x the random baseline is "at baseline" (our choice).
AT_BASELINE = _replicate.BAND


def outcome(status: str, final_val_loss: float, baseline: float, success: bool) -> str:
    """The outcome class of one run (module docstring).

    Examples:
        >>> outcome("diverged", float("nan"), 0.1, False), outcome("finished", 0.099, 0.1, False)
        ('diverged', 'at baseline')
        >>> outcome("finished", 0.07, 0.1, False), outcome("early_stopped", 0.001, 0.1, True)
        ('below baseline', 'success')
    """
    if status == "diverged" or not np.isfinite(final_val_loss):
        return OUTCOMES[0]
    if success:
        return OUTCOMES[3]
    return OUTCOMES[1] if final_val_loss >= (1 - AT_BASELINE) * baseline else OUTCOMES[2]


def _with_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    out = runs.copy()
    out["outcome"] = [outcome(r.status, r.final_val_loss, r.baseline, r.success) for r in runs.itertuples(index=False)]
    out["diverged_at"] = np.where(out["diverged"], out["n_updates"].astype(float), np.nan)
    return out


def pilot_outcomes(task: str, root=None, protocol: str = "v1") -> pd.DataFrame:
    """The stability map of ``task``'s pilot: one row per stored pilot run with ``init``, ``scale``,
    ``lr``, ``seed``, ``outcome``, ``diverged_at`` (updates before divergence; NaN if it did not),
    ``final_val_loss`` and ``baseline``."""
    root = _replicate.protocol_root(protocol, root)
    runs = _sweep.load_runs(task, configs=_replicate.pilot_grid(task, protocol), root=root)
    cols = ["init", "scale", "lr", "seed", "outcome", "diverged_at", "final_val_loss", "baseline", "n_updates", "hash"]
    return _with_outcomes(runs)[cols] if len(runs) else pd.DataFrame(columns=cols)


def stage2_runs(task: str, root=None) -> pd.DataFrame:
    """``task``'s stored stage-2 runs of protocol v1 with their ``outcome`` and ``diverged_at``."""
    runs = _results.replicate_runs(task, root)
    return _with_outcomes(runs) if len(runs) else runs.assign(outcome=[], diverged_at=[])


def trajectories(runs: pd.DataFrame, root=None) -> pd.DataFrame:
    """:math:`\\rho(W)` and :math:`d(W)` of ``runs`` (a :func:`stage2_runs` or :func:`pilot_outcomes`
    table) at every validation point, in long form: ``hash``, ``init``, ``seed``, ``update``,
    ``rho``, ``henrici``, ``outcome`` and ``diverged_at`` of the run. The row a diverged run
    records at its divergence (NaN diagnostics) is left out."""
    cols = ["hash", "init", "seed", "update", "rho", "henrici", "outcome", "diverged_at"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    h = load_history(runs, root=root).rename(columns={"w_spectral_radius": "rho", "w_henrici": "henrici"})
    h = h[np.isfinite(h["rho"].astype(float))]
    return h.merge(runs[["hash", "outcome", "diverged_at"]], on="hash")[cols]


def survival(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per initializer of ``runs`` (a table with ``init``, ``n_updates`` and ``diverged``): the
    Kaplan-Meier estimate of "not yet diverged" against updates; a run that did not diverge is
    censored at its last update."""
    return {init: _stats.kaplan_meier(g["n_updates"].astype(float), g["diverged"].astype(bool))
            for init, g in runs.groupby("init", sort=False)}


def pseudospectrum(w, re: Sequence[float], im: Sequence[float]) -> np.ndarray:
    r"""The smallest singular value of :math:`zI - W` for every :math:`z = x + iy` on the grid
    ``re`` x ``im``; shape ``(len(im), len(re))``. The :math:`\varepsilon`-pseudospectrum of
    :math:`W` is the set where it is below :math:`\varepsilon`.

    Examples:
        >>> w = np.array([[0.0, 0.0], [1.0, 0.0]])  # a 2-chain: both eigenvalues 0
        >>> s = pseudospectrum(w, [0.0, 0.5], [0.0])
        >>> float(s[0, 0]), round(float(s[0, 1]), 4)  # sigma_min(-W) = 0; at z = 0.5 it is 0.25 / 1.2071
        (0.0, 0.2071)
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"w must be a square matrix, got an array of shape {w.shape}")
    x, y = np.asarray(re, dtype=np.float64), np.asarray(im, dtype=np.float64)
    eye = np.eye(len(w))
    out = np.empty((len(y), len(x)))
    for i, b in enumerate(y):
        for j, a in enumerate(x):
            out[i, j] = np.linalg.svd((a + 1j * b) * eye - w, compute_uv=False)[-1]
    return out
