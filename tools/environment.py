#!/usr/bin/env python3
"""Write environment.yml (Binder, conda) from requirements.lock, with every pin inline.

A `-r requirements.lock` line inside environment.yml is resolved against the wrong folder by
micromamba (repo2docker's installer), so the pins are written out here instead; `make lock`
runs this after freezing, and tests/test_workflows.py checks that the two files agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: renders the chapters' MyST markdown in JupyterLab (Binder's launch target); not needed elsewhere.
JUPYTERLAB_MYST = "jupyterlab-myst==2.7.0"

HEADER = """\
# Binder (repo2docker) and conda: exactly the pins of requirements.lock, written inline by
# tools/environment.py (micromamba resolves a `-r` file against the wrong folder), plus a C++
# compiler for the RNN engine's extension (compiled once by postBuild) and jupyterlab-myst, which
# renders the chapters' MyST markdown in JupyterLab. tests/test_workflows.py checks this file;
# do not edit it by hand: `make lock` rewrites it.
name: nnrnn-book
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - cxx-compiler
  - nodejs
  - pip:
      # torch's CPU wheels instead of the multi-GB CUDA ones
      - --extra-index-url https://download.pytorch.org/whl/cpu
"""


def pins(lock: Path) -> list[str]:
    """The ``name==version`` lines of a lock file, in order."""
    return [ln.strip() for ln in lock.read_text().splitlines() if "==" in ln and not ln.lstrip().startswith("#")]


def render(lock: Path) -> str:
    lines = [*pins(lock), JUPYTERLAB_MYST, "-e ."]
    return HEADER + "".join(f"      - {ln}\n" for ln in lines)


if __name__ == "__main__":
    (REPO / "environment.yml").write_text(render(REPO / "requirements.lock"))
    sys.exit(0)
