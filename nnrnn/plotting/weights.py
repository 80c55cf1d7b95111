r"""Figures of part D (trained weights): Table 2 as a figure, Fig. 5's diagonal means, controls.

Every function takes the tables of :mod:`nnrnn.weights` and returns a new
:class:`matplotlib.figure.Figure`; nothing is computed here beyond selecting rows, and nothing
is shown or saved. The order difference ``i - j`` is in units (ranks in the peak-time order);
weights are dimensionless. Positive ``i - j`` is a connection from an earlier-peaking unit to
a later one ("forward").
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import INIT_COLORS, INIT_LABELS, PAGE_WIDTH, band, figure_legend

__all__ = ["TASK_LABELS", "diagonal_means_controls", "fig5_diagonal_means", "table2_henrici", "table2_null", "fig5_control"]

TASK_LABELS = {"addition": "addition", "psmnist": "psMNIST", "copy": "copy"}
_UNTRAINED = "#7f7f7f"
_XLABEL = "order difference i − j (units)"
_YLABEL = r"mean $W_{ij}$"


def diagonal_means_controls(controls: pd.DataFrame, *, max_lag: int = 15, n: int | None = None):
    """The analysis on known matrices: a pure chain (left) and random orthogonal matrices (right).

    Args:
        controls: :func:`nnrnn.weights.control_diagonal_means` output.
        max_lag: show ``|i - j| <= max_lag``.
        n: matrix size, for the titles.
    """
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.3), layout="constrained")
    titles = {"chain": "pure chain", "orthogonal": "random orthogonal"}
    colors = {"chain": INIT_COLORS["chain"], "orthogonal": INIT_COLORS["orthogonal"]}
    for ax, name in zip(axes, ("chain", "orthogonal")):
        c = controls[(controls["control"] == name) & (controls["lag"].abs() <= max_lag)]
        k = int(c["n"].max()) if len(c) else 0
        if name == "chain":
            ax.vlines(c["lag"], 0, c["mean"], color=colors[name], linewidth=2)
            ax.plot(c["lag"], c["mean"], "o", color=colors[name], markersize=3)
        else:
            band(ax, c["lag"].to_numpy(), c["mean"].to_numpy(), c["sem"].to_numpy(), color=colors[name],
                 marker="o", markersize=3, label=f"mean ± s.e.m. over {k} matrices")
            ax.legend(fontsize="small", loc="best")
        ax.axhline(0, color="k", linewidth=0.6)
        ax.axvline(0, color="k", linewidth=0.4, linestyle=":")
        size = f", N = {n}" if n else ""
        ax.set_title(f"{titles[name]}{size}")
        ax.set_xlabel(_XLABEL)
        ax.set_ylabel(_YLABEL)
    return fig


def fig5_diagonal_means(
    agg: pd.DataFrame,
    *,
    tasks: Sequence[str],
    inits: Sequence[str] = ("identity", "orthogonal"),
    max_lag: int = 15,
    selection: Mapping[tuple[str, str], str] | None = None,
    show_diagonal: bool = False,
):
    """Fig. 5 analogue: mean :math:`W_{ij}` against ``i - j``, trained (colour) and untrained (grey).

    Rows are tasks, columns initializers; each panel shows mean ± s.e.m. over the networks; the
    legend is above the panels.
    Lag 0 (the mean self-connection, about λ for a scaled identity) dwarfs the rest and says
    nothing about chains, so by default it is left out (a gap in the curves).

    Args:
        agg: :func:`nnrnn.weights.aggregate_diagonal_means` output with ``task``, ``init``, ``state``.
        tasks: the rows, in order (tasks without networks get an empty, labelled panel).
        inits: the columns.
        max_lag: show ``|i - j| <= max_lag``.
        selection: ``{(task, init): label}`` of which networks a panel shows (e.g. "success" or
            "best (not successful)"); put in the panel title.
        show_diagonal: draw lag 0 too.
    """
    fig, axes = plt.subplots(len(tasks), len(inits), figsize=(min(PAGE_WIDTH, 4.0 * len(inits)), 3.0 * len(tasks) + 0.4),
                             squeeze=False, layout="constrained")
    for r, task in enumerate(tasks):
        for c, init in enumerate(inits):
            ax = axes[r, c]
            g = agg[(agg["task"] == task) & (agg["init"] == init) & (agg["lag"].abs() <= max_lag)]
            n = int(g["n"].max()) if len(g) else 0
            for state, color, style in (("untrained", _UNTRAINED, "--"), ("trained", INIT_COLORS.get(init), "-")):
                s = g[g["state"] == state].sort_values("lag")
                if s.empty:
                    continue
                mean, sem = s["mean"].to_numpy(dtype=float), s["sem"].to_numpy(dtype=float)
                if not show_diagonal:
                    diag = s["lag"].to_numpy() == 0
                    mean, sem = np.where(diag, np.nan, mean), np.where(diag, np.nan, sem)
                band(ax, s["lag"].to_numpy(), mean, sem, color=color, linestyle=style, label=state)
            ax.axhline(0, color="k", linewidth=0.6)
            ax.axvline(0, color="k", linewidth=0.4, linestyle=":")
            sel = (selection or {}).get((task, init), "")
            what = f"{n} network{'s' if n != 1 else ''}" + (f": {sel}" if sel else "")
            ax.set_title(f"{TASK_LABELS.get(task, task)}, {INIT_LABELS.get(init, init)} init\n{what}")
            if n == 0:  # no frame and no axes to read as data: the panel says why it is empty
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"no {INIT_LABELS.get(init, init)}-initialized networks\nof {TASK_LABELS.get(task, task)} "
                        "in this analysis\n(none stored, or none selected)", transform=ax.transAxes, ha="center",
                        va="center", color="0.25", fontsize="small", wrap=True)
            if r == len(tasks) - 1:
                ax.set_xlabel(_XLABEL)
            if c == 0:
                ax.set_ylabel(_YLABEL)
    figure_legend(fig, axes.ravel(), "outside upper center")
    return fig


def table2_henrici(
    per_network: pd.DataFrame,
    *,
    tasks: Sequence[str],
    inits: Sequence[str] = ("identity", "orthogonal"),
    paper: Mapping[tuple[str, str], tuple[float, float]] | None = None,
):
    """Table 2 as a figure: d(W) of each network after training (dots; open where the network
    did not succeed), their mean ± s.e.m. (bar), the untrained value (grey cross) and the
    paper's mean ± s.e.m. (open diamond).

    Args:
        per_network: :func:`nnrnn.weights.henrici_table` output.
        tasks: one panel per task.
        inits: the x positions.
        paper: ``{(task, init): (mean, sem)}``, e.g. :data:`nnrnn.weights.PAPER_TABLE2`.
    """
    width = min(PAGE_WIDTH, 3.4 * len(tasks))
    fig, axes = plt.subplots(1, len(tasks), figsize=(width, 3.8), squeeze=False, layout="constrained")
    rng = np.random.default_rng(0)  # horizontal scatter of the dots only
    for ax, task in zip(axes[0], tasks):
        for x, init in enumerate(inits):
            g = per_network[(per_network["task"] == task) & (per_network["init"] == init)]
            color = INIT_COLORS.get(init)
            if len(g):
                after = g["henrici_after"].to_numpy(dtype=float)
                ok = (g["selection"] == "success").to_numpy() if "selection" in g else np.ones(len(g), bool)
                xs = x - 0.12 + 0.08 * rng.uniform(-1, 1, len(after))
                ax.plot(xs[ok], after[ok], "o", color=color, alpha=0.55, markersize=4, label="ours, each network")
                ax.plot(xs[~ok], after[~ok], "o", mfc="none", color=color, alpha=0.8, markersize=4,
                        label="ours, not successful")
                m = np.nanmean(after)
                s = np.nanstd(after, ddof=1) / np.sqrt(len(after)) if len(after) > 1 else 0.0
                ax.errorbar(x - 0.12, m, yerr=s, fmt="_", color="k", markersize=18, capsize=4,
                            label="ours, mean ± s.e.m." if x == 0 else None)
                ax.plot(x - 0.12, float(np.nanmean(g["henrici_before"])), "x", color=_UNTRAINED, markersize=8,
                        label="ours, untrained" if x == 0 else None)
            if paper and (task, init) in paper:
                pm, ps = paper[(task, init)]
                ax.errorbar(x + 0.18, pm, yerr=ps, fmt="D", mfc="white", color=color, capsize=4,
                            label="paper, mean ± s.e.m." if x == 0 else None)
        ax.set_xticks(range(len(inits)), [INIT_LABELS.get(i, i) for i in inits])
        ax.set_xlim(-0.6, len(inits) - 0.4)
        ax.set_ylim(bottom=-0.1)
        ax.set_title(TASK_LABELS.get(task, task))
        ax.set_xlabel("initialization")
        ax.set_ylabel("Henrici departure d(W)")
    figure_legend(fig, axes[0], "outside lower center", ncol=3 if width > 5 else 2)
    return fig


def table2_null(
    per_network: pd.DataFrame,
    *,
    tasks: Sequence[str],
    inits: Sequence[str] = ("identity", "orthogonal"),
    diverged: Mapping[tuple[str, str], int] | None = None,
    paper: Mapping[tuple[str, str], tuple[float, float]] | None = None,
):
    """Table 2 against its null (the analysis plan): each network's d(W) after training against the
    median d of :math:`W_0` plus random changes of the trained change's size, one panel per task.

    Filled dots: successful networks; open: the others that did not diverge. The dashed line is
    trained = null median (above it: more non-normal than a random change of the same size); the
    dotted horizontal lines are the paper's Table 2 means, which have no null. Each panel's title
    counts the diverged networks, which the plan leaves out.

    Args:
        per_network: :func:`nnrnn.evidence.henrici_excesses` output with a ``task`` column.
        tasks: one panel per task.
        inits: the groups, one colour each.
        diverged: ``{(task, init): number of diverged networks}``.
        paper: ``{(task, init): (mean, sem)}``, e.g. :data:`nnrnn.weights.PAPER_TABLE2`.
    """
    width = min(PAGE_WIDTH, 3.6 * len(tasks))
    fig, axes = plt.subplots(1, len(tasks), figsize=(width, 4.0), squeeze=False, layout="constrained")
    for ax, task in zip(axes[0], tasks):
        seen = []  # every value drawn, for the extent of the trained = null line
        for init in inits:
            g = per_network[(per_network["task"] == task) & (per_network["init"] == init)]
            color, name = INIT_COLORS.get(init), INIT_LABELS.get(init, init)
            x, y = g["null_median"].to_numpy(float), g["trained"].to_numpy(float)
            ok = g["success"].astype(bool).to_numpy()
            ax.plot(x[ok], y[ok], "o", color=color, markersize=5, alpha=0.8, label=f"{name}, successful")
            ax.plot(x[~ok], y[~ok], "o", mfc="none", color=color, markersize=5, label=f"{name}, not successful")
            seen += [*x, *y]
            if paper and (task, init) in paper:
                ax.axhline(paper[(task, init)][0], color=color, linestyle=":", linewidth=1.2, label=f"{name}, paper (Table 2 mean)")
                seen.append(paper[(task, init)][0])
        if seen:
            a, b = min(seen), max(seen)
            pad = 0.05 * (b - a or 1.0)
            ax.plot([a - pad, b + pad], [a - pad, b + pad], "--", color="k", linewidth=0.8, label="trained = null median")
        left = ", ".join(f"{INIT_LABELS.get(i, i)} {int((diverged or {}).get((task, i), 0))}" for i in inits)
        ax.set_title(f"{TASK_LABELS.get(task, task)}\ndiverged, left out: {left}", fontsize="small")
        ax.set_xlabel("null median d(W₀ + random change)")
        ax.set_ylabel("d(W) after training")
    figure_legend(fig, axes[0], "outside lower center", ncol=2 if width > 5 else 1)
    return fig


def fig5_control(
    agg: pd.DataFrame,
    *,
    tasks: Sequence[str],
    inits: Sequence[str] = ("identity", "orthogonal"),
    max_lag: int = 10,
    peaks: Mapping[tuple[str, str], float] | None = None,
    notes: Mapping[tuple[str, str], str] | None = None,
    pulse: str = "pulse",
    control: str = "no pulse",
):
    """Fig. 5 against its control (the analysis plan): the trained networks' diagonal means with the
    units ordered by the pulse (colour) and by the no-pulse control (grey), mean ± s.e.m. over the
    networks, rows tasks and columns initializers; lag 0 is left out and a vertical line marks
    where the pulse-ordered profile peaks.

    Args:
        agg: :func:`nnrnn.weights.aggregate_diagonal_means` of the trained networks, by ``task``,
            ``init``, ``state`` and ``ordering``.
        tasks, inits: the rows and columns.
        max_lag: show ``|i - j| <= max_lag``.
        peaks: ``{(task, init): peak lag}`` of the pulse-ordered profile (NaN: no peak).
        notes: ``{(task, init): text}`` added to the panel's title (e.g. the excess).
        pulse, control: the ``ordering`` labels of the two orderings.
    """
    fig, axes = plt.subplots(len(tasks), len(inits), figsize=(min(PAGE_WIDTH, 4.0 * len(inits)), 3.1 * len(tasks) + 0.5),
                             squeeze=False, layout="constrained")
    for r, task in enumerate(tasks):
        for c, init in enumerate(inits):
            ax = axes[r, c]
            g = agg[(agg["task"] == task) & (agg["init"] == init) & (agg["lag"].abs() <= max_lag) & (agg["lag"] != 0)]
            n = int(g["n"].max()) if len(g) else 0
            for ordering, color, label in ((control, _UNTRAINED, "trained, no-pulse control"),
                                           (pulse, INIT_COLORS.get(init), "trained, pulse ordering (initializer's colour)")):
                s = g[g["ordering"] == ordering].sort_values("lag")
                lags = s["lag"].to_numpy(float)
                for side, name in ((lags < 0, f"_{label}"), (lags > 0, label)):  # a gap at lag 0; one legend entry
                    band(ax, lags[side], s["mean"].to_numpy(float)[side], s["sem"].to_numpy(float)[side], color=color,
                         label=name)
            lag = (peaks or {}).get((task, init), float("nan"))
            if np.isfinite(lag):
                ax.axvline(lag, color=INIT_COLORS.get(init), linestyle=":", linewidth=1.2, label="peak of the pulse-ordered profile")
            ax.axhline(0, color="k", linewidth=0.6)
            note = (notes or {}).get((task, init), "")
            ax.set_title(f"{TASK_LABELS.get(task, task)}, {INIT_LABELS.get(init, init)}: {n} network{'s' if n != 1 else ''}"
                         + (f"\n{note}" if note else ""), fontsize="medium")
            ax.set_xlabel(_XLABEL)
            ax.set_ylabel(_YLABEL)
    figure_legend(fig, axes.ravel(), "outside upper center", ncol=2)  # three entries in a row are wider than the page
    return fig
