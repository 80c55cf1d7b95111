"""Figures of the divergence chapter (notebooks/10-divergence): stability maps, the divergence
screen, W trajectories, survival curves and pseudospectra. Every function takes the tables of
:mod:`nnrnn.divergence` and returns a new matplotlib figure."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..analysis import eigenvalues
from ..divergence import OUTCOMES
from . import INIT_COLORS, INIT_LABELS, PAGE_WIDTH, figure_legend

__all__ = ["OUTCOME_COLORS", "stability_maps", "screen_runs", "trajectories", "survival_curves", "spectra"]

#: one colour per outcome class, worst to best (colour-blind-safe; diverged dark red).
OUTCOME_COLORS = {"diverged": "#8b1a1a", "at baseline": "#bdbdbd", "below baseline": "#74a9cf", "success": "#0570b0"}
TASK_LABELS = {"copy": "copy", "addition": "addition", "psmnist": "psMNIST"}


#: how a stability map marks a setting whose seeds disagree: visible on every colour.
_DOT = dict(marker="o", linestyle="", ms=3.5, mfc="white", mec="black", mew=0.8)


def stability_maps(maps: Mapping[str, pd.DataFrame], inits: Sequence[str]):
    """One row of panels per initializer, one column per task (``maps``: task -> one row per setting, a
    :func:`nnrnn.divergence.pilot_outcomes` table of one seed or :func:`nnrnn.divergence.setting_outcomes`):
    the pilot's learning rates (x, the same in a column) by scales (y, the same in a row), each cell
    coloured by its outcome; a diverged cell is shaded by when it diverged (darker: earlier; colour bar);
    a dot marks a setting whose seeds disagree (``agree`` False). Three tasks make three panel columns,
    which the page shows at its width; only the outer panels carry tick labels."""
    tasks = [t for t in maps if len(maps[t])]
    if not tasks:
        raise ValueError(f"maps must hold a task with pilot runs, got none among {list(maps)}")
    for t in tasks:
        if maps[t].duplicated(["init", "scale", "lr"]).any():
            raise ValueError(f"maps[{t!r}] must have one row per setting (init, scale, lr), got several for some; "
                             "reduce the seeds first (nnrnn.divergence.setting_outcomes)")
    lrs = {t: sorted(maps[t]["lr"].unique()) for t in tasks}  # a column's x categories
    scales = {i: sorted({s for t in tasks for s in maps[t].loc[maps[t]["init"] == i, "scale"]}) for i in inits}  # a row's y
    tall = max([len(v) for v in scales.values()] + [1])
    fig, axes = plt.subplots(len(inits), len(tasks), figsize=(PAGE_WIDTH, len(inits) * max(0.85, 0.25 * tall + 0.35) + 1.7),
                             layout="constrained", squeeze=False)
    cmap = ListedColormap([OUTCOME_COLORS[o] for o in OUTCOMES])
    when = [m["diverged_at"].dropna() for m in maps.values() if len(m)]
    hi = max([float(w.max()) for w in when if len(w)] + [10.0])
    norm = LogNorm(vmin=1.0, vmax=max(hi, 10.0))
    reds = ListedColormap(plt.get_cmap("Reds_r")(np.linspace(0.0, 0.6, 256)))  # dark (early) to mid red (late): never near white
    shade, disagree = None, False
    for c, task in enumerate(tasks):
        m, xs = maps[task], lrs[task]
        for r, init in enumerate(inits):
            ax, g, ys = axes[r, c], m[m["init"] == init], scales[init]
            grid, div = np.full((len(ys), len(xs)), np.nan), np.full((len(ys), len(xs)), np.nan)
            for row in g.itertuples(index=False):
                i, j = ys.index(row.scale), xs.index(row.lr)
                if row.outcome == "diverged":
                    div[i, j] = max(float(row.diverged_at), 1.0)
                else:
                    grid[i, j] = OUTCOMES.index(row.outcome)
            ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=len(OUTCOMES) - 0.5, aspect="auto", origin="lower")
            shade = ax.imshow(np.ma.masked_invalid(div), cmap=reds, norm=norm, aspect="auto", origin="lower")
            if "agree" in g:
                split = g[~g["agree"].astype(bool)]
                ax.plot([xs.index(v) for v in split["lr"]], [ys.index(v) for v in split["scale"]], label="seeds disagree", **_DOT)
                disagree |= len(split) > 0
            ax.set_xticks(range(len(xs)), [f"{lr:.0e}".replace("e-0", "e-") for lr in xs], rotation=90, fontsize="small")
            ax.set_yticks(range(len(ys)), [f"{s:g}" for s in ys], fontsize="small")
            ax.tick_params(labelbottom=r == len(inits) - 1, labelleft=c == 0)  # a column shares its x, a row its y
            if r == 0:
                ax.set_title(TASK_LABELS[task])
            if c == 0:
                ax.set_ylabel(f"{INIT_LABELS[init]}\nscale")
            if r == len(inits) - 1:
                ax.set_xlabel("learning rate")
    handles = [Patch(color=OUTCOME_COLORS[o]) for o in OUTCOMES[1:]] + [Patch(color=reds(0.5))]
    labels = [*OUTCOMES[1:], "diverged (shade: when)"]
    if disagree:
        handles, labels = handles + [Line2D([], [], **_DOT)], labels + ["seeds disagree"]
    fig.legend(handles, labels, loc="outside upper center", ncol=len(labels) if len(labels) <= len(OUTCOMES) else 3,
               fontsize="small")
    if shade is not None:
        fig.colorbar(shade, ax=axes[:, -1], label="diverged after (updates)", shrink=0.8)
    return fig


def screen_runs(screens: Mapping[str, pd.DataFrame], inits: Sequence[str]):
    """One panel per task (``screens``: task -> :func:`nnrnn.divergence.screen_outcomes`): each
    screened candidate a row (its scale and learning rate; bold: ``selected``), grouped by
    initializer (colour), with one line per seed from update 0 to its last update, ending in a
    cross where it diverged and a bar where it did not; dashed: the end of the pilot's run
    (``pilot_updates``)."""
    tasks = [t for t in screens if len(screens[t])]
    if not tasks:
        raise ValueError(f"screens must hold a task with screen runs, got none among {list(screens)}")
    rank = {i: k for k, i in enumerate(inits)}  # candidates grouped by initializer, in ``inits`` order
    rows = {t: sorted(screens[t].groupby(["init", "scale", "lr"], sort=False).groups,
                      key=lambda k: (rank.get(k[0], len(rank)), k[1], k[2])) for t in tasks}
    fig, axes = plt.subplots(1, len(tasks), figsize=(PAGE_WIDTH, 0.22 * max(len(r) for r in rows.values()) + 1.6),
                             layout="constrained", squeeze=False)
    for ax, task in zip(axes[0], tasks):
        s = screens[task]
        seeds = sorted(s["seed"].unique())
        offset = {sd: (k - (len(seeds) - 1) / 2) * 0.3 for k, sd in enumerate(seeds)}
        for y, (init, scale, lr) in enumerate(rows[task]):
            mine = s[(s["init"] == init) & np.isclose(s["scale"], scale) & np.isclose(s["lr"], lr)]
            for r in mine.itertuples(index=False):
                yy, end = y + offset[r.seed], float(r.n_updates) / 1000
                ax.plot([0, end], [yy, yy], color=INIT_COLORS.get(init, "0.4"), lw=1.5, label=INIT_LABELS.get(init, init))
                ax.plot(end, yy, "x" if r.outcome == "diverged" else "|", color="black", ms=6 if r.outcome == "diverged" else 5,
                        mew=1.5, label="diverged" if r.outcome == "diverged" else "ran to its end")
        ax.axvline(float(s["pilot_updates"].iloc[0]) / 1000, color="0.5", ls="--", lw=1, label="end of the pilot's run")
        ax.set_yticks(range(len(rows[task])), [f"{sc:g}, {lr:.0e}".replace("e-0", "e-") for _, sc, lr in rows[task]],
                      fontsize="small")
        chosen = {(r.init, r.scale, r.lr) for r in s[s["selected"].astype(bool)].itertuples(index=False)}
        for label, key in zip(ax.get_yticklabels(), rows[task]):
            if key in chosen:
                label.set_fontweight("bold")
        ax.set_ylim(-0.7, len(rows[task]) - 0.3)
        ax.invert_yaxis()
        ax.set_xlim(left=0)  # the right end as autoscaled, with its margin: no cross is cut in half
        ax.set_title(TASK_LABELS.get(task, task))
        ax.set_xlabel("update (thousands)")
    axes[0, 0].set_ylabel("candidate (scale, learning rate)")
    figure_legend(fig, axes[0], ncol=4)
    return fig


def trajectories(traj: Mapping[str, pd.DataFrame], inits: Sequence[str], column: str, ylabel: str):
    """One panel per task (``traj``: task -> :func:`nnrnn.divergence.trajectories`): ``column`` of each
    run against updates, coloured by initializer; a run that diverged ends in a cross."""
    tasks = [t for t in traj if len(traj[t])]
    if not tasks:
        raise ValueError(f"traj must hold a task with stage-2 runs, got none among {list(traj)}")
    fig, axes = plt.subplots(1, len(tasks), figsize=(PAGE_WIDTH, 3.0), layout="constrained", squeeze=False)
    for ax, task in zip(axes[0], tasks):
        t = traj[task]
        for init in inits:
            for _, run in t[t["init"] == init].groupby("hash", sort=False):
                run = run.sort_values("update")
                ax.plot(run["update"] / 1000, run[column], color=INIT_COLORS[init], lw=1, alpha=0.8, label=INIT_LABELS[init])
                if run["outcome"].iloc[0] == "diverged":
                    ax.plot(run["update"].iloc[-1] / 1000, run[column].iloc[-1], "x", color=INIT_COLORS[init], ms=7, mew=2)
        ax.set_title(TASK_LABELS[task])
        ax.set_xlabel("update (thousands)")
    axes[0, 0].set_ylabel(ylabel)
    figure_legend(fig, axes[0])
    return fig


def survival_curves(curves: Mapping[str, Mapping[str, pd.DataFrame]], inits: Sequence[str]):
    """One panel per task (``curves``: task -> init -> Kaplan-Meier table): the fraction of runs not
    yet diverged against updates, a step function; censored runs marked with a tick."""
    tasks = [t for t in curves if curves[t]]
    if not tasks:
        raise ValueError(f"curves must hold a task with stage-2 runs, got none among {list(curves)}")
    fig, axes = plt.subplots(1, len(tasks), figsize=(PAGE_WIDTH, 2.8), layout="constrained", squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for init in inits:
            km = curves[task].get(init)
            if km is None or km.empty:
                continue
            x = np.concatenate([[0.0], km["time"].to_numpy() / 1000])
            y = np.concatenate([[1.0], km["survival"].to_numpy()])
            ax.step(x, y, where="post", color=INIT_COLORS[init], label=INIT_LABELS[init])
            cens = km[km["censored"] > 0]
            ax.plot(cens["time"] / 1000, cens["survival"], "|", color=INIT_COLORS[init], ms=10, mew=2)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(TASK_LABELS[task])
        ax.set_xlabel("update (thousands)")
    axes[0, 0].set_ylabel("fraction not diverged")
    figure_legend(fig, axes[0])
    return fig


def spectra(snapshots: Sequence[tuple[str, np.ndarray]], re: np.ndarray, im: np.ndarray,
            sigma: Sequence[np.ndarray], levels: Sequence[float] = (1e-3, 1e-2, 1e-1)):
    """One panel per ``(title, W)`` snapshot: the eigenvalues of W (dots), the unit circle (grey) and
    the boundaries of its epsilon-pseudospectra for ``levels`` (contours of ``sigma``, the smallest
    singular value of zI - W on the grid ``re`` x ``im``)."""
    n = len(snapshots)
    cols = 2 if n == 4 else min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, 2.9 * rows), layout="constrained", squeeze=False)
    t = np.linspace(0, 2 * np.pi, 200)
    for ax, (title, w), s in zip(axes.flat, snapshots, sigma):
        cs = ax.contour(re, im, np.log10(np.maximum(s, 1e-300)), levels=np.log10(levels), cmap="viridis")
        ax.clabel(cs, fmt=lambda v: f"ε=1e{v:.0f}", fontsize="small", colors="black")  # viridis's yellow on white is unreadable
        ev = eigenvalues(w)  # balanced first: a chain's eigenvalues are ill-conditioned
        ax.plot(ev.real, ev.imag, ".", color="black", ms=3, label="eigenvalues")
        ax.plot(np.cos(t), np.sin(t), color="0.6", lw=0.8, label="unit circle")
        ax.set_aspect("equal")
        ax.set_title(title, fontsize="small")
        ax.set_xlabel("Re z")
        ax.set_ylabel("Im z")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    figure_legend(fig, list(axes.flat)[:n])
    return fig
