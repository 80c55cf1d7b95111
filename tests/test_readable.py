"""The book read in a browser at a desktop's and a phone's width (issue 23).

On the smoke build, Chromium lays out the results page in an iframe 1400 px and 420 px wide and
measures after layout: every claim's verdict badge in the summary lies inside the viewport, its
text against its background reads at WCAG AA (>= 4.5:1) in the light and the dark theme, each
claim's details fit the column when opened, and no table of any chapter has its first column
outside the viewport or its second column starting beyond it. No page shows a raw value that a
cell's last expression returned (``'b773c27 (2026-12-01)'`` above the sentence that glues it).
The screenshots of both widths are kept in ``tmp_path``, and copied to ``$NNRNN_SCREENSHOTS``
where it is set (``book/_static/screenshots`` holds a committed pair).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlencode

import matplotlib.image as mpimg
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from nnrnn import book
from nnrnn.pages import claims_view, report
from nnrnn.pages import claims as claim_table
from nnrnn.verdicts import VERDICTS

CHAPTERS = [nb.stem for nb in book.toc_notebooks()]
RESULTS = "00-results"
#: the pages that list claims with verdict badges -> the glue key of their number of claims
CLAIM_PAGES = {RESULTS: "res_n_claims", "00-results-v1": "v1_n_claims"}
#: window width -> height: a desktop's (both sidebars shown, a ~700 px column) and a phone's (no
#: sidebars); tall enough that the screenshot shows every claim of the summary.
WIDTHS = {1400: 1000, 420: 1700}
#: WCAG 2.1 AA, normal text (1.4.3): text against its background at least 4.5:1.
MIN_CONTRAST = 4.5
#: a table's second column must start this far inside the viewport, so that its first words show
#: (3 em of the 16 px body text).
MIN_SECOND_PX = 48

# The wrapper loads a page into an iframe of the window's width (the page's viewport), waits
# (polling on timers, which the browser's virtual time runs) until MathJax, which moves the text,
# has typeset, and writes what it measured into its own DOM, which --dump-dom prints. With
# ``scroll`` it measures the results page: the summary's badges and their colours in the light and
# the dark theme, the details opened, then closed again and the summary scrolled into view for
# the screenshot; every page in ``pages`` gets its tables measured.
_PROBE = """<!doctype html>
<html><body style="margin:0;overflow:hidden">
<iframe id="page" style="width:%(width)dpx;height:%(height)dpx;border:0"></iframe>
<pre id="out" style="display:none">pending</pre>
<script>
const q = new URLSearchParams(location.search), frame = document.getElementById("page");
const pages = JSON.parse(q.get("pages")), measured = {};
const put = (o) => { document.getElementById("out").textContent = "READ" + JSON.stringify(o) + "END"; };
const box = (e) => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right}; };
const all = (d, sel) => [...d.querySelectorAll(sel)];
const badges = (d) => all(d, ".nnrnn-claims .nnrnn-verdict").map((b) => {
  const s = getComputedStyle(b); return {text: b.textContent, color: s.color, background: s.backgroundColor, ...box(b)}; });
function tables(d) {
  return all(d, "main table").map((t) => {
    const col = (i) => [...t.rows].map((r) => r.cells[i]).filter(Boolean).map(box);
    const first = col(0), second = col(1);
    return {text: t.textContent.trim().replace(/\\s+/g, " ").slice(0, 60), width: t.getBoundingClientRect().width,
            first_left: Math.min(...first.map((b) => b.left)), first_right: Math.max(...first.map((b) => b.right)),
            second_left: second.length ? Math.min(...second.map((b) => b.left)) : null};
  });
}
const shown = (e) => { const r = e.getBoundingClientRect(), s = d0(e).getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== "hidden"; };
const d0 = (e) => e.ownerDocument.defaultView;
function backdrop(e) {  // the first opaque background at or above e
  for (; e; e = e.parentElement) { const c = d0(e).getComputedStyle(e).backgroundColor;
    if (c !== "transparent" && !/^rgba\\(.*,\\s*0\\)$/.test(c)) return c; }
  return "rgb(255, 255, 255)";
}
const banners = (d) => all(d, ".bd-header-announcement, .bd-header-announcement code, .nnrnn-banner, .nnrnn-banner code")
  .filter(shown).map((e) => ({what: (e.closest(".bd-header-announcement") ? "announcement" : "banner")
                               + (e.tagName === "CODE" ? " code" : ""), text: e.textContent.trim().slice(0, 40),
                              color: d0(e).getComputedStyle(e).color, background: backdrop(e)}));
function measure(d, w) {
  const out = {viewport: d.documentElement.clientWidth, tables: tables(d),
               search: all(d, ".search-button__button, .search-button-field").filter(shown).length,
               glued: all(d, "main p span.pasted-text").filter((e) => !e.closest("strong, b, h1, h2, h3, h4, h5, th"))
                 .map((e) => ({text: e.textContent.trim().slice(0, 40), weight: Number(d0(e).getComputedStyle(e).fontWeight)}))};
  d.documentElement.dataset.theme = "light"; out.banners_light = banners(d);
  d.documentElement.dataset.theme = "dark"; out.banners_dark = banners(d);
  d.documentElement.dataset.theme = "light";
  if (q.get("scroll")) {
    const html = d.documentElement;
    html.dataset.theme = "light"; out.light = badges(d);
    html.dataset.theme = "dark"; out.dark = badges(d);
    html.dataset.theme = "light";
    const details = all(d, ".nnrnn-claim-details");
    details.forEach((e) => { e.open = true; });
    out.details = details.map((e) => ({id: e.id, ...box(e), fields: all(e, "dt, dd").map(box)}));
    details.forEach((e) => { e.open = false; });
    out.rows = all(d, ".nnrnn-claims li").map(box);
    const summary = d.querySelector(".nnrnn-claims");  // its section's heading under the page's header
    if (summary) d.scrollingElement.scrollTop += summary.closest("section").getBoundingClientRect().top - 70;
  }
  return out;
}
let i = -1, typeset = null, polls = 0;
function poll() {
  const w = frame.contentWindow, d = frame.contentDocument;
  if (typeset === null) {
    typeset = !(w.MathJax && w.MathJax.startup && w.MathJax.startup.promise);
    if (!typeset) w.MathJax.startup.promise.then(() => { typeset = true; });
  }
  polls += 1;
  if (!typeset) {
    if (polls > 300) return put({error: "MathJax did not finish in 60 s on " + pages[i]});
    return setTimeout(poll, 200);
  }
  measured[pages[i]] = measure(d, w);
  next();
}
function next() {
  i += 1; typeset = null; polls = 0;
  if (i === pages.length) return put(measured);
  frame.src = pages[i];
}
frame.addEventListener("load", () => setTimeout(poll, 200));
next();
</script></body></html>
"""


def _probe(chrome, pages: list[Path], width: int, tmp_path: Path, scroll: bool = False) -> tuple[dict, Path]:
    """Lay out ``pages`` one after the other in a ``width``-px viewport; returns what the browser
    measured on each (by file name) and the screenshot of the last one."""
    height = WIDTHS[width]
    tag = f"{'results' if scroll else 'tables'}-{width}"
    wrapper = tmp_path / f"{tag}.html"
    wrapper.write_text(_PROBE % {"width": width, "height": height})
    shot = tmp_path / f"{tag}.png"
    query = {"pages": json.dumps([p.as_uri() for p in pages]), **({"scroll": "1"} if scroll else {})}
    res = chrome(f"--user-data-dir={tmp_path / ('profile-' + tag)}", "--virtual-time-budget=300000",
                 f"--window-size={width},{height}", f"--screenshot={shot}", "--dump-dom",
                 f"{wrapper.as_uri()}?{urlencode(query)}", timeout=600)
    found = re.search(r"READ(\{.*?\})END", res.stdout, re.S)
    assert found, f"the browser measured nothing at {width} px\n{res.stderr[-2000:]}"
    out = json.loads(found.group(1))
    assert "error" not in out, out["error"]
    return {Path(k).name: v for k, v in out.items()}, shot


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour (0-255 per channel)."""
    c = [x / 255 for x in rgb[:3]]
    lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _rgb(css: str) -> tuple[float, ...]:
    """``"rgb(1, 2, 3)"`` / ``"rgba(1, 2, 3, 0.5)"`` -> (1, 2, 3[, 0.5])."""
    return tuple(float(x) for x in re.findall(r"[\d.]+", css))


def contrast(text: str, background: str) -> float:
    """WCAG contrast ratio of two computed CSS colours (an opaque background)."""
    a, b = sorted((_luminance(_rgb(text)), _luminance(_rgb(background))), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_contrast_follows_wcag():
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21.0)
    assert contrast("rgb(119, 119, 119)", "rgb(255, 255, 255)") == pytest.approx(4.48, abs=0.01)  # WCAG's example grey


def test_the_summary_and_details_show_every_claim_and_verdict():
    labels = [*VERDICTS, claim_table.WITHHELD]
    claims = pd.DataFrame({"claim": [f"claim <{i}>" for i in range(len(labels))], "verdict": labels,
                           **{c: f"{c} & more" for c in claims_view.FIELDS if c != "verdict"}})
    soup = BeautifulSoup(claims_view.summary(claims)._repr_html_(), "html.parser")
    shown = [(li.a.get_text(), li.select_one(".nnrnn-verdict")) for li in soup.select("ul.nnrnn-claims li")]
    assert [c for c, _ in shown] == list(claims["claim"])  # escaped in the html, the text itself on the page
    assert [b.get_text() for _, b in shown] == [*VERDICTS, "withheld"]
    assert len({tuple(b["class"]) for _, b in shown}) == len(labels)  # one colour class per verdict
    assert shown[-1][1]["title"] == "the archive fails its integrity check"
    css = (Path(book.REPO) / "book" / "_static" / "nnrnn.css").read_text()
    assert all(f".{claims_view.BADGE_CLASSES[v]} " in css for v in labels), "a verdict without a colour"
    soup = BeautifulSoup(claims_view.details(claims)._repr_html_(), "html.parser")
    blocks = soup.select("details.nnrnn-claim-details")
    assert [b["id"] for b in blocks] == [f"claim-{i + 1}" for i in range(len(labels))]
    assert [dt.get_text() for dt in blocks[0].select("dt")] == list(claims_view.FIELDS.values())
    assert blocks[0].select("dd")[0].get_text() == "where in the paper & more"
    linked = claims.assign(**{"see also": [("10-divergence", "chapter 10 & more")] + [""] * (len(claims) - 1)})
    blocks = BeautifulSoup(claims_view.details(linked)._repr_html_(), "html.parser").select("details.nnrnn-claim-details")
    link = blocks[0].select_one("dd a")
    assert link["href"] == "10-divergence.html" and link.get_text() == "chapter 10 & more" and not blocks[1].select("dd a")
    assert "see also: chapter 10 & more (10-divergence)" in claims_view.details(linked).text
    with pytest.raises(ValueError, match="verdict must be one of"):
        claims_view.badge("proven")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['verdict'\]"):
        claims_view.summary(claims.drop(columns="verdict"))
    with pytest.raises(TypeError, match="got list"):
        claims_view.details([])


def test_glue_returns_nothing_for_a_cell_to_show(monkeypatch):
    """A cell ending in ``report.glue(...)`` must not show the value a second time, quoted: glue
    returns None (a live run shows the value through glue itself, tests/test_live.py)."""
    monkeypatch.setenv(report.BOOK_BUILD_ENV, "1")
    assert report.glue("nbxx_commit", "b773c27 (2026-12-01)") is None


@pytest.mark.slow
@pytest.mark.parametrize("stem", CHAPTERS)
def test_no_page_shows_a_raw_value_a_cell_returned(smoke_book, glued, stem):
    """No cell output on the page is a bare Python literal: a quoted string, or any value the page glues."""
    soup = BeautifulSoup((smoke_book / "html" / "notebooks" / f"{stem}.html").read_text(), "html.parser")
    values = {repr(v) for v in glued(stem).values() if isinstance(v, (str, int, float))}
    raw = []
    for out in soup.select("div.cell_output .output.text_plain"):
        text = out.get_text().strip()
        try:
            literal = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            literal = None
        if isinstance(literal, str) or text in values:
            raw.append(text[:80])
    assert not raw, f"{stem} shows raw values: {raw}"


@pytest.mark.slow
@pytest.mark.parametrize("stem", list(CLAIM_PAGES))
@pytest.mark.parametrize("width", list(WIDTHS))
def test_results_page_reads_at_a_glance(smoke_book, glued, chrome, tmp_path, width, stem):
    """At 1400 and 420 px: one badge per claim, each inside the viewport and readable in both
    themes; each claim's details fit the column; the page's tables keep their first column in view."""
    page = smoke_book / "html" / "notebooks" / f"{stem}.html"
    measured, shot = _probe(chrome, [page], width, tmp_path, scroll=True)
    m = measured[page.name]
    vw = m["viewport"]
    assert vw == width, f"the page's viewport is {vw} px, not {width}"
    n_claims = glued(stem)[CLAIM_PAGES[stem]]
    assert len(m["light"]) == n_claims, f"{len(m['light'])} verdict badges in the summary for {n_claims} claims"
    problems = []
    for b in m["light"]:
        if b["left"] < 0 or b["right"] > vw:
            problems.append(f"badge {b['text']!r} at {b['left']:.0f}-{b['right']:.0f} px, outside 0-{vw} px")
    for theme in ("light", "dark"):
        for b in m[theme]:
            if len(_rgb(b["background"])) == 4 and _rgb(b["background"])[3] < 1:
                problems.append(f"{theme}: badge {b['text']!r} has no background of its own ({b['background']})")
            elif (c := contrast(b["color"], b["background"])) < MIN_CONTRAST:
                problems.append(f"{theme}: badge {b['text']!r} {b['color']} on {b['background']}: {c:.2f}:1")
    problems += [f"a summary line ends at {r['right']:.0f} px" for r in m["rows"] if r["right"] > vw]
    assert len(m["details"]) == n_claims, f"{len(m['details'])} claims with details for {n_claims} claims"
    for d in m["details"]:
        worst = max([d["right"], *(f["right"] for f in d["fields"])])
        if worst > vw:
            problems.append(f"{d['id']}: its details, opened, reach {worst:.0f} px")
    problems += _table_problems(stem, m)
    assert not problems, f"{stem} at {width} px:\n" + "\n".join(problems)
    pixels = mpimg.imread(shot)[..., :3]
    assert float((pixels.mean(axis=2) < 0.9).mean()) > 0.02, f"the screenshot looks blank: {shot}"
    if os.environ.get("NNRNN_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["NNRNN_SCREENSHOTS"]) / f"{stem}-{width}.png")


def _table_problems(stem: str, m: dict) -> list[str]:
    vw, out = m["viewport"], []
    for t in m["tables"]:
        if t["first_left"] < 0 or t["first_right"] > vw:
            out.append(f"{stem}: table {t['text']!r} ({t['width']:.0f} px wide): first column at "
                       f"{t['first_left']:.0f}-{t['first_right']:.0f} px")
        if t["second_left"] is not None and t["second_left"] > vw - MIN_SECOND_PX:
            out.append(f"{stem}: table {t['text']!r}: second column starts at {t['second_left']:.0f} px")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_table_pushes_its_key_columns_off_screen(smoke_book, chrome, tmp_path, width):
    """Every table of every chapter, at 1400 and 420 px: its first column inside the viewport, its
    second starting at least MIN_SECOND_PX inside it (text wraps and aligns left); and glued text in a
    paragraph has the paragraph's weight, not bold."""
    pages = [smoke_book / "html" / "notebooks" / f"{stem}.html" for stem in CHAPTERS]
    measured, _ = _probe(chrome, pages, width, tmp_path)
    assert sum(len(m["tables"]) for m in measured.values()) >= len(CHAPTERS), "the browser found too few tables"
    problems = [p for stem in CHAPTERS for p in _table_problems(stem, measured[f"{stem}.html"])]
    assert not problems, f"at {width} px:\n" + "\n".join(problems)
    # glued text in running prose reads as prose: many glued values are whole generated sentences, and
    # myst-nb draws every pasted value bold by default (book/_static/nnrnn.css sets it to the paragraph's weight)
    glued = [(stem, g["text"], g["weight"]) for stem in CHAPTERS for g in measured[f"{stem}.html"]["glued"]]
    assert len(glued) >= len(CHAPTERS), "the browser found too few glued values in the chapters' prose"
    assert not [g for g in glued if g[2] >= 600], f"glued text drawn bold in running prose: {[g for g in glued if g[2] >= 600][:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("width", list(WIDTHS))
def test_banners_read_at_wcag_aa_and_each_page_has_one_search_box(smoke_book, chrome, tmp_path, width):
    """Every page's banners (the build's announcement and the page's own, with the profile's name
    in a code span) reach 4.5:1 against their background in both themes, measured after layout;
    and a page shows one search box, not the header's and the sidebar's."""
    pages = [smoke_book / "html" / "book" / "intro.html", *(smoke_book / "html" / "notebooks" / f"{s}.html" for s in CHAPTERS)]
    measured, _ = _probe(chrome, pages, width, tmp_path)
    low = []
    for name, m in measured.items():
        assert m["search"] == 1, f"{name} shows {m['search']} search boxes at {width} px"
        for theme in ("light", "dark"):
            seen = [b["what"] for b in m[f"banners_{theme}"]]
            assert "announcement code" in seen, f"{name}: no announcement naming the profile ({theme})"
            assert name == "intro.html" or "banner code" in seen, f"{name}: no banner naming a profile ({theme})"
            low += [(name, theme, b["what"], b["text"], round(contrast(b["color"], b["background"]), 2))
                    for b in m[f"banners_{theme}"] if contrast(b["color"], b["background"]) < MIN_CONTRAST]
    assert not low, f"banner text below {MIN_CONTRAST}:1: {low}"
