"""The Makefile and .ci/run name the offline data copy ``../shared/data`` only where it exists.

On a fresh clone without that folder, an exported ``NNRNN_DATA_DIR`` naming it would make every
loader fail ("data directory ... does not exist") instead of downloading (issue 13). Both files
are run from a scratch copy of the repository's layout: ``make`` with a target that only prints
the variable, and ``.ci/run`` with a stub ``make`` that does the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    drop = ("NNRNN_DATA_DIR", "MAKEFLAGS", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


@pytest.fixture
def checkout(tmp_path):
    """``tmp_path/repo`` with the repository's Makefile and .ci/run, and no ``../shared``."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(REPO / "Makefile", repo / "Makefile")
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    return repo


def _make_value(repo: Path, **env: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-s", "-C", str(repo), "--eval", 'show: ; @echo "[$$NNRNN_DATA_DIR]"', "show"],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def _ci_value(repo: Path, tmp_path: Path, **env: str) -> str:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name in ("chromium", "npm"):
        (stubs / name).write_text("#!/bin/sh\nexit 0\n")
    (stubs / "make").write_text('#!/bin/sh\necho "[$NNRNN_DATA_DIR]"\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    out = subprocess.run(
        ["bash", str(repo / ".ci" / "run")],
        env=_env(PATH=f"{stubs}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = set(out.stdout.strip().splitlines())  # one line per make call (make test, make verify): all see the same
    assert len(seen) == 1, out.stdout
    return seen.pop()


def test_makefile_sets_the_data_dir_only_where_it_exists(checkout, tmp_path):
    assert _make_value(checkout) == "[]"
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert _make_value(checkout) == f"[{tmp_path / 'shared' / 'data'}]"
    assert _make_value(checkout, NNRNN_DATA_DIR="/my/data") == "[/my/data]"


def test_ci_run_sets_the_data_dir_only_where_it_exists(checkout, tmp_path):
    assert _ci_value(checkout, tmp_path) == "[]"
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert _ci_value(checkout, tmp_path) == f"[{tmp_path / 'shared' / 'data'}]"
    assert _ci_value(checkout, tmp_path, NNRNN_DATA_DIR="/my/data") == "[/my/data]"
