"""Chapter 8's and chapter 10's protocol-v2 figures, and chapter 10's stability maps, are readable at
the page's width.

The browser test (tests/test_book.py, ``test_figures_are_readable_at_page_width``) checks figures on
the smoke build, which reads archive v1 until protocol v2 is complete: chapter 8's v2 figures
(``table2_null``, ``fig5_control``) and chapter 10's divergence screen are not on its pages, and its
stability maps have two scales per panel, not v2's four. Here each figure is drawn on made-up values
of protocol v2's shapes in the book's style and held to the browser test's rule by its arithmetic:
the page shows an image of natural width ``w`` px at ``r = min(672, w) / w`` (the content column of
a 1280-px window is 672 px), so text of ``s`` pt drawn at ``dpi`` is ``s * dpi / 72 * r`` px, which
must be at least ``MIN_TEXT_PX``, and ``min(672, w) / columns`` at least ``MIN_PANEL_PX``. The
figures' fonts, as the style says, are none smaller than its "small", and the tick labels of a
panel do not overlap.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_book import MIN_PANEL_PX, MIN_TEXT_PX, _fig10_1, _layout, _style  # noqa: E402  (the browser test's rule and Fig. 10.1)

from nnrnn import divergence, paper, replicate  # noqa: E402
from nnrnn.plotting import divergence as dplot  # noqa: E402
from nnrnn.plotting import use_style  # noqa: E402
from nnrnn.plotting import weights as wplot  # noqa: E402

#: the book's content column in a 1280-px window (tests/test_book.py, WINDOW_PX)
COLUMN_PX = 672.0
INITS = ("identity", "orthogonal", "chain", "fb_chain")
TASKS = ("copy", "addition", "psmnist")


def _maps(protocol: str) -> dict[str, pd.DataFrame]:
    """Made-up stability maps of ``protocol``'s pilot grid: every (init, scale, lr) of each task, one row
    per setting (nnrnn.divergence.setting_outcomes), every outcome and some disagreeing seeds."""
    g, scales = np.random.default_rng(0), replicate.PROTOCOLS[protocol].scales
    maps = {}
    for t in TASKS:
        rows = [{"init": i, "scale": s, "lr": lr, "outcome": divergence.OUTCOMES[k % 4],
                 "diverged_at": float(g.integers(1, 4000)) if k % 4 == 0 else np.nan, "seeds": 2, "agree": k % 7 != 3}
                for i in INITS for s in scales[i] for k, lr in enumerate(paper.PAPER_LRS, start=len(scales[i]))]
        maps[t] = pd.DataFrame(rows)
    return maps


def _screens() -> dict[str, pd.DataFrame]:
    """Made-up divergence screens: two rounds of three candidates per initializer, two seeds each."""
    rows = []
    for t in TASKS:
        for i in INITS:
            for k, lr in enumerate(paper.PAPER_LRS[:6]):
                for seed in (101, 102):
                    div = k < 3 and seed == 101
                    rows.append({"task": t, "init": i, "scale": replicate.PROTOCOLS["v2"].scales[i][k % 4], "lr": lr,
                                 "seed": seed, "outcome": "diverged" if div else "at baseline",
                                 "diverged_at": 5000.0 if div else np.nan, "n_updates": 5000 if div else 11250,
                                 "pilot_updates": 3750, "selected": k == 3})
    s = pd.DataFrame(rows)
    return {t: g.drop(columns="task").reset_index(drop=True) for t, g in s.groupby("task", sort=False)}


def _traj():
    rows = [{"task": t, "init": i, "hash": f"{i}{seed}", "update": u, "rho": 1.0, "henrici": 0.5,
             "outcome": "diverged" if seed == 1 else "success"}
            for t in TASKS for i in INITS for seed in range(1, 7) for u in range(0, 20001, 2000)]
    traj = pd.DataFrame(rows)
    return {t: g.drop(columns="task") for t, g in traj.groupby("task", sort=False)}


def _survival():
    km = pd.DataFrame({"time": [1000.0, 5000.0, 20000.0], "survival": [0.83, 0.67, 0.67], "censored": [0, 0, 4], "events": [1, 1, 0]})
    return {t: {i: km for i in INITS} for t in TASKS}


def _spectra():
    re = im = np.linspace(-1.6, 1.6, 21)
    w = 1.05 * np.eye(12, k=-1)
    snaps = [(f"seed {s}, update {u:,}", w) for s, u in ((1, 100), (1, 6000), (1, 12000))]
    snaps.append(("seed 2 (survived), update 12,000", w))
    sigma = [np.abs(re[None, :] + 1j * im[:, None]) ** 3 * 10.0 ** -k for k in range(4)]
    return dplot.spectra(snaps, re, im, sigma)


def _table2_null():
    g = np.random.default_rng(0)
    rows = [{"task": t, "init": i, "seed": s, "trained": 1.0 + g.random(), "null_median": 1.0 + g.random(), "success": s % 3 != 0}
            for t in ("addition", "psmnist") for i in ("identity", "orthogonal") for s in range(1, 7)]
    groups = [(t, i) for t in ("addition", "psmnist") for i in ("identity", "orthogonal")]
    return wplot.table2_null(pd.DataFrame(rows), tasks=["addition", "psmnist"], inits=("identity", "orthogonal"),
                             diverged={g_: 1 for g_ in groups}, paper={k: v for k, v in paper.PAPER_TABLE2.items() if k in groups})


def _fig5_control():
    lags = [k for k in range(-10, 11) if k]
    groups = [(t, i) for t in ("addition", "psmnist") for i in ("identity", "orthogonal")]
    agg = pd.DataFrame([{"task": t, "init": i, "state": "trained", "ordering": o, "lag": k, "mean": 0.01 * np.sin(k),
                         "sem": 0.001, "n": 6} for t, i in groups for o in ("pulse", "no pulse") for k in lags])
    return wplot.fig5_control(agg, tasks=["addition", "psmnist"], inits=("identity", "orthogonal"), max_lag=10,
                              peaks={g_: 2.0 for g_ in groups},
                              notes={g_: "peak i − j = 2; mean excess +0.0123" for g_ in groups})


#: name -> (drawing on made-up values, labelled panels: held to MIN_PANEL_PX per column)
FIGURES = {
    "10.1 stability maps, protocol v2": lambda: dplot.stability_maps(_maps("v2"), INITS),
    "10.1 stability maps, archive v1": lambda: dplot.stability_maps(_maps("v1"), INITS),
    "10.1 stability maps, as the browser test draws them": _fig10_1,
    "10 divergence screen (v2 only)": lambda: dplot.screen_runs(_screens(), INITS),
    "10 rho trajectories": lambda: dplot.trajectories(_traj(), INITS, "rho", "spectral radius ρ(W)"),
    "10 survival curves": lambda: dplot.survival_curves(_survival(), INITS),
    "10 pseudospectra": _spectra,
    "8 table 2 against its null (v2)": _table2_null,
    "8 fig. 5 against its control (v2)": _fig5_control,
}


def _widths_px(draw, dpi: float) -> tuple[float, float, float]:
    """(the figure's width, the width of the image the notebooks' inline backend makes of it, the padding
    of that image) in px at ``dpi``: the image is cut to what is drawn (``bbox_inches="tight"``) plus
    ``savefig.pad_inches`` each side, so a legend that sticks out of the figure widens it, and the page
    shrinks all of it."""
    with matplotlib.rc_context():
        use_style()
        fig = draw()
        try:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
            buf.seek(0)
            pad = 2 * float(matplotlib.rcParams["savefig.pad_inches"]) * dpi
            return fig.get_figwidth() * dpi, float(mpimg.imread(buf).shape[1]), pad
        finally:
            plt.close(fig)


def _overlapping_ticks(draw) -> list[str]:
    """Pairs of tick labels of one axis of one panel whose boxes overlap, as drawn."""
    with matplotlib.rc_context():
        use_style()
        fig = draw()
        try:
            renderer = fig.canvas.get_renderer()
            fig.canvas.draw()
            found = []
            for k, ax in enumerate(fig.axes):
                for axis in (ax.xaxis, ax.yaxis):
                    labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text().strip()]
                    boxes = [t.get_window_extent(renderer) for t in labels]
                    found += [f"panel {k}: {labels[a].get_text()!r} and {labels[b].get_text()!r}"
                              for a in range(len(boxes)) for b in range(a + 1, len(boxes)) if boxes[a].overlaps(boxes[b])]
            return found
        finally:
            plt.close(fig)


@pytest.mark.parametrize("name", FIGURES)
def test_the_figure_is_readable_at_page_width(name):
    draw = FIGURES[name]
    dpi, small_pt = _style()
    columns, smallest_pt = _layout(draw)
    figure_px, image_px, pad_px = _widths_px(draw, dpi)
    # nothing sticks out of the figure: the image is whole pixels (a bounding box rounded out), hence 1 px
    assert image_px - pad_px <= figure_px + 1, (f"{name}: drawn {image_px - pad_px:.0f} px wide, more than its "
                                                f"figure's {figure_px:.0f} px")
    natural = max(figure_px, image_px)  # the image the page shows, padding included
    shown = min(COLUMN_PX, natural)
    text_px = smallest_pt * dpi / 72 * shown / natural
    assert text_px >= MIN_TEXT_PX, (f"{name}: {natural:.0f} px shown at {shown:.0f} px, its smallest text "
                                    f"({smallest_pt:.1f} pt) is {text_px:.1f} px < {MIN_TEXT_PX:g} px")
    assert shown / columns >= MIN_PANEL_PX, f"{name}: {columns} panel columns in {shown:.0f} px, {shown / columns:.0f} px each"
    # the style's smallest size, both computed from the same rcParams: equal where a text uses "small"
    assert smallest_pt >= small_pt, f"{name}: text of {smallest_pt:.2f} pt, smaller than the style's 'small' ({small_pt:.2f} pt)"
    overlaps = _overlapping_ticks(draw)
    assert not overlaps, f"{name}: tick labels overlap: {overlaps}"


def test_overlapping_tick_labels_are_found():
    """The check above can fail: eleven learning rates unrotated across a 2-inch panel collide."""
    def crowded():
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_xticks(range(11), [f"{lr:.0e}" for lr in paper.PAPER_LRS])
        return fig

    assert _overlapping_ticks(crowded)


def test_the_maps_have_a_row_per_initializer_and_a_column_per_task():
    """Fig. 10.1 transposed to fit three columns: each cell still lands in its (task, initializer) panel at its
    (scale, learning rate), and the outer panels name every learning rate and every scale."""
    maps = _maps("v2")
    with matplotlib.rc_context():
        use_style()
        fig = dplot.stability_maps(maps, INITS)
        try:
            panels = np.array(fig.axes[: len(INITS) * len(TASKS)]).reshape(len(INITS), len(TASKS))
            assert [ax.get_title() for ax in panels[0]] == [dplot.TASK_LABELS[t] for t in TASKS]
            assert [ax.get_ylabel().split("\n")[0] for ax in panels[:, 0]] == [dplot.INIT_LABELS[i] for i in INITS]
            lrs = [f"{lr:.0e}".replace("e-0", "e-") for lr in sorted(paper.PAPER_LRS)]
            for r, init in enumerate(INITS):
                scales = sorted(replicate.PROTOCOLS["v2"].scales[init])
                for c, task in enumerate(TASKS):
                    ax = panels[r, c]
                    xs, ys = [t.label1 for t in ax.xaxis.get_major_ticks()], [t.label1 for t in ax.yaxis.get_major_ticks()]
                    assert [t.get_text() for t in xs] == lrs and [t.get_text() for t in ys] == [f"{s:g}" for s in scales]
                    assert {t.get_visible() for t in xs} == {r == len(INITS) - 1}  # shown in the bottom row only
                    assert {t.get_visible() for t in ys} == {c == 0}  # and in the left column only
                    m = maps[task][maps[task]["init"] == init]
                    outcome, diverged = ax.images[0].get_array(), ax.images[1].get_array()
                    for row in m.itertuples(index=False):
                        i, j = scales.index(row.scale), sorted(paper.PAPER_LRS).index(row.lr)
                        if row.outcome == "diverged":
                            assert diverged[i, j] == max(row.diverged_at, 1.0) and np.ma.is_masked(outcome[i, j])
                        else:
                            assert outcome[i, j] == divergence.OUTCOMES.index(row.outcome) and np.ma.is_masked(diverged[i, j])
        finally:
            plt.close(fig)


def test_the_pseudospectra_labels_read_against_white():
    """The contour labels of chapter 10's pseudospectra are black: coloured by viridis, the ε = 1e-1 label was
    pale yellow on white (contrast about 1.1:1)."""
    from matplotlib.colors import to_rgb
    from matplotlib.text import Text

    with matplotlib.rc_context():
        use_style()
        fig = _spectra()
        try:
            labels = [t for t in fig.findobj(Text) if t.get_text().startswith("ε=")]
            assert labels, "no contour label drawn"
            assert {to_rgb(t.get_color()) for t in labels} == {(0.0, 0.0, 0.0)}
        finally:
            plt.close(fig)
