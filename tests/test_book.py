"""The book pipeline: every chapter executes on smoke, the html builds, a browser renders it.

The first tests check the build's post-processing of executed notebooks on small made-up
notebooks; the ``slow`` ones use the smoke build of the whole book (``tests/conftest.py``), and
Chromium checks that its math typesets and its figures are readable at page width.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import matplotlib as mpl
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

from nnrnn import book
from nnrnn.plotting import divergence as dplot
from nnrnn.plotting import lm as lmplot
from nnrnn.plotting import theory, use_style
from nnrnn.plotting import weights as wplot
from tools.nb import code, write

REPO = Path(__file__).resolve().parent.parent


def _executed(tmp_path, cells):
    """A notebook as papermill leaves it: ``cells`` are (source, tags, outputs)."""
    nb = nbformat.v4.new_notebook()
    for src, tags, outputs in cells:
        cell = nbformat.v4.new_code_cell(src)
        cell.metadata["tags"] = tags
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_progress_bars_are_removed_and_other_stderr_kept(tmp_path):
    bar = "copy sweep:  50%|#####     | 2/4 [00:01<00:01,  1.90run/s]"
    done = "copy sweep: 100%|##########| 4/4 [00:02<00:00,  1.95run/s]"
    path = _executed(tmp_path, [
        ("run()", [], [{"output_type": "stream", "name": "stderr", "text": f"\r{bar}\r{done}\n"}]),
        ("warn()", [], [{"output_type": "stream", "name": "stderr", "text": f"\r{bar}\nUserWarning: kept\n"},
                        {"output_type": "stream", "name": "stdout", "text": "5%|x| 1/2 [stdout is kept]\n"}]),
    ])
    book._strip_progress(path)
    cells = nbformat.read(str(path), as_version=4).cells
    assert cells[0].outputs == []
    assert [o.text for o in cells[1].outputs] == ["UserWarning: kept\n", "5%|x| 1/2 [stdout is kept]\n"]


def test_parameters_cell_shows_the_values_the_page_was_built_with(tmp_path):
    path = _executed(tmp_path, [
        ('profile = "demo"  # smoke | demo | paper\nseed = 0  # base seed\ndevice = "auto"', ["parameters"], []),
        ('# Parameters\nprofile = "smoke"\ndevice = "cpu"\n', ["injected-parameters"], []),
    ])
    book._show_parameters(path, "python -m nnrnn.book --profile smoke")
    params, injected = nbformat.read(str(path), as_version=4).cells
    assert params.source.splitlines() == [
        "# profile, device: as this page was built (python -m nnrnn.book --profile smoke)",
        'profile = "smoke"  # smoke | demo | paper',
        "seed = 0  # base seed",
        'device = "cpu"',
    ]
    assert "remove-cell" in injected.metadata["tags"]


def test_staged_config_has_a_banner_naming_the_profile(tmp_path):
    book.stage_sources(tmp_path, profile="demo")
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert "<code>demo</code> profile" in config["html"]["announcement"]
    assert config["repository"] == yaml.safe_load((REPO / "_config.yml").read_text())["repository"]
    with pytest.raises(ValueError, match="profile must be one of"):
        book.stage_sources(tmp_path / "x", profile="demo2")


def test_a_chapter_reads_protocol_v2_only_once_each_of_its_tasks_is_complete(tmp_path, monkeypatch):
    """Chapter 8 (addition, psMNIST) and chapter 10 (every task) switch to the protocol-v2 runs only together
    with all their tasks, and chapter 10's banner still names its own runs, which are archive v1's."""
    done = {"addition", "psmnist"}
    from nnrnn import evidence

    for module in (book, evidence):  # book's banners and evidence.chapter_protocol (which the chapters call)
        monkeypatch.setattr(module, "is_complete", lambda task, root=None: task in done)
    assert book.chapter_protocol("08-trained-weights", tmp_path) == "v2" and book.chapter_protocol("06-psmnist", tmp_path) == "v2"
    assert book.chapter_protocol("10-divergence", tmp_path) == book.chapter_protocol("04-copy", tmp_path) == "v1"
    assert "10-divergence" not in book.archive_labels(tmp_path) and book.archive_labels(tmp_path)["08-trained-weights"].startswith("protocol-v2 runs, ")
    done.add("copy")
    label = book.archive_labels(tmp_path)["10-divergence"]
    assert label.startswith("protocol-v2 runs, ") and "; its own runs (data/divergence): archive v1, " in label
    with pytest.raises(ValueError, match=r"chapter must be one of \['04-copy'.*got '07-language-modelling'"):
        book.chapter_protocol("07-language-modelling", tmp_path)


@pytest.mark.slow
def test_no_html_executes_only(tmp_path, monkeypatch):
    nb = write(tmp_path / "nb" / "one.ipynb", [code('profile = "demo"\ndevice = "auto"', tags=["parameters"]), code("x = 1")])
    monkeypatch.setattr(book, "toc_notebooks", lambda: [nb])
    out = book.build("smoke", "cpu", tmp_path / "out", only=["one"], html=False, log=lambda *a: None)
    assert (out / "one.ipynb").is_file() and not (tmp_path / "out" / "html").exists()


@pytest.mark.slow
def test_every_chapter_executed_with_run_card_and_footer(smoke_book):
    for nb in book.toc_notebooks():
        out = smoke_book / "stage-smoke" / "notebooks" / nb.name
        cells = json.loads(out.read_text())["cells"]
        text = json.dumps([c.get("outputs", []) for c in cells])
        assert "Run card" in text and "profile `smoke`" in text, nb.name
        assert "Produced" in text and "wall time" in text, nb.name
        errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        tagged = [c for c in cells if "raises-exception" in c.get("metadata", {}).get("tags", [])]
        assert len(errors) <= len(tagged), f"{nb.name} has unexpected errors"


@pytest.mark.slow
def test_html_pages_exist(smoke_book):
    html = smoke_book / "html"
    assert (html / "index.html").is_file()
    for nb in book.toc_notebooks():
        page = html / "notebooks" / f"{nb.stem}.html"
        assert page.is_file(), page
        assert "mathjax/tex-svg-full.js" in page.read_text()
    assert (html / "_static" / "mathjax" / "tex-svg-full.js").is_file()


@pytest.mark.slow
def test_launch_buttons_point_at_source_notebooks(smoke_book):
    page = (smoke_book / "html" / "notebooks" / "01-fisher-memory.html").read_text()
    assert "mybinder.org" in page and "colab.research.google.com" in page
    assert "notebooks/01-fisher-memory.ipynb" in page


def test_unknown_parameter_is_an_error():
    nb = book.toc_notebooks()[0]
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['profle'\]"):
        book.check_notebook_parameters(nb, {"profle": "smoke"})


@pytest.mark.slow
def test_failing_cell_fails_with_the_cell_shown(tmp_path):
    nb = write(tmp_path / "bad.ipynb", [code('profile = "demo"\ndevice = "auto"', tags=["parameters"]), code("1 / 0  # boom")])
    with pytest.raises(book.BookError, match=r"(?s)ZeroDivisionError.*1 / 0  # boom"):
        book.execute([nb], tmp_path / "stage", "smoke", "cpu", log=lambda *a: None)


@pytest.mark.slow
def test_theory_page_renders_math_and_figures_in_a_browser(smoke_book, chrome, tmp_path):
    page = smoke_book / "html" / "notebooks" / "01-fisher-memory.html"
    dom = chrome(f"--user-data-dir={tmp_path / 'p1'}", "--virtual-time-budget=20000", "--dump-dom", page.as_uri()).stdout
    assert "<mjx-container" in dom, "MathJax did not typeset the page"
    visible = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", "", dom)
    visible = re.sub(r"(?s)<mjx-container.*?</mjx-container>", "", visible)
    assert "$$" not in visible, "raw $$ left on the page"
    imgs = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    figures = [s for s in imgs if s.startswith("../_images/") or s.startswith("data:image/png")]
    assert len(figures) >= 3, imgs
    for src in figures:
        if not src.startswith("data:"):
            assert (page.parent / src).resolve().is_file(), src

    shot = tmp_path / "shot.png"
    chrome(f"--user-data-dir={tmp_path / 'p2'}", "--virtual-time-budget=20000", "--window-size=1280,2400",
            f"--screenshot={shot}", page.as_uri())
    pixels = mpimg.imread(shot)[..., :3]
    non_white = float((pixels.mean(axis=2) < 0.9).mean())
    assert pixels.std() > 0.05 and non_white > 0.02, f"screenshot looks blank (non-white fraction {non_white:.3f})"


# ----------------------------------------------------------------------------- figure readability
#: the browser window of the readability check, a laptop screen: the book's content column is then
#: 672 px wide (sphinx-book-theme with both sidebars).
WINDOW_PX = 1280
#: no text of a figure may be smaller than this on the page. Native text stays legible down to
#: about 8 px (the body text is 16 px); a figure's text is a rescaled raster, blurrier at the same
#: size, so the limit is one pixel more.
MIN_TEXT_PX = 9.0
#: a labelled panel column: y tick labels and y label (about 5 em of the 10.5 pt tick text, ~60 px
#: on the page) plus a plot area that fits 4 x tick labels of up to 5 characters with gaps
#: (about 16 em, ~160 px at 10 px text): 220 px.
MIN_PANEL_PX = 220.0
#: a tick-free heatmap thumbnail (chapter 9's 12 x 12 gate blocks): cells of at least 12 px, the
#: height of the text around them, so 12 x 12 = 144 px, plus the gutter: 150 px.
MIN_THUMB_PX = 150.0

# The wrapper finds the page's figure by id, waits (polling on timers, which the browser's virtual
# time runs) until MathJax, which moves the text, has typeset and the image has loaded, scrolls the
# figure under the page's header, and writes what it measured after layout into its own DOM,
# which --dump-dom prints: the figure's box and natural width, and the widths of every figure.
_FIGURE_PROBE = """<!doctype html>
<html><body style="margin:0;overflow:hidden">
<iframe id="page" style="width:%(width)dpx;height:%(height)dpx;border:0"></iframe>
<pre id="out" style="display:none">pending</pre>
<script>
const q = new URLSearchParams(location.search), frame = document.getElementById("page");
const put = (o) => { document.getElementById("out").textContent = "FIGURE" + JSON.stringify(o) + "END"; };
let typeset = null, polls = 0, scrolled = -1;
function poll() {
  const w = frame.contentWindow, d = frame.contentDocument, fig = d.getElementById(q.get("fig"));
  if (!fig) return put({error: "no element with id " + q.get("fig")});
  const img = fig.querySelector("img");
  if (!img) return put({error: "figure " + q.get("fig") + " holds no image"});
  if (typeset === null) {
    typeset = !(w.MathJax && w.MathJax.startup && w.MathJax.startup.promise);
    if (!typeset) w.MathJax.startup.promise.then(() => { typeset = true; });
  }
  polls += 1;
  const images = [...d.querySelectorAll("figure img")];
  if (!(typeset && images.every((i) => i.complete && i.naturalWidth > 0))) {
    if (polls > 300) return put({error: "not ready after 60 s: typeset " + typeset + ", image " + img.complete});
    return setTimeout(poll, 200);
  }
  if (scrolled < 0) { d.scrollingElement.scrollTop += fig.getBoundingClientRect().top - 80; scrolled = polls; }
  if (polls < scrolled + 3) return setTimeout(poll, 200);
  const r = img.getBoundingClientRect();
  put({left: r.left, top: r.top, width: r.width, height: r.height, natural: img.naturalWidth,
       figures: images.map((i) => ({id: i.closest("figure").id, width: i.getBoundingClientRect().width,
                                    natural: i.naturalWidth}))});
}
frame.addEventListener("load", () => setTimeout(poll, 200));
frame.src = q.get("page");
</script></body></html>
"""


def _render_figure(chrome, page: Path, fig_id: str, tmp_path: Path, height: int = 1200) -> tuple[dict, Path]:
    """Screenshot ``page`` in a ``WINDOW_PX``-wide window with figure ``fig_id`` in view.

    Returns what the browser measured after layout (the image's box on the screenshot in CSS px,
    its natural width, and ``figures``: id, rendered and natural width of every figure image on
    the page) and the screenshot's path.
    """
    wrapper = tmp_path / f"{fig_id}.html"
    wrapper.write_text(_FIGURE_PROBE % {"width": WINDOW_PX, "height": height})
    shot = tmp_path / f"{fig_id}.png"
    url = f"{wrapper.as_uri()}?{urlencode({'page': page.as_uri(), 'fig': fig_id})}"
    res = chrome(f"--user-data-dir={tmp_path / ('profile-' + fig_id)}", "--virtual-time-budget=120000",
                  f"--window-size={WINDOW_PX},{height}", f"--screenshot={shot}", "--dump-dom", url, timeout=300)
    found = re.search(r"FIGURE(\{.*?\})END", res.stdout)
    assert found, f"{page.name}#{fig_id}: the browser measured nothing\n{res.stderr[-2000:]}"
    box = json.loads(found.group(1))
    assert "error" not in box, f"{page.name}: {box['error']}"
    return box, shot


# The layouts the chapters draw, rebuilt on made-up values of the chapter's shapes and labels (a
# figure's grid and fonts do not depend on the values).
def _fig1_1():
    eye = np.eye(10)
    return theory.fig1a_matrices(
        {"identity": 0.9 * eye, "orthogonal": 0.9 * eye[::-1], "chain": np.eye(10, k=-1), "fb_chain": np.eye(10, k=-1)},
        labels={"identity": "identity 0.9·I", "orthogonal": "orthogonal 0.9·Q", "chain": "chain α = 1.05",
                "fb_chain": "feedback chain 0.99 / 0.04"},
        source={"chain": 0, "fb_chain": 0})


def _fig2_1():
    lags = np.arange(101)
    res = {"lags": lags}
    for setting in ("linear", "noisy", "elu"):
        for name in ("chain", "orthogonal", "identity"):
            res[f"r2_{setting}_{name}"] = np.exp(-lags / 30.0)[None, :]
            res[f"theory_{setting}_{name}"] = np.exp(-lags / 30.0)[None, :]
    return theory.fig2_decoding(res, networks=("chain", "orthogonal", "identity"),
                                labels={"chain": "chain α = 1, v = e₀", "orthogonal": "orthogonal 0.9·Q, random unit v",
                                        "identity": "identity 0.9·I, v = 1"})


def _fig3_1():
    eye, g = np.eye(12), np.random.default_rng(0)
    return theory.fig3_matrices({
        "identity λ = 1": eye, "orthogonal λ = 1": g.normal(size=(12, 12)), "chain α = 1.02": np.eye(12, k=-1),
        "feedback chain 0.99 / 0.04": np.eye(12, k=-1) + 0.04 * np.eye(12, k=1),
        "source input 0.9·I (chains)": 0.9 * eye[:, :3], "Gaussian input (λI, λQ)": g.normal(size=(12, 3))})


def _fig3_5():
    return theory.fig3_lstm_gates(np.random.default_rng(0).normal(size=(4 * 24, 24)), n_show=24)


def _fig8_3():
    tasks, inits = ("addition", "psmnist"), ("identity", "orthogonal")
    agg = pd.DataFrame([{"task": task, "init": init, "state": state, "lag": k, "mean": 0.01 * np.sin(k), "sem": 0.001, "n": 2}
                        for task in tasks for init in inits for state in ("untrained", "trained") for k in range(-15, 16)])
    selection = {(t, i): "best (not successful)" for t in tasks for i in inits}
    return wplot.fig5_diagonal_means(agg, tasks=list(tasks), inits=inits, max_lag=15, selection=selection)


def _fig10_1():
    inits, lrs = ("identity", "orthogonal", "chain", "fb_chain"), (8e-4, 5e-4, 3e-4, 1e-4, 8e-5, 5e-5, 3e-5, 1e-5, 8e-6, 5e-6, 3e-6)
    outcomes = ("diverged", "at baseline", "below baseline", "success")
    maps = {task: pd.DataFrame([{"init": i, "scale": s, "lr": lr, "outcome": outcomes[k % 4], "agree": k != 5,
                                 "diverged_at": 100.0 * (k + 1) if k % 4 == 0 else np.nan}
                                for i in inits for s in (1.0, 1.02) for k, lr in enumerate(lrs)])
            for task in ("copy", "addition", "psmnist")}
    return dplot.stability_maps(maps, inits)


def _fig9_1():
    g = np.random.default_rng(0)
    return lmplot.lstm_gate_blocks({name: g.normal(size=(48, 12)) for name in ("orthogonal", "chain", "plain", "mixed")})


#: figure id -> (page, the figure's drawing on made-up values, smallest width of one panel column)
MULTI_PANEL = {
    "fig-nb01-matrices": ("01-fisher-memory", _fig1_1, MIN_PANEL_PX),
    "fig-nb02-decoding": ("02-nonlinear-decoding", _fig2_1, MIN_PANEL_PX),
    "fig-nb03-matrices": ("03-initializers", _fig3_1, MIN_PANEL_PX),
    "fig-nb03-lstm": ("03-initializers", _fig3_5, MIN_PANEL_PX),
    "fig-nb08-fig5": ("08-trained-weights", _fig8_3, MIN_PANEL_PX),
    "fig-nb09-init-blocks": ("09-lstm", _fig9_1, MIN_THUMB_PX),
    "fig-nb10-maps": ("10-divergence", _fig10_1, MIN_PANEL_PX),
}


def _style() -> tuple[float, float]:
    """(dpi the notebooks draw at, size in pt of the style's smallest text, "small") of the book's style."""
    with mpl.rc_context():
        use_style()
        return float(mpl.rcParams["figure.dpi"]), FontProperties(size="small").get_size_in_points()


def _layout(draw) -> tuple[int, float]:
    """(panel columns, smallest text in pt) of the figure ``draw()`` makes in the book's style."""
    with mpl.rc_context():
        use_style()
        fig = draw()
        try:
            fig.canvas.draw()
            columns = fig.axes[0].get_subplotspec().get_gridspec().ncols
            sizes = [t.get_fontsize() for t in fig.findobj(Text)
                     if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())]
            return columns, min(sizes)
        finally:
            plt.close(fig)


def test_layout_reads_the_grid_and_the_smallest_text():
    """``_layout``, which the browser test relies on, sees a figure's columns and its tiny text."""
    def draw():
        fig, axes = plt.subplots(2, 3)
        axes[0, 0].text(0.5, 0.5, "tiny", fontsize=5)
        axes[1, 2].set_visible(False)
        return fig

    assert _layout(draw) == (3, 5.0)
    assert _style() == (110.0, pytest.approx(9.5, abs=0.01))


@pytest.mark.slow
def test_figures_are_readable_at_page_width(smoke_book, chrome, tmp_path):
    """Figs 1.1, 2.1, 3.1, 3.5, 8.3, 9.1 and 10.1 (and the other figures of their pages) on the smoke
    build, each screenshot in a 1280-px-wide window.

    A figure is an image that the page scales down to its column (672 px). Measured in the
    browser after layout:

    - *fonts*: the page shows an image at ``r = rendered width / natural width``. The notebooks'
      inline backend draws it at ``dpi`` = ``figure.dpi`` of :func:`nnrnn.plotting.use_style`
      (110), so text of ``s`` pt is ``s * dpi / 72 * r`` px on the page, which must be at least
      ``MIN_TEXT_PX`` (9 px): ``r >= 9 * 72 / (s * 110)``. For the house style's smallest text
      ("small", 0.833 x its 11.4 pt base: 9.5 pt) that is r >= 0.62, a natural width of at most
      ~1080 px (9.8 in) in a 672-px column;
    - *panels*: ``rendered width / panel columns`` is at least ``MIN_PANEL_PX`` (220 px) for
      labelled panels and ``MIN_THUMB_PX`` (150 px) for Fig. 9.1's tick-free thumbnails, so at
      most three labelled columns fit the column.

    For the seven multi-panel figures, ``s`` and the columns come from the plotting function
    itself (:func:`_layout` on ``MULTI_PANEL``); every other figure of those pages is held to the
    font rule with ``s`` = the style's "small". Each listed figure must also show in its
    screenshot (kept in ``tmp_path``).
    """
    dpi, small_pt = _style()
    problems, others = [], {}
    for fig_id, (stem, draw, min_panel) in MULTI_PANEL.items():
        box, shot = _render_figure(chrome, smoke_book / "html" / "notebooks" / f"{stem}.html", fig_id, tmp_path)
        columns, smallest_pt = _layout(draw)
        scale, where = box["width"] / box["natural"], f"{stem}#{fig_id}"
        text_px = smallest_pt * dpi / 72 * scale
        if text_px < MIN_TEXT_PX:
            problems.append(f"{where}: shown at {scale:.2f} of its {box['natural']} px, its smallest text "
                            f"({smallest_pt:.1f} pt at {dpi:g} dpi) is {text_px:.1f} px < {MIN_TEXT_PX:g} px")
        if box["width"] / columns < min_panel:
            problems.append(f"{where}: {columns} panel columns in {box['width']:.0f} px, "
                            f"{box['width'] / columns:.0f} px each < {min_panel:.0f} px")
        pixels = mpimg.imread(shot)[..., :3]
        top, left = max(int(box["top"]), 0), int(box["left"])
        shown = pixels[top: int(box["top"] + box["height"]), left: int(left + box["width"])]
        assert shown.size and float((shown.mean(axis=2) < 0.9).mean()) > 0.02, f"{where}: blank in the screenshot {shot}"
        others.update({f"{stem}#{f['id']}": f for f in box["figures"] if f["id"] not in MULTI_PANEL})
    for where, f in sorted(others.items()):
        scale = f["width"] / f["natural"]
        if small_pt * dpi / 72 * scale < MIN_TEXT_PX:
            problems.append(f"{where}: shown at {scale:.2f} of its {f['natural']} px, text of {small_pt:.1f} pt "
                            f"is {small_pt * dpi / 72 * scale:.1f} px < {MIN_TEXT_PX:g} px")
    assert len(others) >= 8, sorted(others)
    assert not problems, "figures unreadable at page width:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.nightly  # a second execution of every chapter: make test builds the book once (smoke), issue 22
def test_a_replicate_build_executes_every_chapter_from_the_archive(tmp_path, data_dir, monkeypatch):
    """`make book PROFILE=replicate` (issue 11): every chapter accepts the profile. The theory chapters
    and the live parts of chapters 4-9 run `demo` (nnrnn.pages.report.live_profile), whose runs are in the
    committed archive; the chapters' replicate sections read it. Until this test, chapters 1-3, 7 and
    9 failed on it (KeyError 'replicate')."""
    from nnrnn.pages import report
    from nnrnn.pages.report import live_profile

    monkeypatch.setenv("NNRNN_DATA_DIR", str(data_dir))
    monkeypatch.delenv("NNRNN_RESULTS_DIR", raising=False)  # the repository's data/: the committed archive
    monkeypatch.delenv("MPLBACKEND", raising=False)
    done = book.execute(book.toc_notebooks(), tmp_path, "replicate", device="cpu", log=lambda *a: None)
    assert len(done) == len(book.toc_notebooks())
    for d in done:
        glue = report.read_glue(d.output)
        prefix = "nb" + d.name[:2]
        if d.name.startswith("08"):  # its main part is the replicate analysis; its live part says "demo" itself
            assert glue["nb08_profile"] == "replicate"
        elif f"{prefix}_profile" in glue:  # the chapters that glue the profile they computed on
            assert glue[f"{prefix}_profile"] == live_profile("replicate") == "demo", d.name
    assert report.read_glue(done[-1].output)["nb09_rep_n_planned"] == 12
