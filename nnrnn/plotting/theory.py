r"""Figures of part A (theory) and part B (initializers): one function per figure.

Every function takes arrays already computed (by :mod:`nnrnn.memory`, :mod:`nnrnn.decoding`,
:mod:`nnrnn.analysis` or loaded with :func:`nnrnn.store.run_or_load`), draws them, and returns
a :class:`matplotlib.figure.Figure` with labelled axes and units; nothing is computed here
beyond trivial reductions (means, cumulative sums), and nothing is shown or saved.

Curves are keyed by initializer name (``"identity"``, ``"orthogonal"``, ``"chain"``,
``"fb_chain"``), which selects the book-wide colour (:data:`nnrnn.plotting.INIT_COLORS`);
``labels`` overrides the legend text (e.g. to state α, β or λ).

Orientation: matrices are drawn as stored, row ``i`` = receiving unit, column ``j`` = sending
unit (``W[i, j]`` is the weight from unit j to unit i), so the project's chain appears on the
sub-diagonal and unit 0 is the source.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import INIT_COLORS, INIT_LABELS, PAGE_WIDTH, band, mean_sem

__all__ = [
    "fig1a_matrices",
    "fig1b_memory_curves",
    "fig1c_signal_norms",
    "fig_total_memory_vs_n",
    "fig2_decoding",
    "fig3_matrices",
    "fig3_eigenvalues",
    "fig3_henrici_vs_n",
    "fig3_pulse_response",
    "fig3_lstm_gates",
]

_SETTING_TITLES = {
    "linear": "(a) linear, noiseless",
    "noisy": "(b) linear, noise σ = {noise:g}",
    "elu": "(c) elu, noiseless",
}


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _color(name: str, i: int = 0):
    return INIT_COLORS.get(name, f"C{i % 10}")


def _label(name: str, labels: Mapping[str, str] | None) -> str:
    if labels and name in labels:
        return labels[name]
    return INIT_LABELS.get(name, name)


def _line_style(name: str) -> str:
    # normal networks share one memory curve; dash the identity so both stay visible
    return "--" if name == "identity" else "-"


def _z(name: str) -> float:
    return 3.0 if name == "identity" else 2.0


def _grid(n: int, ncols: int, *, panel: tuple[float, float], **kw):
    """A figure of ``n`` panels in rows of ``ncols`` (the spare cells hidden), about ``panel``
    inches each but no wider than the page (:data:`PAGE_WIDTH`); returns the figure and the
    ``n`` panels' axes."""
    if ncols < 1:
        raise ValueError(f"ncols must be a positive number of panel columns, got {ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    width = min(PAGE_WIDTH, panel[0] * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel[1] * nrows), layout="constrained", squeeze=False, **kw)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _heatmap(ax, w: np.ndarray, title: str, source: int | None, cmap: str, vmax: float | None = None):
    w = _np(w)
    vmax = vmax if vmax is not None else float(np.abs(w).max()) or 1.0
    im = ax.imshow(w, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
    n, d = w.shape
    ax.set_title(title)
    ax.set_xlabel("from unit j" if n == d else "from input channel m")
    ax.set_ylabel("to unit i")
    ticks = sorted({0, n - 1} | ({n // 2} if n > 4 else set()))
    ax.set_xticks(sorted({0, d - 1} | ({d // 2} if d > 4 else set())))
    ax.set_yticks(ticks)
    if source is not None:
        # the scalar input enters unit `source`: a marker in the left margin and a tick label
        ax.plot(-0.5, source, marker=">", ms=9, color="k", clip_on=False, zorder=5)
        ax.set_yticks(sorted(set(ticks) | {source}))
        ax.set_yticklabels([f"source {t}" if t == source else str(t) for t in ax.get_yticks()])
    return im


# ----------------------------------------------------------------------------- Fig. 1
def fig1a_matrices(
    matrices: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    source: Mapping[str, int] | None = None,
    cmap: str = "RdBu_r",
    ncols: int | None = None,
) -> Figure:
    """Fig. 1a: heatmaps of the recurrent matrices, with the source unit marked.

    Args:
        matrices: name -> square matrix (e.g. ``{"identity": λI, "orthogonal": λQ, "chain": ...}``).
        labels: panel titles by name. Default: :data:`INIT_LABELS`.
        source: name -> unit where the input enters (marked by an arrow); names absent here
            (e.g. the normal networks, which take a dense input vector) get no mark.
        cmap: a diverging colour map; the colour scale is shared and symmetric about 0.
        ncols: panels per row. Default: 2 for four matrices (a 2 x 2 grid), else up to 3.

    Examples:
        >>> from nnrnn.init import chain_matrix, identity_matrix
        >>> fig = fig1a_matrices({"identity": identity_matrix(5, 0.9), "chain": chain_matrix(5)},
        ...                      source={"chain": 0})
        >>> len(fig.axes)          # two panels and a colour bar
        3
    """
    if not matrices:
        raise ValueError("matrices must contain at least one matrix, got an empty mapping")
    names = list(matrices)
    vmax = max(float(np.abs(_np(m)).max()) for m in matrices.values()) or 1.0
    if ncols is None:
        ncols = 2 if len(names) == 4 else 3
    fig, axes = _grid(len(names), ncols, panel=(3.4, 3.1))
    im = None
    for ax, name in zip(axes, names):
        im = _heatmap(ax, matrices[name], _label(name, labels), (source or {}).get(name), cmap, vmax)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="weight $W_{ij}$")
    return fig


def fig1b_memory_curves(
    curves: Mapping[str, object],
    *,
    reference: Mapping[str, object] | None = None,
    labels: Mapping[str, str] | None = None,
    n: int | None = None,
) -> Figure:
    r"""Fig. 1b: the Fisher memory curve :math:`J(k)` and its running sum, one line per network.

    Left: :math:`J(k)` (unit input vector, unit noise). Right: :math:`\sum_{j \le k} J(j)`, which
    converges to :math:`J_\mathrm{tot}`: 1 for every normal network, up to N for a chain.

    Args:
        curves: name -> :math:`J(k)` for ``k = 0, 1, ...``.
        reference: name -> closed-form curve, drawn as black dotted lines.
        labels: legend text by name.
        n: network size; if given, a vertical line marks ``k = N``.

    Examples:
        >>> fig = fig1b_memory_curves({"chain": [1.0, 0.5, 0.0], "orthogonal": [0.19, 0.15, 0.12]}, n=2)
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['lag k (steps)', 'lag k (steps)']
    """
    fig, (ax, axc) = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 3.8), layout="constrained")
    for i, (name, j) in enumerate(curves.items()):
        j = _np(j)
        k = np.arange(len(j))
        kw = dict(color=_color(name, i), ls=_line_style(name), lw=1.8, label=_label(name, labels), zorder=_z(name))
        ax.plot(k, j, **kw)
        axc.plot(k, np.cumsum(j), **kw)
    for i, (name, j) in enumerate((reference or {}).items()):
        j = _np(j)
        k = np.arange(len(j))
        lab = "closed form" if i == 0 else None
        ax.plot(k, j, color="k", ls=":", lw=1.0, label=lab)
        axc.plot(k, np.cumsum(j), color="k", ls=":", lw=1.0)
    axc.axhline(1.0, color="0.5", lw=0.8, ls="--")
    axc.annotate("every normal W: $J_{tot} = 1$", xy=(0.98, 1.0), xycoords=("axes fraction", "data"),
                 ha="right", va="bottom", fontsize="small", color="0.35")
    for a in (ax, axc):
        a.set_xlabel("lag k (steps)")
        if n is not None:
            a.axvline(n, color="0.6", lw=0.8, ls=":")
    if n is not None:
        ax.annotate("k = N ", xy=(n, 0.45), xycoords=("data", "axes fraction"), ha="right", va="center",
                    fontsize="small", color="0.35")
    ax.set_ylabel("Fisher memory $J(k)$ (per unit noise)")
    axc.set_ylabel(r"cumulative memory $\Sigma_{j\leq k}\,J(j)$")
    ax.set_ylim(0, None)
    axc.set_ylim(0, None)
    ax.legend(loc="upper right")
    ax.set_title("memory of the input k steps back")
    axc.set_title(r"running total $\rightarrow J_{tot}$")
    return fig


def fig1c_signal_norms(
    norms: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    n: int | None = None,
    logy: bool = True,
) -> Figure:
    r"""Fig. 1c: transient amplification, the signal magnitude :math:`\lVert W^k v\rVert` against lag.

    On a log axis exact zeros (a chain's signal for ``k >= N``) cannot be drawn; the line
    stops there and a vertical line marks ``k = N``.

    Examples:
        >>> fig = fig1c_signal_norms({"chain": [1.0, 1.05, 0.0]}, n=2)
        >>> fig.axes[0].get_ylabel()
        'signal magnitude $\\|W^k v\\|$ (input units)'
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for i, (name, x) in enumerate(norms.items()):
        x = _np(x)
        k = np.arange(len(x))
        y = np.where(x > 0, x, np.nan) if logy else x
        ax.plot(k, y, color=_color(name, i), ls=_line_style(name), lw=1.8, label=_label(name, labels), zorder=_z(name))
    if n is not None:
        ax.axvline(n, color="0.6", lw=0.8, ls=":")
        ax.annotate("k = N: the chain's\nsignal is exactly 0", xy=(n, 0.97), xycoords=("data", "axes fraction"),
                    ha="left", va="top", fontsize="small", color="0.35", xytext=(4, 0), textcoords="offset points")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("lag k (steps)")
    ax.set_ylabel(r"signal magnitude $\|W^k v\|$ (input units)")
    ax.legend(loc="lower left")
    return fig


def fig_total_memory_vs_n(
    ns: Sequence[int],
    jtot: Mapping[str, object],
    *,
    closed_form: Mapping[str, object] | None = None,
    labels: Mapping[str, str] | None = None,
    bound: bool = True,
) -> Figure:
    r"""Total Fisher memory :math:`J_\mathrm{tot}` against network size N (log-log).

    Computed values are markers joined by lines; closed forms (``closed_form``) are black
    dotted lines; the bound :math:`J_\mathrm{tot} \le N` is a grey dashed line.

    Examples:
        >>> fig = fig_total_memory_vs_n([10, 100], {"orthogonal": [1.0, 1.0]})
        >>> fig.axes[0].get_xscale()
        'log'
    """
    ns = _np(ns)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    if bound:
        ax.plot(ns, ns, color="0.5", ls="--", lw=1.0, label="bound $J_{tot} = N$")
    for i, (name, y) in enumerate(jtot.items()):
        ax.plot(ns, _np(y), marker="o", ms=4, color=_color(name, i), ls=_line_style(name), lw=1.5,
                label=_label(name, labels), zorder=_z(name))
    for i, (name, y) in enumerate((closed_form or {}).items()):
        ax.plot(ns, _np(y), color="k", ls=":", lw=1.0, label="closed form" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("network size N (units)")
    ax.set_ylabel(r"total memory $J_{tot} = \Sigma_k\,J(k)$")
    ax.legend(loc="upper left", fontsize="small")
    return fig


# ----------------------------------------------------------------------------- Fig. 2
def fig2_decoding(
    result: Mapping[str, object],
    *,
    networks: Sequence[str] = ("chain", "orthogonal", "identity"),
    settings: Sequence[str] = ("linear", "noisy", "elu"),
    labels: Mapping[str, str] | None = None,
    theory: bool = True,
    noise: float = 1.0,
) -> Figure:
    r"""Fig. 2a–c: held-out :math:`R^2` of linear readouts of :math:`s_{t-k}` against lag k.

    ``result`` is the output of :func:`nnrnn.decoding.run_fig2` (``"lags"``,
    ``"r2_<setting>_<network>"`` of shape ``(repeats, T)`` and optional
    ``"theory_<setting>_<network>"``). Lines are means over repeats with a ±s.e.m. band; the
    population values (the best linear readout with infinite data) are black dotted lines.
    ``noise`` is the noise standard deviation of the noisy setting, for its panel title.
    Panels are in rows of two (one for a single setting), all on one y axis; the legend takes the
    spare cell of the grid, or goes below it.

    Examples:
        >>> res = {"lags": np.arange(3), "r2_linear_chain": np.ones((2, 3))}
        >>> fig = fig2_decoding(res, networks=("chain",), settings=("linear",))
        >>> fig.axes[0].get_ylabel()
        'held-out $R^2$ of $s_{t-k}$ from $h_t$'
    """
    lags = _np(result["lags"])
    ncols = 1 if len(settings) == 1 else 2
    nrows = -(-len(settings) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH if ncols > 1 else 4.4, 3.3 * nrows + 0.2),
                             sharey=True, layout="constrained", squeeze=False)
    axes, spare = grid.ravel()[: len(settings)], grid.ravel()[len(settings):]
    handles: dict[str, object] = {}
    theory_handle = None
    lowest = -0.05
    for ax, setting in zip(axes, settings):
        for i, name in enumerate(networks):
            key = f"r2_{setting}_{name}"
            if key not in result:
                continue
            m, s = mean_sem(_np(result[key]).reshape(-1, len(lags)))
            lowest = min(lowest, float(np.nanmin(m)) - 0.02)
            line = band(ax, lags, m, s, label=_label(name, labels), color=_color(name, i), lw=1.6,
                        ls=_line_style(name), zorder=_z(name))
            handles.setdefault(_label(name, labels), line)
            tkey = f"theory_{setting}_{name}"
            if theory and tkey in result:
                t = _np(result[tkey]).reshape(-1, len(lags)).mean(0)
                (tl,) = ax.plot(lags, t, color="k", ls=":", lw=1.1, zorder=4)
                theory_handle = tl
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.set_title(_SETTING_TITLES.get(setting, setting).format(noise=noise))
        ax.set_xlabel("lag k (steps)")
    axes[0].set_ylim(max(lowest, -0.5), 1.05)
    for row in grid:
        row[0].set_ylabel(r"held-out $R^2$ of $s_{t-k}$ from $h_t$")
    if theory_handle is not None:
        handles["best linear readout with\ninfinite data (theory)"] = theory_handle
    for ax in spare[1:]:
        ax.set_visible(False)
    if len(spare):
        spare[0].axis("off")
        spare[0].legend(list(handles.values()), list(handles), loc="center", fontsize="small")
    else:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(2, len(handles)), fontsize="small")
    return fig


# ----------------------------------------------------------------------------- chapter 03
def fig3_matrices(
    matrices: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    ncols: int = 2,
    cmap: str = "RdBu_r",
) -> Figure:
    """The initializers in rows of ``ncols``, each panel with its own symmetric colour scale and colour bar.

    Examples:
        >>> from nnrnn.init import chain_matrix, ramp_matrix
        >>> fig = fig3_matrices({"chain": chain_matrix(6, 1.02), "ramp": ramp_matrix(6)})
        >>> [ax.get_title() for ax in fig.axes[:2]]
        ['chain', 'ramp']
    """
    if not matrices:
        raise ValueError("matrices must contain at least one matrix, got an empty mapping")
    names = list(matrices)
    fig, axes = _grid(len(names), ncols, panel=(4.0, 2.9))
    panels = []
    for ax, name in zip(axes, names):
        im = _heatmap(ax, matrices[name], _label(name, labels), None, cmap)
        panels.append((ax, im))
    for ax, im in panels:
        fig.colorbar(im, ax=ax, shrink=0.8, label="$W_{ij}$")
    return fig


def fig3_eigenvalues(
    eigs: Mapping[str, object],
    *,
    radius: float | None = None,
    markers: Sequence[str] = ("x", "o", "."),
) -> Figure:
    r"""Eigenvalues in the complex plane, one marker set per method (the eigenvalue pitfall).

    Args:
        eigs: label -> complex eigenvalues (e.g. ``{"numpy.linalg.eigvals": ..., "balanced":
            ..., "closed form": ...}``).
        radius: if given, a dashed circle of this radius (e.g. the exact spectral radius).

    Examples:
        >>> fig = fig3_eigenvalues({"closed form": [0.1, -0.1]}, radius=0.1)
        >>> fig.axes[0].get_xlabel()
        'Re $\\lambda$'
    """
    fig, ax = plt.subplots(figsize=(5.0, 5.4), layout="constrained")
    sizes = {"x": 30, "o": 36, ".": 20}
    for i, (label, lam) in enumerate(eigs.items()):
        lam = np.asarray(lam, dtype=complex).ravel()
        m = markers[i % len(markers)]
        face = "none" if m == "o" else None
        ax.scatter(lam.real, lam.imag, s=sizes.get(m, 30), marker=m, label=label, facecolors=face,
                   edgecolors=f"C{i}" if m == "o" else None, color=None if m == "o" else f"C{i}", zorder=2 + i)
    if radius is not None:
        t = np.linspace(0, 2 * np.pi, 400)
        ax.plot(radius * np.cos(t), radius * np.sin(t), color="0.4", ls="--", lw=0.9,
                label=f"exact spectral radius {radius:.3f}")
    lim = 1.15 * max([float(np.abs(np.asarray(v, dtype=complex)).max()) for v in eigs.values()] + [radius or 0.0])
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.axhline(0, color="0.8", lw=0.6, zorder=0)
    ax.axvline(0, color="0.8", lw=0.6, zorder=0)
    fig.legend(loc="outside lower center", ncol=2, fontsize="small")
    return fig


def fig3_henrici_vs_n(
    ns: Sequence[int],
    values: Mapping[str, object],
    *,
    closed_form: Mapping[str, object] | None = None,
) -> Figure:
    r"""Henrici's departure from normality :math:`d(W)` against N for several ways of computing it.

    Args:
        ns: network sizes.
        values: label -> computed :math:`d(W)` (markers and lines, colours in order).
        closed_form: label -> exact values (black dotted lines, one per label).

    Examples:
        >>> fig = fig3_henrici_vs_n([10, 20], {"balanced": [3.0, 4.4]}, closed_form={"exact": [3.0, 4.4]})
        >>> fig.axes[0].get_ylabel()
        'Henrici departure $d(W)$'
    """
    ns = _np(ns)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    mk = ("o", "s", "^", "D", "v")
    for i, (label, y) in enumerate(values.items()):
        ax.plot(ns, _np(y), marker=mk[i % len(mk)], ms=5, lw=1.3, color=f"C{i}", label=label, mfc="none")
    for i, (label, y) in enumerate((closed_form or {}).items()):
        ax.plot(ns, _np(y), color="k", ls=[":", "--", "-."][i % 3], lw=1.0, label=label)
    ax.set_xlabel("network size N (units)")
    ax.set_ylabel("Henrici departure $d(W)$")
    ax.legend(fontsize="small")
    return fig


def fig3_pulse_response(
    responses: Mapping[str, object],
    *,
    mark_peaks: bool = True,
    cmap: str = "viridis",
) -> Figure:
    """Responses to one input pulse into unit 0: heatmaps of activity (step × unit).

    Args:
        responses: title -> array of shape ``(steps + 1, N)`` from
            :func:`nnrnn.analysis.pulse_response`.
        mark_peaks: circle the peak step of every tenth unit (a chain's peaks lie on the
            diagonal: unit k peaks at step k).

    Examples:
        >>> fig = fig3_pulse_response({"chain": np.eye(4)})
        >>> fig.axes[0].get_xlabel()
        'unit (0 = source)'
    """
    names = list(responses)
    fig, axes = _grid(len(names), 2, panel=(4.4, 3.8))
    for ax, name in zip(axes, names):
        r = _np(responses[name])
        im = ax.imshow(r, aspect="auto", origin="upper", cmap=cmap, interpolation="nearest")
        if mark_peaks:
            peaks = r.argmax(axis=0)
            units = np.arange(0, r.shape[1], max(1, r.shape[1] // 10))
            units = units[np.abs(r[:, units]).max(axis=0) > 0]
            ax.scatter(units, peaks[units], s=28, facecolors="none", edgecolors="r", lw=1.2,
                       label="peak step", zorder=3)
            ax.legend(loc="lower left", fontsize="small", frameon=True)
        ax.set_title(name)
        ax.set_xlabel("unit (0 = source)")
        ax.set_ylabel("step t after the pulse")
        fig.colorbar(im, ax=ax, shrink=0.85, label="activity $h_t$")
    return fig


def fig3_lstm_gates(
    weight_hh,
    *,
    gates: Sequence[str] = ("i", "f", "g", "o"),
    n_show: int | None = None,
    cmap: str = "RdBu_r",
) -> Figure:
    """The four recurrent blocks of a stacked LSTM ``weight_hh`` (torch gate order i, f, g, o), 2 x 2.

    Args:
        weight_hh: shape ``(4N, N)``.
        n_show: draw only the leading ``n_show × n_show`` corner of each block.

    Examples:
        >>> from nnrnn.init import lstm_
        >>> import torch
        >>> fig = fig3_lstm_gates(lstm_(torch.empty(24, 6), "mixed"))
        >>> [ax.get_title() for ax in fig.axes[:4]]
        ['input gate i', 'forget gate f', 'update (cell) gate g', 'output gate o']
    """
    w = _np(weight_hh)
    if w.ndim != 2 or w.shape[0] != 4 * w.shape[1]:
        raise ValueError(f"weight_hh must have shape (4N, N), got {w.shape}")
    n = w.shape[1]
    k = n if n_show is None else min(int(n_show), n)
    titles = {"i": "input gate i", "f": "forget gate f", "g": "update (cell) gate g", "o": "output gate o"}
    fig, axes = _grid(min(len(gates), 4), 2, panel=(4.0, 3.2))
    for idx, (ax, gate) in enumerate(zip(axes, gates)):
        block = w[idx * n : idx * n + k, :k]
        im = _heatmap(ax, block, titles.get(gate, gate), None, cmap)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig
