"""What the build adds to the pages (issue 23): the landing page's "what we found" box, each page's
banners (which part read the archive, which ran live on which profile), and the chapters' tags
that place them. On made-up claims and notebooks; the smoke build's pages are checked in
tests/test_html.py and tests/test_readable.py.
"""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from nnrnn import book
from nnrnn.pages import claims_view, report
from nnrnn.pages import claims as claim_table
from nnrnn.verdicts import VERDICTS

CHAPTERS = book.toc_notebooks()


def _claims() -> pd.DataFrame:
    verdicts = ["reproduced", "reproduced", VERDICTS[1], claim_table.WITHHELD]
    return pd.DataFrame({"claim": [f"claim <{i}>" for i in range(len(verdicts))], "verdict": verdicts})


def test_found_box_counts_the_verdicts_and_lists_every_claim_with_its_badge():
    md = claims_view.found_markdown(_claims(), "commit abc1234 (2026-01-02)")
    assert md.startswith(":::{admonition} What we found") and md.rstrip().endswith(":::")
    assert f"2 reproduced; 1 {VERDICTS[1]}; 1 withheld" in md
    assert "commit abc1234 (2026-01-02)" in md and "{doc}`../notebooks/00-results`" in md
    items = BeautifulSoup(md, "html.parser").select(".nnrnn-claims li")
    assert [li.a.get_text() for li in items] == [f"claim <{i}>" for i in range(4)]  # escaped, in order
    assert [li.a["href"] for li in items] == [f"../notebooks/00-results.html#claim-{i + 1}" for i in range(4)]
    assert [li.select_one(".nnrnn-verdict").get_text() for li in items] == ["reproduced", "reproduced", VERDICTS[1],
                                                                           "withheld"]


def test_write_found_puts_the_box_where_the_landing_page_includes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(claim_table, "plan_claims", lambda root=None: _claims())
    path = book.write_found(tmp_path, tmp_path / "no-archive")
    assert path == tmp_path / "book" / book.FOUND and "What we found" in path.read_text()
    # an archive without protocol-v2 runs: the box says which benchmarks still train and where v1's verdicts are
    said = " ".join(path.read_text().split())
    assert "Protocol v2 is still training (copy (T = 500), addition (T = 750), psMNIST (T = 784))" in said
    assert "{doc}`../notebooks/00-results-v1`" in said and "protocol-v2 runs as of no archive at" in said and "judged by the analysis plan of commit e62e60b" in said
    monkeypatch.setattr(book, "is_complete", lambda task, root=None: True)
    assert "still training" not in book.write_found(tmp_path, tmp_path / "no-archive").read_text()
    intro = (book.REPO / "book" / "intro.md").read_text()
    assert f"```{{include}} {book.FOUND.as_posix()}" in intro
    for profile in ("smoke", "demo", "paper", "replicate"):  # the landing page describes all four
        assert f"- `{profile}`" in intro


def _nb(path, cells):
    nb = nbformat.v4.new_notebook()
    for kind, src, tags in cells:
        new = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(new(src, metadata={"tags": tags}))
    nbformat.write(nb, str(path))
    return path


def _banners(path) -> list[tuple[int, str]]:
    nb = nbformat.read(str(path), as_version=4)
    return [(i, re.search(r"nnrnn-banner-(\w+)", c.source).group(1)) for i, c in enumerate(nb.cells)
            if "nnrnn-banner" in c.metadata.get("tags", [])]


def test_banners_follow_the_title_and_each_tagged_part_and_name_the_profile(tmp_path):
    mixed = _nb(tmp_path / "mixed.ipynb", [("code", "x = 1", []), ("md", "# Title", []), ("md", "## Replicate", ["banner-archive"]),
                                           ("code", "y = 2", []), ("md", "## Live", ["banner-live"])])
    book.add_banners(mixed, "replicate", "commit abc1234 (2026-01-02)")
    assert _banners(mixed) == [(2, "mixed"), (4, "archive"), (7, "live")]
    book.add_banners(mixed, "smoke", "commit abc1234 (2026-01-02)")  # a rebuilt stage: replaced, not added
    assert _banners(mixed) == [(2, "mixed"), (4, "archive"), (7, "live")]
    cells = nbformat.read(str(mixed), as_version=4).cells
    assert "<code>smoke</code>" in cells[7].source and "commit abc1234" in cells[4].source
    assert "<code>replicate</code>" in cells[4].source and "smoke" not in cells[4].source
    theory = _nb(tmp_path / "theory.ipynb", [("md", "# Theory", []), ("code", "x = 1", [])])
    book.add_banners(theory, "replicate", "commit abc1234 (2026-01-02)")
    assert _banners(theory) == [(1, "live")]
    assert "<code>demo</code>" in nbformat.read(str(theory), as_version=4).cells[1].source  # replicate's live parts
    archive = _nb(tmp_path / "results.ipynb", [("md", "# Results", ["banner-archive"])])
    book.add_banners(archive, "demo", "commit abc1234 (2026-01-02)")
    assert _banners(archive) == [(1, "archive")]
    with pytest.raises(ValueError, match="banner kind must be one of"):
        book.banner("paper", "demo", "x")


@pytest.mark.parametrize("nb", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_every_part_that_reads_the_archive_or_trains_live_is_tagged_for_its_banner(nb):
    cells = nbformat.read(str(nb), as_version=4).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    tags = {t for c in cells for t in c.metadata.get("tags", [])}
    if "replicate_section(" in code or "rep_runs" in code:  # a replicate section beside a live one
        assert {"banner-archive", "banner-live"} <= tags, f"{nb.name}: tag the heading of each part (tags: {tags})"
    elif "archive_commit(" in code:  # the results page: all of it from the archive
        assert "banner-archive" in cells[0].metadata.get("tags", []), f"{nb.name}: tag its title banner-archive"


def test_timing_text_names_this_builds_time_and_a_fresh_runs_time():
    loaded = report.timing_text(2.4, 0, [600.0] * 6, cores=2)  # committed runs: loaded in seconds
    assert loaded.startswith("This build: 0 of 6 runs trained, 6 loaded from the run store, in 2 s.")
    assert "sum to 60.0 min, about 30 min on 2 cores" in loaded  # 6 x 10 min over 2 workers
    assert "about 45 s on 2 cores" in report.timing_text(50.0, 3, [30.0] * 3)
    for bad, match in [((-1.0, 0, [1.0]), "build_s"), ((1.0, 2, [1.0]), "n_trained"), ((1.0, 0, [-1.0]), "wall_s"),
                       ((1.0, 0, [1.0], 0), "cores")]:
        with pytest.raises(ValueError, match=match):
            report.timing_text(*bad)


@pytest.mark.parametrize("nb", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_a_chapter_that_trains_states_measured_times_not_a_promise(nb):
    """"About ten minutes on two CPU cores" ran in 15 s (committed runs) and its sweep 'took 511.9 minutes':
    a chapter that trains quotes the measured :func:`report.timing_text` instead."""
    cells = nbformat.read(str(nb), as_version=4).cells
    prose = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert not re.search(r"about (ten|10|15) minutes|The sweep took|where there are none yet", prose), nb.name
    if "run_sweep(" in code or "lm.sweep(" in code:
        key = re.search(r'report\.glue\("(\w+_timing)", report\.timing_text\(', code)
        assert key and f"{{glue:text}}`{key.group(1)}`" in prose, f"{nb.name} trains but states no measured time"


def test_the_version_is_the_same_in_the_package_the_citation_and_the_changelog():
    import nnrnn

    citation = (book.REPO / "CITATION.cff").read_text()
    changelog = (book.REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^version: {re.escape(nnrnn.__version__)}$", citation, re.M)
    assert re.search(rf"^## \[{re.escape(nnrnn.__version__)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M)
    assert f"[{nnrnn.__version__}]: https://" in changelog


def test_verdict_changes_read_as_a_list_with_a_badge_per_verdict():
    """Archive v1's verdicts beside the plan's: one list item per claim, no table columns to squeeze."""
    old = pd.DataFrame({"claim": ["J", "W moves", "gone"], "where in the paper": ["Eq. 4", "Table 2", "Fig. 9"],
                        "verdict": ["reproduced", "reproduced", "consistent"]})
    new = pd.DataFrame({"claim": ["J", "Table 2, addition, identity: x", "Table 2, psMNIST, orthogonal: x"],
                        "where in the paper": ["Eq. 4", "Table 2", "Table 2"],
                        "verdict": ["reproduced", VERDICTS[1], VERDICTS[5]]})
    soup = BeautifulSoup(claims_view.changes(claim_table.verdict_changes(old, new)).markup, "html.parser")
    items = soup.select("ul.nnrnn-changes > li")
    assert [li.select_one(".nnrnn-change-claim").get_text() for li in items] == ["J", "W moves", "gone"]
    assert [[b.get_text() for b in li.select(".nnrnn-verdict")] for li in items] == [
        ["reproduced", "reproduced"], ["reproduced", VERDICTS[1], VERDICTS[5]], [VERDICTS[1]]]
    assert "addition, identity: " in items[1].get_text() and "no claim under the plan" in items[2].get_text()
    assert not soup.select("table")
