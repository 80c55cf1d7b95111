"""The live path: a chapter run in Jupyter, Colab or plain papermill, not through the book build.

Outside the book build every figure and headline number is visible in the notebook's own
outputs, a misspelt papermill parameter is an error, and every chapter has the same Colab
install cell. Also the helpers of ``nnrnn.pages.report`` that the chapters use for this.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import pandas as pd
import papermill as pm
import pytest
from nbclient import NotebookClient

from nnrnn import book, memory, verdicts
from nnrnn.pages import report
from tools import nb as nbtool

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
_SHOWN = re.compile(r"^(nb\d\d_\w+) = (.*)$", re.M)


def _run(cells: list[str], tmp_path: Path, env: dict[str, str | None]) -> nbformat.NotebookNode:
    """Execute ``cells`` in a fresh kernel with ``env`` applied, the way Jupyter would."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    with mock.patch.dict(os.environ, {k: v for k, v in env.items() if v is not None}):  # restored afterwards
        for k in [k for k, v in env.items() if v is None]:
            os.environ.pop(k, None)
        NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _mimes(nb) -> list[str]:
    return [m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})]


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


GLUE_CELLS = [
    "import matplotlib.pyplot as plt\nfrom nnrnn.pages import report",
    'fig, ax = plt.subplots()\nax.plot([0, 1])\nreport.glue("nb00_x", 1.5)\nreport.glue("nb00_fig", fig)\nplt.close(fig)',
]


@pytest.mark.slow
def test_glue_shows_figures_and_numbers_in_a_live_kernel(tmp_path):
    nb = _run(GLUE_CELLS, tmp_path, {"MPLBACKEND": None, report.BOOK_BUILD_ENV: None})
    assert "image/png" in _mimes(nb)
    assert "nb00_x = 1.5" in _stdout(nb)


@pytest.mark.slow
def test_glue_only_records_under_the_book_build(tmp_path):
    nb = _run(GLUE_CELLS, tmp_path, {"MPLBACKEND": None, report.BOOK_BUILD_ENV: "1"})
    assert "image/png" not in _mimes(nb) and "nb00_x" not in _stdout(nb)
    assert "application/papermill.record/image/png" in _mimes(nb)


def test_progress_is_a_text_bar_on_stderr_under_the_book_build(monkeypatch):
    monkeypatch.setenv(report.BOOK_BUILD_ENV, "1")
    with report.progress(4, "runs", "run") as bar:
        bar.update(4)
    assert getattr(bar.fp, "_wrapped", bar.fp) is sys.stderr  # the kernel's stderr, which nnrnn.book copies
    assert bar.n == 4 and bar.unit == "run" and bar.ascii
    with pytest.raises(ValueError, match="total must be a non-negative integer"):
        report.progress(-1)


def test_check_injected_parameters_reads_papermills_injected_cell():
    params = 'profile = "demo"  # smoke | demo | paper\nseed = 0\ndevice = "auto"'
    history = ["", params, '# Parameters\nprofil = "smoke"\n', "import nnrnn", "report.check_injected_parameters(globals())"]
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['profil'\].*\['device', 'profile', 'seed'\]"):
        report.check_injected_parameters({"In": history})
    history[2] = '# Parameters\nprofile = "smoke"\ndevice = "cpu"\n'
    report.check_injected_parameters({"In": history})  # declared names: fine
    report.check_injected_parameters({"In": ["", params, "report.check_injected_parameters(globals())"]})  # live: none injected


def test_the_builds_check_and_the_notebooks_own_check_are_one_rule(tmp_path):
    """book.check_notebook_parameters (before the build executes anything) and
    report.check_injected_parameters (in the kernel, however papermill was called) check the same
    thing, papermill's -p names against the parameters cell, and say it in the same words."""
    params = 'profile = "demo"\nseed = 0'
    path = nbtool.write(tmp_path / "ch.ipynb", [nbtool.code(params, tags=["parameters"])])
    errors = []
    for check in (lambda: book.check_notebook_parameters(path, {"profil": "smoke"}),
                  lambda: report.check_injected_parameters({"In": ["", params, '# Parameters\nprofil = "smoke"\n']})):
        with pytest.raises(ValueError) as e:
            check()
        errors.append(str(e.value).split(": ", 1)[1])  # after the notebook's name, which only the build knows
    assert errors[0] == errors[1] and "unknown parameter(s) ['profil']; the notebook declares ['profile', 'seed']" in errors[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_parses_every_parameter(path):
    """Papermill skips a line it cannot parse (ch. 02's ``ridge`` with ``=`` in its comment)."""
    cell = next(c for c in nbformat.read(str(path), as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assigned = [ln.split("=")[0].strip() for ln in cell.source.splitlines() if re.match(r"^\w+\s*=", ln)]
    assert sorted(pm.inspect_notebook(str(path))) == sorted(assigned), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_checks_its_parameters_before_any_work(path):
    cells = [c for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"]
    p = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    imports, setup = cells[p + 1], cells[p + 2]
    assert all(line.startswith(("import ", "from ", "#")) or not line.strip() for line in imports.source.splitlines())
    assert setup.source.startswith("report.check_injected_parameters(globals())"), path.name


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["01-fisher-memory", "04-copy"])
def test_misspelt_papermill_parameter_fails(stem, tmp_path, monkeypatch):
    """``papermill notebooks/04-copy.ipynb out.ipynb -p profil smoke`` fails, naming the parameter."""
    monkeypatch.setenv("NNRNN_RESULTS_DIR", str(tmp_path / "store"))
    with pytest.raises(pm.PapermillExecutionError, match=r"unknown parameter\(s\) \['profil'\].*'profile'"):
        pm.execute_notebook(str(REPO / "notebooks" / f"{stem}.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"profil": "smoke"}, cwd=str(REPO / "notebooks"), progress_bar=False)
    out = json.loads((tmp_path / "out.ipynb").read_text())
    ran = [c for c in out["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
    assert len(ran) <= 5, "the notebook went on past its set-up cell"


def test_install_cell_is_generated_from_the_config():
    src = nbtool.install_source()
    assert f" {nbtool.repository_url()} {{NNRNN_REF}} " in src and "[book]" not in src and "--branch v" not in src
    assert 'NNRNN_REF = "main"' in src  # the source notebooks: what GitHub and Colab show
    assert nbtool.install_source("https://example.org/a/b", "abc123").count('NNRNN_REF = "abc123"') == 1


def _git(*args, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_install_cell_on_colab_fetches_the_pinned_commit_installs_and_points_at_the_archive(monkeypatch, tmp_path):
    """The install cell of a built page, run as IPython runs it with Colab faked (a stub
    ``google.colab`` module; pip stubbed; git for real, against a local repository standing in for
    _config.yml's URL): it fetches the commit the book pinned (nnrnn.book.pin_install_ref), not the
    newest one, installs the package from that checkout and sets NNRNN_ARCHIVE_DIR to its data/;
    a second run does not fetch again. Outside Colab it does nothing."""
    import os
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.utils.text import DollarFormatter

    origin = tmp_path / "origin"
    origin.mkdir()
    _git("init", "--quiet", "-b", "main", cwd=origin)
    for i in (1, 2):  # the pinned commit, then a newer one on main
        (origin / "data").mkdir(exist_ok=True)
        (origin / "data" / "MANIFEST.json").write_text(f'{{"commit": {i}}}')
        _git("add", "-A", cwd=origin)
        _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", f"c{i}", cwd=origin)
        if i == 1:
            pinned = _git("rev-parse", "HEAD", cwd=origin)
    page = tmp_path / "page.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbtool.install_cell()]), str(page))
    assert book.pin_install_ref(page, pinned)  # what the build does to each staged chapter
    clone = str(tmp_path / "content" / "nnrnn-book")
    src = nbformat.read(str(page), as_version=4).cells[0].source
    src = src.replace(nbtool.repository_url(), str(origin)).replace(nbtool.COLAB_CLONE, clone)
    code = compile(TransformerManager().transform_cell(src), "install-cell", "exec")
    calls, ns = [], {}

    def system(cmd):  # IPython's shell.system: expand {names} from the cell's namespace, run in a shell
        cmd = DollarFormatter().vformat(cmd, args=[], kwargs=ns)
        calls.append(("system", cmd))
        subprocess.run(cmd, shell=True, check=True)

    shell = types.SimpleNamespace(system=system, run_line_magic=lambda name, line, *a: calls.append((name, line)))
    ns["get_ipython"] = lambda: shell
    # setenv first, so that teardown restores the variable's state whatever the cell sets
    # (delenv alone records nothing when the variable is absent)
    monkeypatch.setenv("NNRNN_ARCHIVE_DIR", "unset-by-the-test")
    monkeypatch.delenv("NNRNN_ARCHIVE_DIR")
    exec(code, ns)
    assert calls == [] and "NNRNN_ARCHIVE_DIR" not in os.environ  # not on Colab
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(code, ns)
    assert _git("rev-parse", "HEAD", cwd=clone) == pinned  # the pinned commit, not main's newest
    assert (Path(clone) / "data" / "MANIFEST.json").read_text() == '{"commit": 1}'
    assert [c[0] for c in calls] == ["system", "pip"] and calls[1][1] == f'install --quiet "{clone}[fast]"'
    assert os.environ["NNRNN_ARCHIVE_DIR"] == f"{clone}/data" and not Path(clone + ".partial").exists()
    calls.clear()
    exec(code, ns)
    assert [c[0] for c in calls] == ["pip"]


def test_pin_install_ref_wants_a_full_commit(tmp_path):
    page = tmp_path / "page.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbtool.install_cell()]), str(page))
    with pytest.raises(ValueError, match="full 40-character commit"):
        book.pin_install_ref(page, "main")
    assert book.build_commit() is None or len(book.build_commit()) == 40


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_the_generated_install_cell(path):
    cells = nbformat.read(str(path), as_version=4).cells
    install = [c for c in cells if nbtool.is_install_cell(c)]
    assert len(install) == 1, f"{path.name}: {len(install)} install cells"
    fresh = nbtool.install_cell()
    assert install[0].source == fresh.source, f"{path.name}: run `python -m tools.nb install`"
    assert install[0].metadata.get("tags") == ["remove-cell"]
    params = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert cells.index(install[0]) < params


def test_expect_error_fails_when_nothing_is_raised(capsys):
    with report.expect_error(ValueError):
        raise ValueError("shown")
    assert capsys.readouterr().out == "ValueError: shown\n"
    with pytest.raises(AssertionError, match="expected ValueError"):
        with report.expect_error(ValueError):
            pass


def test_table_renames_headers_formats_and_scrolls():
    df = pd.DataFrame({"mean_final_val_loss": [0.1234567, math.nan], "n_success": [1, 2]}, index=["chain", "fb_chain"])
    t = report.table(df, {"mean_final_val_loss": "mean final validation loss", "n_success": "successful runs"},
                     formats={"mean_final_val_loss": "{:.3f}"}, index={"fb_chain": "feedback chain"}, index_name="initializer")
    html = t._repr_html_()
    assert 'overflow-x: auto' in html and "padding" in html
    assert "mean final validation loss" in html and "mean_final_val_loss" not in html and "n_success" not in html
    assert "0.123" in html and "0.1234567" not in html and "–" in html and "feedback chain" in html
    with pytest.raises(ValueError, match=r"columns must be columns of the table.*got \['nope'\]"):
        report.table(df, {"nope": "x"})


@pytest.mark.parametrize("args, label", [
    ((1, 24, 0, 24, True), "consistent"),  # the example: 1/24 against 0/24 is no evidence
    ((0, 24, 0, 24, True), "inconclusive"),
    ((0, 24, 9, 24, True), "not reproduced"),
    ((46 + 11, 924, 0, 1188, True), "reproduced"),  # the paper's copy counts
    ((46 + 11, 924, 0, 1188, False), "not tested at the paper's scale"),
])
def test_chapter_verdicts_are_the_results_page_verdicts(args, label):
    *counts, paper_scale = args
    v = report.verdict(*counts, paper_scale=paper_scale)
    assert v.label == label and v.label in report.VERDICTS
    assert v == verdicts.success_verdict(*counts, at_paper_scale=paper_scale)


@pytest.mark.slow
def test_chapter_run_live_shows_its_figures_and_numbers(tmp_path, monkeypatch):
    """Chapter 01 on smoke, executed by nbclient as Jupyter would (no papermill, no book build)."""
    path = REPO / "notebooks" / "01-fisher-memory.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('profile = "demo"', 'profile = "smoke"')  # as a reader would edit it
    assert 'profile = "smoke"' in params.source
    monkeypatch.delenv(report.BOOK_BUILD_ENV, raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("NNRNN_RESULTS_DIR", str(tmp_path / "store"))
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()

    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= 4, "Figs. 1a-c and the total-memory sweep must be visible"
    shown = dict(_SHOWN.findall(_stdout(nb)))
    out = tmp_path / "live.ipynb"
    nbformat.write(nb, str(out))
    recorded = report.read_glue(out)
    numbers = {k for k, v in recorded.items() if not str(v).startswith("<Figure")}
    assert numbers and numbers <= set(shown), f"glued but not shown: {sorted(numbers - set(shown))}"
    # the headline numbers, as printed, are the closed forms
    n, alpha = int(shown["nb01_N"]), float(shown["nb01_alpha"])
    assert shown["nb01_profile"] == "'smoke'"
    assert float(shown["nb01_jtot_chain"]) == pytest.approx(memory.chain_total_memory(n, alpha), rel=1e-9)
    assert float(shown["nb01_jtot_orthogonal"]) == pytest.approx(1.0, abs=1e-8)
