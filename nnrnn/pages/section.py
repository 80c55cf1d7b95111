"""The base of a chapter's main result: a :class:`Section` whose parts are its public methods.

The benchmark chapters (:class:`nnrnn.pages.benchmarks.ReplicateSection`) and the
language-model chapters (:class:`nnrnn.pages.language.LMReplicateSection`) read the
``replicate`` runs of the committed archive into a section; a notebook shows each part with one
call, ``rep.pilot()``, in a cell of its own. A part method returns a :class:`Part`, the part's
items in page order (Markdown strings, report tables, figures), which displays itself when it
ends a notebook cell and is a plain list everywhere else (the tests read its items).

Examples:
    >>> Part(["*Not in the archive yet.*"])[0]
    '*Not in the archive yet.*'
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from . import report

__all__ = ["Part", "part", "Section"]


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
