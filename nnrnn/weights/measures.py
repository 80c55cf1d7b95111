r"""What the weights chapter measures on its networks: Henrici's departure from normality
(Table 2) and the hidden chains seen through the pulse ordering (Fig. 5); :func:`analyse` does
both for one set of runs. The networks and their weights are :mod:`nnrnn.weights.networks`'.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import analysis as _analysis
from .. import paper as _paper
from .. import validate
from ..init import chain_matrix, orthogonal_matrix
from ..verdicts import Verdict, increase_verdict
from .networks import (INITS, SUCCESS, TASKS, Root, analysed_tasks, final_state, initial_state, nonlinearity_of,
                       run_config, select_networks)

#: the tasks as the chapter names them.
_TASK_NAMES = {"copy": "copy", "addition": "addition", "psmnist": "psMNIST"}

__all__ = ["absent_pairs_sentence", "PAPER_TABLE2", "PulseSettings", "henrici_table", "table2", "network_diagonal_means",
           "aggregate_diagonal_means", "control_diagonal_means", "PULSE", "NO_PULSE", "diagonal_means_peak", "Analysis",
           "analyse", "normality_summary", "normality_sentence", "table2_summary"]

#: Table 2 of the paper: d(W) after training, mean ± s.e.m. over successful runs (:data:`nnrnn.paper.PAPER_TABLE2`).
PAPER_TABLE2 = _paper.PAPER_TABLE2


@dataclass(frozen=True)
class PulseSettings:
    """The open choices of the pulse-ordering analysis (Fig. 5); see the module docstring.

    Args:
        steps: free-running steps after the pulse. Default: ``100`` (the paper).
        channel: input channel of the pulse. Default: ``0``.
        amplitude: pulse size. Default: ``1.0``.
        jitter: ties in peak time are broken by ``U(0, jitter)`` noise (in steps). Default: ``1e-3``.
        seed: seed of the jitter generator, reseeded per network (for the no-pulse control,
            with the network's hash mixed in, so each network gets its own random order).
        subtract_free: order by the distance from the run without the pulse (default ``True``);
            ``False`` orders by the raw hidden state, letting bias drift order the units (the
            pitfall, kept for comparison).

    Examples:
        >>> PulseSettings().steps, PulseSettings(jitter=0.0).jitter
        (100, 0.0)
    """

    steps: int = 100
    channel: int = 0
    amplitude: float = 1.0
    jitter: float = 1e-3
    seed: int = 0
    subtract_free: bool = True

    def __post_init__(self) -> None:
        validate.positive_int(self.steps, "steps")
        validate.non_negative_int(self.channel, "channel")
        validate.finite_float(self.amplitude, "amplitude")
        validate.finite_float(self.jitter, "jitter", low=0.0)
        validate.non_negative_int(self.seed, "seed")
        validate.flag(self.subtract_free, "subtract_free")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- Henrici (Table 2)
def henrici_table(networks: pd.DataFrame, *, root: Root = None) -> pd.DataFrame:
    """Henrici's index of each network's recurrent matrix before and after training.

    Args:
        networks: rows of :func:`nnrnn.sweep.load_runs` (e.g. from :func:`select_networks`),
            with ``task`` and ``hash``.
        root: results root of the run store (or a mapping task -> root).

    Returns:
        ``networks`` plus ``hidden`` (N), ``henrici_before``, ``henrici_after``
        (:func:`nnrnn.analysis.henrici`, with balancing) and ``henrici_after_naive`` (unbalanced
        LAPACK eigenvalues, for comparison), ``frobenius_after``, ``spectral_radius_after``, and
        the rounding floors ``henrici_floor_before`` and ``henrici_floor_after``
        (:func:`nnrnn.analysis.henrici_noise_floor` for each matrix's own dtype): a trained network
        has measurably moved away from normality when ``henrici_after > henrici_floor_after``.
    """
    validate.has_columns(networks, ["task", "hash"], "networks")
    rows = []
    for r in networks.to_dict("records"):
        cfg = run_config(r["task"], r["hash"], root=root)
        w0 = initial_state(cfg)["rnn.weight_hh"]
        w1 = final_state(r["task"], r["hash"], root=root)["rnn.weight_hh"]
        w1n = w1.detach().to(torch.float64).numpy()
        finite = bool(np.isfinite(w1n).all())
        rows.append(
            {
                **r,
                "hidden": int(w1.shape[0]),
                "henrici_before": _analysis.henrici(w0),
                "henrici_floor_before": _analysis.henrici_noise_floor(w0, w0.dtype),
                "henrici_after": _analysis.henrici(w1) if finite else float("nan"),
                "henrici_floor_after": _analysis.henrici_noise_floor(w1, w1.dtype) if finite else float("nan"),
                "henrici_after_naive": _analysis.henrici_naive(w1) if finite else float("nan"),
                "frobenius_after": float(np.linalg.norm(w1n)) if finite else float("nan"),
                "spectral_radius_after": float(np.abs(_analysis.eigenvalues(w1)).max()) if finite else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def _mean_sem(v: np.ndarray) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    sem = float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
    return float(np.mean(v)), sem


def table2(
    per_network: pd.DataFrame,
    *,
    tasks: Sequence[str] = ("addition", "psmnist", "copy"),
    inits: Sequence[str] = ("identity", "orthogonal"),
    paper: Mapping[tuple[str, str], tuple[float, float]] = PAPER_TABLE2,
) -> pd.DataFrame:
    """The Table 2 analogue: d(W) before and after training, mean ± s.e.m. per (task, init).

    Returns one row per (task, init) present in ``per_network`` (a :func:`henrici_table`),
    with ``n``, ``selection`` (what the networks are), ``before_mean``, ``before_sem``,
    ``after_mean``, ``after_sem``, ``hidden`` and the paper's ``paper_mean``, ``paper_sem``
    (NaN where the paper gives none).

    Examples:
        >>> df = pd.DataFrame({"task": "psmnist", "init": "orthogonal", "selection": "success",
        ...                    "hidden": 25, "henrici_before": [0.0, 0.0], "henrici_after": [2.0, 3.0]})
        >>> t = table2(df)
        >>> r = t.loc[("psmnist", "orthogonal")]
        >>> int(r["n"]), float(r["after_mean"]), float(r["after_sem"]), float(r["paper_mean"])
        (2, 2.5, 0.5, 2.72)
    """
    validate.has_columns(per_network, ["task", "init", "selection", "hidden", "henrici_before", "henrici_after"],
                     "per_network")
    rows = []
    for task in tasks:
        for init in inits:
            g = per_network[(per_network["task"] == task) & (per_network["init"] == init)]
            if g.empty:
                continue
            bm, bs = _mean_sem(g["henrici_before"].to_numpy())
            am, as_ = _mean_sem(g["henrici_after"].to_numpy())
            pm, ps = paper.get((task, init), (float("nan"), float("nan")))
            rows.append(
                {
                    "task": task,
                    "init": init,
                    "n": int(len(g)),
                    "selection": ", ".join(sorted(set(g["selection"]))),
                    "hidden": int(g["hidden"].iloc[0]),
                    "before_mean": bm,
                    "before_sem": bs,
                    "after_mean": am,
                    "after_sem": as_,
                    "paper_mean": pm,
                    "paper_sem": ps,
                }
            )
    cols = ["task", "init", "n", "selection", "hidden", "before_mean", "before_sem", "after_mean", "after_sem",
            "paper_mean", "paper_sem"]
    return pd.DataFrame(rows, columns=cols).set_index(["task", "init"])


# ----------------------------------------------------------------------------- hidden chains (Fig. 5)
def _pulse_diagonal_means(
    state: Mapping[str, torch.Tensor], nonlinearity: str, settings: PulseSettings, *, amplitude: float | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    gen = torch.Generator().manual_seed(settings.seed if seed is None else seed)
    return _analysis.pulse_diagonal_means(
        state["rnn.weight_hh"],
        state["rnn.weight_ih"],
        state.get("rnn.bias"),
        nonlinearity=nonlinearity,
        steps=settings.steps,
        channel=settings.channel,
        amplitude=settings.amplitude if amplitude is None else amplitude,
        jitter=settings.jitter,
        subtract_free=settings.subtract_free,
        generator=gen,
    )


def _control_seed(settings: PulseSettings, run_hash: str) -> int:
    """The no-pulse control's jitter seed for one network: ``settings.seed`` and the run's hash."""
    return int(np.random.SeedSequence([settings.seed, int(run_hash, 16)]).generate_state(1, np.uint64)[0] >> 1)


#: the ``ordering`` labels of :func:`network_diagonal_means` with ``control=True``.
PULSE, NO_PULSE = "pulse", "no pulse"


def network_diagonal_means(
    networks: pd.DataFrame,
    settings: PulseSettings = PulseSettings(),
    *,
    root: Root = None,
    control: bool = False,
) -> pd.DataFrame:
    """The diagonal means (mean :math:`W_{ij}` at each order difference ``i - j`` of the pulse-ordered
    units, :func:`nnrnn.analysis.diagonal_means`) of every network, trained and untrained, in long form.

    Each network is analysed with its own nonlinearity, input weights and bias; the untrained
    network is rebuilt by :func:`initial_state`. The jitter generator is reseeded with
    ``settings.seed`` for every network (it only breaks ties in peak time).

    With ``control=True`` every network is analysed a second time without the pulse (amplitude
    0), the rows marked in an extra column ``ordering`` (:data:`PULSE` or :data:`NO_PULSE`).
    Without a pulse the response is zero and the order is the jitter alone, a random
    permutation: the diagonal means a chain-free ordering gives the same weights. A bump that the
    pulse ordering shows and this control does not is driven by the pulse. Each network's
    control order is drawn from its own generator (:func:`_control_seed`), the same for its
    trained and untrained weights, so averages over networks also average over orders.

    Returns:
        columns ``task``, ``init``, ``hash``, ``seed``, ``selection``, ``state``
        (``"trained"`` or ``"untrained"``), [``ordering``,] ``lag`` (order difference i − j) and
        ``weight`` (mean :math:`W_{ij}` at that lag). Diverged (non-finite) networks are skipped.
    """
    validate.flag(control, "control")
    validate.has_columns(networks, ["task", "init", "hash", "seed"], "networks")
    cols = ["task", "init", "hash", "seed", "selection", "state"] + (["ordering"] if control else []) + ["lag", "weight"]
    frames = []
    for r in networks.to_dict("records"):
        cfg = run_config(r["task"], r["hash"], root=root)
        act = nonlinearity_of(cfg)
        for state_name, state in (("untrained", initial_state(cfg)), ("trained", final_state(r["task"], r["hash"], root=root))):
            if not all(torch.isfinite(v).all() for v in state.values()):
                continue
            for ordering, amplitude, seed in ((PULSE, None, None), (NO_PULSE, 0.0, _control_seed(settings, r["hash"])))[
                : 2 if control else 1
            ]:
                lags, means = _pulse_diagonal_means(state, act, settings, amplitude=amplitude, seed=seed)
                row = {"task": r["task"], "init": r["init"], "hash": r["hash"], "seed": r["seed"],
                       "selection": r.get("selection", SUCCESS), "state": state_name, "ordering": ordering,
                       "lag": lags, "weight": means}
                frames.append(pd.DataFrame({c: row[c] for c in cols}))
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def aggregate_diagonal_means(means: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± s.e.m. over networks of the diagonal means, per group and lag.

    ``by`` defaults to ``("task", "init", "state")``, plus ``"ordering"`` when ``means``
    carry the no-pulse control (:func:`network_diagonal_means` with ``control=True``), so that the
    control is never averaged into the pulse ordering.

    Returns columns ``*by``, ``lag``, ``mean``, ``sem`` and ``n`` (networks).

    Examples:
        >>> p = pd.DataFrame({"task": "t", "init": "i", "state": "trained", "hash": ["a", "a", "b", "b"],
        ...                   "lag": [0, 1, 0, 1], "weight": [1.0, 0.0, 3.0, 2.0]})
        >>> aggregate_diagonal_means(p)[["lag", "mean", "sem", "n"]].values.tolist()
        [[0.0, 2.0, 1.0, 2.0], [1.0, 1.0, 1.0, 2.0]]
    """
    if by is None:
        by = ["task", "init", "state"] + (["ordering"] if "ordering" in means.columns else [])
    by = list(by)
    validate.has_columns(means, [*by, "lag", "weight"], "means")
    g = means.groupby([*by, "lag"], sort=True)["weight"]
    out = g.agg(mean="mean", n="count", sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0).reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"].clip(lower=1))
    return out[[*by, "lag", "mean", "sem", "n"]]


def control_diagonal_means(
    n: int = 100,
    settings: PulseSettings = PulseSettings(),
    *,
    alpha: float = 1.0,
    n_orthogonal: int = 20,
    nonlinearity: str = "elu",
    seed: int = 0,
) -> pd.DataFrame:
    r"""The analysis on matrices whose answer is known: a pure chain and random orthogonal matrices.

    * ``"chain"``: :math:`W_{ij} = \alpha\,\delta_{j,i-1}` with the pulse into its source
      (unit 0): the units peak in chain order, so the diagonal means are one spike of height α at
      ``i - j = 1`` and zero elsewhere.
    * ``"orthogonal"``: ``n_orthogonal`` Haar-random orthogonal matrices (pulse into unit
      ``settings.channel``): no chain is hidden in them, so their diagonal means are flat near zero
      apart from lag 0 (the mean diagonal) and a small bias from ordering by the response itself.

    Returns the :func:`aggregate_diagonal_means` layout with a ``control`` column instead of task/init.

    Examples:
        >>> c = control_diagonal_means(10, n_orthogonal=2)
        >>> float(c[(c.control == "chain") & (c.lag == 1)]["mean"].iloc[0])
        1.0
    """
    n = validate.positive_int(n, "n")
    n_orthogonal = validate.non_negative_int(n_orthogonal, "n_orthogonal")
    seed = validate.non_negative_int(seed, "seed")
    gen = torch.Generator().manual_seed(seed)
    rows = []
    mats = [("chain", chain_matrix(n, alpha))] + [
        ("orthogonal", orthogonal_matrix(n, 1.0, generator=gen)) for _ in range(n_orthogonal)
    ]
    for k, (name, w) in enumerate(mats):
        jit = torch.Generator().manual_seed(settings.seed)
        lags, means = _analysis.pulse_diagonal_means(
            w,
            nonlinearity=nonlinearity,
            steps=settings.steps,
            channel=settings.channel,
            amplitude=settings.amplitude,
            jitter=settings.jitter,
            subtract_free=settings.subtract_free,
            generator=jit,
        )
        rows.append(pd.DataFrame({"control": name, "hash": str(k), "lag": lags, "weight": means}))
    return aggregate_diagonal_means(pd.concat(rows, ignore_index=True), by=("control",))


def diagonal_means_peak(agg: pd.DataFrame, max_lag: int = 10) -> pd.DataFrame:
    """Per group, the lag of the largest mean weight among ``1 <= |i - j| <= max_lag``, its value,
    and the forward-backward asymmetry: mean over lags 1..max_lag minus mean over -max_lag..-1.

    ``agg`` is an :func:`aggregate_diagonal_means` (or :func:`control_diagonal_means`) table. ``peak_lag``
    is NaN where no weight in that window is positive (e.g. an identity matrix).

    Examples:
        >>> c = control_diagonal_means(12, n_orthogonal=1)
        >>> diagonal_means_peak(c, 5).set_index("control").loc["chain", ["peak_lag", "peak_mean"]].tolist()
        [1.0, 1.0]
    """
    max_lag = validate.positive_int(max_lag, "max_lag")
    validate.has_columns(agg, ["lag", "mean"], "agg")
    keys = [c for c in agg.columns if c not in ("lag", "mean", "sem", "n")]
    rows = []
    for key, g in agg.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        near = g[(g["lag"].abs() >= 1) & (g["lag"].abs() <= max_lag)]
        if near.empty:  # N = 1: no off-diagonal weight at all
            rows.append({**dict(zip(keys, key)), "peak_lag": float("nan"), "peak_mean": float("nan"),
                         "asymmetry": float("nan")})
            continue
        best = near.loc[near["mean"].idxmax()]
        fwd = near[near["lag"] > 0]["mean"].mean()
        bwd = near[near["lag"] < 0]["mean"].mean()
        flat = not (best["mean"] > 0)  # no positive weight near the diagonal: no peak to report
        rows.append({**dict(zip(keys, key)), "peak_lag": float("nan") if flat else float(best["lag"]),
                     "peak_mean": float(best["mean"]), "asymmetry": float(fwd - bwd)})
    return pd.DataFrame(rows)



# ----------------------------------------------------------------------------- the chapter's analysis
@dataclass
class Analysis:
    """Table 2 and Fig. 5 of one set of runs (:func:`analyse`); every table may be empty."""

    runs: pd.DataFrame
    tasks: list[str]  # the tasks analysed
    networks: pd.DataFrame  # select_networks
    per_network: pd.DataFrame  # henrici_table
    table2: pd.DataFrame
    diagonal_means: pd.DataFrame  # network_diagonal_means(control=True)
    agg: pd.DataFrame  # aggregate_diagonal_means: pulse and no-pulse ordering
    peaks: pd.DataFrame  # diagonal_means_peak
    normality: dict[str, Any]  # normality_summary


def analyse(runs: pd.DataFrame, settings: PulseSettings = PulseSettings(), *, root: Root = None,
            tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, max_lag: int = 15,
            at_paper_scale: bool, fallback: bool = True) -> Analysis:
    """Table 2 and Fig. 5 for ``runs`` (a :func:`train_networks` or :func:`collect_runs` table).

    Analysed: the tasks of ``tasks`` that have runs, copy only if one of its runs succeeded (the
    paper's Table 2 has no copy row: none did); in each, :func:`select_networks`.
    ``at_paper_scale`` decides whether the verdict can be more than "not tested".
    """
    validate.has_columns(runs, ["task", "init", "success"], "runs")
    done = analysed_tasks(runs, tasks)
    nets = select_networks(runs[runs["task"].isin(done)], inits, fallback=fallback) if done else runs.iloc[0:0]
    per = henrici_table(nets, root=root) if len(nets) else pd.DataFrame(columns=[
        *nets.columns, "selection", "hidden", *(f"henrici_{x}" for x in ("before", "after", "floor_before", "floor_after"))])
    means = network_diagonal_means(nets.assign(selection=nets.get("selection", "")), settings, root=root, control=True)
    agg = (aggregate_diagonal_means(means) if len(means)
           else pd.DataFrame(columns=[*means.columns[:3], "ordering", "lag", "mean"]))
    peaks = diagonal_means_peak(agg, max_lag) if len(agg) else pd.DataFrame(columns=["peak_lag", "peak_mean", "asymmetry"])
    rank = {k: r for r, k in enumerate([*TASKS, *inits, "trained", "untrained", PULSE, NO_PULSE])}  # pulse before control
    peaks = peaks.sort_values([c for c in ("task", "init", "state", "ordering") if c in peaks], key=lambda c: c.map(rank))
    return Analysis(runs, done, nets, per, table2(per, tasks=done, inits=inits), means, agg, peaks,
                    normality_summary(per, at_paper_scale=at_paper_scale))


def normality_summary(per_network: pd.DataFrame, *, at_paper_scale: bool, seed: int = 0) -> dict[str, Any]:
    """Henrici's index against its float32 noise floor over the networks of a :func:`henrici_table`:
    ``n``, ``before_within_floor`` (untrained d(W) <= its floor: normal up to rounding),
    ``after_above_floor`` (trained d(W) > its floor), ``floor`` (the largest floor) and ``verdict``:
    :func:`nnrnn.verdicts.increase_verdict` (the results page's test) on d(W) after - before against
    that floor (``None`` below two finite networks).

    Examples:
        >>> per = pd.DataFrame({"henrici_before": [1e-7, 0.0, 0.0], "henrici_floor_before": 2e-6,
        ...                     "henrici_after": [0.5, 0.7, 1e-6], "henrici_floor_after": 3e-6})
        >>> s = normality_summary(per, at_paper_scale=False)
        >>> s["n"], s["before_within_floor"], s["after_above_floor"], s["verdict"].label
        (3, 3, 2, "not tested at the paper's scale")
    """
    cols = ["henrici_before", "henrici_after", "henrici_floor_before", "henrici_floor_after"]
    validate.has_columns(per_network, cols, "per_network")
    at_paper_scale = validate.flag(at_paper_scale, "at_paper_scale")
    p = per_network[cols].astype(float)
    fin = p[np.isfinite(p["henrici_after"])]
    floors = p[cols[2:]].to_numpy()
    floor = float(np.nanmax(floors)) if np.isfinite(floors).any() else float("nan")
    try:
        v: Verdict | None = increase_verdict((fin["henrici_after"] - fin["henrici_before"]).to_numpy(),
                                             at_paper_scale=at_paper_scale, floor=floor, seed=seed)
    except ValueError:  # fewer than two networks: no bootstrap
        v = None
    return {"n": len(p), "before_within_floor": int((p["henrici_before"] <= p["henrici_floor_before"]).sum()),
            "after_above_floor": int((fin["henrici_after"] > fin["henrici_floor_after"]).sum()), "floor": floor,
            "verdict": v}


def normality_sentence(summary: Mapping[str, Any]) -> str:
    """The chapter's sentence on "training moves the networks away from normality", generated from a
    :func:`normality_summary`."""
    n, v = summary["n"], summary["verdict"]
    if n == 0:
        return "No networks were analysed, so there is nothing to compare with the noise floor."
    text = (f"Before training, {summary['before_within_floor']} of {n} networks are normal up to rounding "
            f"(d(W) at or below its float32 noise floor, at most {summary['floor']:.1e}); after training, "
            f"{summary['after_above_floor']} of {n} lie above it. ")
    if v is None:
        return text + "With fewer than two networks there is no test, and no verdict."
    return text + (f"The mean increase of d(W) is {v.effect:.3g}. Tested against the noise floor only (protocol v1's "
                   "test, which any trained change of a normal matrix passes; the results page's analysis plan tests "
                   f"against a random change of the same size instead), the label is {v.label} ({v.describe()}).")


def absent_pairs_sentence(runs: pd.DataFrame, a: Analysis, inits: Sequence[str] = INITS) -> str:
    """A sentence naming each (task, initializer) pair of ``a.tasks`` that has no Table 2 row, with why, from
    ``runs`` (the runs ``a`` analysed: ``task``, ``init``, ``diverged``); ``""`` when no pair is missing.

    Examples:
        >>> from types import SimpleNamespace
        >>> a = SimpleNamespace(tasks=["addition"], table2=pd.DataFrame(index=pd.MultiIndex.from_tuples(
        ...     [("addition", "orthogonal")], names=["task", "init"])))
        >>> runs = pd.DataFrame({"task": ["addition"] * 2, "init": ["identity"] * 2, "diverged": [True, True]})
        >>> absent_pairs_sentence(runs, a, ("identity", "orthogonal"))[:80]
        'Table 2 has no row for addition, identity: all 2 of its runs diverged, so no tra'
    """
    parts = []
    for task in a.tasks:
        for init in inits:
            if (task, init) in a.table2.index:
                continue
            g = runs[(runs["task"] == task) & (runs["init"] == init)]
            n, d = len(g), int(g["diverged"].astype(bool).sum())
            why = ("it has no stored run" if n == 0 else f"all {n} of its runs diverged, so no trained matrix is left to analyse"
                   if d == n else f"{d} of its {n} runs diverged and none of the other {n - d} could be analysed")
            parts.append(f"{_TASK_NAMES.get(task, task)}, {init}: {why}")
    if not parts:
        return ""
    return ("Table 2 has no row for " + "; ".join(parts) + ". Protocol v1 leaves diverged runs out of Table 2; the "
            "analysis plan counts them in each Table 2 row of the results page.")


def table2_summary(a: Analysis) -> pd.DataFrame:
    """Table 2 for a page: per (task, init) the networks, N, d(W) before and after (mean ± s.e.m.),
    how many lie within / above their noise floor, and the paper's value."""
    def pm(m, s):
        return "–" if not np.isfinite(m) else f"{m:.3g} ± {s:.3g}"

    rows = {}
    for (task, init), r in a.table2.iterrows():
        s = normality_summary(a.per_network[(a.per_network["task"] == task) & (a.per_network["init"] == init)],
                              at_paper_scale=False)
        rows[(task, init)] = [f"{int(r['n'])} ({r['selection']})", int(r["hidden"]), pm(r["before_mean"], r["before_sem"]),
                              f"{s['before_within_floor']} / {s['n']}", pm(r["after_mean"], r["after_sem"]),
                              f"{s['after_above_floor']} / {s['n']}", pm(r["paper_mean"], r["paper_sem"])]
    cols = ["networks", "N", "d(W) before", "before: within floor", "d(W) after", "after: above floor",
            "d(W) after, paper"]
    index = pd.MultiIndex.from_tuples(list(rows), names=["task", "init"])
    return pd.DataFrame(list(rows.values()), index=index, columns=cols)
