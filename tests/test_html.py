"""What a reader sees: the built html pages of the smoke book, scanned for what must not be there.

No tracebacks, absolute paths, object or module dumps, raw field names as table headers,
progress bars or tables shown twice; every code-output table pads and scrolls; every page
names the profile it was built with, and each chapter's parameters cell shows that profile.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from nnrnn import book

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
CHAPTERS = [nb.stem for nb in book.toc_notebooks()]

#: text that has no place on a page, with the reason
FORBIDDEN = {
    r"Traceback \(most recent call last\)|Traceback": "a traceback",
    r"Parameter containing": "a tensor dump",
    r"\bSweepReport\(|\bLMRuns\(|\bTrainConfig\(|\bLMConfig\(": "an object repr",
    r"\(\w+\): (?:ElmanRNN|LSTM|Linear|Embedding|Dropout|RNN|LockedDropout)\(": "a module dump",
    r"<(?:Figure|IPython\.core\.display|matplotlib)[^>]*>": "a figure or display repr",
    r"\d+%\|[^|\n]*\|\s*\d+/\d+\s*\[": "a progress bar",
    r"(?<![\w.:/])/(?:home|root|tmp|work|usr|opt|var|Users)/[\w.-]+": "an absolute path",
    r"site-packages": "a path into the installed packages",
    r"TqdmWarning|UserWarning|DeprecationWarning|FutureWarning": "a warning",
}
SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _pages(smoke_book) -> list[Path]:
    html = smoke_book / "html"
    pages = [p for p in html.rglob("*.html") if "_static" not in p.parts and p.name not in ("search.html", "genindex.html")]
    return [p for p in pages if "http-equiv=\"Refresh\"" not in p.read_text()[:300]]  # skip index.html, a redirect


def _main(page: Path) -> BeautifulSoup:
    soup = BeautifulSoup(page.read_text(), "html.parser")
    main = soup.select_one("main") or soup
    for tag in main.find_all(["script", "style"]):
        tag.decompose()
    return main


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_page_shows_nothing_that_does_not_belong(smoke_book, stem):
    main = _main(smoke_book / "html" / "notebooks" / f"{stem}.html")
    text = main.get_text(" ")
    found = {why: m.group(0) for pattern, why in FORBIDDEN.items() if (m := re.search(pattern, text))}
    assert not found, f"{stem}: {found}"
    for where in (str(REPO), str(smoke_book)):
        assert where not in text, f"{stem} shows the local path {where}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_tables_have_human_headers_pad_scroll_and_appear_once(smoke_book, stem):
    main = _main(smoke_book / "html" / "notebooks" / f"{stem}.html")
    tables = main.find_all("table")
    assert tables, f"{stem} shows no table"
    for t in tables:
        raw = [h for h in (th.get_text(" ", strip=True) for th in t.find_all("th")) if SNAKE.fullmatch(h)]
        assert not raw, f"{stem}: raw field names as headers {raw}"
    for out in main.select("div.cell_output"):
        for t in out.find_all("table"):
            wrapper = t.find_parent("div", class_="nnrnn-table")
            assert wrapper is not None, f"{stem}: a table without padding and scrolling (use nnrnn.pages.report.table)"
            assert "overflow-x: auto" in wrapper.get("style", "")
    texts = [" ".join(t.get_text(" ", strip=True).split()) for t in tables]
    repeated = {x[:80] for x in texts if texts.count(x) > 1}
    assert not repeated, f"{stem} shows a table twice: {repeated}"


def test_every_page_names_its_profile(smoke_book):
    pages = _pages(smoke_book)
    assert len(pages) >= len(CHAPTERS) + 3
    for page in pages:
        banner = BeautifulSoup(page.read_text(), "html.parser").select_one(".bd-header-announcement")
        assert banner is not None and "smoke" in banner.get_text(), f"{page.name} has no profile banner"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_parameters_cell_shows_the_profile_the_page_was_built_with(smoke_book, stem):
    main = _main(smoke_book / "html" / "notebooks" / f"{stem}.html")
    cells = [c.get_text("", strip=False) for c in main.select("div.cell_input")]
    params = [c for c in cells if "as this page was built" in c]
    assert len(params) == 1, f"{stem}: {len(params)} parameters cells shown"
    assert re.search(r'profile\s*=\s*"smoke"', params[0]) and 'profile = "demo"' not in params[0]
    assert not any(c.lstrip().startswith("# Parameters") for c in cells), f"{stem} shows papermill's injected cell"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_each_part_says_where_its_numbers_come_from(smoke_book, stem):
    """The results page and the replicate sections: "replicate (archive v1, commit …)", the results page the
    protocol-v2 runs' commit first; live parts: smoke."""
    main = _main(smoke_book / "html" / "notebooks" / f"{stem}.html")
    banners = {b["class"][-1].removeprefix("nnrnn-banner-"): b.get_text(" ", strip=True)
               for b in main.select("div.nnrnn-banner")}
    assert banners, f"{stem} has no banner of its own"
    for kind, text in banners.items():
        if kind in ("archive", "mixed"):
            reads = (r"protocol-v2 runs, commit [0-9a-f]{7,}.*archive v1, commit" if stem in book.READS_V2
                     else r"protocol-v2 runs, commit" if stem in book.reads_v2() else r"archive v1, commit")
            assert re.search(r"replicate \(" + reads + r" [0-9a-f]{7,}", text), f"{stem}: {text}"
        if kind in ("live", "mixed"):
            assert "smoke" in text, f"{stem}: {text}"
    if stem in ("00-results", "00-results-v1"):
        assert set(banners) == {"archive"}


def test_landing_page_says_what_the_book_found(smoke_book, glued):
    """The landing page's box: the results page's counts and every claim with its verdict badge,
    each linking to that claim's details on the results page."""
    page = smoke_book / "html" / "book" / "intro.html"
    main = _main(page)
    box = main.select_one(".nnrnn-found")
    assert box is not None, "the landing page has no 'what we found' box"
    results = _main(smoke_book / "html" / "notebooks" / "00-results.html")
    expected = [(li.a.get_text(" ", strip=True), li.select_one(".nnrnn-verdict").get_text()) for li in results.select(".nnrnn-claims li")]
    found = [(li.a.get_text(" ", strip=True), li.select_one(".nnrnn-verdict").get_text()) for li in box.select(".nnrnn-claims li")]
    assert found == expected and len(found) == glued("00-results")["res_n_claims"]
    assert glued("00-results")["res_summary"] in box.get_text(" ", strip=True).replace("\u2019", "'")  # Sphinx's smart quotes
    for li in box.select(".nnrnn-claims li"):
        target, _, anchor = li.a["href"].partition("#")
        assert (page.parent / target).resolve() == (smoke_book / "html" / "notebooks" / "00-results.html").resolve()
        assert results.find(id=anchor) is not None, f"the landing page links to #{anchor}, which the results page lacks"
