"""The base of a chapter's main result: a :class:`Section` whose parts are its public methods.

The benchmark chapters (:class:`nnrnn.pages.benchmarks.ReplicateSection`) and the
language-model chapters (:class:`nnrnn.pages.language.LMReplicateSection`) read the
``replicate`` runs of the committed archive into a section; a notebook shows each part with one
call, ``rep.pilot()``, in a cell of its own. A part method returns a :class:`Part`, the part's
items in page order (Markdown strings, report tables, :class:`Figure` s), which displays itself
when it ends a notebook cell and is a plain list everywhere else (the tests read its items).

A :class:`Figure` is numbered as the chapter's other figures are: under the book build it is
glued and shown through a ``{glue:figure}`` directive with a ``:name:``, so Sphinx numbers it in
the chapter's sequence (Fig. 4.1, 4.2, ...), and its caption, as plain text, is its image's
alt text (:attr:`Figure.alt`). The build renders Markdown outputs as MyST for this
(``nb_render_markdown_format`` in ``_config.yml``).

Examples:
    >>> Part(["*Not in the archive yet.*"])[0]
    '*Not in the archive yet.*'
    >>> plain_text("**Pilot scores** of `copy`, *provisional*: see [the plan](plan.md).")
    'Pilot scores of copy, provisional: see the plan.'
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable

from . import report

__all__ = ["Part", "part", "Section", "Figure", "plain_text", "ALT_CHARS"]

#: an alt text is at most this many characters: a longer caption is cut at a word and ends in "…"
#: (as the chapters' own ``:alt:`` options); the whole caption is under the image.
ALT_CHARS = 200
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MARKUP = [(re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # a link: its text
           (re.compile(r"(\*\*|__|\*|`)"), ""),             # emphasis and code marks
           (re.compile(r"\s+"), " ")]                       # one line


def plain_text(markdown: str) -> str:
    """A caption's text without its Markdown (emphasis, code marks, links), on one line."""
    text = markdown
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    return text.strip()


@dataclass(eq=False)
class Figure:
    """A numbered figure of a section: ``fig`` (matplotlib), its ``caption`` (Markdown) and its
    ``name``, lower-case words joined by hyphens and unique in the book (e.g.
    ``"replicate-copy-pilot"``): the figure's target is ``fig-<name>``, its glue key
    ``fig_<name>`` with underscores."""

    fig: Any
    caption: str
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"name must be lower-case words joined by hyphens, e.g. 'replicate-copy-pilot', got {self.name!r}")
        if not isinstance(self.caption, str) or not self.caption.strip():
            raise ValueError(f"caption must be a non-empty string, got {self.caption!r}")

    @property
    def key(self) -> str:
        """The glue key of the figure's image."""
        return "fig_" + self.name.replace("-", "_")

    @property
    def alt(self) -> str:
        """The image's alt text: the caption as plain text, cut at a word after :data:`ALT_CHARS` characters."""
        text = plain_text(self.caption)
        if len(text) <= ALT_CHARS:
            return text
        return text[: ALT_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"

    def directive(self) -> str:
        """The MyST that shows the glued image as a numbered figure with its caption and alt text."""
        return (f"````{{glue:figure}} {self.key}\n:name: fig-{self.name}\n:alt: {self.alt}\n\n"
                f"{' '.join(self.caption.split())}\n````")

    def _ipython_display_(self) -> None:
        import matplotlib.pyplot as plt  # lazy: pyplot only where figures are drawn, as in nnrnn.plotting
        from IPython.display import Markdown, display  # lazy: IPython (the book extra) only inside a notebook

        if report.in_book_build():  # the image is recorded, and the page shows it where the directive is
            report.glue_figure(self.key, self.fig)
            display(Markdown(self.directive()))
        else:  # a live notebook renders no directive: the image, then its caption
            display(self.fig)
            plt.close(self.fig)
            display(Markdown(f"**Figure.** {self.caption}"))


class Part(list):
    """A section's part: Markdown strings, tables and figures, in order; shown in a notebook
    with :func:`nnrnn.pages.report.show` when it ends a cell."""

    def _ipython_display_(self) -> None:
        report.show(self)


def part(method: Callable[..., list]) -> Callable[..., Part]:
    """Mark a method as a part of its section: its list of items comes back as a :class:`Part`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs) -> Part:
        return Part(method(self, *args, **kwargs))

    wrapper.is_part = True
    return wrapper


class Section:
    """A chapter's main result, read from the archive. A subclass lists its parts in page order in
    :attr:`PARTS`, each a method decorated with :func:`part`, and says what its prose quotes in
    :meth:`values`; ``archive`` names the archive as the page gives it (its commit, never a path)."""

    PARTS: tuple[str, ...] = ()
    archive: str

    def where(self) -> str:
        """Where the section's numbers come from, for captions."""
        return f"on profile `replicate` from the results archive ({self.archive})"

    def values(self) -> dict[str, Any]:
        """The numbers the chapter's prose quotes, by glue name without the chapter's prefix."""
        raise NotImplementedError

    def glue(self, prefix: str) -> None:
        """Glue :meth:`values` under ``<prefix>_<name>`` (:func:`nnrnn.pages.report.glue_all`)."""
        report.glue_all(prefix, self.values())
