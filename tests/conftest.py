"""Shared fixtures: data location, the smoke build of the whole book (built once), and Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path | None:
    env = os.environ.get("NNRNN_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if not cand.is_absolute():
            cand = (REPO / cand).resolve()
        if cand.is_dir():
            return cand
    return None


def pytest_collection_modifyitems(config, items):
    """Tests marked ``nightly`` run only with ``NNRNN_NIGHTLY=1`` (.github/workflows/nightly.yml): ``make
    test`` builds the book once, on smoke; a second whole-book build waits for the nightly run."""
    if os.environ.get("NNRNN_NIGHTLY") == "1":
        return
    skip = pytest.mark.skip(reason="nightly only: set NNRNN_NIGHTLY=1 to run it")
    for item in items:
        if "nightly" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip("no data: set NNRNN_DATA_DIR to a folder with mnist/, ptb/ and ptb-char/")
    return d


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, data_dir):
    """Execute every chapter on the smoke profile and build the html book, once per session.

    Results and runs go to a fresh temporary store, so nothing cached hides a failure.
    Returns the output folder: ``<out>/stage-smoke/notebooks/*.ipynb`` and ``<out>/html``.
    """
    from nnrnn import book

    out = tmp_path_factory.mktemp("book")
    # MPLBACKEND must stay unset: kernels need matplotlib's inline backend to put figures
    # (glued ones included) into the executed notebooks as images.
    with mock.patch.dict(os.environ, {"NNRNN_RESULTS_DIR": str(out / "store"), "NNRNN_DATA_DIR": str(data_dir)}):
        os.environ.pop("MPLBACKEND", None)  # restored with the rest when the block ends
        book.build(profile="smoke", device="cpu", out=out)
    return out


@pytest.fixture(scope="session")
def executed(smoke_book):
    """``executed("04-copy")`` -> path of that chapter executed on smoke."""

    def get(stem: str) -> Path:
        path = smoke_book / "stage-smoke" / "notebooks" / f"{stem}.ipynb"
        assert path.is_file(), f"{stem} was not executed; is it in _toc.yml?"
        return path

    return get


@pytest.fixture(scope="session")
def glued(executed):
    """``glued("01-fisher-memory")`` -> dict of that chapter's glued values."""
    from nnrnn.pages.report import read_glue

    return lambda stem: read_glue(executed(stem))


@pytest.fixture(scope="session")
def browser() -> str:
    """The path of a Chromium (skipped where there is none, failed in CI)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (apt-get install chromium)")
    pytest.skip("chromium not installed")


@pytest.fixture(scope="session")
def chrome(browser):
    """``chrome(*args, timeout=120)`` runs headless Chromium with ``args`` and returns the process."""
    base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--allow-file-access-from-files"]
    return lambda *args, timeout=120: subprocess.run(base + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tiny_v2_protocol(monkeypatch):
    """Protocol v2 shrunk to one setting per initializer, and addition two pilot and two stage-2 seeds (tiny
    networks and data), so that its pilot, divergence screen and stage 2 train in seconds."""
    from nnrnn import paper, replicate

    tiny = dict(T=25, hidden_size=8, n_train=32, n_val=16, epochs=1, evals_per_epoch=2)
    monkeypatch.setattr(replicate, "_PILOT_BASE", {**replicate._PILOT_BASE, "addition": dict(tiny, T=30)})
    monkeypatch.setattr(paper, "PAPER_LRS", (1e-3,))
    inits = ("identity", "orthogonal", "chain", "fb_chain")
    proto = replicate.Protocol("v2", {i: (1.0,) if i != "fb_chain" else (0.02,) for i in inits}, (101, 102),
                               {**replicate.PROTOCOLS["v2"].stage2, "addition": {"seeds": (1, 2), "base": dict(tiny, T=30, epochs=25)}},
                               screen=1, screen_epochs=1,
                               folder="v2")
    monkeypatch.setitem(replicate.PROTOCOLS, "v2", proto)
    return proto
