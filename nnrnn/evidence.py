"""Evidence v2: the results page's claims judged as the analysis plan says (book/analysis-plan.md).

The plan was committed before any run of protocol v2 existed; this module applies it, and only
it, to the stored v2 runs (``data/v2``, :mod:`nnrnn.replicate` ``protocol="v2"``):

* the benchmark claims (Fig. 3): per task, success (0/1) and the loss rank
  (:func:`nnrnn.stats.loss_scores`: a diverged run ranks worst, the earlier divergence worse)
  by the plan's primary test (:func:`nnrnn.verdicts.pooled_verdict`: the exact permutation test
  within seeds, non-normal against normal, one-sided), the four pairwise sign-flip tests with
  Holm's adjustment (secondary), the Hodges-Lehmann interval of the per-seed differences with its
  attained level, the diverged runs per initializer, and the training budget as a fraction of
  the 100-epoch cap of the paper's runs (authors' code);
* Table 2, per (task, normal initializer): the trained Henrici index against the null of
  :math:`W_0` plus a random change of the trained change's size
  (:func:`nnrnn.stats.henrici_excess`), by the exact sign-flip test over the successful networks
  (primary) and over all networks that did not diverge (secondary).

Nothing here chooses a test, a threshold or a run to leave out: those are the plan's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from . import archive as _archive
from . import paper as _paper
from . import replicate as _replicate
from . import stats as _stats
from . import sweep as _sweep
from . import weights as _weights
from .data import DataNotFoundError
from .lm import replicate as _lm_replicate
from .lm.config import paper_config as _lm_paper_config
from .store import load_weights
from .train import TrainConfig, initial_model
from .verdicts import (MIN_POWER, NOT_TESTABLE, Verdict, excess_verdict, paper_success_rates, planned_label,
                       pooled_verdict, supports_hidden_chain)

__all__ = ["PROTOCOL", "PLAN_COMMIT", "PLAN_AMENDMENT", "PENDING", "NORMAL", "NON_NORMAL", "TASK_NAMES", "budget", "stage2", "is_complete", "CHAPTER_TASKS", "chapter_protocol", "progress",
           "status", "benchmark_rows",
           "weight_tasks", "interval_coverage", "selections", "claim_runs", "table2_rows", "Fig5Measures", "fig5_measures", "fig5_excesses", "fig5_rows", "lm_rows", "claims"]

PROTOCOL = "v2"
#: the commit that added the analysis plan (book/analysis-plan.md), before any protocol-v2 run existed;
#: the results page cites it, and tests/test_evidence.py checks it against the repository's history.
PLAN_COMMIT = "e62e60b"
#: the plan's one amendment (the screen's fallback, where v2 runs live), also before any protocol-v2 run existed;
#: the test checks that no other commit changed the plan.
PLAN_AMENDMENT = "41f48b8"
NORMAL = ("identity", "orthogonal")
NON_NORMAL = ("chain", "fb_chain")
#: the state of a claim whose protocol-v2 runs are not all stored: not a verdict (the plan gives none on part of
#: its runs), shown in a verdict's place with its own badge, as "withheld" is.
PENDING = "pending: its protocol-v2 runs are still training"
#: how a claim names a task: the task and the paper's sequence length.
TASK_NAMES = {"copy": "copy (T = 500)", "addition": "addition (T = 750)", "psmnist": "psMNIST (T = 784)"}
#: the paper's Table 2 tasks (its networks: addition N = 100, psMNIST N = 25).
TABLE2_TASKS = ("addition", "psmnist")
#: Fig. 5's window: the forward asymmetry averages lags 1..10 against -10..-1 (the plan).
FIG5_MAX_LAG = 10


def budget(task: str) -> float:
    """Protocol v2's stage-2 training budget of ``task`` as a fraction of the 100-epoch cap of the paper's runs (the authors' code's; the paper's text states none)."""
    epochs = _replicate.PROTOCOLS[PROTOCOL].stage2[task]["base"]["epochs"]
    return epochs / _paper.SYNTHETIC_BASE["epochs"]


def stage2(task: str, root=None) -> tuple[list[TrainConfig], pd.DataFrame]:
    """``task``'s planned v2 stage-2 configs (none until the pilot and the screen are stored) and
    the stored runs among them (a :func:`nnrnn.sweep.load_runs` table)."""
    out = _replicate.run(task, protocol=PROTOCOL, root=root, dry_run=True, verbose=False)
    cfgs = list(out.get("stage2") or [])
    runs = _sweep.load_runs(task, configs=cfgs, root=_replicate.protocol_root(PROTOCOL, root)) if cfgs else None
    return cfgs, runs if runs is not None else pd.DataFrame(columns=["hash", "init", "seed"])


def is_complete(task: str, root=None) -> bool:
    """Whether every planned v2 stage-2 run of ``task`` is stored."""
    cfgs, runs = stage2(task, root)
    return bool(cfgs) and len(runs) == len(cfgs)


#: the chapters that read the protocol-v2 runs of their tasks once every planned stage-2 run of each is stored, else
#: archive v1, never both (:func:`chapter_protocol`): the benchmark chapters' replicate sections
#: (:func:`nnrnn.pages.benchmarks.replicate_section`, ``"auto"``), the trained weights (Table 2 and Fig. 5 use
#: addition and psMNIST) and the divergence chapter (every task). The book's banners follow it
#: (:func:`nnrnn.book.reads_v2`).
CHAPTER_TASKS = {"04-copy": ("copy",), "05-addition": ("addition",), "06-psmnist": ("psmnist",),
                 "08-trained-weights": ("addition", "psmnist"), "10-divergence": ("copy", "addition", "psmnist")}


def chapter_protocol(stem: str, root=None) -> str:
    """The protocol whose runs chapter ``stem`` (a key of :data:`CHAPTER_TASKS`) reads under ``root``: ``"v2"``
    once every planned protocol-v2 stage-2 run of each of its tasks is stored, else ``"v1"``.

    Examples:
        >>> chapter_protocol("99-nothing")
        Traceback (most recent call last):
        ...
        ValueError: chapter must be one of ['04-copy', '05-addition', '06-psmnist', '08-trained-weights', '10-divergence'], got '99-nothing'
    """
    if stem not in CHAPTER_TASKS:
        raise ValueError(f"chapter must be one of {list(CHAPTER_TASKS)}, got {stem!r}")
    return "v2" if all(is_complete(t, root) for t in CHAPTER_TASKS[stem]) else "v1"


_STAGE_NAMES = {"pilot": "pilot", "screen": "divergence screen (current round)", "stage2": "stage 2"}


def _stages(task: str, root=None) -> dict[str, tuple[int, int | None]]:
    out = _replicate.run(task, protocol=PROTOCOL, root=root, dry_run=True, verbose=False)
    where = _replicate.protocol_root(PROTOCOL, root)
    counts = {}
    for stage in ("pilot", "screen", "stage2"):
        cfgs = out.get(stage) or []
        cfgs = cfgs.configs() if isinstance(cfgs, _sweep.Grid) else list(cfgs)
        stored = len(_sweep.load_runs(task, configs=cfgs, root=where)) if cfgs else 0
        counts[stage] = (stored, len(cfgs) if cfgs else None)
    return counts


def _stage_cells(task: str, root=None) -> dict[str, str]:
    """Each stage's runs stored of planned, ``"k / n"``, or "not started" (:func:`_stages`), by stage key."""
    return {k: "not started" if n is None else f"{got} / {n}" for k, (got, n) in _stages(task, root).items()}


def progress(task: str, root=None) -> str:
    """Where ``task``'s protocol-v2 training stands, in words: the pilot's runs stored of planned,
    then the divergence screen's current round, then stage 2 (each planned only once the stage
    before it is stored)."""
    parts = []
    for stage, (stored, planned) in _stages(task, root).items():
        if planned is None:
            parts.append(f"{_STAGE_NAMES[stage]}: not started")
            break
        parts.append(f"{_STAGE_NAMES[stage]}: {stored} of {planned} runs stored")
    return "; ".join(parts)


def status(root=None, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """Per task: each stage's protocol-v2 runs stored of planned (``"k / n"``; the screen's current
    round; "not started" before the stage before it is stored), every run stored, and the worker
    time they took (each run's share of its lockstep group's wall time)."""
    where = _replicate.protocol_root(PROTOCOL, root)
    rows = []
    for task in tasks:
        runs = _sweep.load_runs(task, root=where)
        hours = _archive.worker_seconds(runs.assign(task=task), where) / 3600 if len(runs) else 0.0
        stages = {_STAGE_NAMES[k]: cell for k, cell in _stage_cells(task, root).items()}
        rows.append({"task": task, **stages, "runs stored": len(runs), "worker hours": hours})
    return pd.DataFrame(rows).set_index("task")


def interval_coverage(d: np.ndarray, *, draws: int = 20_000, seed: int = 0) -> float:
    """The simulated coverage of the Hodges-Lehmann interval at ``len(d)`` seeds for per-seed differences
    spread like ``d`` (the plan: success and rank differences take few values, and ties make the closed
    interval cover more often than its attained level): each draw takes ``len(d)`` of ``d``'s deviations
    from its estimate at random, each with a random sign (symmetric about 0, the interval's assumption).

    Examples:
        >>> round(interval_coverage(np.array([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])), 3)  # 0/1 differences: ties
        0.969
    """
    d = np.asarray(d, float)
    est = _stats.hodges_lehmann_ci(d)[0]
    dev = d - est

    def sampler(rng, shape):
        return rng.choice(dev, size=shape) * rng.choice((-1.0, 1.0), size=shape)

    return _stats.interval_coverage(len(d), draws=draws, seed=seed, sampler=sampler).simulated


def claim_runs(store) -> dict[str, list[str]]:
    """The runs (``"<task>/<hash>"``) each benchmark's claims read from the protocol-v2 ``store`` (the
    ``v2`` folder itself), as its manifest records them: every stored run of the task, since its pilot
    and every round of its screen decide the selection, and its stage 2 holds the success and loss
    claims and the networks of Table 2 and Fig. 5."""
    store = Path(store)
    return {f"{task}: Fig. 3, Table 2, Fig. 5 (protocol v2)": [f"{task}/{h}" for h in sorted(_sweep.load_runs(task, root=store)["hash"])]
            if (store / "runs" / task).is_dir() else [] for task in _replicate.TASKS}


def selections(root=None, tasks: Sequence[str] = _replicate.TASKS) -> pd.DataFrame:
    """Per task and initializer, the setting protocol v2 trains in stage 2 (the pilot's selection among the
    settings that survived the divergence screen), its pilot score, and how many of its screened candidates
    diverged; a task whose selection is not made yet has no rows."""
    where = _replicate.protocol_root(PROTOCOL, root)
    rows = []
    for task in tasks:
        out = _replicate.run(task, protocol=PROTOCOL, root=root, dry_run=True, verbose=False)
        sel = out.get("selection")
        if sel is None or not len(sel):
            continue
        screen = list(out.get("screen") or [])
        screened = _sweep.load_runs(task, configs=screen, root=where) if screen else pd.DataFrame(columns=["init", "diverged"])
        for init, r in sel.iterrows():
            mine = screened[screened["init"] == init]
            rows.append({"task": TASK_NAMES[task], "initializer": init, "scale": float(r["scale"]), "learning rate": float(r["lr"]),
                         "pilot score": float(r["score"]),
                         "screen": f"{int(mine['diverged'].astype(bool).sum())} of {len(mine)} screen runs diverged"})
    return pd.DataFrame(rows, columns=["task", "initializer", "scale", "learning rate", "pilot score", "screen"])


def _interval(scores, nonnormal, seeds) -> str:
    d = _stats.seed_differences(scores, nonnormal, seeds)
    if len(d) < 2:
        return "-"
    est, lo, hi, level = _stats.hodges_lehmann_ci(d.to_numpy())
    return (f"{est:+.3g} [{lo:+.3g}, {hi:+.3g}] (Hodges-Lehmann, exact {level:.4g} level over {len(d)} seeds; simulated "
            f"coverage {interval_coverage(d.to_numpy()):.3g} for differences spread like these, symmetric about the estimate)")


def _pairs(scores, runs: pd.DataFrame) -> str:
    present = set(runs["init"])
    a, b = [i for i in NON_NORMAL if i in present], [i for i in NORMAL if i in present]
    if not a or not b:
        return "-"
    t = _stats.pairwise_tests(scores, runs["init"].tolist(), runs["seed"].tolist(), a, b)
    return "; ".join(f"{r.a} - {r.b}: {r.effect:+.3g}, Holm p = {r.p_holm:.2g}" for r in t.itertuples(index=False))


def _row(claim: str, where: str, paper: str, ours: str, v: Verdict | None, runs: str, task_budget: float,
         secondary: str = "-", interval: str = "-") -> dict[str, Any]:
    cap = _paper.SYNTHETIC_BASE["epochs"]
    return {"claim": claim, "where in the paper": where, "paper": paper, "ours": ours, "profile": "replicate (protocol v2)",
            "runs": runs, "budget": f"{task_budget:.0%} of the {cap}-epoch cap (authors' code)", "test": "-" if v is None else v.describe(),
            "verdict": PENDING if v is None else v.label, "secondary": secondary, "interval": interval}


def benchmark_rows(task: str, root=None) -> list[dict[str, Any]]:
    """The success and loss claims of ``task`` under the plan (module docstring); before every
    planned run is stored, the rows say how many are and give no verdict."""
    cfgs, runs = stage2(task, root)
    loss_fig, success_fig = _paper.FIG3_PANELS[task]
    name = TASK_NAMES[task]
    if not cfgs or len(runs) < len(cfgs):
        n, waiting = _planned(task, root), _waiting(task)
        success = _row(f"{name}: non-normal initializers succeed more often", success_fig, _paper_success(task), waiting,
                       None, n, budget(task))
        rates = paper_success_rates(task)
        if rates is not None:  # the design's power is known before any stage-2 run (the plan computes it)
            seeds = len(_replicate.PROTOCOLS[PROTOCOL].stage2[task]["seeds"])
            power = _stats.success_design_power(rates[0], rates[1], seeds)
            success["test"] = (f"exact permutation test within seeds, once stage 2 is complete; its power at the paper's "
                               f"success rates with {seeds} seeds is {power:.2g}, below {MIN_POWER:g}, so the plan labels "
                               f"this claim \"{NOT_TESTABLE}\" whatever the runs show" if power < MIN_POWER else
                               f"exact permutation test within seeds, once stage 2 is complete; power at the paper's "
                               f"success rates with {seeds} seeds: {power:.2g}")
        return [success, _row(f"{name}: non-normal initializers reach a lower validation loss", loss_fig, "curves only",
                              waiting, None, n, budget(task))]
    nonnormal = runs["init"].isin(NON_NORMAL).to_numpy()
    seeds = runs["seed"].tolist()
    diverged = runs.groupby("init", sort=False)["diverged"].sum()
    seeds_text = f"{len(runs)} runs, seeds {min(seeds)}-{max(seeds)}; diverged: " + ", ".join(
        f"{i} {int(diverged.get(i, 0))}" for i in (*NON_NORMAL, *NORMAL))
    success = runs["success"].astype(float).to_numpy()
    v = pooled_verdict(success, nonnormal, seeds, at_paper_scale=True, paper_rates=paper_success_rates(task))
    rates = runs.groupby("init", sort=False)["success"].agg(["sum", "size"])
    ours = ", ".join(f"{i} {int(rates.loc[i, 'sum'])}/{int(rates.loc[i, 'size'])}" for i in rates.index)
    rows = [_row(f"{name}: non-normal initializers succeed more often", success_fig, _paper_success(task), ours, v,
                 seeds_text, budget(task), _pairs(success, runs), _interval(success, nonnormal, seeds))]
    div_at = np.where(runs["diverged"], runs["n_updates"].astype(float), np.nan)
    scores = _stats.loss_scores(runs["final_val_loss"].to_numpy(float), div_at)
    v = pooled_verdict(scores, nonnormal, seeds, at_paper_scale=True)
    med = runs[~runs["diverged"]].groupby("init", sort=False)["final_val_loss"].median()
    ours = ", ".join(f"{i} median {med[i]:.4g}" for i in med.index) + " (final validation loss of the runs that did not diverge)"
    rows.append(_row(f"{name}: non-normal initializers reach a lower validation loss", loss_fig,
                     "curves only", ours, v, seeds_text, budget(task), _pairs(scores, runs),
                     _interval(scores, nonnormal, seeds)))
    return rows


def _paper_success(task: str) -> str:
    counts = _paper.PAPER_SUCCESS[task]
    if counts is None:
        return "bars only (no counts)"
    return ", ".join(f"{i} {k}/{n}" for i, (k, n) in counts.items())


def _short(task: str) -> str:
    return TASK_NAMES[task].split(" (", 1)[0]


def _waiting(task: str) -> str:
    return f"no verdict until every planned stage-2 run of {_short(task)} is stored"


def _planned(task: str, root=None) -> str:
    """Each stage's runs stored of planned, short: ``"pilot 352 / 352; screen 24 / 24; stage 2 0 / 24"``."""
    names = {"pilot": "pilot", "screen": "screen", "stage2": "stage 2"}
    return "; ".join(f"{names[k]} {cell}" for k, cell in _stage_cells(task, root).items())


_FIG5_PAPER = "an asymmetric bump peaking forward (no numbers)"


def henrici_excesses(task: str, runs: pd.DataFrame, root=None) -> pd.DataFrame:
    """Per stored run of ``runs`` (normal initializers, not diverged, weights kept): its
    :func:`nnrnn.stats.henrici_excess` (200 draws, seed 0, as the plan fixes) and ``success``."""
    root = _replicate.protocol_root(PROTOCOL, root)
    rows = []
    for r in runs[runs["init"].isin(NORMAL) & ~runs["diverged"]].itertuples(index=False):
        cfg = TrainConfig.from_dict({k: getattr(r, k) for k in TrainConfig.__dataclass_fields__ if k != "device"})
        w0 = initial_model(cfg).rnn.weight_hh.detach().double().numpy()
        w = load_weights(task, r.hash, root=root)["rnn.weight_hh"].double().numpy()
        h = _stats.henrici_excess(w0, w, draws=200, seed=0)
        rows.append({"init": r.init, "seed": r.seed, "success": bool(r.success), "trained": h.trained,
                     "null_median": h.null_median, "excess": h.excess})
    return pd.DataFrame(rows, columns=["init", "seed", "success", "trained", "null_median", "excess"])


def _networks(n_ok: int, n: int, runs: pd.DataFrame, init: str) -> str:
    """The networks a Table 2 or Fig. 5 row reads, and the diverged ones it counts but leaves out (the plan)."""
    diverged = int(runs.loc[runs["init"] == init, "diverged"].astype(bool).sum())
    return (f"{n_ok} successful of {n} networks that did not diverge; {diverged} diverged (left out: training "
            "ended at divergence, not at the budget)")


def weight_tasks(root=None, tasks: Sequence[str] = _replicate.TASKS) -> list[str]:
    """The tasks of Table 2 and Fig. 5 among ``tasks``: addition and psMNIST, and copy once its stage 2
    is complete and one of its normal-initialized runs succeeded (the plan, as the paper's Table 2)."""
    out = [t for t in TABLE2_TASKS if t in tasks]
    if "copy" in tasks:
        cfgs, runs = stage2("copy", root)
        if cfgs and len(runs) == len(cfgs) and bool(runs.loc[runs["init"].isin(NORMAL), "success"].astype(bool).any()):
            out.append("copy")
    return out


def table2_rows(root=None, tasks: Sequence[str] = TABLE2_TASKS, *,
                excesses: Mapping[str, pd.DataFrame] | None = None) -> list[dict[str, Any]]:
    """Table 2 under the plan: one row per (task, normal initializer), each a claim of its own. ``excesses``: a
    task's :func:`henrici_excesses` computed before (chapter 8 draws them too), else they are computed here."""
    rows = []
    for task in tasks:
        cfgs, runs = stage2(task, root)
        complete = bool(cfgs) and len(runs) == len(cfgs)
        given = (excesses or {}).get(task)
        ex = (henrici_excesses(task, runs, root) if given is None else given) if complete else pd.DataFrame(
            columns=["init", "success", "excess", "trained"])
        planned = "" if complete else _planned(task, root)  # the stages' counts, read once for both groups
        for init in NORMAL:
            g = ex[ex["init"] == init]
            paper = _paper.PAPER_TABLE2.get((task, init))  # (mean, s.e.m.) over its successful networks
            claim = f"Table 2, {_short(task)}, {init}: training makes W more non-normal than a random change of its size"
            paper_text = "not reported" if paper is None else f"d(W) = {paper[0]:.2f} ± {paper[1]:.2f}"
            if not complete:
                rows.append(_row(claim, "Table 2", paper_text, _waiting(task), None, planned, budget(task)))
                continue
            ok = g[g["success"]]
            v = excess_verdict(ok["excess"].to_numpy(float), at_paper_scale=True)
            v_all = excess_verdict(g["excess"].to_numpy(float), at_paper_scale=True)
            ours = (f"successful networks: {len(ok)}, mean d(W) {ok['trained'].mean():.3g}, mean median of its null "
                    f"{ok['null_median'].mean():.3g}, mean excess {ok['excess'].mean():+.3g}" if len(ok) else "no successful network")
            rows.append(_row(claim, "Table 2", paper_text, ours, v, _networks(len(ok), len(g), runs, init), budget(task),
                             secondary=f"all {len(g)} networks that did not diverge: {v_all.label} ({v_all.describe()})"))
    return rows


class Fig5Measures(NamedTuple):
    """Fig. 5's measures of one task's networks (:func:`fig5_measures`)."""

    #: per network: ``init``, ``hash``, ``success``, ``excess`` (:func:`nnrnn.stats.asymmetry_excess`)
    networks: pd.DataFrame
    #: per initializer: the lag at which its mean trained pulse-ordered diagonal means peak
    peaks: dict[str, float]
    #: the trained networks' mean diagonal means by ``task``, ``init``, ``state``, ``ordering`` (both orderings)
    profiles: pd.DataFrame


def fig5_excesses(task: str, runs: pd.DataFrame, root=None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per network of ``runs`` (normal initializers, not diverged): the forward asymmetry over lags
    1..10 trained minus untrained, minus the same change under the no-pulse control ordering
    (:func:`nnrnn.stats.asymmetry_excess`), and ``success``; and per initializer the lag at which
    the mean trained diagonal means (pulse ordering) peak among ``1 <= |i - j| <= 10``."""
    m = fig5_measures(task, runs, root)
    return m.networks, m.peaks


def fig5_measures(task: str, runs: pd.DataFrame, root=None) -> Fig5Measures:
    """:func:`fig5_excesses` and the trained profiles behind them, from one pulse analysis of the networks."""
    cols = ["init", "hash", "success", "excess"]
    nets = runs[runs["init"].isin(NORMAL) & ~runs["diverged"]].assign(task=task)
    if nets.empty:
        return Fig5Measures(pd.DataFrame(columns=cols), {},
                            pd.DataFrame(columns=["task", "init", "state", "ordering", "lag", "mean", "sem", "n"]))
    means = _weights.network_diagonal_means(nets, _weights.PulseSettings(),
                                            root=_replicate.protocol_root(PROTOCOL, root), control=True)
    by = ["task", "init", "hash", "state", "ordering"]
    peaks = _weights.diagonal_means_peak(_weights.aggregate_diagonal_means(means, by=by), FIG5_MAX_LAG)
    wide = peaks.pivot_table(index=["init", "hash"], columns=["state", "ordering"], values="asymmetry", sort=False)
    p, c = _weights.PULSE, _weights.NO_PULSE
    wide = wide.dropna(subset=[("trained", p), ("untrained", p), ("trained", c), ("untrained", c)]).reset_index()
    excess = _stats.asymmetry_excess(wide[("trained", p)], wide[("untrained", p)], wide[("trained", c)], wide[("untrained", c)])
    ok = dict(zip(nets["hash"], nets["success"].astype(bool)))
    per = pd.DataFrame({"init": wide["init"].to_numpy(), "hash": wide["hash"].to_numpy(),
                        "success": [ok[h] for h in wide["hash"]], "excess": np.asarray(excess, float)})
    profiles = _weights.aggregate_diagonal_means(means[means["state"] == "trained"], by=["task", "init", "state", "ordering"])
    group = _weights.diagonal_means_peak(profiles[profiles["ordering"] == p], FIG5_MAX_LAG)
    return Fig5Measures(per[cols], dict(zip(group["init"], group["peak_lag"].astype(float))), profiles)


def fig5_rows(root=None, tasks: Sequence[str] = TABLE2_TASKS, *,
              measures: Mapping[str, Fig5Measures] | None = None) -> list[dict[str, Any]]:
    """Fig. 5 under the plan: one row per (task, normal initializer), each a panel of its own; a
    group supports the claim when its excess is significant in the paper's direction and its
    diagonal means peak forward (:func:`nnrnn.verdicts.supports_hidden_chain`). ``measures``: a task's
    :func:`fig5_measures` computed before (chapter 8 draws them too), else they are computed here."""
    rows = []
    for task in tasks:
        cfgs, runs = stage2(task, root)
        complete = bool(cfgs) and len(runs) == len(cfgs)
        given = (measures or {}).get(task)
        per, peak = ((given or fig5_measures(task, runs, root))[:2] if complete
                     else (pd.DataFrame(columns=["init", "success", "excess"]), {}))
        planned = "" if complete else _planned(task, root)  # as in table2_rows
        for init in NORMAL:
            claim = (f"Fig. 5, {_short(task)}, {init}: training hides a forward chain (pulse-ordered asymmetry beyond the "
                     "no-pulse control)")
            if not complete:
                rows.append(_row(claim, "Fig. 5", _FIG5_PAPER, _waiting(task), None, planned, budget(task)))
                continue
            g = per[per["init"] == init]
            ok = g[g["success"]]
            v = excess_verdict(ok["excess"].to_numpy(float), at_paper_scale=True)
            v_all = excess_verdict(g["excess"].to_numpy(float), at_paper_scale=True)
            lag = peak.get(init, float("nan"))
            support = "supports the claim" if supports_hidden_chain(v, lag) else "does not support the claim"
            ours = (f"successful networks: {len(ok)}, mean excess {ok['excess'].mean():+.4f}; the mean trained diagonal means of "
                    f"all {len(g)} networks that did not diverge peak at i - j = {lag:g}; this group {support}"
                    if len(ok) else "no successful network")
            rows.append(_row(claim, "Fig. 5", _FIG5_PAPER, ours, v, _networks(len(ok), len(g), runs, init), budget(task),
                             secondary=f"all {len(g)} networks that did not diverge: {v_all.label} ({v_all.describe()})"))
    return rows


def _lm_budget(cell: str) -> str:
    """The language models' budget as a fraction of the paper's epochs, and their size beside the paper's."""
    ours, paper = _lm_replicate.configs(cell)[0], _lm_paper_config(_lm_replicate.CORPUS, cell)
    return (f"{ours.epochs / paper.epochs:.0%} of the paper's {paper.epochs} epochs ({ours.epochs}), {ours.nhid} hidden units "
            f"per layer against the paper's {paper.nhid}: not the paper's model")


def _unigram_text(cell: str, means: pd.Series) -> str:
    """Which initializers never left the unigram level (mean test bits within
    :data:`nnrnn.lm.replicate.UNIGRAM_BAND` of :func:`nnrnn.lm.replicate.unigram_reference`), in words;
    "" where none did or the corpus is not at hand."""
    try:
        unigram = _lm_replicate.unigram_reference(_lm_replicate.configs(cell)[0])
    except DataNotFoundError:
        return ""
    flat = [i for i in means.sort_values().index if abs(means[i] - unigram) < _lm_replicate.UNIGRAM_BAND]
    if not flat:
        return ""
    return (f"; {' and '.join(flat)} never left the unigram level: within {_lm_replicate.UNIGRAM_BAND:g} bits (our "
            f"threshold) of a model that knows only the characters' frequencies, {unigram:.3f} bits")


def lm_rows(root=None) -> list[dict[str, Any]]:
    """Table 1 and Table 3 under the plan, from the archive's (v1) language models: the initializer the
    paper finds best against the best other one by mean test bits, by the exact one-sided permutation
    test of the 3 + 3 runs (no pairing), and what happened in plain words. Their smallest attainable
    p is 1/20 = 0.05, so the design is not testable; and the models are not at the paper's scale,
    which the label says first (the plan's order)."""
    rows = []
    for cell in ("rnn", "lstm"):
        res = _lm_replicate.load_results(cell, root)
        base = _lm_replicate.claim_row(cell, res)
        res = res[np.isfinite(res["test_bits"].astype(float))]
        means = res.groupby("init")["test_bits"].mean()
        target = _lm_replicate.CLAIMS[cell]["best"]
        if target not in means or len(means) < 2:
            rows.append({**base, "budget": _lm_budget(cell), "secondary": "-", "interval": "-"})
            continue
        other = min((i for i in means.index if i != target), key=lambda i: means[i])
        pair = res[res["init"].isin((target, other))]
        scores, groups, strata = -pair["test_bits"].to_numpy(float), (pair["init"] == target).to_numpy(), [0] * len(pair)
        greater = _stats.stratified_permutation_test(scores, groups, strata, alternative="greater")
        less = _stats.stratified_permutation_test(scores, groups, strata, alternative="less")
        n_a, n_b = int(groups.sum()), int((~groups).sum())
        testable = _stats.min_attainable_p([n_a], [n_b]) < 0.05
        effect = float(means[other] - means[target])  # > 0: the paper's best is lower (better)
        label = planned_label(effect, greater.p_value, less.p_value, testable=testable, at_paper_scale=False)
        lower, higher = (target, other) if effect > 0 else (other, target)
        said = (f"{lower} {means[lower]:.3f} bits, lower than {higher} {means[higher]:.3f} by {abs(effect):.3f}; the "
                f"smallest p that {n_a} + {n_b} runs can give is {_stats.min_attainable_p([n_a], [n_b]):.2g}, so no test "
                "of this design can reach p < 0.05")
        said += "; every initializer: " + ", ".join(f"{i} {means[i]:.3f}" for i in means.sort_values().index)
        said += _unigram_text(cell, means)
        test = (f"exact permutation test of {n_a} + {n_b} runs, one-sided (the paper's direction: p = {greater.p_value:.2g}; "
                f"the opposite: p = {less.p_value:.2g}); not testable at this n")
        rows.append({**base, "ours": said, "test": test, "verdict": label, "budget": _lm_budget(cell),
                     "secondary": "-", "interval": "-"})
    return rows


def claims(root=None, tasks: Sequence[str] = _replicate.TASKS, *, lm_root=None) -> pd.DataFrame:
    """Every v2 claim row: the three benchmarks' success and loss, Table 2, Fig. 5, then the language models
    (``lm_root``: the archive that holds them)."""
    rows = [r for t in tasks for r in benchmark_rows(t, root)]
    weights = weight_tasks(root, tasks)
    rows += table2_rows(root, tasks=weights)
    rows += fig5_rows(root, tasks=weights)
    rows += lm_rows(lm_root)
    return pd.DataFrame(rows)
