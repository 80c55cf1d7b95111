"""Issue 23: the replicate sections' figures are numbered with their chapter's other figures, and the
alt text of their images is their caption, not the image's file path.

A section's figure is a :class:`nnrnn.pages.section.Figure`; under the book build it is glued and
shown by a ``{glue:figure}`` directive with a ``:name:``, which Sphinx numbers in the chapter's
sequence. The first test reads every section of the committed archive; the slow one executes a tiny
chapter through the book's own code path and renders it with the book's configuration.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from nnrnn import book  # noqa: E402
from nnrnn.pages import benchmarks, language, report  # noqa: E402
from nnrnn.pages.section import ALT_CHARS, Figure, plain_text  # noqa: E402
from tools.nb import code, md, write  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sections():
    """Every replicate section of the committed archive (``data/``), by name."""
    for task in ("copy", "addition", "psmnist"):
        yield task, benchmarks.replicate_section(task)
    for cell in ("rnn", "lstm"):
        yield cell, language.replicate_section(cell)


def test_every_replicate_figure_is_numbered_with_its_caption_as_alt_text():
    """A bare matplotlib figure in a part was shown unnumbered, with the path of its image as alt text
    (captions began "**Figure.**"); every figure is now a named Figure whose alt text is its caption."""
    names = []
    for what, s in _sections():
        parts = [p for p in s.PARTS if p != "table"]  # the language models' table needs the corpus; it has no figure
        items = [item for p in parts for item in getattr(s, p)()]
        assert not [i for i in items if hasattr(i, "savefig")], f"{what}: a figure without a number"
        figures = [i for i in items if isinstance(i, Figure)]
        assert figures, f"{what}: the archive's runs give no figure"
        for f in figures:
            directive = f.directive()
            assert re.search(rf"^:name: fig-{re.escape(f.name)}$", directive, re.M), directive
            assert re.search(rf"^:alt: {re.escape(f.alt)}$", directive, re.M), directive
            assert f.name.startswith(f"replicate-{what}-") and not f.caption.lstrip("*").startswith("Figure")
            text = plain_text(f.caption)
            assert f.alt == text or (f.alt.endswith("…") and text.startswith(f.alt[:-1]) and len(f.alt) <= ALT_CHARS)
            assert not re.search(r"\.png|_images|\*\*|`", f.alt), f.alt
        names += [f.name for f in figures]
    assert len(names) == len(set(names)), names  # Sphinx's targets are global: no two figures share one


def _chapter8_replicate_cell_output(monkeypatch) -> list:
    """What chapter 8's replicate cell displays on the committed archive: the set-up cells (from the
    parameters cell to the first Markdown cell after it) and that cell (the code cell after the Markdown
    tagged ``banner-archive``) run in one namespace, as the kernel runs them, with ``display`` recording
    its objects (glued values are not this test's concern)."""
    cells = json.loads((REPO / "notebooks" / "08-trained-weights.ipynb").read_text())["cells"]
    tagged = [c["metadata"].get("tags", []) for c in cells]
    params = tagged.index(["parameters"])
    setup_end = next(i for i in range(params, len(cells)) if cells[i]["cell_type"] == "markdown")
    banner = next(i for i, t in enumerate(tagged) if "banner-archive" in t)
    replicate = next(i for i in range(banner, len(cells)) if cells[i]["cell_type"] == "code")
    shown: list = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(report, "glue", lambda name, value, display=False: None)
    namespace: dict = {}
    for c in [*cells[params:setup_end], cells[replicate]]:
        exec(compile("".join(c["source"]), "08-trained-weights.ipynb", "exec"), namespace)
    assert not namespace["rep"].networks.empty, "the committed archive has replicate networks for chapter 8"
    return shown


def test_chapter_8s_replicate_figures_are_numbered_with_their_captions_as_alt_text(monkeypatch):
    """Chapter 8's replicate section drew Table 2 and Fig. 5 in its own cell and displayed the bare
    matplotlib figures (unnumbered, the image's path as alt text), each followed by a bold caption
    paragraph; they are now Figures, numbered with the chapter's other figures."""
    shown = _chapter8_replicate_cell_output(monkeypatch)
    assert not [o for o in shown if hasattr(o, "savefig")], "chapter 8: a figure without a number"
    figures = [o for o in shown if isinstance(o, Figure)]
    # unique in the book: the sections' figures are named replicate-<task or cell>-... (the first test)
    assert [f.name for f in figures] == ["replicate-weights-table2", "replicate-weights-fig5"]
    for f in figures:
        assert hasattr(f.fig, "savefig") and f.caption.startswith(("**The paper's Table 2 ", "**The paper's Fig. 5 "))
        directive = f.directive()
        assert re.search(rf"^:name: fig-{f.name}$", directive, re.M) and re.search(rf"^:alt: {re.escape(f.alt)}$", directive, re.M)
        assert f.alt.startswith(plain_text(f.caption)[:60]) and not re.search(r"\.png|_images|\*\*|`", f.alt), f.alt
    repeated = [o.data for o in shown if any(f.caption in str(getattr(o, "data", "")) for f in figures)]
    assert not repeated, "a caption is the Figure's, not a paragraph of its own"


def test_alt_text_is_plain_and_cut_at_a_word():
    long = "**Validation loss** of `copy` " + "word " * 60
    f = Figure(None, long, "replicate-copy-curves")
    assert f.alt.startswith("Validation loss of copy word") and f.alt.endswith("word…") and len(f.alt) <= ALT_CHARS
    assert f.key == "fig_replicate_copy_curves"
    with pytest.raises(ValueError, match="name must be lower-case words joined by hyphens.*got 'Copy curves'"):
        Figure(None, "A caption.", "Copy curves")
    with pytest.raises(ValueError, match="caption must be a non-empty string, got ' '"):
        Figure(None, " ", "replicate-copy-curves")


def _shown(monkeypatch, build: bool) -> list:
    """What a Figure's display hands to IPython (and to the glue), in order."""
    shown: list = []
    monkeypatch.setenv(report.BOOK_BUILD_ENV, "1" if build else "0")
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setattr(report, "glue_figure", lambda key, fig: shown.append(("glued", key, fig)))
    fig = plt.figure()
    Figure(fig, "Validation loss, **mean** ± s.e.m.", "replicate-copy-curves")._ipython_display_()
    return fig, shown


def test_the_book_build_glues_the_image_and_shows_a_named_glue_figure(monkeypatch):
    fig, shown = _shown(monkeypatch, build=True)
    assert shown[0] == ("glued", "fig_replicate_copy_curves", fig) and len(shown) == 2
    assert shown[1].data.splitlines() == ["````{glue:figure} fig_replicate_copy_curves", ":name: fig-replicate-copy-curves",
                                          ":alt: Validation loss, mean ± s.e.m.", "",
                                          "Validation loss, **mean** ± s.e.m.", "````"]


def test_a_live_notebook_shows_the_image_then_its_caption(monkeypatch):
    fig, shown = _shown(monkeypatch, build=False)
    assert shown[0] is fig and shown[1].data == "**Figure.** Validation loss, **mean** ± s.e.m."
    assert not plt.fignum_exists(fig.number)  # closed once shown: pyplot does not show it twice


@pytest.mark.slow
def test_a_chapter_runs_its_kernel_over_ipc_and_its_section_figure_is_numbered(tmp_path, capfd):
    """One tiny chapter through :func:`nnrnn.book.execute` and Sphinx with the book's settings: the
    kernel no longer warns that it runs over TCP without encryption (10 warnings per build), leaves no
    socket in the notebook's folder, and the section's figure is the page's Fig. 2, after the
    figure of a Markdown cell, with its caption as alt text (with CommonMark outputs it was a code block)."""
    pytest.importorskip("myst_nb")
    from sphinx.application import Sphinx  # lazy: the book tool chain, as myst_nb above

    src = tmp_path / "src"
    nb = write(src / "index.ipynb", [
        md("# A chapter"),
        code('profile = "demo"\ndevice = "auto"', tags=["parameters"]),
        code("import matplotlib.pyplot as plt\nfrom nnrnn.pages import report, section\n"
             "f = plt.figure(figsize=(2, 1)); plt.plot([0, 1])\nreport.glue_figure('nbxx_first', f)"),
        md("```{glue:figure} nbxx_first\n:name: fig-nbxx-first\n:alt: The first figure.\n\nThe first figure.\n```"),
        code("f = plt.figure(figsize=(2, 1)); plt.plot([1, 0])\n"
             "section.Part([section.Figure(f, 'Pilot scores of `copy`, **provisional**.', 'replicate-copy-pilot')])"),
    ])
    capfd.readouterr()
    book.execute([nb], tmp_path / "stage", "smoke", "cpu", log=lambda *a: None)
    err = capfd.readouterr().err
    assert "without encryption" not in err, err
    assert sorted(p.name for p in src.iterdir()) == ["index.ipynb"]  # no kernel-ipc-* sockets left there

    executed = tmp_path / "stage" / "notebooks"
    config = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    keep = {k: config[k] for k in ("nb_render_markdown_format", "suppress_warnings") if k in config}
    app = Sphinx(str(executed), None, str(tmp_path / "html"), str(tmp_path / "doctrees"), "html", status=None,
                 warning=sys.stderr, freshenv=True,
                 confoverrides={"extensions": "myst_nb", "numfig": True, "nb_execution_mode": "off",
                                "exclude_patterns": [], **keep})
    app.build()
    page = (tmp_path / "html" / "index.html").read_text()
    figures = re.findall(r"<figure.*?</figure>", page, re.S)
    assert len(figures) == 2, page
    second = figures[1]
    assert 'id="fig-replicate-copy-pilot"' in second and "Fig. 2" in second, second
    alt = html.unescape(re.search(r'<img alt="([^"]*)"', second).group(1))
    assert alt == "Pilot scores of copy, provisional."
