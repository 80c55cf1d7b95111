"""The results page's claims, read at a glance: a summary line per claim and its details.

:func:`summary` is one line per claim of :func:`nnrnn.pages.claims.claims`, the claim and a coloured
badge with its verdict; :func:`details` gives each claim one dropdown with its fields (the paper's
value and where it states it, ours, profile, runs, test, verdict) as a wrapped "field: value"
list. Both fit a phone's width: nothing is laid out in wide columns. The badges' colours are in
the book's stylesheet, ``book/_static/nnrnn.css`` (one class per verdict, :data:`BADGE_CLASSES`);
without it (a live notebook) a badge is its label in plain text.
"""

from __future__ import annotations

import html
import re

import pandas as pd

from ..evidence import PENDING
from .claims import WITHHELD
from ..verdicts import VERDICTS

__all__ = ["BADGE_CLASSES", "FIELDS", "PLAN_FIELDS", "HtmlBlock", "badge", "summary", "details", "changes", "counts_text",
           "found_markdown"]

#: every verdict a claim can show (the labels of :mod:`nnrnn.verdicts`, then the two states that stand in a
#: verdict's place: pending, :data:`nnrnn.evidence.PENDING`, and withheld) -> its
#: badge's CSS class, ``nnrnn-verdict-<label in lower case, runs of other characters as "-">``.
BADGE_CLASSES: dict[str, str] = {
    label: "nnrnn-verdict-" + re.sub(r"[^a-z0-9]+", "-", label.split(":")[0].lower()).strip("-")
    for label in (*VERDICTS, PENDING, WITHHELD)
}
#: the columns of a claim shown in its details, with the name a reader sees.
FIELDS = {"where in the paper": "where the paper states it", "paper": "the paper", "ours": "this book",
          "profile": "profile", "runs": "runs", "test": "test", "verdict": "verdict"}
#: the columns of the analysis plan's claims (:func:`nnrnn.pages.claims.plan_claims`), shown in their
#: details after :data:`FIELDS` where a table has them.
PLAN_FIELDS = {"budget": "training budget", "secondary": "secondary tests (Holm-adjusted pairs, or all networks)",
               "interval": "interval of the per-seed difference"}


class HtmlBlock:
    """HTML for a notebook page, with a plain-text form for a terminal or the test logs."""

    def __init__(self, markup: str, text: str):
        self.markup, self.text = markup, text

    def _repr_html_(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return self.text


def badge(label: str) -> str:
    """The verdict ``label`` as a badge: a span with the label's class; the withheld verdict shows
    "withheld" and its reason as the span's title.

    Examples:
        >>> badge("not reproduced")
        '<span class="nnrnn-verdict nnrnn-verdict-not-reproduced">not reproduced</span>'
    """
    if label not in BADGE_CLASSES:
        raise ValueError(f"verdict must be one of {list(BADGE_CLASSES)}, got {label!r}")
    short, _, reason = label.partition(":")
    title = f' title="{html.escape(reason.strip())}"' if reason else ""
    return f'<span class="nnrnn-verdict {BADGE_CLASSES[label]}"{title}>{html.escape(short)}</span>'


def _check(claims: pd.DataFrame, columns) -> None:
    if not isinstance(claims, pd.DataFrame):
        raise TypeError(f"claims must be the DataFrame of nnrnn.pages.claims.claims(), got {type(claims).__name__}")
    missing = [c for c in columns if c not in claims.columns]
    if missing:
        raise ValueError(f"claims lacks the column(s) {missing}; it has {list(claims.columns)}")


def _anchor(i: int) -> str:
    return f"claim-{i + 1}"


def summary(claims: pd.DataFrame, href: str = "") -> HtmlBlock:
    """One line per claim: the claim (a link to its details, on the page ``href``; "" is this page)
    and its verdict badge.

    Examples:
        >>> print(repr(summary(pd.DataFrame({"claim": ["a > b"], "verdict": ["consistent"]}))))
        a > b → consistent
    """
    _check(claims, ["claim", "verdict"])
    items = [f'<li><a class="nnrnn-claim" href="{html.escape(href)}#{_anchor(i)}">{html.escape(str(c))}</a> {badge(v)}</li>'
             for i, (c, v) in enumerate(zip(claims["claim"], claims["verdict"]))]
    markup = '<div class="nnrnn-view"><ul class="nnrnn-claims">' + "".join(items) + "</ul></div>"
    return HtmlBlock(markup, "\n".join(f"{c} → {v}" for c, v in zip(claims["claim"], claims["verdict"])))


def details(claims: pd.DataFrame) -> HtmlBlock:
    """Each claim as a dropdown: its claim and badge, and its :data:`FIELDS` (then those of
    :data:`PLAN_FIELDS` the table has) as a "field: value" list."""
    _check(claims, ["claim", *FIELDS])
    shown = {**FIELDS, **{c: n for c, n in PLAN_FIELDS.items() if c in claims.columns}}
    blocks, text = [], []
    for i, row in enumerate(claims.to_dict("records")):
        fields = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(str(row[col]))}</dd>" for col, name in shown.items())
        see = row.get("see also")
        if see:  # (page, text): a link to the chapter that looks further
            fields += f'<dt>see also</dt><dd><a href="{html.escape(see[0])}.html">{html.escape(see[1])}</a></dd>'
        see_text = [f"  see also: {see[1]} ({see[0]})"] if see else []
        blocks.append(f'<details class="nnrnn-claim-details" id="{_anchor(i)}"><summary>{html.escape(str(row["claim"]))} '
                      f'{badge(row["verdict"])}</summary><dl class="nnrnn-fields">{fields}</dl></details>')
        text.append("\n".join([str(row["claim"]), *(f"  {name}: {row[col]}" for col, name in shown.items()), *see_text]))
    return HtmlBlock('<div class="nnrnn-view">' + "".join(blocks) + "</div>", "\n\n".join(text))


def changes(table: pd.DataFrame) -> HtmlBlock:
    """Each claim of :func:`nnrnn.pages.claims.verdict_changes` as one list item: the claim, where the
    paper states it, and as a "field: badge" list its archive-v1 verdict and its verdict (or its groups'
    verdicts) under the analysis plan; a phone's width wraps it, nothing is laid out in columns.

    Examples:
        >>> t = pd.DataFrame({"claim": ["W moves"], "where in the paper": ["Table 2"], "archive v1": ["reproduced"],
        ...                   "plan": [[("addition, identity", "consistent")]],
        ...                   "analysis plan, archive v2": ["addition, identity: consistent"]})
        >>> print(repr(changes(t)))
        W moves (Table 2): archive v1 reproduced; under the plan addition, identity: consistent
    """
    _check(table, ["claim", "where in the paper", "archive v1", "plan", "analysis plan, archive v2"])
    items, text = [], []
    for row in table.to_dict("records"):
        plan = "".join(f'<span class="nnrnn-change-group">{html.escape(g) + ": " if g else ""}{badge(v)}</span>'
                       for g, v in row["plan"]) or "no claim under the plan"
        items.append(f'<li><span class="nnrnn-change-claim">{html.escape(str(row["claim"]))}</span> '
                     f'({html.escape(str(row["where in the paper"]))})<dl class="nnrnn-fields">'
                     f'<dt>archive v1</dt><dd>{badge(row["archive v1"])}</dd><dt>plan (v2)</dt><dd>{plan}</dd></dl></li>')
        text.append(f'{row["claim"]} ({row["where in the paper"]}): archive v1 {row["archive v1"]}; under the plan '
                    f'{row["analysis plan, archive v2"]}')
    return HtmlBlock('<div class="nnrnn-view"><ul class="nnrnn-changes">' + "".join(items) + "</ul></div>", "\n".join(text))


def counts_text(claims: pd.DataFrame) -> str:
    """How many claims got each verdict, in the order of :data:`nnrnn.verdicts.VERDICTS` (withheld last).

    Examples:
        >>> counts_text(pd.DataFrame({"verdict": ["consistent", "reproduced", "reproduced"]}))
        '2 reproduced; 1 consistent'
    """
    _check(claims, ["verdict"])
    counts = claims["verdict"].value_counts()
    return "; ".join(f"{int(counts[label])} {label.split(':')[0]}" for label in BADGE_CLASSES if counts.get(label, 0))


def found_markdown(claims: pd.DataFrame, archive: str, results_page: str = "../notebooks/00-results",
                   note: str = "") -> str:
    """The landing page's "what we found" box (MyST Markdown): the verdicts' counts, one line per claim
    with its badge (each a link to its details on the results page, the document ``results_page``
    relative to the landing page), and where the verdicts come from (``archive``: how a page names the
    archive, :func:`nnrnn.archive.archive_label`), then ``note`` (Markdown) if given."""
    _check(claims, ["claim", "verdict"])
    items = summary(claims, href=results_page + ".html").markup
    return (f":::{{admonition}} What we found\n:class: tip nnrnn-found\n\n"
            f"Of the {len(claims)} claims of the paper that this book tests: **{counts_text(claims)}**. "
            f"The verdicts below are computed when the book is built, from the runs of the results archive "
            f"(profile `replicate`, {archive}) and, for the two theory claims, from exact computations "
            f"and simulations run at build time; none is typed by hand.{' ' + note if note else ''}\n\n{items}\n\n"
            f"Each claim's paper value, our value, runs and test: {{doc}}`{results_page}`.\n:::\n")
