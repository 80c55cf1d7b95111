"""Reporting helpers for the notebooks: glue, run cards, and reading glued values back.

``glue`` wraps myst-nb's glue so that headline numbers in the prose come from the code; it
stores plain Python values (floats, ints, strings) and is a no-op where myst-nb is absent.
``read_glue`` reads those values back from an executed notebook, for the tests.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["glue", "read_glue", "plain_number", "RunCard", "run_card"]

_GLUE_MIME = "application/papermill.record/text/plain"


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


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Glue ``value`` under ``name`` for ``{glue:text}`` in the book; returns the plain value."""
    value = plain_number(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # outside the book tool chain: nothing to record
        return value
    _glue(name, value, display=display)
    return value


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


class RunCard:
    """What a chapter was produced with: profile, device, versions, seed and runtime."""

    def __init__(self, chapter: str, profile: str, device: str, seed: int | None = None):
        import torch

        from . import __version__
        from .store import git_sha

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
            from IPython.display import Markdown, display

            display(Markdown(text))
        except ImportError:
            print(text)


def run_card(chapter: str, profile: str, device: str, seed: int | None = None, show: bool = True) -> RunCard:
    """Create a :class:`RunCard` (starting the chapter's clock) and display its header."""
    card = RunCard(chapter, profile, str(device), seed)
    if show:
        card.show("header")
    return card
