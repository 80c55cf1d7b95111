r"""Why chains diverge: what the archive's runs say about training a non-normal RNN (issue 24).

Every archived run of the ``replicate`` profile records, at each validation point, the spectral
radius :math:`\rho(W)` and Henrici's departure from normality :math:`d(W)` of its recurrent
matrix, and its outcome. This module turns them into the chapter's tables:

* :func:`pilot_outcomes`: each pilot run (scale x learning rate x seed) with its outcome
  (:data:`OUTCOMES`) and, for a diverged run, the update at which it diverged; per setting
  (:func:`setting_outcomes`, the worse of its seeds): the stability map;
* :func:`screen_outcomes`: protocol v2's divergence screen, the pilot's best candidates trained
  longer at the pilot seeds, each run with its outcome and the update at which it diverged;
* :func:`stage2_runs` and :func:`trajectories`: :math:`\rho(W)` and :math:`d(W)` over training, per
  stage-2 run of either protocol (:data:`nnrnn.replicate.PROTOCOLS`);
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

import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import archive as _archive
from . import evidence as _evidence
from . import paper as _paper
from . import replicate as _replicate
from . import stats as _stats
from . import sweep as _sweep
from . import validate
from .store import load_history, run_or_load
from .train import TrainConfig, train

__all__ = ["OUTCOMES", "AT_BASELINE", "outcome", "pilot_outcomes", "setting_outcomes", "screen_outcomes", "stage2_runs",
           "trajectories", "survival", "pseudospectrum",
           "EXAMPLE", "RECORD_EVERY", "ARMS", "arm_configs", "experiment_run", "experiment_runs", "experiment_root"]

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


#: the columns of a run table with outcomes (:func:`stage2_runs`, :func:`screen_outcomes`) when it has no runs.
_RUN_COLUMNS = ["hash", "init", "scale", "lr", "seed", "status", "final_val_loss", "baseline", "success", "diverged",
                "n_updates", "outcome", "diverged_at"]


def _with_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    if runs.empty or "diverged" not in runs:  # nothing stored (or nothing planned yet): the columns, no rows
        return pd.DataFrame(columns=list(dict.fromkeys([*runs.columns, *_RUN_COLUMNS])))
    out = runs.copy()
    out["outcome"] = [outcome(r.status, r.final_val_loss, r.baseline, r.success) for r in runs.itertuples(index=False)]
    out["diverged_at"] = np.where(out["diverged"], out["n_updates"].astype(float), np.nan)
    return out


def _protocol(protocol: str) -> str:
    return validate.choice(protocol, "protocol", tuple(_replicate.PROTOCOLS))


def pilot_outcomes(task: str, root=None, protocol: str = "v1") -> pd.DataFrame:
    """The stability map of ``task``'s pilot: one row per stored pilot run with ``init``, ``scale``,
    ``lr``, ``seed``, ``outcome``, ``diverged_at`` (updates before divergence; NaN if it did not),
    ``final_val_loss`` and ``baseline``."""
    root = _replicate.protocol_root(_protocol(protocol), root)
    runs = _sweep.load_runs(task, configs=_replicate.pilot_grid(task, protocol), root=root)
    cols = ["init", "scale", "lr", "seed", "outcome", "diverged_at", "final_val_loss", "baseline", "n_updates", "hash"]
    return _with_outcomes(runs)[cols] if len(runs) else pd.DataFrame(columns=cols)


def setting_outcomes(pilot: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (``init``, ``scale``, ``lr``) of ``pilot`` (a :func:`pilot_outcomes` table):
    the worse ``outcome`` of its seeds (in :data:`OUTCOMES` order), the earliest ``diverged_at``,
    ``seeds`` (its runs) and ``agree`` (every seed had the same outcome). Protocol v2 pilots each
    setting at two seeds and never selects one that diverged on either; a stability map of it shows
    the worse seed (our choice). With one seed per setting (protocol v1) it is the pilot as is.

    Examples:
        >>> p = pd.DataFrame({"init": ["chain"] * 4, "scale": [1.0, 1.0, 1.02, 1.02], "lr": [1e-4] * 4,
        ...                   "seed": [101, 102] * 2, "outcome": ["success", "diverged", "at baseline", "at baseline"],
        ...                   "diverged_at": [np.nan, 420.0, np.nan, np.nan]})
        >>> setting_outcomes(p)[["scale", "outcome", "diverged_at", "seeds", "agree"]].to_dict("records")
        [{'scale': 1.0, 'outcome': 'diverged', 'diverged_at': 420.0, 'seeds': 2, 'agree': False}, \
{'scale': 1.02, 'outcome': 'at baseline', 'diverged_at': nan, 'seeds': 2, 'agree': True}]
    """
    validate.has_columns(pilot, ["init", "scale", "lr", "seed", "outcome", "diverged_at"], "pilot")
    cols = ["init", "scale", "lr", "outcome", "diverged_at", "seeds", "agree"]
    if pilot.empty:
        return pd.DataFrame(columns=cols)
    rank = pilot["outcome"].map({o: k for k, o in enumerate(OUTCOMES)})
    if rank.isna().any():
        raise validate.error("each outcome", f"one of {list(OUTCOMES)}", sorted(set(pilot["outcome"][rank.isna()])))
    g = pilot.assign(rank=rank.astype(int)).groupby(["init", "scale", "lr"], sort=False)
    out = g.agg(rank=("rank", "min"), diverged_at=("diverged_at", "min"), seeds=("seed", "size"),
                kinds=("outcome", "nunique")).reset_index()
    out["outcome"] = [OUTCOMES[k] for k in out["rank"]]
    out["agree"] = out["kinds"] == 1
    return out[cols]


def screen_outcomes(task: str, root=None) -> pd.DataFrame:
    """Protocol v2's divergence screen of ``task`` (:func:`nnrnn.replicate.screen_grid`): one row per
    stored screen run of every round planned so far, with ``init``, ``scale``, ``lr``, ``seed``,
    ``outcome``, ``diverged_at`` (updates before divergence; NaN if it did not), ``n_updates``,
    ``pilot_updates`` (the updates of the task's one-epoch pilot run), ``selected`` (the candidate
    is the setting stage 2 trains; False for every run before the selection is made),
    ``final_val_loss``, ``baseline`` and ``hash``. No rows before the pilot is stored."""
    out = _replicate.run(task, protocol="v2", root=root, dry_run=True, verbose=False)
    cfgs = list(out.get("screen") or [])
    runs = _with_outcomes(_sweep.load_runs(task, configs=cfgs, root=_replicate.protocol_root("v2", root)) if cfgs
                          else pd.DataFrame())
    pilot = out["pilot"].configs()[0]
    sel = out.get("selection")
    chosen = {(i, float(r["scale"]), float(r["lr"])) for i, r in sel.iterrows()} if sel is not None else set()
    runs["pilot_updates"] = pilot.epochs * pilot.updates_per_epoch
    runs["selected"] = [any(i == r.init and np.isclose(s, r.scale) and np.isclose(lr, r.lr) for i, s, lr in chosen)
                        for r in runs.itertuples(index=False)]
    cols = ["init", "scale", "lr", "seed", "outcome", "diverged_at", "n_updates", "pilot_updates", "selected",
            "final_val_loss", "baseline", "hash"]
    return runs[cols].reset_index(drop=True)


def stage2_runs(task: str, root=None, protocol: str = "v1") -> pd.DataFrame:
    """``task``'s stored stage-2 runs of ``protocol`` with their ``outcome`` and ``diverged_at``:
    protocol v1's (:func:`nnrnn.archive.replicate_runs`) or protocol v2's
    (:func:`nnrnn.evidence.stage2`: seeds 1-6 at each initializer's setting selected among the
    survivors of the divergence screen; none before the screen is stored)."""
    runs = _archive.replicate_runs(task, root) if _protocol(protocol) == "v1" else _evidence.stage2(task, root)[1]
    return _with_outcomes(runs)


def trajectories(runs: pd.DataFrame, root=None, protocol: str = "v1") -> pd.DataFrame:
    """:math:`\\rho(W)` and :math:`d(W)` of ``runs`` (a :func:`stage2_runs` or :func:`pilot_outcomes`
    table of ``protocol``, whose runs live under :func:`nnrnn.replicate.protocol_root`) at every
    validation point, in long form: ``hash``, ``init``, ``seed``, ``update``, ``rho``, ``henrici``,
    ``outcome`` and ``diverged_at`` of the run. The row a diverged run records at its divergence
    (NaN diagnostics) is left out."""
    cols = ["hash", "init", "seed", "update", "rho", "henrici", "outcome", "diverged_at"]
    root = _replicate.protocol_root(_protocol(protocol), root)
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
    # One batched call per grid row (torch.linalg.svdvals: LAPACK per matrix, the batch spread over
    # torch's threads). numpy's one call per point ran each small SVD on all BLAS threads, which
    # on a busy 2-core machine waited on descheduled threads: chapter 10's cell took > 300 s.
    wt, eye = torch.from_numpy(w).to(torch.complex128), torch.eye(len(w), dtype=torch.complex128)
    zx = torch.from_numpy(x).to(torch.complex128)[:, None, None]
    out = np.empty((len(y), len(x)))
    for i, b in enumerate(y):
        out[i] = torch.linalg.svdvals((zx + 1j * float(b)) * eye - wt)[:, -1].numpy()
    return out


# ----------------------------------------------------------------------------- the chapter's new runs
#: the authors' README example (``--task copy --init chain --init_scale 1.02 --lr 5e-5``), one epoch
#: of the paper's copy task validated every 250 updates on 2,000 held-out sequences (our choice).
EXAMPLE: dict = dict(_paper.SYNTHETIC_BASE, task="copy", init="chain", scale=1.02, lr=5e-5, epochs=1,
                     n_val=2_000, evals_per_epoch=15)
#: W is recorded every this many updates in the mechanism runs.
RECORD_EVERY = 50
#: the chapter's arms, each at seeds 1-3 (the paper's first three): the example as is (W recorded),
#: with Keras's loss, with the stabiliser we chose (a clipping norm of 1 instead of 10), and an
#: orthogonal network at the same learning rate as the normal reference.
ARMS: dict[str, dict] = {
    "chain (paper's settings)": {},
    "chain, Keras's loss": {"loss": "keras"},
    "chain, clip norm 1": {"clip_norm": 1.0},
    "orthogonal (reference)": {"init": "orthogonal", "scale": 1.0},
}


def experiment_root() -> Path:
    """Where the chapter's runs are kept: ``divergence/`` in the archive (the repository's
    ``data/divergence``, committed; :func:`nnrnn.archive.archive_root`), each result with its config
    and provenance in a JSON sidecar (:func:`nnrnn.store.run_or_load`)."""
    return _archive.archive_root() / "divergence"


def arm_configs(arm: str, seeds: Sequence[int] = (1, 2, 3)) -> list[TrainConfig]:
    """The configs of one of :data:`ARMS`."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    return [TrainConfig(**{**EXAMPLE, **ARMS[arm], "seed": int(s)}) for s in seeds]


def experiment_run(cfg: TrainConfig, record_every: int = 0, *, root=None, cache: str = "auto") -> dict[str, np.ndarray]:
    """Train ``cfg`` once (or load it): its history columns, ``status``, ``n_updates`` and, with
    ``record_every``, ``W`` every that many updates (``w_updates``, ``w``: ``(k, N, N)``)."""
    def compute() -> dict:
        snaps, at = [], []

        def keep(update, model):
            if record_every and update % record_every == 0:
                at.append(update)
                snaps.append(model.rnn.weight_hh.detach().cpu().numpy().copy())

        r = train(cfg, progress=False, on_update=keep)
        out = {c: r.history[c].to_numpy(float) for c in r.history.columns}
        out.update(status=r.status, n_updates=r.n_updates, step=r.extra.get("step", ""),
                   w_updates=np.asarray(at, dtype=np.int64), w=np.asarray(snaps, dtype=np.float32).reshape(-1, *r.state_dict["rnn.weight_hh"].shape))
        return out

    key = {**cfg.key(), "record_every": int(record_every)}
    return run_or_load("ch10_runs", key, compute, profile="replicate", cache=cache,
                       root=experiment_root() if root is None else root)


def experiment_runs(root=None, cache: str = "auto") -> pd.DataFrame:
    """Every arm's runs (:func:`experiment_run`), one row each: ``arm``, ``seed``, ``status``,
    ``n_updates``, ``diverged``, the validation loss at each recorded update (``val_loss_at``, a
    dict) and the run's arrays (``run``)."""
    rows = []
    for arm in ARMS:
        for cfg in arm_configs(arm):
            run = experiment_run(cfg, RECORD_EVERY if not ARMS[arm] else 0, root=root, cache=cache)
            status = str(run["status"])
            rows.append({"arm": arm, "seed": cfg.seed, "status": status, "n_updates": int(run["n_updates"]),
                         "diverged": status == "diverged", "run": run})
    return pd.DataFrame(rows)


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m nnrnn.divergence``: train (or load) the chapter's runs into :func:`experiment_root`."""
    t = experiment_runs()
    print(t[["arm", "seed", "status", "n_updates"]].to_string(index=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
