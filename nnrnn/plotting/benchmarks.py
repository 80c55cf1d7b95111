"""Figures of the benchmark chapters (copy, addition, psMNIST): task examples and Fig. 3 analogues.

Every function takes the tables of :mod:`nnrnn.sweep` (or a task's tensors), draws on a new
figure (or on ``ax``) and returns the figure. Nothing here trains or loads anything.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import INIT_COLORS, INIT_LABELS, band

__all__ = ["copy_example", "addition_example", "psmnist_example", "fig3_curves", "fig3_success"]


def _fig_ax(ax, figsize):
    import matplotlib.pyplot as plt

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
    import matplotlib.pyplot as plt

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
    import matplotlib.pyplot as plt

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
    import matplotlib.pyplot as plt

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
    ax.set_xticks(xs, labels, rotation=20)
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
        ax2.set_ylabel("successful runs (%)")
        ax2.set_ylim(0, max(5.0, float(np.nanmax(np.concatenate([ours, theirs]))) * 1.25))
        from matplotlib.patches import Patch

        ax2.legend(handles=[Patch(facecolor="#777777", label="this book"),
                            Patch(facecolor="#777777", alpha=0.45, hatch="//", label="paper")], fontsize=8)
        ax2.set_title("share of runs: book vs paper")
    fig.tight_layout()
    return fig
