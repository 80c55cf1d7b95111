"""Issue 22: grep finds every glue key a page's prose quotes.

A key in a notebook's Markdown (``{glue:text}`key```, ``{glue:figure}`key```, ``{glue}`key```, or a
``{glue:figure}`` directive) must occur as a string literal in the package (at its glue call, or
in :data:`nnrnn.pages.glue_keys.KEYS` for a key the code builds) or in a code cell of that
notebook; and each key ``KEYS`` lists is one its chapter's prose quotes, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from nnrnn.pages.glue_keys import KEYS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`|```\{glue(?::\w+)?\}[ \t]+(\S+)")


def prose_keys(nb: dict) -> set[str]:
    """The glue keys the Markdown cells of a notebook quote (a role's ``:format`` left off)."""
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return {(a or b).split(":")[0] for a, b in _ROLE.findall(text)}


def code_literals(sources) -> set[str]:
    """Every string constant of the given Python sources (a cell that does not parse, e.g. with
    IPython magics, is read for quoted strings instead)."""
    out: set[str] = set()
    for src in sources:
        try:
            out |= {n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        except SyntaxError:
            out |= {a or b for a, b in re.findall(r'"([^"\n]*)"|\'([^\'\n]*)\'', src)}
    return out


PACKAGE_LITERALS = code_literals(p.read_text() for p in sorted((REPO / "nnrnn").rglob("*.py")))


def unfindable(nb: dict, package=PACKAGE_LITERALS) -> list[str]:
    """The keys of ``nb``'s prose that are a literal neither in the package nor in its code cells."""
    code = code_literals("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return sorted(prose_keys(nb) - package - code)


def _nb(markdown: str, code: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": [markdown]}, {"cell_type": "code", "source": [code]}]}


def test_the_check_finds_a_built_key():
    """A key built by an f-string is not found; spelled out in the code, or in the package, it is."""
    md = "Chain: {glue:text}`nbxx_success_chain:.0f` of {glue}`nbxx_runs`.\n```{glue:figure} nbxx_fig\n```"
    assert prose_keys(_nb(md, "")) == {"nbxx_success_chain", "nbxx_runs", "nbxx_fig"}
    built = 'for i in ("chain",):\n    glue(f"nbxx_success_{i}", 1)\nglue("nbxx_runs", 2)\nglue("nbxx_fig", f)'
    assert unfindable(_nb(md, built), package=set()) == ["nbxx_success_chain"]
    assert unfindable(_nb(md, built), package={"nbxx_success_chain"}) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_glue_key_of_the_prose_is_a_literal(path):
    missing = unfindable(json.loads(path.read_text()))
    assert not missing, (f"{path.name} quotes glue keys that no code spells out: {missing}; glue them by a literal "
                         "key, or list them under the chapter in nnrnn/pages/glue_keys.py")


def test_the_listed_keys_are_quoted_by_their_chapter():
    stems = {p.stem: p for p in NOTEBOOKS}
    assert set(KEYS) <= set(stems), sorted(set(KEYS) - set(stems))
    for stem, keys in KEYS.items():
        assert len(set(keys)) == len(keys), f"{stem}: a key listed twice"
        stale = sorted(set(keys) - prose_keys(json.loads(stems[stem].read_text())))
        assert not stale, f"nnrnn/pages/glue_keys.py lists keys that {stem}'s prose does not quote: {stale}"
