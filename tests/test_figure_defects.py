"""The figure defects of issue 23, item 5, each on made-up data that shows it: a spike that stretched
Fig. 3a's log axis, fractional run ticks on Fig. 3d, the pilot's garbled x ticks, a legend on a
curve (chapter 7), an empty Fig. 5 panel drawn as empty axes, and glued figures without alt text.
"""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from nnrnn import book  # noqa: E402
from nnrnn.plotting import benchmarks as bplot  # noqa: E402
from nnrnn.plotting import lm as lmplot  # noqa: E402
from nnrnn.plotting import weights as wplot  # noqa: E402


def _curves(spike: float) -> pd.DataFrame:
    """Two curves of 150 epochs, one with a single spike (under 1 % of the points, as in the archive's copy runs)."""
    rows = []
    for init in ("identity", "chain"):
        for e in range(150):
            rows.append({"init": init, "epoch": e, "mean": 0.04 - 0.0001 * e + (spike if init == "identity" and e == 10 else 0),
                         "sem": 0.001})
    return pd.DataFrame(rows)


def test_one_spike_does_not_stretch_fig3a_and_the_panel_says_the_axis_is_cut():
    fig = bplot.fig3_curves(_curves(400.0), baseline=0.0416)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 1.0  # the curves (~0.03-0.04) fill the panel, not 4 decades below a spike
    assert any("axis cut" in t.get_text() and "400" in t.get_text() for t in ax.texts)
    plt.close(fig)
    fig = bplot.fig3_curves(_curves(0.0), baseline=0.0416)
    assert not fig.axes[0].texts  # nothing cut, nothing said
    plt.close(fig)


def test_fig3d_counts_runs_in_whole_numbers():
    counts = pd.DataFrame({"n_success": [0, 0, 0, 0], "n_runs": [3, 3, 3, 3]},
                          index=pd.Index(["identity", "orthogonal", "chain", "fb_chain"], name="init"))
    fig = bplot.fig3_success(counts, paper={"chain": (46, 462)})
    ticks = [t for t in fig.axes[0].get_yticks() if fig.axes[0].get_ylim()[0] <= t <= fig.axes[0].get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_pilot_ticks_do_not_overlap_and_divergence_crosses_stay_in_the_figure():
    lrs = np.geomspace(3e-6, 9e-4, 9)
    rows = [{"init": init, "scale": s, "lr": lr, "score": 0.1, "diverged": init == "fb_chain" and lr in (lrs[0], lrs[-1])}
            for init in ("identity", "orthogonal", "chain", "fb_chain") for s in (0.02, 0.04) for lr in lrs]
    fig = bplot.pilot_scores(pd.DataFrame(rows), baseline=0.0416)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), ax.get_title()
        lo, hi = ax.get_xlim()
        assert lo < lrs[0] and hi > lrs[-1]  # margins: a cross at the first or last rate is not cut in half
    plt.close(fig)


def test_a_one_corpus_validation_figure_puts_its_legend_above_the_panel():
    h = pd.DataFrame([{"corpus": "ptb-char", "init": i, "seed": s, "point": p, "epoch": p, "val_bits": 2.0 - 0.1 * p}
                      for i in ("identity", "chain") for s in (1, 2) for p in range(4)])
    fig = lmplot.fig4_validation_curves(h)
    assert fig.axes[0].get_legend() is None and fig.legends, "a legend inside the panel covers a curve"
    plt.close(fig)


def test_an_empty_fig5_panel_says_why_instead_of_showing_empty_axes():
    agg = pd.DataFrame([{"task": "addition", "init": "orthogonal", "state": st, "lag": lag, "mean": 0.01, "sem": 0.001, "n": 3}
                        for st in ("trained", "untrained") for lag in range(-3, 4)])
    fig = wplot.fig5_diagonal_means(agg, tasks=["addition"], inits=["identity", "orthogonal"], max_lag=3)
    empty, full = fig.axes[0], fig.axes[1]
    assert not empty.axison and any("no identity" in t.get_text().lower() for t in empty.texts)
    assert full.axison
    plt.close(fig)


_GLUE_FIGURE = re.compile(r"```\{glue:figure\}[^\n]*\n((?::[^\n]*\n)*)")


@pytest.mark.parametrize("nb", book.toc_notebooks(), ids=lambda p: p.stem)
def test_every_glued_figure_has_alt_text(nb):
    """The file path was the alt text of 43 of 53 figures: each {glue:figure} states an :alt:."""
    cells = json.loads(nb.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for options in _GLUE_FIGURE.findall(text):
        alt = re.search(r"^:alt: (.+)$", options, re.M)
        assert alt and len(alt.group(1)) > 20 and "{" not in alt.group(1), f"{nb.name}: {options!r}"
