r"""What training does to the recurrent weights: Table 2 and Fig. 5 of Orhan & Pitkow (2020).

This module reads trained networks from the run store (:mod:`nnrnn.sweep`), rebuilds each
network's *untrained* weights from its config, and aggregates two measures over networks,
computed by :mod:`nnrnn.analysis`:

* **Henrici's departure from normality** :math:`d(W)` (Henrici, 1962) of the recurrent matrix,
  before and after training (:func:`henrici_table`, :func:`table2`). The paper's Table 2 gives
  its mean ± s.e.m. over the *successful* identity- and orthogonal-initialized networks
  (:data:`PAPER_TABLE2`).
* **Hidden chains** (Fig. 5, after Rajan, Harvey & Tank 2016): drive the network with one input
  pulse, run it freely, order the units by the time of their peak response, and average
  :math:`W_{ij}` (from unit j to unit i) at each order difference ``i - j``
  (:func:`network_profiles`, :func:`aggregate_profiles`). A feedforward chain hidden in ``W``
  shows up as a bump at small positive ``i - j``.

**Choices the paper leaves open** are the fields of :class:`PulseSettings`: the input channel
that receives the pulse (default 0: the only input of psMNIST, the marker channel of addition),
its amplitude (1), the number of free steps (100, as the paper), and the jitter added to the
integer peak times to break ties (``U(0, 1e-3)`` steps, far below one step, so it only orders
units that peak at the same step). The pulse goes through the network's own input weights
``U`` and bias ``b``: :math:`h_0 = f(U x_0 + b)`, then :math:`h_t = f(W h_{t-1} + b)`. Units are
ordered by the peak of :math:`|h_t - h_t^{free}|`, the distance from the same network run
without the pulse (:func:`nnrnn.analysis.evoked_response`, the procedure of the LSTM analysis
too): the learned biases alone make units drift and peak, and that drift must not order them.
``network_profiles(..., control=True)`` adds the control: the same procedure without a pulse
(amplitude 0), where the order is the random tie-break alone.

**Untrained weights** are rebuilt exactly as :func:`nnrnn.train.train` builds them
(:func:`initial_state`): :func:`nnrnn.models.model_for` with the generator
``nnrnn.tasks.stream_generator(seed, "init")``; nothing extra is stored per run.

**Which networks.** Table 2 and Fig. 5 use successful networks only. :func:`select_networks`
returns those; when an (task, initializer) pair has none — as can happen on the reduced
``demo`` profile — and ``fallback=True``, it returns the runs of that pair's best setting
instead, marked ``selection = "best (not successful)"`` so that tables and figures can say so.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import pandas as pd
import torch

from . import analysis as _analysis
from . import paper as _paper
from . import profiles as _profiles
from . import sweep as _sweep
from . import validate
from .init import chain_matrix, orthogonal_matrix
from .results import best_settings
from .store import check_hash, load_weights, read_run_meta, run_folder
from .train import TrainConfig, initial_model
from .verdicts import Verdict, increase_verdict

__all__ = ["analysed_tasks", "PAPER_TABLE2", "PulseSettings", "SUCCESS", "FALLBACK", "run_config", "initial_state",
           "final_state", "select_networks", "henrici_table", "table2", "network_profiles", "aggregate_profiles",
           "control_profiles", "PULSE", "NO_PULSE", "profile_peak", "TASKS", "INITS", "network_grids", "TrainedRuns",
           "train_networks", "collect_runs", "Analysis", "analyse", "normality_summary", "normality_sentence",
           "table2_summary"]

#: Table 2 of the paper: d(W) after training, mean ± s.e.m. over successful runs (:data:`nnrnn.paper.PAPER_TABLE2`).
PAPER_TABLE2 = _paper.PAPER_TABLE2

SUCCESS = "success"
FALLBACK = "best (not successful)"


def _require_columns(table, columns: Sequence[str], name: str) -> None:
    have = list(table.columns) if isinstance(table, pd.DataFrame) else None
    missing = [c for c in columns if have is None or c not in have]
    if missing:
        got = type(table).__name__ if have is None else f"one without {missing}"
        raise validate.error(name, f"a table with columns {list(columns)}", got, raw=True)


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


# ----------------------------------------------------------------------------- weights of a run
#: a results root, or a mapping from task name to results root.
Root = Union[str, os.PathLike, Mapping[str, Union[str, os.PathLike]], None]


def _root_for(root, task: str):
    """``root`` itself, or ``root[task]`` when it maps task names to roots (one store per task)."""
    if isinstance(root, Mapping):
        if task not in root:
            raise validate.error("root", f"a results root or a mapping with an entry for task {task!r}",
                                 f"a mapping of {sorted(root)}", raw=True)
        return root[task]
    return root


def run_config(task: str, hash: str, *, root: Root = None):
    """The :class:`nnrnn.train.TrainConfig` of a stored run, read from its ``config.json``.

    ``root`` is a results root (:func:`nnrnn.store.results_root`), or a mapping from task name
    to results root; every function of this module accepts either.
    """
    hash = check_hash(hash)
    meta = read_run_meta(run_folder(task, hash, _root_for(root, task)))  # integrity-checked
    return TrainConfig.from_dict(meta["config"])


def initial_state(cfg) -> dict[str, torch.Tensor]:
    """The untrained ``state_dict`` of ``cfg``'s network, rebuilt as :func:`nnrnn.train.train` builds it.

    Examples:
        >>> from nnrnn.train import TrainConfig
        >>> s = initial_state(TrainConfig(task="copy", init="chain", scale=1.02, hidden_size=5))
        >>> float(s["rnn.weight_hh"][1, 0]), float(s["rnn.weight_hh"][0, 1])
        (1.0199999809265137, 0.0)
    """
    model = initial_model(cfg, "cpu")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def final_state(task: str, hash: str, *, root: Root = None) -> dict[str, torch.Tensor]:
    """The trained ``state_dict`` of a stored run."""
    return load_weights(task, hash, root=_root_for(root, task))


def _nonlinearity(cfg) -> str:
    if cfg.nonlinearity is not None:
        return cfg.nonlinearity
    return cfg.make_task().default_nonlinearity


# ----------------------------------------------------------------------------- which networks
def select_networks(
    runs: pd.DataFrame,
    inits: Sequence[str] = ("identity", "orthogonal"),
    *,
    fallback: bool = True,
) -> pd.DataFrame:
    """The networks to analyse: every successful run of ``inits``, per (task, init).

    Where an init has no successful run and ``fallback`` is true, the runs of its best setting
    (:func:`nnrnn.results.best_settings`; diverged runs excluded) are taken instead. The result
    has a ``selection`` column: :data:`SUCCESS` or :data:`FALLBACK`.

    Examples:
        >>> df = pd.DataFrame({"task": "addition", "init": ["identity"] * 3, "scale": 1.0, "lr": [1e-3, 1e-3, 1e-4],
        ...                    "seed": [1, 2, 1], "final_val_loss": [0.2, 0.3, 0.1], "success": False,
        ...                    "diverged": False, "hash": ["a", "b", "c"]})
        >>> select_networks(df)[["hash", "selection"]].values.tolist()
        [['c', 'best (not successful)']]
    """
    fallback = validate.flag(fallback, "fallback")
    _require_columns(runs, ["task", "init", "scale", "lr", "seed", "success", "diverged"], "runs")
    frames = []
    for (task, init), g in runs[runs["init"].isin(list(inits))].groupby(["task", "init"], sort=False):
        ok = g[g["success"].astype(bool)]
        if len(ok):
            frames.append(ok.assign(selection=SUCCESS))
        elif fallback:
            finite = g[~g["diverged"].astype(bool)]
            if finite.empty:
                continue
            b = best_settings(finite).loc[init]
            pick = finite[np.isclose(finite["scale"], b["scale"]) & np.isclose(finite["lr"], b["lr"])]
            frames.append(pick.assign(selection=FALLBACK))
    if not frames:
        return runs.iloc[0:0].assign(selection=pd.Series(dtype=str))
    out = pd.concat(frames, ignore_index=True)
    order = {name: k for k, name in enumerate(inits)}
    return out.sort_values(["task", "init", "scale", "lr", "seed"], key=lambda s: s.map(order) if s.name == "init" else s,
                           kind="stable").reset_index(drop=True)


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
    _require_columns(networks, ["task", "hash"], "networks")
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
    _require_columns(per_network, ["task", "init", "selection", "hidden", "henrici_before", "henrici_after"],
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
def _profile(
    state: Mapping[str, torch.Tensor], nonlinearity: str, settings: PulseSettings, *, amplitude: float | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    gen = torch.Generator().manual_seed(settings.seed if seed is None else seed)
    return _analysis.pulse_order_profile(
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


#: the ``ordering`` labels of :func:`network_profiles` with ``control=True``.
PULSE, NO_PULSE = "pulse", "no pulse"


def network_profiles(
    networks: pd.DataFrame,
    settings: PulseSettings = PulseSettings(),
    *,
    root: Root = None,
    control: bool = False,
) -> pd.DataFrame:
    """The order profile of every network, trained and untrained, in long form.

    Each network is analysed with its own nonlinearity, input weights and bias; the untrained
    network is rebuilt by :func:`initial_state`. The jitter generator is reseeded with
    ``settings.seed`` for every network (it only breaks ties in peak time).

    With ``control=True`` every network is analysed a second time without the pulse (amplitude
    0), the rows marked in an extra column ``ordering`` (:data:`PULSE` or :data:`NO_PULSE`).
    Without a pulse the response is zero and the order is the jitter alone, a random
    permutation: the profile a chain-free ordering gives the same weights. A bump that the
    pulse ordering shows and this control does not is driven by the pulse. Each network's
    control order is drawn from its own generator (:func:`_control_seed`), the same for its
    trained and untrained weights, so averages over networks also average over orders.

    Returns:
        columns ``task``, ``init``, ``hash``, ``seed``, ``selection``, ``state``
        (``"trained"`` or ``"untrained"``), [``ordering``,] ``lag`` (order difference i − j) and
        ``weight`` (mean :math:`W_{ij}` at that lag). Diverged (non-finite) networks are skipped.
    """
    validate.flag(control, "control")
    _require_columns(networks, ["task", "init", "hash", "seed"], "networks")
    cols = ["task", "init", "hash", "seed", "selection", "state"] + (["ordering"] if control else []) + ["lag", "weight"]
    frames = []
    for r in networks.to_dict("records"):
        cfg = run_config(r["task"], r["hash"], root=root)
        act = _nonlinearity(cfg)
        for state_name, state in (("untrained", initial_state(cfg)), ("trained", final_state(r["task"], r["hash"], root=root))):
            if not all(torch.isfinite(v).all() for v in state.values()):
                continue
            for ordering, amplitude, seed in ((PULSE, None, None), (NO_PULSE, 0.0, _control_seed(settings, r["hash"])))[
                : 2 if control else 1
            ]:
                lags, prof = _profile(state, act, settings, amplitude=amplitude, seed=seed)
                row = {"task": r["task"], "init": r["init"], "hash": r["hash"], "seed": r["seed"],
                       "selection": r.get("selection", SUCCESS), "state": state_name, "ordering": ordering,
                       "lag": lags, "weight": prof}
                frames.append(pd.DataFrame({c: row[c] for c in cols}))
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def aggregate_profiles(profiles: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean ± s.e.m. over networks of the order profiles, per group and lag.

    ``by`` defaults to ``("task", "init", "state")``, plus ``"ordering"`` when the profiles
    carry the no-pulse control (:func:`network_profiles` with ``control=True``), so that the
    control is never averaged into the pulse ordering.

    Returns columns ``*by``, ``lag``, ``mean``, ``sem`` and ``n`` (networks).

    Examples:
        >>> p = pd.DataFrame({"task": "t", "init": "i", "state": "trained", "hash": ["a", "a", "b", "b"],
        ...                   "lag": [0, 1, 0, 1], "weight": [1.0, 0.0, 3.0, 2.0]})
        >>> aggregate_profiles(p)[["lag", "mean", "sem", "n"]].values.tolist()
        [[0.0, 2.0, 1.0, 2.0], [1.0, 1.0, 1.0, 2.0]]
    """
    if by is None:
        by = ["task", "init", "state"] + (["ordering"] if "ordering" in profiles.columns else [])
    by = list(by)
    _require_columns(profiles, [*by, "lag", "weight"], "profiles")
    g = profiles.groupby([*by, "lag"], sort=True)["weight"]
    out = g.agg(mean="mean", n="count", sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0).reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n"].clip(lower=1))
    return out[[*by, "lag", "mean", "sem", "n"]]


def control_profiles(
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
      (unit 0): the units peak in chain order, so the profile is one spike of height α at
      ``i - j = 1`` and zero elsewhere.
    * ``"orthogonal"``: ``n_orthogonal`` Haar-random orthogonal matrices (pulse into unit
      ``settings.channel``): no chain is hidden in them, so the mean profile is flat near zero
      apart from lag 0 (the mean diagonal) and a small bias from ordering by the response itself.

    Returns the :func:`aggregate_profiles` layout with a ``control`` column instead of task/init.

    Examples:
        >>> c = control_profiles(10, n_orthogonal=2)
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
        lags, prof = _analysis.pulse_order_profile(
            w,
            nonlinearity=nonlinearity,
            steps=settings.steps,
            channel=settings.channel,
            amplitude=settings.amplitude,
            jitter=settings.jitter,
            subtract_free=settings.subtract_free,
            generator=jit,
        )
        rows.append(pd.DataFrame({"control": name, "hash": str(k), "lag": lags, "weight": prof}))
    return aggregate_profiles(pd.concat(rows, ignore_index=True), by=("control",))


def profile_peak(agg: pd.DataFrame, max_lag: int = 10) -> pd.DataFrame:
    """Per group, the lag of the largest mean weight among ``1 <= |i - j| <= max_lag``, its value,
    and the forward-backward asymmetry: mean over lags 1..max_lag minus mean over -max_lag..-1.

    ``agg`` is an :func:`aggregate_profiles` (or :func:`control_profiles`) table. ``peak_lag``
    is NaN where no weight in that window is positive (e.g. an identity matrix).

    Examples:
        >>> c = control_profiles(12, n_orthogonal=1)
        >>> profile_peak(c, 5).set_index("control").loc["chain", ["peak_lag", "peak_mean"]].tolist()
        [1.0, 1.0]
    """
    max_lag = validate.positive_int(max_lag, "max_lag")
    _require_columns(agg, ["lag", "mean"], "agg")
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



# ----------------------------------------------------------------------------- the chapter's pipeline
#: the tasks and initializers of Table 2 and Fig. 5 (copy is analysed only where one of its runs succeeded).
TASKS = ("addition", "psmnist", "copy")
INITS = ("identity", "orthogonal")


def _names(values: Sequence[str], name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values:
        raise validate.error(name, f"a non-empty sequence of {list(allowed)}", list(values))
    return tuple(validate.choice(v, f"each of {name}", tuple(allowed)) for v in values)


def network_grids(profile: str, *, tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, base_seed: int = 0,
                  overrides: Mapping[str, Mapping[str, Any]] | None = None, **fixed: Any) -> dict[str, _sweep.Grid]:
    """Each task's grid of ``profile`` (:func:`nnrnn.sweep.grid`: the benchmark chapters' configs and
    hashes), restricted to ``inits``. ``overrides`` sets fields per task (``{"psmnist": {"hidden_size":
    25}}``), ``fixed`` for every task (e.g. ``device="cpu"``)."""
    tasks, inits = _names(tasks, "tasks", TASKS), _names(inits, "inits", ("identity", "orthogonal", "chain", "fb_chain"))
    overrides = dict(overrides or {})
    if set(overrides) - set(tasks):
        raise validate.error("overrides", f"a mapping keyed by tasks among {list(tasks)}", sorted(overrides))
    grids = {t: _sweep.grid(t, profile, base_seed=base_seed, **{**fixed, **overrides.get(t, {})}) for t in tasks}
    return {t: g.replace(scales={k: v for k, v in g.scales.items() if k in inits}) for t, g in grids.items()}


@dataclass
class TrainedRuns:
    """:func:`train_networks`'s result: ``runs`` (all tasks, with ``task`` and ``trained_now``) and
    ``roots`` (task -> the results root they were read from)."""

    runs: pd.DataFrame
    roots: dict[str, Path]


def train_networks(profile: str, *, tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, base_seed: int = 0,
                   overrides: Mapping[str, Mapping[str, Any]] | None = None, cache: str = "auto", root=None,
                   executor: str | None = None, progress: bool | None = None, **fixed: Any) -> TrainedRuns:
    """Run (or read from the store) the :func:`network_grids` of every task, and load their runs.

    Runs a benchmark chapter stored are read, not retrained (same configs, same hashes).
    ``executor`` defaults to the profile's (:func:`nnrnn.profiles.get`); with ``cache="off"`` each
    task trains into its own temporary root, hence ``roots``.
    """
    frames, roots = [], {}
    for task, g in network_grids(profile, tasks=tasks, inits=inits, base_seed=base_seed, overrides=overrides,
                                 **fixed).items():
        rep = _sweep.run_sweep(g, root=root, executor=executor or _profiles.get(task, profile)["executor"],
                               cache=cache, progress=progress)
        r = _sweep.load_runs(task, configs=g, root=rep.root)
        frames.append(r.assign(task=task, trained_now=r["hash"].isin(rep.ran)))
        roots[task] = rep.root
    return TrainedRuns(pd.concat(frames, ignore_index=True), roots)


def collect_runs(load: Callable[[str, Any], pd.DataFrame], tasks: Sequence[str] = TASKS, root=None, *,
                 inits: Sequence[str] = INITS) -> pd.DataFrame:
    """``load(task, root)`` for each task (e.g. :func:`nnrnn.archive.replicate_runs`), the runs of
    ``inits`` only, in one table with a ``task`` column (empty when no task has runs)."""
    frames = [r.assign(task=t) for t in _names(tasks, "tasks", TASKS) if len(r := load(t, root))]
    if not frames:
        return pd.DataFrame(columns=["task", "init", "hash", "seed", "success", "diverged"])
    runs = pd.concat(frames, ignore_index=True)
    return runs[runs["init"].isin(list(inits))].reset_index(drop=True)


def analysed_tasks(runs: pd.DataFrame, tasks: Sequence[str] = TASKS) -> list[str]:
    """The tasks of ``tasks`` that :func:`analyse` takes from ``runs``: those with runs, and copy
    only if one of its runs succeeded (the paper's Table 2 has no copy row: none did)."""
    copy_ok = bool(runs.loc[runs["task"] == "copy", "success"].astype(bool).any())
    return [t for t in _names(tasks, "tasks", TASKS) if t in set(runs["task"]) and (t != "copy" or copy_ok)]


@dataclass
class Analysis:
    """Table 2 and Fig. 5 of one set of runs (:func:`analyse`); every table may be empty."""

    runs: pd.DataFrame
    tasks: list[str]  # the tasks analysed
    networks: pd.DataFrame  # select_networks
    per_network: pd.DataFrame  # henrici_table
    table2: pd.DataFrame
    profiles: pd.DataFrame  # network_profiles(control=True)
    agg: pd.DataFrame  # aggregate_profiles: pulse and no-pulse ordering
    peaks: pd.DataFrame  # profile_peak
    normality: dict[str, Any]  # normality_summary


def analyse(runs: pd.DataFrame, settings: PulseSettings = PulseSettings(), *, root: Root = None,
            tasks: Sequence[str] = TASKS, inits: Sequence[str] = INITS, max_lag: int = 15,
            at_paper_scale: bool, fallback: bool = True) -> Analysis:
    """Table 2 and Fig. 5 for ``runs`` (a :func:`train_networks` or :func:`collect_runs` table).

    Analysed: the tasks of ``tasks`` that have runs, copy only if one of its runs succeeded (the
    paper's Table 2 has no copy row: none did); in each, :func:`select_networks`.
    ``at_paper_scale`` decides whether the verdict can be more than "not tested".
    """
    _require_columns(runs, ["task", "init", "success"], "runs")
    done = analysed_tasks(runs, tasks)
    nets = select_networks(runs[runs["task"].isin(done)], inits, fallback=fallback) if done else runs.iloc[0:0]
    per = henrici_table(nets, root=root) if len(nets) else pd.DataFrame(columns=[
        *nets.columns, "selection", "hidden", *(f"henrici_{x}" for x in ("before", "after", "floor_before", "floor_after"))])
    prof = network_profiles(nets.assign(selection=nets.get("selection", "")), settings, root=root, control=True)
    agg = aggregate_profiles(prof) if len(prof) else pd.DataFrame(columns=[*prof.columns[:3], "ordering", "lag", "mean"])
    peaks = profile_peak(agg, max_lag) if len(agg) else pd.DataFrame(columns=["peak_lag", "peak_mean", "asymmetry"])
    rank = {k: r for r, k in enumerate([*TASKS, *inits, "trained", "untrained", PULSE, NO_PULSE])}  # pulse before control
    peaks = peaks.sort_values([c for c in ("task", "init", "state", "ordering") if c in peaks], key=lambda c: c.map(rank))
    return Analysis(runs, done, nets, per, table2(per, tasks=done, inits=inits), prof, agg, peaks,
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
    _require_columns(per_network, cols, "per_network")
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
    return text + (f"The mean increase of d(W) is {v.effect:.3g}; against the noise floor, the verdict on the "
                   f"paper's claim that training moves these networks away from normality is {v.label} "
                   f"({v.describe()}).")


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
