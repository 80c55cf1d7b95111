"""Repository hygiene: clean notebooks, consistent pins, no import-time side effects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest

from nnrnn import book

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_declare_the_standard_parameters(path):
    params = pm.inspect_notebook(str(path))
    assert {"profile", "seed", "device"} <= set(params), path.name
    assert params["profile"]["default"].strip("'\"") == "demo"


def test_every_notebook_is_in_the_book():
    listed = {p.name for p in book.toc_notebooks()}
    assert {p.name for p in NOTEBOOKS if not p.name.startswith("_")} == listed


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_lock_pins_torch_and_jupyter_book():
    pins = _lock()
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"] == "1.0.4.post1"
    assert pins["sphinx"].startswith("7.") and pins["myst-parser"].startswith("3.")


def test_importing_the_package_has_no_side_effects():
    code = (
        "import torch, matplotlib as mpl, warnings\n"
        "state = torch.random.get_rng_state(); rc = dict(mpl.rcParams); filters = list(warnings.filters)\n"
        "import nnrnn\n"
        "for m in ['init', 'memory', 'analysis', 'store', 'profiles', 'pages', 'plotting', 'book']:\n"
        "    getattr(nnrnn, m)\n"
        "assert torch.equal(state, torch.random.get_rng_state()), 'global RNG touched'\n"
        "assert rc == dict(mpl.rcParams), 'rcParams changed'\n"
        "assert filters == list(warnings.filters), 'warning filters changed'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
