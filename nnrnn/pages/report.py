"""Reporting helpers for the notebooks: glue, tables, progress, run cards and verdicts.

``glue`` wraps myst-nb's glue so that headline numbers in the prose come from the code. Under
the book build (:func:`in_book_build`) it only records the value, which the page shows where
the text asks for it; in a live run (Jupyter, Colab, Binder, plain papermill) it also shows the
value in the cell's output, a figure as an image and a number as text, because ``{glue:text}``
roles are not rendered there. ``read_glue`` reads recorded values back from an executed
notebook, for the tests.

``progress`` is the one progress bar of the package: a ``tqdm.auto`` bar in a live run, and a
plain text bar on the kernel's stderr under the book build, which the build copies to its
terminal and strips from the page (:mod:`nnrnn.book`).

``check_injected_parameters`` makes a misspelt papermill parameter (``-p profil smoke``) an error
in the notebook itself, however papermill was called; :func:`check_declared` is the rule it and the
book build's check before executing (:func:`nnrnn.book.check_notebook_parameters`) share. ``verdict`` compares success counts with a
two-sided Fisher exact test (:mod:`nnrnn.verdicts`, the one implementation the results page uses too) and says no more than the test supports.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import math
import numbers
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.std import tqdm as text_bar

from .. import __version__, validate
from ..profiles import check_profile
from ..store import git_sha
from ..verdicts import VERDICTS, Verdict, success_verdict

__all__ = [
    "BOOK_BUILD_ENV",
    "in_book_build",
    "glue",
    "glue_all",
    "glue_figure",
    "read_glue",
    "plain_number",
    "table",
    "Table",
    "progress",
    "check_declared",
    "check_injected_parameters",
    "expect_error",
    "describe_sweep",
    "Verdict",
    "VERDICTS",
    "verdict",
    "RunCard",
    "live_profile",
    "run_card",
]

_GLUE_MIME = "application/papermill.record/text/plain"

#: set to ``"1"`` by :mod:`nnrnn.book` for the kernels it runs; glue and progress read it.
BOOK_BUILD_ENV = "NNRNN_BOOK_BUILD"


def in_book_build() -> bool:
    """True while :mod:`nnrnn.book` executes the notebook (``$NNRNN_BOOK_BUILD`` is ``"1"``)."""
    return os.environ.get(BOOK_BUILD_ENV) == "1"


def _ipython():
    """The running IPython shell, or None in plain Python."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython  # lazy: IPython is no dependency; imported once a running shell has loaded it

    return get_ipython()


def plain_number(value: Any) -> Any:
    """Turn numpy / torch scalars into plain Python numbers; leave other values alone.

    Examples:
        >>> plain_number(np.float32(0.5)), plain_number(np.int64(3))
        (0.5, 3)
    """
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _show(name: str, value: Any) -> None:
    """Show a glued value in a live notebook: a figure as an image, anything else as text."""
    if _ipython() is None:
        return
    from IPython.display import display  # lazy: IPython is no dependency; reached only inside a running shell

    if hasattr(value, "savefig"):  # a matplotlib figure: image/png through the inline backend
        display(value)
    else:
        print(f"{name} = {value!r}")


def show(items: Sequence[Any]) -> None:
    """Display a section's rendered items in the notebook: strings as Markdown, tables and figures
    as themselves (figures are closed after display, so pyplot does not show them twice)."""
    import matplotlib.pyplot as plt  # lazy: pyplot only where figures are drawn, as in nnrnn.plotting
    from IPython.display import Markdown, display  # lazy: IPython (the book extra) only inside a notebook

    for item in items:
        display(Markdown(item) if isinstance(item, str) else item)
        if hasattr(item, "savefig"):
            plt.close(item)


def glue(name: str, value: Any, display: bool = False) -> None:
    """Glue ``value`` under ``name`` for ``{glue:text}`` / ``{glue:figure}``.

    Under the book build the value is only recorded (``display=False``) and the page shows it
    where the text refers to it. In a live run it is also shown in the cell's output, so a
    notebook run in Jupyter or Colab shows every figure and headline number. It returns None, so
    that a cell ending in ``glue(...)`` shows nothing more (its value, quoted, above the sentence).
    """
    value = plain_number(value)
    try:
        from myst_nb import glue as _glue  # lazy: myst-nb is optional (the book tool chain), absent in e.g. Colab
    except ImportError:  # outside the book tool chain (e.g. Colab): nothing to record
        _glue = None
    if _glue is not None:
        _glue(name, value, display=display)
    if not display and not in_book_build():
        _show(name, value)


def glue_all(prefix: str, values: Mapping[str, Any]) -> None:
    """Glue every value under ``<prefix>_<name>`` (:func:`glue`)."""
    for name, value in values.items():
        glue(f"{prefix}_{name}", value)


def glue_figure(name: str, fig) -> None:
    """Glue a figure for ``{glue:figure}`` (shown in place in a live run) and close it."""
    import matplotlib.pyplot as plt  # lazy: pyplot only where figures are drawn, as in nnrnn.plotting

    glue(name, fig)
    plt.close(fig)


def read_glue(path: str | os.PathLike) -> dict[str, Any]:
    """Read every glued value of an executed notebook (values parsed with ``ast.literal_eval``)."""
    nb = json.loads(Path(path).read_text())
    out: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = output.get("data", {})
            text = data.get(_GLUE_MIME, data.get("text/plain"))
            if isinstance(text, list):
                text = "".join(text)
            if text is None:
                continue
            try:
                out[meta["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[meta["name"]] = text
    return out


# --------------------------------------------------------------------------------------------
# tables

_TABLE_STYLES = [
    {"selector": "", "props": [("border-collapse", "collapse"), ("margin", "0.5em 0")]},
    {"selector": "th, td", "props": [("padding", "0.3em 0.9em"), ("text-align", "right"), ("vertical-align", "top")]},
    {"selector": "thead th", "props": [("border-bottom", "1px solid currentColor"), ("vertical-align", "bottom")]},
    {"selector": "th.row_heading, th.index_name", "props": [("text-align", "left")]},
]
#: data cells wrap between words, and a column is as wide as its longest word (break-word, unlike anywhere,
#: leaves the cell's min-content width alone: whole words, the table scrolls; row headers break anywhere, see
#: :func:`table`); issue 23: a
#: right-aligned unwrapped text column pushed the table's key columns off a phone's screen).
_TEXT_CELL = {"text-align": "left", "white-space": "normal", "overflow-wrap": "break-word", "min-width": "7em"}


class Table:
    """A table for a notebook page: human headers, padded cells, and a scroll bar when wide.

    Its HTML is the ``pandas`` Styler's, with padding on every cell, wrapped in a container
    that scrolls horizontally instead of clipping; text wraps and aligns left, numbers align
    right without wrapping. Its text form (a terminal, the test logs) is the formatted frame.
    """

    def __init__(self, styler, frame: pd.DataFrame):
        self.styler, self.frame = styler, frame

    def _repr_html_(self) -> str:
        return f'<div class="nnrnn-table" style="overflow-x: auto; max-width: 100%;">{self.styler.to_html()}</div>'

    def __repr__(self) -> str:
        return self.frame.to_string()

    @property
    def data(self) -> pd.DataFrame:
        """The frame as displayed (renamed columns and index)."""
        return self.frame


def _formatter(spec):
    if spec is None or callable(spec):
        return spec
    return lambda v: "–" if isinstance(v, float) and not math.isfinite(v) else spec.format(v)


def table(
    df: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    formats: Mapping[str, Any] | str | None = None,
    index: bool | Mapping[Any, str] = True,
    index_name: str | None = None,
    keep: Sequence[str] | None = None,
) -> Table:
    """Prepare ``df`` for a page: keep and rename columns, format numbers, pad the cells.

    Args:
        df: the frame.
        columns: ``{column: header}``; headers are what a reader sees, e.g.
            ``{"mean_final_val_loss": "mean final validation loss"}``.
        formats: ``{column: "{:.4f}"}`` (the original column name) or a callable, or one
            format for every column; NaN shows as ``–``.
        index: ``False`` hides the index; a mapping renames its labels.
        index_name: a header for the index column.
        keep: the columns to show, in order (default: all).

    Examples:
        >>> t = table(pd.DataFrame({"n_success": [1, 2]}), {"n_success": "successful runs"}, index=False)
        >>> list(t.data.columns)
        ['successful runs']
    """
    frame = df.loc[:, list(keep)] if keep is not None else df.copy()
    if isinstance(formats, str):
        formats = {c: formats for c in frame.columns}
    formats = dict(formats or {})
    columns = dict(columns or {})
    labels = set(frame.columns)
    if isinstance(frame.columns, pd.MultiIndex):  # a header of any level can be renamed
        labels |= {x for level in frame.columns.levels for x in level}
    missing = [c for c in [*columns, *formats] if c not in labels]
    if missing:
        raise ValueError(f"columns must be columns of the table {list(frame.columns)}, got {missing}")

    def renamed(c):
        return tuple(columns.get(x, x) for x in c) if isinstance(c, tuple) else columns.get(c, c)

    fmt = {renamed(c): _formatter(f) for c, f in formats.items()}
    frame = frame.rename(columns=columns)
    if isinstance(index, Mapping):
        frame = frame.rename(index=index)
    if index_name is not None:
        frame.index.name = index_name
    styler = frame.style.format(fmt, na_rep="–").set_table_styles(_TABLE_STYLES)
    text_columns = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    number_columns = [c for c in frame.columns if c not in text_columns]
    if text_columns:  # numbers align right (the default above) on one line; text wraps and aligns left
        styler = styler.set_properties(subset=text_columns, **_TEXT_CELL)
    if number_columns:
        styler = styler.set_properties(subset=number_columns, **{"white-space": "nowrap"})
    # row headers may break inside a word ("dropout (out/between/in/embedding/weights)" would otherwise
    # widen the key column past a phone's screen); data cells keep whole words
    text_css = "; ".join(f"{k}: {v}" for k, v in {**_TEXT_CELL, "overflow-wrap": "anywhere"}.items())
    styler = styler.map_index(lambda _: text_css, axis="index")
    if not isinstance(frame.columns, pd.MultiIndex):  # a text column's header aligns with its text
        styler = styler.map_index(lambda c: "text-align: left" if c in text_columns else "", axis="columns")
    styler = styler.set_table_attributes('class="dataframe nnrnn"')
    if index is False:
        styler = styler.hide(axis="index")
    shown = frame.reset_index(drop=True) if index is False else frame
    return Table(styler, shown)


def describe_sweep(rep, what: str = "runs") -> str:
    """One line for a page about what a sweep did, without paths or object dumps.

    ``rep`` is a sweep report with ``hashes``, ``ran``, ``skipped`` and ``errors``.
    """
    errors = len(getattr(rep, "errors", {}) or {})
    line = f"{len(rep.hashes)} {what}: {len(rep.ran)} trained now, {len(rep.skipped)} loaded from the run store"
    return line + (f", {errors} failed" if errors else "")


def timing_text(build_s: float, n_trained: int, run_wall_s: Sequence[float], cores: int = 2) -> str:
    """Two measured times of a chapter's live runs, each named for what it is: what this build took
    (``build_s`` of wall time, ``n_trained`` of them trained, the rest loaded from the run store), and
    what the runs take fresh: their training times as measured when each was trained
    (``run_wall_s``), summed, and that sum shared among ``cores`` workers.

    Examples:
        >>> print(timing_text(3.2, 0, [300.0] * 8))
        This build: 0 of 8 runs trained, 8 loaded from the run store, in 3 s. Fresh: the runs' training times, as measured when each was trained, sum to 40.0 min, about 20 min on 2 cores.
    """
    build_s = validate.finite_float(build_s, "build_s", low=0)
    walls = [validate.finite_float(w, "a run's wall_s", low=0) for w in run_wall_s]
    n_trained = validate.integer(n_trained, "n_trained", low=0, high=len(walls))
    cores = validate.positive_int(cores, "cores")
    total = sum(walls) / 60
    fresh = total / cores
    about = f"{fresh:.0f} min" if fresh >= 2 else f"{fresh * 60:.0f} s"
    return (f"This build: {n_trained} of {len(walls)} runs trained, {len(walls) - n_trained} loaded from the run store, "
            f"in {build_s:.0f} s. Fresh: the runs' training times, as measured when each was trained, sum to "
            f"{total:.1f} min, about {about} on {cores} cores.")


# --------------------------------------------------------------------------------------------
# progress


def progress(total: int | None, desc: str | None = None, unit: str = "it", **kwargs):
    """A progress bar over ``total`` steps (runs done, rate, time left).

    In a live notebook it is a ``tqdm.auto`` bar (a widget where ``ipywidgets`` is installed,
    text otherwise); on a terminal a text bar. Under the book build it is a text bar on the
    kernel's stderr: :mod:`nnrnn.book` copies that stream to its own terminal and removes the
    bar from the page.

    Examples:
        >>> with progress(3, "runs", "run", disable=True) as bar:
        ...     bar.total
        3
    """
    if total is not None and (isinstance(total, bool) or not isinstance(total, numbers.Integral) or total < 0):
        raise ValueError(f"total must be a non-negative integer or None, got {total!r}")
    kwargs.setdefault("desc", desc)
    kwargs.setdefault("unit", unit)
    if in_book_build():
        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("mininterval", 1.0)
        kwargs.setdefault("ascii", True)
        return text_bar(total=total, **kwargs)
    shell = _ipython()
    in_kernel = shell is not None and "IPKernelApp" in getattr(shell, "config", {})
    if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm as auto_bar  # lazy: tqdm.auto probes IPython on import; only a kernel needs it

        return auto_bar(total=total, **kwargs)
    kwargs.setdefault("file", sys.stderr)
    return text_bar(total=total, **kwargs)


# --------------------------------------------------------------------------------------------
# parameters and expected errors

_INJECTED_HEADER = "# Parameters"  # papermill's comment at the top of the cell it injects


def _assigned_names(source: str) -> list[str]:
    """Names assigned at the top level of a cell's source (``x = 1``, ``x: int = 1``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def check_declared(given: Iterable[str], declared: Iterable[str], notebook: str = "the notebook") -> None:
    """Fail if a parameter name in ``given`` is not among ``declared``, the names that the notebook's
    ``parameters`` cell assigns.

    Papermill only warns about an unknown ``-p name value`` and runs the notebook with its
    defaults, so ``-p profil smoke`` would silently run ``demo``. The one rule of both checks: the
    book build's before it executes anything (:func:`nnrnn.book.check_notebook_parameters`) and
    the notebook's own (:func:`check_injected_parameters`).

    Raises:
        ValueError: naming the notebook, the unknown parameters and the declared ones.

    Examples:
        >>> check_declared(["profil"], ["profile", "seed"], "04-copy.ipynb")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 04-copy.ipynb: unknown parameter(s) ['profil']; the notebook declares ['profile', 'seed'] ...
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"{notebook}: unknown parameter(s) {unknown}; the notebook declares {sorted(set(declared))} "
                         "(check the spelling of papermill's -p options)")


def check_injected_parameters(namespace: Mapping[str, Any]) -> None:
    """Fail if papermill injected a parameter that the notebook's ``parameters`` cell does not declare
    (:func:`check_declared`).

    Called from a cell after the parameters cell as ``report.check_injected_parameters(globals())``,
    this reads the kernel's input history: papermill's injected cell starts with ``# Parameters``
    and directly follows the parameters cell, so the names assigned in the one must be among
    those assigned in the other. In a live run nothing was injected and nothing is checked.
    """
    history = list(namespace.get("In") or namespace.get("_ih") or [])
    for i in range(len(history) - 1, 0, -1):
        if history[i].lstrip().startswith(_INJECTED_HEADER):
            check_declared(_assigned_names(history[i]), _assigned_names(history[i - 1]))
            return


@contextlib.contextmanager
def expect_error(*types: type[BaseException]) -> Iterator[None]:
    """Show the error a block raises as one line (type and message), and fail if it raises none.

    For the cells of a chapter that demonstrate an error message: the page shows
    ``ValueError: ...`` without a traceback or the paths of the installed package.

    Examples:
        >>> with expect_error(ValueError):
        ...     int("x")
        ValueError: invalid literal for int() with base 10: 'x'
    """
    types = types or (Exception,)
    try:
        yield
    except types as e:
        print(f"{type(e).__name__}: {e}")
    else:
        raise AssertionError(f"expected {' or '.join(t.__name__ for t in types)}, but nothing was raised")


# --------------------------------------------------------------------------------------------
# verdicts on success counts

def verdict(k_a: int, n_a: int, k_b: int, n_b: int, *, paper_scale: bool) -> Verdict:
    """The verdict on "group a succeeds more often than group b" from success counts.

    The one implementation is :func:`nnrnn.verdicts.success_verdict` (Fisher's exact test,
    two-sided); the results page uses it too.

    Examples:
        >>> verdict(1, 24, 0, 24, paper_scale=True).label
        'consistent'
    """
    return success_verdict(k_a, n_a, k_b, n_b, at_paper_scale=paper_scale)


# --------------------------------------------------------------------------------------------
# run cards


class RunCard:
    """What a chapter was produced with: profile, device, versions, seed and runtime."""

    def __init__(self, chapter: str, profile: str, device: str, seed: int | None = None):
        self.chapter, self.profile, self.device, self.seed = chapter, profile, device, seed
        self.version, self.sha, self.torch = __version__, git_sha(), torch.__version__
        self.t0 = time.perf_counter()

    def header(self) -> str:
        sha = self.sha or "not a git checkout"
        seed = "" if self.seed is None else f" · seed `{self.seed}`"
        return (
            f"**Run card** — chapter `{self.chapter}` · profile `{self.profile}` · device `{self.device}`{seed}"
            f" · nnrnn {self.version} (git `{sha}`) · torch {self.torch} · Python {platform.python_version()}"
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def footer(self) -> str:
        return (
            f"**Produced** on profile `{self.profile}`, device `{self.device}`, git `{self.sha or 'n/a'}`, "
            f"in {self.elapsed():.1f} s of wall time."
        )

    def show(self, which: str = "header") -> None:
        """Display the header or footer as Markdown in a notebook (plain print elsewhere)."""
        text = self.header() if which == "header" else self.footer()
        try:
            from IPython.display import Markdown, display  # lazy: IPython is optional; plain print without it

            display(Markdown(text))
        except ImportError:
            print(text)


def live_profile(profile: str) -> str:
    """The profile of a chapter's live part: ``profile``, or ``"demo"`` on ``"replicate"`` (which
    has no single grid: its runs are the archive's, and ``demo`` is what a reader reruns).

    Examples:
        >>> live_profile("smoke"), live_profile("replicate")
        ('smoke', 'demo')
    """
    check_profile(profile)
    return "demo" if profile == "replicate" else profile


def run_card(chapter: str, profile: str, device: str, seed: int | None = None, show: bool = True) -> RunCard:
    """Create a :class:`RunCard` (starting the chapter's clock) and display its header."""
    card = RunCard(chapter, profile, str(device), seed)
    if show:
        card.show("header")
    return card
