"""Figures of the benchmark chapters (copy, addition, psMNIST): task examples, Fig. 3 analogues,
the replicate profile's pilot scores and the recurrent matrix during training.

Every function takes the tables of :mod:`nnrnn.sweep` (or a task's tensors), draws on a new
figure (or on ``ax``) and returns the figure. Nothing here trains or loads anything.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from . import INIT_COLORS, INIT_LABELS, PAGE_WIDTH, band

__all__ = ["copy_example", "addition_example", "psmnist_example", "fig3_curves", "fig3_success", "pilot_scores",
           "w_diagnostics", "SCALE_SYMBOLS"]

#: the symbol of each initializer's scale in the paper: λ (identity, orthogonal), α (chain), β (feedback chain).
SCALE_SYMBOLS = {"identity": "λ", "orthogonal": "λ", "chain": "α", "fb_chain": "β"}


def _fig_ax(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    return fig, ax


def copy_example(x, y, *, axes=None):
    """Draw one copy sequence: input symbols over time (top) and target classes (bottom).

    Args:
        x: input symbols ``(T,)`` (integers 0-9) or one-hot inputs ``(T, 10)``.
        y: target classes ``(T,)`` (integers 0-8).
        axes: two matplotlib axes, or ``None`` for a new figure.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 2:
        x = x.argmax(-1)
    T = len(x)
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(7.0, 3.4), sharex=True)
    else:
        fig = axes[0].figure
    t = np.arange(T)
    for ax, seq, title, top in ((axes[0], x, "input", 9), (axes[1], y, "target", 8)):
        ax.vlines(t, 0, seq, color="#555555", linewidth=1.0)
        nz = seq > 0
        ax.scatter(t[nz], seq[nz], s=14, color="#029e73", zorder=3)
        ax.set_ylim(-0.5, top + 0.8)
        ax.set_yticks(range(0, top + 1, 3 if top > 8 else 2))
        ax.set_ylabel(f"{title} symbol")
    cue = int(np.flatnonzero(x == 9)[0]) if (x == 9).any() else None
    if cue is not None:
        axes[0].annotate("cue 9", (cue, 9), xytext=(-6, -4), textcoords="offset points", ha="right", va="center",
                         fontsize=9)
    axes[0].annotate("10 symbols", (4.5, 8.6), ha="center", fontsize=9)
    axes[1].annotate("recall the 10 symbols", (T - 5, 8.6), ha="right", fontsize=9)
    axes[1].set_xlabel("time step")
    fig.tight_layout()
    return fig


def addition_example(x, y, *, ax=None):
    """Draw one addition sequence: the values (dots) and the two marked values (rings).

    Args:
        x: inputs ``(T, 2)``, channel 0 the indicator and channel 1 the values.
        y: the target sum (a number or a 1-element array).
    """
    x = np.asarray(x)
    fig, ax = _fig_ax(ax, (7.0, 2.8))
    T = x.shape[0]
    t = np.arange(T)
    ax.plot(t, x[:, 1], ".", color="#949494", markersize=3, label="value channel")
    marked = np.flatnonzero(x[:, 0] > 0)
    ax.plot(marked, x[marked, 1], "o", mfc="none", mec="#d55e00", markersize=9, mew=1.8, label="marked (indicator = 1)")
    ax.axvline(T // 2 - 0.5, color="k", linestyle=":", linewidth=1)
    target = float(np.asarray(y).reshape(-1)[0])
    ax.set_title(f"target = {x[marked[0], 1]:.3f} + {x[marked[1], 1]:.3f} = {target:.3f}", fontsize=10)
    ax.set_xlabel("time step")
    ax.set_ylabel("value")
    ax.set_ylim(-0.05, 1.3)
    ax.legend(loc="upper right", ncol=2, fontsize=8)
    fig.tight_layout()
    return fig


def psmnist_example(image, permutation, *, label: int | None = None, axes=None):
    """Draw one psMNIST input: the digit (left), its pixels in reading order (middle) and in the
    permuted order the network sees, one pixel per step (right).

    Args:
        image: one MNIST digit, ``(28, 28)`` (0-255 or 0-1).
        permutation: the pixel permutation ``(784,)`` (:func:`nnrnn.data.permutation`).
        label: the digit's class, for the title.
        axes: three matplotlib axes, or ``None`` for a new figure.
    """
    img = np.asarray(image, dtype=float).reshape(28, 28)
    if img.max() > 1.0:
        img = img / 255.0
    flat = img.reshape(-1)
    perm = np.asarray(permutation).reshape(-1)
    if axes is None:
        fig = plt.figure(figsize=(9.0, 2.8))
        grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 2.6, 2.6])
        axes = [fig.add_subplot(grid[0, k]) for k in range(3)]
    else:
        fig = axes[0].figure
    axes[0].imshow(img, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    for spine in axes[0].spines.values():
        spine.set_visible(False)
    axes[0].set_title("digit" + (f" ({label})" if label is not None else ""))
    t = np.arange(flat.size)
    for ax, seq, title in ((axes[1], flat, "row by row (sequential MNIST)"),
                           (axes[2], flat[perm], "permuted (psMNIST)")):
        ax.vlines(t, 0, seq, color="#555555", linewidth=0.6)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0, flat.size)
        ax.set_xlabel("time step")
        ax.set_title(title)
    axes[1].set_ylabel("pixel value")
    fig.tight_layout()
    return fig


def fig3_curves(
    curves: pd.DataFrame,
    *,
    baseline: float,
    best: pd.DataFrame | None = None,
    ax=None,
    ylabel: str = "validation loss",
    x: str = "epoch",
    x_label: str | None = None,
    log: bool = True,
):
    """Fig. 3a/b analogue: validation loss against training progress at each init's best setting.

    Args:
        curves: :func:`nnrnn.sweep.best_curves` output (``init``, ``x``, ``mean``, ``sem``).
        baseline: the random-baseline loss, drawn dashed (with the 50 % success line dotted).
        best: :func:`nnrnn.sweep.best_settings` output, to put the settings in the legend.
        ax: axes to draw on, or ``None`` for a new figure.
        x: the progress column, ``"epoch"`` or ``"update"``.
        x_label: axis label; default "training progress (epochs)" or "(updates)".
        log: logarithmic loss axis.
    """
    fig, ax = _fig_ax(ax, (6.4, 4.0))
    for init, c in curves.groupby("init", sort=False):
        label = INIT_LABELS.get(init, init)
        if best is not None and init in best.index:
            b = best.loc[init]
            label += f" (scale {b['scale']:g}, lr {b['lr']:g})"
        band(ax, c[x].to_numpy(), c["mean"].to_numpy(), c["sem"].to_numpy(), label=label,
             color=INIT_COLORS.get(init))
    ax.axhline(baseline, color="k", linestyle="--", linewidth=1.2, label="random baseline")
    ax.axhline(0.5 * baseline, color="k", linestyle=":", linewidth=1.0, label="success threshold (50 %)")
    if log:
        ax.set_yscale("log")
    # a robust top: one spike (a diverging epoch, ~400 against a baseline of 0.04) would stretch the
    # log axis until every curve lies on the floor; above 3 x the baseline or the 99th percentile of
    # the curves, whichever is higher, the axis is cut, and the panel says so.
    values = curves["mean"].to_numpy(float)
    values = values[np.isfinite(values)]
    if len(values):
        top = max(3.0 * baseline, float(np.quantile(values, 0.99)))
        if values.max() > 1.05 * top:
            ax.set_ylim(top=top)
            ax.text(0.99, 0.99, f"axis cut at {top:.3g}; peak {values.max():.3g}", transform=ax.transAxes,
                    ha="right", va="top", fontsize=8, color="0.25")
    ax.set_xlabel(x_label or f"training progress ({'epochs' if x == 'epoch' else 'updates'})")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def fig3_success(
    counts: pd.DataFrame,
    *,
    paper: Mapping[str, tuple[int, int]] | None = None,
    ax=None,
    title: str | None = None,
):
    """Fig. 3d/e analogue: the number of successful runs per initializer, labelled ``k / n``.

    Args:
        counts: :func:`nnrnn.sweep.success_counts` output (index ``init``; ``n_success``,
            ``n_runs``).
        paper: the paper's ``{init: (k, n)}``; drawn as a second panel of percentages when given.
    """
    inits: Sequence[str] = list(counts.index)
    labels = [INIT_LABELS.get(i, i) for i in inits]
    colors = [INIT_COLORS.get(i, "#949494") for i in inits]
    if paper is not None and ax is None:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.6))
    else:
        fig, ax = _fig_ax(ax, (5.0, 3.6))
        ax2 = None
    k = counts["n_success"].to_numpy()
    n = counts["n_runs"].to_numpy()
    xs = np.arange(len(inits))
    ax.bar(xs, k, color=colors)
    top = max(1, int(k.max()))
    for xi, ki, ni in zip(xs, k, n):
        ax.annotate(f"{ki} / {ni}", (xi, ki), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)
    ax.set_ylim(0, top * 1.2 + 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # runs are counted: no 0.5 of a run
    ax.set_xticks(xs, labels, rotation=20)
    ax.set_xlabel("initializer")
    ax.set_ylabel("successful runs")
    ax.set_title(title or "this book")
    if ax2 is not None:
        pk = np.array([paper.get(i, (np.nan, np.nan))[0] for i in inits], dtype=float)
        pn = np.array([paper.get(i, (np.nan, np.nan))[1] for i in inits], dtype=float)
        ours = 100 * k / np.maximum(n, 1)
        theirs = 100 * pk / pn
        w = 0.38
        ax2.bar(xs - w / 2, ours, w, color=colors, label="this book")
        ax2.bar(xs + w / 2, theirs, w, color=colors, alpha=0.45, hatch="//", label="paper")
        for xi, pki, pni in zip(xs, pk, pn):
            if np.isfinite(pki):
                ax2.annotate(f"{int(pki)}/{int(pni)}", (xi + w / 2, 100 * pki / pni), xytext=(0, 3),
                             textcoords="offset points", ha="center", fontsize=7)
        ax2.set_xticks(xs, labels, rotation=20)
        ax2.set_xlabel("initializer")
        ax2.set_ylabel("successful runs (%)")
        ax2.set_ylim(0, max(5.0, float(np.nanmax(np.concatenate([ours, theirs]))) * 1.25))
        ax2.legend(handles=[Patch(facecolor="#777777", label="this book"),
                            Patch(facecolor="#777777", alpha=0.45, hatch="//", label="paper")], fontsize=8)
        ax2.set_title("share of runs: book vs paper")
    fig.tight_layout()
    return fig


def pilot_scores(
    scores: pd.DataFrame,
    *,
    baseline: float,
    selection: pd.DataFrame | None = None,
    band_width: float | None = None,
    ylabel: str = "pilot score (mean late validation loss)",
):
    """The replicate profile's pilot: each setting's score against its learning rate, one panel per initializer.

    Args:
        scores: :func:`nnrnn.replicate.pilot_scores` output (``init``, ``scale``, ``lr``,
            ``score``, ``diverged``); may hold only part of the pilot.
        baseline: the random-baseline loss, drawn dashed.
        selection: :func:`nnrnn.replicate.select` output (index ``init``; ``scale``, ``lr``,
            ``best_score``): the selected setting is ringed and the band of settings within
            ``band_width`` of the best score shaded.
        band_width: the width of the selection band in loss units (:data:`nnrnn.replicate.BAND`
            times the baseline).

    A diverged setting is drawn as a cross at the top of its panel.

    Examples:
        >>> s = pd.DataFrame({"init": ["chain"] * 2, "scale": [1.0, 1.0], "lr": [1e-4, 1e-5],
        ...                   "score": [0.05, float("inf")], "diverged": [False, True]})
        >>> len(pilot_scores(s, baseline=0.0416).axes)
        1
    """
    present = list(dict.fromkeys(scores["init"]))
    inits = [i for i in INIT_LABELS if i in present] + [i for i in present if i not in INIT_LABELS]
    fig, axes = plt.subplots(1, len(inits), figsize=(min(PAGE_WIDTH, 2.6 * len(inits) + 0.8), 3.8), sharey=True,
                             squeeze=False, layout="constrained")
    finite = scores.loc[np.isfinite(scores["score"].to_numpy(float)), "score"]
    markers = ("o", "s", "^", "D")
    for ax, init in zip(axes[0], inits):
        g = scores[scores["init"] == init]
        top = blended_transform_factory(ax.transData, ax.transAxes)
        for k, (scale, gs) in enumerate(g.groupby("scale", sort=True)):
            gs = gs.sort_values("lr")
            ok = gs[~gs["diverged"] & np.isfinite(gs["score"].to_numpy(float))]
            (line,) = ax.plot(ok["lr"], ok["score"], marker=markers[k % len(markers)], markersize=4, linewidth=1.0,
                              label=f"{SCALE_SYMBOLS.get(init, 'scale')} = {scale:g}")
            bad = gs[gs["diverged"] | ~np.isfinite(gs["score"].to_numpy(float))]
            if len(bad):
                ax.scatter(bad["lr"], np.full(len(bad), 0.96), marker="x", color=line.get_color(), transform=top,
                           clip_on=False, zorder=3)
        if selection is not None and init in selection.index:
            pick = selection.loc[init]
            if band_width is not None:
                ax.axhspan(pick["best_score"], pick["best_score"] + band_width, color="#bbbbbb", alpha=0.5, linewidth=0)
            ax.plot([pick["lr"]], [pick["score"]], "o", mfc="none", mec="k", markersize=11, mew=1.5)
        ax.axhline(baseline, color="k", linestyle="--", linewidth=1.0)
        ax.set_xscale("log")
        # decades only, and room at both ends for a diverged setting's cross (drawn unclipped)
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=4))
        ax.xaxis.set_minor_formatter(NullFormatter())
        lrs = g["lr"].to_numpy(float)  # every rate, diverged ones too (their crosses set no data limits)
        ax.set_xlim(lrs.min() / 1.6, lrs.max() * 1.6)
        ax.set_title(INIT_LABELS.get(init, init))
        ax.set_xlabel("learning rate")
        ax.legend(fontsize="small", loc="best")
    if len(finite) and (finite > 0).all():
        axes[0][0].set_yscale("log")
    axes[0][0].set_ylabel(ylabel)
    return fig


def w_diagnostics(
    radius: pd.DataFrame,
    henrici: pd.DataFrame,
    *,
    x: str = "epoch",
    diverged: pd.DataFrame | None = None,
    paper_henrici: Mapping[str, tuple[float, float]] | None = None,
):
    """The recurrent matrix during training: spectral radius (left) and Henrici index (right) of W.

    Args:
        radius, henrici: :func:`nnrnn.sweep.best_curves` output for the history columns
            ``w_spectral_radius`` and ``w_henrici`` (``init``, ``x``, ``mean``, ``sem``).
        x: the progress column (``"epoch"`` or ``"update"``).
        diverged: one row per diverged run with ``init``, ``x`` (the last validation point
            before the divergence) and ``w_spectral_radius`` there; drawn as crosses.
        paper_henrici: the paper's Henrici index after training, ``{init: (mean, sem)}``
            (Table 2), drawn as error bars at the right edge.

    Examples:
        >>> c = pd.DataFrame({"init": "chain", "epoch": [0.0, 1.0], "mean": [0.0, 0.5], "sem": [0.0, 0.1]})
        >>> [a.get_ylabel() for a in w_diagnostics(c, c).axes]
        ['spectral radius of W', 'Henrici index d(W)']
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for ax, curves in ((ax1, radius), (ax2, henrici)):
        for init, c in curves.groupby("init", sort=False):
            band(ax, c[x].to_numpy(), c["mean"].to_numpy(), c["sem"].to_numpy(), label=INIT_LABELS.get(init, init),
                 color=INIT_COLORS.get(init))
        ax.set_xlabel(f"training progress ({'epochs' if x == 'epoch' else 'updates'})")
    ax1.axhline(1.0, color="k", linestyle=":", linewidth=1.0, label="radius 1")
    if diverged is not None and len(diverged):
        ax1.scatter(diverged[x], diverged["w_spectral_radius"], marker="x", s=40, zorder=3,
                    c=[INIT_COLORS.get(i, "#949494") for i in diverged["init"]], label="last point before divergence")
    if paper_henrici:
        right = float(henrici[x].max()) if len(henrici) else 1.0
        for k, (init, (m, s)) in enumerate(paper_henrici.items()):
            ax2.errorbar([right * (1.02 + 0.03 * k)], [m], yerr=[s], fmt="D", color=INIT_COLORS.get(init), mfc="none",
                         capsize=3, label=f"paper, Table 2 ({INIT_LABELS.get(init, init)})")
    ax1.set_ylabel("spectral radius of W")
    ax2.set_ylabel("Henrici index d(W)")
    ax1.legend(fontsize=8, loc="best")
    ax2.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
