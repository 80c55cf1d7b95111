"""Plotting: one house style and one function per paper figure.

Nothing here runs at import: call :func:`use_style` explicitly. Figure functions live in
submodules by part of the book (``theory``, ``benchmarks``, ``weights``, ``lm``) and are
imported lazily from here, e.g. ``nnrnn.plotting.theory.fig1b_memory_curves``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["use_style", "register_bundled_fonts", "PAGE_WIDTH", "INIT_COLORS", "INIT_LABELS", "mean_sem", "band",
           "figure_legend", "theory", "benchmarks", "weights", "lm", "divergence"]

#: one colour per initializer, used in every chapter (colour-blind-safe seaborn palette).
INIT_COLORS = {
    "identity": "#0173b2",
    "orthogonal": "#de8f05",
    "chain": "#029e73",
    "fb_chain": "#d55e00",
    "plain": "#949494",
    "mixed": "#cc78bc",
}
INIT_LABELS = {
    "identity": "identity",
    "orthogonal": "orthogonal",
    "chain": "chain",
    "fb_chain": "feedback chain",
    "plain": "plain (torch default)",
    "mixed": "mixed",
}


#: width in inches of a figure that spans the book's content column. The notebooks draw figures at
#: ``figure.dpi`` = 110, so it is an image of about 880 px, which a 672-px column (a 1280-px
#: window) shows at 0.76: tick labels (10.5 pt) at 12 px, the smallest text ("small", 9.5 pt) at
#: 11 px. A multi-panel figure keeps to this width and wraps into rows, at most three labelled
#: panels across (tests/test_book.py checks both in a browser).
PAGE_WIDTH = 8.0


def use_style() -> None:
    """Apply the book's matplotlib style (seaborn ticks, readable sizes, no LaTeX).

    Sizes are relative to the base font (11.4 pt): titles and labels ``medium``, tick labels
    10.5 pt, and nothing smaller than ``small`` (9.5 pt); see :data:`PAGE_WIDTH` for figure widths.
    Math text (log-axis tick labels such as 10², ``$...$`` labels) uses matplotlib's own fonts,
    which :func:`register_bundled_fonts` makes sure it finds.
    """
    import matplotlib as mpl  # lazy: `nnrnn lm` imports this package (for INIT_LABELS) and draws nothing
    import seaborn as sns  # lazy: 0.8 s (pyplot, scipy) that `nnrnn lm`, importing this package, does not need

    register_bundled_fonts()
    sns.set_theme(context="notebook", style="ticks", font_scale=0.95)
    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "figure.figsize": (6.4, 4.0),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": "medium",
            "legend.frameon": False,
            "text.usetex": False,
        }
    )


def register_bundled_fonts() -> list[str]:
    """Add the fonts shipped with matplotlib that its font list lacks to the running font manager;
    returns their files (none where the list is complete).

    matplotlib reads the fonts it knows from a cache (``fontlist-v<version>.json`` in
    ``matplotlib.get_cachedir()``), written once per matplotlib version and shared by every
    environment that uses that folder. A cache written where matplotlib's own fonts were missing
    lists the system's fonts only; then math text, even in the default DejaVu style, cannot find
    the STIX and Computer Modern fonts that it loads from matplotlib's data folder, falls back to
    DejaVu Sans and logs "findfont: Font family ['STIXGeneral'] not found" once per font, which a
    book page shows as stderr under the first log-scale figure. The cache file is left as it is.
    """
    import matplotlib as mpl  # lazy: as in use_style
    from matplotlib import font_manager  # lazy: as matplotlib above

    known = {os.path.realpath(f.fname) for f in font_manager.fontManager.ttflist}
    added = [str(p) for p in sorted((Path(mpl.get_data_path()) / "fonts" / "ttf").glob("*.ttf"))
             if os.path.realpath(p) not in known]
    for path in added:
        font_manager.fontManager.addfont(path)
    return added


def mean_sem(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis`` (s.e.m. is 0 for a single value).

    Examples:
        >>> m, s = mean_sem(np.array([[1.0, 2.0], [3.0, 4.0]]))
        >>> m.tolist(), [round(x, 6) for x in s.tolist()]
        ([2.0, 3.0], [1.0, 1.0])
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    mean = np.nanmean(values, axis=axis)
    if n < 2:
        return mean, np.zeros_like(mean)
    return mean, np.nanstd(values, axis=axis, ddof=1) / np.sqrt(n)


def band(ax, x: Sequence[float], mean: np.ndarray, sem: np.ndarray, label: str | None = None, color=None, **kw):
    """Plot ``mean`` with a shaded ±s.e.m. band on ``ax``; returns the line."""
    (line,) = ax.plot(x, mean, label=label, color=color, **kw)
    ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.25, linewidth=0)
    return line


def figure_legend(fig, axes, loc: str = "outside upper center", ncol: int | None = None):
    """One legend for the whole figure, outside its panels (``fig`` needs constrained layout), so
    that it covers no data: the labelled artists of ``axes``, each label once, in ``small`` text.

    Returns the legend, or None where nothing is labelled.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> fig, axes = plt.subplots(1, 2, layout="constrained")
        >>> for ax in axes:
        ...     _ = ax.plot([0, 1], label="trained"), ax.plot([1, 0], label="_hidden")
        >>> [t.get_text() for t in figure_legend(fig, axes).get_texts()]
        ['trained']
        >>> plt.close(fig)
    """
    handles: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if not lab.startswith("_"):
                handles.setdefault(lab, h)
    if not handles:
        return None
    return fig.legend(list(handles.values()), list(handles), loc=loc, ncol=ncol or len(handles), fontsize="small")


def __getattr__(name: str):
    if name in ("theory", "benchmarks", "weights", "lm", "divergence"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
