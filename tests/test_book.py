"""The book pipeline: every chapter executes on smoke, the html builds, a browser renders it.

The first tests check the build's post-processing of executed notebooks on small made-up
notebooks; the ``slow`` ones use the smoke build of the whole book (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import nbformat
import yaml

from nnrnn import book
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
        book.check_parameters(nb, {"profle": "smoke"})


@pytest.mark.slow
def test_failing_cell_fails_with_the_cell_shown(tmp_path):
    nb = write(tmp_path / "bad.ipynb", [code('profile = "demo"\ndevice = "auto"', tags=["parameters"]), code("1 / 0  # boom")])
    with pytest.raises(book.BookError, match=r"(?s)ZeroDivisionError.*1 / 0  # boom"):
        book.execute([nb], tmp_path / "stage", "smoke", "cpu", log=lambda *a: None)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (apt-get install chromium)")
        pytest.skip("chromium not installed")
    return path


def _chrome(browser, *args, timeout=120):
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--allow-file-access-from-files"]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_theory_page_renders_math_and_figures_in_a_browser(smoke_book, browser, tmp_path):
    page = smoke_book / "html" / "notebooks" / "01-fisher-memory.html"
    dom = _chrome(browser, f"--user-data-dir={tmp_path / 'p1'}", "--virtual-time-budget=20000", "--dump-dom", page.as_uri()).stdout
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
    _chrome(browser, f"--user-data-dir={tmp_path / 'p2'}", "--virtual-time-budget=20000", "--window-size=1280,2400",
            f"--screenshot={shot}", page.as_uri())
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)[..., :3]
    non_white = float((pixels.mean(axis=2) < 0.9).mean())
    assert pixels.std() > 0.05 and non_white > 0.02, f"screenshot looks blank (non-white fraction {non_white:.3f})"
