"""Figures of the language-modelling chapters: Fig. 4 (vanilla RNNs) and Fig. 6 (LSTM gates).

Each function takes the tables that :mod:`nnrnn.lm` produces and returns a matplotlib figure;
nothing here trains or loads anything.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import INIT_COLORS, INIT_LABELS, PAGE_WIDTH, band, figure_legend, mean_sem

__all__ = ["validation_curves", "fig4_validation_curves", "fig6_gate_diagonal_means", "lstm_gate_blocks", "curve_table",
           "GATE_PANELS"]

#: Fig. 6's panel order and titles: (a) input, (b) forget, (c) output, (d) update gate.
GATE_PANELS = (("i", "(a) input gate"), ("f", "(b) forget gate"), ("o", "(c) output gate"), ("g", "(d) update gate"))

_CORPUS_TITLES = {"ptb": "PTB (words)", "ptb-char": "PTB (characters)", "enwik8": "enwik8"}
_UNITS = {"ptb": "bits per word", "ptb-char": "bits per character", "enwik8": "bits per character"}


def curve_table(history: pd.DataFrame, column: str = "val_bits") -> pd.DataFrame:
    """Mean ± s.e.m. over seeds of ``column`` at each validation point, per corpus and init.

    Runs of one (corpus, init) share their validation points (the ``point`` column); the x
    position is the mean fractional ``epoch`` over seeds, which differ slightly because the
    window lengths are random.

    Examples:
        >>> h = pd.DataFrame({"corpus": "ptb", "init": "chain", "seed": [1, 1, 2, 2], "point": [0, 1, 0, 1],
        ...                   "epoch": [0.0, 1.0, 0.0, 1.0], "val_bits": [8.0, 7.0, 8.0, 7.2]})
        >>> curve_table(h)[["point", "mean", "n"]].values.tolist()
        [[0.0, 8.0, 2.0], [1.0, 7.1, 2.0]]
    """
    rows = []
    for (corpus, init), d in history.groupby(["corpus", "init"], sort=False):
        wide = d.pivot_table(index="point", columns="seed", values=column, aggfunc="last")
        epoch = d.groupby("point")["epoch"].mean().reindex(wide.index)
        m, s = mean_sem(wide.to_numpy(dtype=float), axis=1)
        n = np.isfinite(wide.to_numpy(dtype=float)).sum(axis=1)
        for p, e, mm, ss, nn in zip(wide.index, epoch, m, s, n):
            rows.append({"corpus": corpus, "init": init, "point": p, "epoch": e, "mean": mm, "sem": ss, "n": nn})
    return pd.DataFrame(rows)


def validation_curves(
    history: pd.DataFrame,
    *,
    corpora: Sequence[str] | None = None,
    inits: Sequence[str] | None = None,
    skip_first: bool = True,
    title: str | None = None,
):
    """Validation loss (bits) against epoch, mean ± s.e.m. over seeds, one panel per corpus.

    Args:
        history: ``LMRuns.history`` (columns ``corpus``, ``init``, ``seed``, ``point``,
            ``epoch``, ``val_bits``).
        corpora, inits: which to draw, in order (default: all present).
        skip_first: leave out the untrained point 0, which would squash the y-axis.
        title: a figure title.

    Panels are in rows of two; the legend is in the spare cell of the grid, or above the panels
    where there is none (inside a panel it covers a curve).
    """
    table = curve_table(history)
    if skip_first:
        table = table[table["point"] > 0]
    corpora = list(corpora or dict.fromkeys(table["corpus"]))
    inits = list(inits or dict.fromkeys(table["init"]))
    ncols = min(len(corpora), 2)
    nrows = -(-len(corpora) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(min(PAGE_WIDTH, 4.6 * ncols), 3.6 * nrows), squeeze=False,
                             layout="constrained")
    axes, spare = grid.ravel()[: len(corpora)], grid.ravel()[len(corpora):]
    for ax, corpus in zip(axes, corpora):
        for init in inits:
            d = table[(table["corpus"] == corpus) & (table["init"] == init)].sort_values("point")
            if d.empty:
                continue
            band(ax, d["epoch"].to_numpy(), d["mean"].to_numpy(), d["sem"].to_numpy(),
                 label=INIT_LABELS.get(init, init), color=INIT_COLORS.get(init), marker="o", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation loss ({_UNITS.get(corpus, 'bits')})")
        ax.set_title(_CORPUS_TITLES.get(corpus, corpus))
    if len(spare):
        spare[0].axis("off")
        spare[0].legend(*axes[0].get_legend_handles_labels(), loc="center")
    else:  # above the panels: inside one it sat on a curve (chapter 7's identity)
        figure_legend(fig, axes, ncol=min(len(inits), 4))
    if title:
        fig.suptitle(title)
    return fig


def fig4_validation_curves(history: pd.DataFrame, **kw):
    """Fig. 4: validation bits against epoch for the vanilla-RNN initializers (see :func:`validation_curves`)."""
    kw.setdefault("inits", [i for i in ("identity", "orthogonal", "chain", "fb_chain") if i in set(history["init"])])
    return validation_curves(history, **kw)


def fig6_gate_diagonal_means(
    trained: pd.DataFrame,
    initial: pd.DataFrame | None = None,
    *,
    max_lag: int | None = None,
    label: str = "trained",
):
    """Fig. 6: mean recurrent weight against order difference ``i - j`` for each LSTM gate.

    Args:
        trained: stacked :func:`nnrnn.lm.gate_diagonal_means` tables of the trained networks with a
            ``seed`` column; drawn as mean ± s.e.m. over networks.
        initial: the same for the networks at initialization (dashed), optional.
        max_lag: show lags within ``±max_lag`` only (default: all).
        label: legend label of the trained curve.
    """
    fig, axes = plt.subplots(2, 2, figsize=(PAGE_WIDTH, 6.0), sharex=True, layout="constrained")
    for ax, (gate, title) in zip(axes.ravel(), GATE_PANELS):
        for df, lab, style in ((trained, label, "-"), (initial, "at initialization", "--")):
            if df is None:
                continue
            d = df[df["gate"] == gate]
            if max_lag is not None:
                d = d[d["lag"].abs() <= max_lag]
            wide = d.pivot_table(index="lag", columns="seed", values="weight")
            m, s = mean_sem(wide.to_numpy(dtype=float), axis=1)
            color = "#333333" if style == "-" else "#949494"
            band(ax, wide.index.to_numpy(), m, s, label=lab, color=color, linestyle=style, linewidth=1.2)
        ax.axhline(0.0, color="#bbbbbb", linewidth=0.6, zorder=0)
        ax.axvline(0.0, color="#bbbbbb", linewidth=0.6, zorder=0)
        ax.set_title(title)
        ax.set_ylabel(r"mean $W_{ij}$")
    for ax in axes[1]:
        ax.set_xlabel(r"order difference $i - j$ (units)")
    figure_legend(fig, axes.ravel())
    return fig


def lstm_gate_blocks(blocks: dict[str, "np.ndarray"], *, gates: Sequence[str] = ("i", "f", "g", "o")):
    """Heatmaps of an LSTM's recurrent weight, one row per scheme and one column per gate block.

    Args:
        blocks: scheme name -> stacked ``weight_hh`` of shape ``(4N, N)`` (torch order i, f, g, o),
            e.g. from :func:`nnrnn.init.lstm_`.
        gates: which gate columns to draw, in order.

    Each panel has its own symmetric colour scale (the ramp is 100 times weaker than the chain),
    printed under its lower right corner; row ``i`` is the unit a weight goes to, column ``j`` the
    unit it comes from.
    """
    order = {"i": 0, "f": 1, "g": 2, "o": 3}
    names = {"i": "input i", "f": "forget f", "g": "update g", "o": "output o"}
    width = min(PAGE_WIDTH, 1.9 * len(gates) + 0.6)
    fig, axes = plt.subplots(len(blocks), len(gates), figsize=(width, (width - 0.6) / len(gates) * len(blocks) + 0.8),
                             squeeze=False, layout="constrained")
    for r, (scheme, w) in enumerate(blocks.items()):
        w = np.asarray(w, dtype=float)
        n = w.shape[1]
        for c, gate in enumerate(gates):
            ax = axes[r][c]
            b = w[order[gate] * n : (order[gate] + 1) * n]
            lim = float(np.abs(b).max()) or 1.0
            ax.imshow(b, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[gate])
            if c == 0:
                ax.set_ylabel(INIT_LABELS.get(scheme, scheme))
            ax.set_xlabel(f"±{lim:.3g}", loc="right", fontsize="small", labelpad=2)
    return fig
