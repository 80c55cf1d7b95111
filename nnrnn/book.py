"""Build the book: execute every chapter with papermill, then render with Jupyter Book 1.

    python -m nnrnn.book [--profile demo] [--device auto] [--only 01-fisher-memory] [--no-html] [--out _build]

1. The chapters are the notebooks listed in ``_toc.yml`` (in order).
2. Each is executed by papermill with ``profile``/``device`` (and any ``-p name value``)
   into ``<out>/stage-<profile>/notebooks/``. A parameter the notebook does not declare in
   its ``parameters`` cell is an error, not a warning; a failing cell stops the build and
   shows the cell and its traceback; each cell has the profile's timeout
   (:func:`nnrnn.profiles.cell_timeout`). The kernels run with ``NNRNN_BOOK_BUILD=1``
   (:func:`nnrnn.pages.report.in_book_build`): glued values are recorded, not shown twice, and
   progress bars go to the kernel's stderr, which is copied to this terminal and then
   removed from the executed notebook. The parameters cell is rewritten to show the values
   the page was built with.
3. The staged tree (config, ``book/``, executed notebooks) is rendered by
   ``jupyter-book build -W -n --keep-going`` from a clean output folder, into ``<out>/html``,
   with a banner on every page naming the profile. The book never executes a notebook
   itself (``execute_notebooks: off``).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Iterable, Sequence

import nbformat
import yaml

from .cli import HelpFormatter, device
from .profiles import PROFILES, cell_timeout, check_profile
from .replicate import protocol_root
from .archive import archive_label, archive_root
from .evidence import CHAPTER_TASKS, PLAN_COMMIT, PROTOCOL, TASK_NAMES, chapter_protocol, is_complete
from .pages import claims_view
from .pages import claims as claim_table
from .pages.report import BOOK_BUILD_ENV, check_declared, live_profile
from .store import REPO

__all__ = ["REPO", "BANNERS", "BANNER_TAGS", "FOUND", "READS_V2", "CHAPTER_TASKS", "reads_v2", "chapter_protocol", "archive_labels", "banner", "add_banners", "write_found", "build_commit", "pin_install_ref", "toc_notebooks", "check_notebook_parameters", "execute", "build_html", "build", "main", "BookError"]

_STAGED = ("_config.yml", "_toc.yml", "book")

#: the banner at the top of every page, per profile (the build's; each page's own banner, :func:`add_banners`,
#: says which of its parts ran on it and which read the archive).
BANNERS = {
    "smoke": "Live parts built on the <code>smoke</code> profile: tiny sizes that check that the code runs. "
    "Their numbers do not test the paper's claims; the verdicts come from the results archive.",
    "demo": "Live parts built on the <code>demo</code> profile: reduced settings, stated in each chapter, that a "
    "laptop CPU can afford, not the paper's scale. The verdicts come from the results archive.",
    "paper": "Live parts built on the <code>paper</code> profile: the paper's grids and budgets; each chapter "
    "states where its settings differ from the paper's. The verdicts come from the results archive.",
    "replicate": "Built on the <code>replicate</code> profile: the paper's sequence lengths and models with a "
    "reduced, stated search, read from the committed results archive (live parts run <code>demo</code>).",
}
#: the tags of a chapter's cells that get a banner after them (:func:`add_banners`): the heading of a
#: part that reads the archive, or of one that runs live on the build's profile.
BANNER_TAGS = {"banner-archive", "banner-live"}
#: the file the landing page includes (:func:`write_found`), relative to the staged ``book/``.
FOUND = Path("_generated") / "found.md"


class BookError(RuntimeError):
    """A chapter failed to execute or the book failed to build."""


def _toc_files(node) -> Iterable[str]:
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for key in ("root", "chapters", "sections", "parts"):
            if key == "root" and key in node:
                yield node["root"]
            elif key in node:
                for child in node[key]:
                    yield from _toc_files(child)
    elif isinstance(node, list):
        for child in node:
            yield from _toc_files(child)


def toc_notebooks(repo: Path = REPO) -> list[Path]:
    """The chapter notebooks listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((repo / "_toc.yml").read_text())
    out = []
    for entry in _toc_files(toc):
        path = repo / entry
        candidates = [path] if path.suffix else [path.with_suffix(s) for s in (".ipynb", ".md")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise BookError(f"_toc.yml lists {entry!r} but none of {[str(c) for c in candidates]} exists")
        if found.suffix == ".ipynb":
            out.append(found)
    return out


def check_notebook_parameters(notebook: Path, parameters: dict) -> None:
    """Raise ``ValueError`` if ``parameters`` names anything the notebook file does not declare
    (:func:`nnrnn.pages.report.check_declared`), before the build executes any chapter."""
    import papermill as pm  # lazy: its import adds warning filters (requests, urllib3); importing this module must not

    declared = set(pm.inspect_notebook(str(notebook)))
    if not declared:
        raise ValueError(f"{notebook.name} has no cell tagged 'parameters'")
    check_declared(parameters, declared, notebook.name)


@dataclass
class Executed:
    name: str
    seconds: float
    output: Path


def execute(
    notebooks: Sequence[Path],
    stage: Path,
    profile: str,
    device: str = "auto",
    extra: dict | None = None,
    log=print,
) -> list[Executed]:
    """Execute ``notebooks`` with papermill into ``stage/notebooks``; return their timings."""
    import papermill as pm  # lazy: its import adds warning filters (requests, urllib3); importing this module must not
    from papermill.exceptions import PapermillExecutionError  # lazy: as papermill above

    check_profile(profile)
    if {"profile", "device"} & set(extra or {}):  # else `-p profile ""` would bypass the check above
        raise ValueError("the parameters profile and device come from --profile and --device, not -p; got "
                         + ", ".join(f"-p {k} {v!r}" for k, v in extra.items() if k in ("profile", "device")))
    # notebooks run with their own folder as working directory: pin a relative data path now
    if os.environ.get("NNRNN_DATA_DIR") and not Path(os.environ["NNRNN_DATA_DIR"]).is_absolute():
        os.environ["NNRNN_DATA_DIR"] = str(Path(os.environ["NNRNN_DATA_DIR"]).resolve())
    params = {"profile": profile, "device": device, **(extra or {})}
    for nb in notebooks:
        check_notebook_parameters(nb, params)
    (stage / "notebooks").mkdir(parents=True, exist_ok=True)
    done = []
    for nb in notebooks:
        out = stage / "notebooks" / nb.name
        log(f"[book] executing {nb.name} (profile={profile}, device={device}) ...")
        t0 = time.perf_counter()
        try:
            with _tolerate_tagged_errors(), _book_build_env(), _kernel_transport() as kernel_config:
                pm.execute_notebook(
                    str(nb),
                    str(out),
                    parameters=params,
                    kernel_name="python3",
                    config=kernel_config,  # passed on to the kernel manager (nbclient)
                    cwd=str(nb.parent),
                    execution_timeout=cell_timeout(profile),
                    progress_bar=False,
                    report_mode=False,
                    stderr_file=sys.stderr,  # the kernels' progress bars and warnings, live
                )
        except PapermillExecutionError as e:
            cell = _failed_cell_source(out, e.exec_count)
            raise BookError(
                f"{nb.name} failed in cell {e.exec_count} ({e.ename}: {e.evalue})\n"
                f"--- cell source ---\n{cell}\n--- traceback ---\n" + "\n".join(e.traceback)
            ) from None
        dt = time.perf_counter() - t0
        _check_expected_errors(out)
        _strip_progress(out)
        _show_parameters(out, f"python -m nnrnn.book --profile {profile}")
        log(f"[book] {nb.name}: {dt:.1f} s")
        done.append(Executed(nb.name, dt, out))
    return done


@contextlib.contextmanager
def _book_build_env():
    """Run the kernels with ``NNRNN_BOOK_BUILD=1`` (they inherit this process's environment)."""
    saved = os.environ.get(BOOK_BUILD_ENV)
    os.environ[BOOK_BUILD_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(BOOK_BUILD_ENV, None)
        else:
            os.environ[BOOK_BUILD_ENV] = saved


@contextlib.contextmanager
def _kernel_transport():
    """The kernel's sockets: IPC in a new private folder where the platform has IPC, else TCP.

    Over TCP, ipykernel warns once per kernel that its traffic is unencrypted (harmless here: the
    kernel listens on 127.0.0.1 only, but the build printed it for every chapter). IPC sockets in a
    folder only this user may enter need no encryption; a folder per kernel keeps two builds apart
    (a relative socket name would land in the notebook's folder, papermill's working directory)."""
    import zmq  # lazy: the book tool chain's (jupyter_client), as papermill in execute
    from traitlets.config import Config  # lazy: as zmq above

    if not zmq.has("ipc"):  # Windows: TCP on 127.0.0.1, and ipykernel's warning
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="nnrnn-kernel-") as folder:  # mode 0700
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}})


@contextlib.contextmanager
def _tolerate_tagged_errors():
    """Let cells tagged ``raises-exception`` fail, as nbclient and Jupyter Book do.

    nbclient already continues past such a cell, but papermill afterwards rejects any error
    output. Here its check only sees the cells that are not tagged.
    """
    import papermill.execute as pe  # lazy: as in check_notebook_parameters (papermill changes the warning filters)

    original = pe.raise_for_execution_errors

    def check(nb, output_path):
        visible = copy.deepcopy(nb)
        for cell in visible.cells:
            if "raises-exception" in cell.get("metadata", {}).get("tags", []):
                cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"]
        return original(visible, output_path)

    pe.raise_for_execution_errors = check
    try:
        yield
    finally:
        pe.raise_for_execution_errors = original


def _check_expected_errors(path: Path) -> None:
    """A cell tagged ``raises-exception`` that did not raise is an error too."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb.get("cells", [])):
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            if not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                src = cell.get("source", "")
                src = "".join(src) if isinstance(src, list) else src
                raise BookError(f"{path.name}: cell {i} is tagged raises-exception but did not raise:\n{src}")


#: one line of a tqdm text bar, e.g. ``runs:  50%|#####     | 2/4 [00:01<00:01, 1.9run/s]``
_TQDM_LINE = re.compile(r"^.*\d+%\|.*\|\s*[\d.]+[kMGT]?/[\d.?]+[kMGT]?\s*\[.*\]\s*$")


def _strip_progress(path: Path) -> None:
    """Remove progress bars from the stderr streams of an executed notebook (they were shown live)."""
    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        outputs = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                lines = re.split(r"[\r\n]", o.get("text", ""))
                kept = [ln for ln in lines if ln.strip() and not _TQDM_LINE.match(ln)]
                if len(kept) != len([ln for ln in lines if ln.strip()]):
                    changed = True
                    if not kept:
                        continue
                    o["text"] = "\n".join(kept) + "\n"
            outputs.append(o)
        if cell.cell_type == "code":
            cell.outputs = outputs
    if changed:
        nbformat.write(nb, str(path))


def _show_parameters(path: Path, command: str) -> None:
    """Make the parameters cell show the values the notebook ran with, and hide papermill's cell.

    Each assignment in the ``parameters`` cell whose name papermill injected gets the injected
    value (its comment is kept), and a first comment line says where the values came from.
    """
    nb = nbformat.read(str(path), as_version=4)
    injected = next((c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    params = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if injected is not None:
        tags = injected.metadata.get("tags", [])
        if "remove-cell" not in tags:
            injected.metadata["tags"] = [*tags, "remove-cell"]
    if injected is not None and params is not None:
        values = {}
        for node in ast.parse(injected.source).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values[node.targets[0].id] = ast.get_source_segment(injected.source, node.value)
        lines = params.source.split("\n")
        set_here = []
        for node in ast.parse(params.source).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id in values and node.value.lineno == node.value.end_lineno):
                line = lines[node.value.lineno - 1]
                new = line[: node.value.col_offset] + values[node.targets[0].id] + line[node.value.end_col_offset:]
                lines[node.value.lineno - 1] = new
                set_here.append(node.targets[0].id)
        if set_here:
            params.source = f"# {', '.join(set_here)}: as this page was built ({command})\n" + "\n".join(lines)
    nbformat.write(nb, str(path))


def _failed_cell_source(path: Path, exec_count) -> str:
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError):
        return "<unavailable>"
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and cell.get("execution_count") == exec_count:
            src = cell.get("source", "")
            return "".join(src) if isinstance(src, list) else src
    return "<unavailable>"


def stage_sources(stage: Path, repo: Path = REPO, profile: str | None = None) -> None:
    """Copy the book's configuration and narrative pages next to the executed notebooks.

    With ``profile``, the staged ``_config.yml`` gets a banner for every page that names it
    (``html.announcement``, :data:`BANNERS`).
    """
    stage.mkdir(parents=True, exist_ok=True)
    for name in _STAGED:
        src, dst = repo / name, stage / name
        if dst.is_dir():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    if profile is not None:
        config = yaml.safe_load((stage / "_config.yml").read_text())
        config.setdefault("html", {})["announcement"] = BANNERS[check_profile(profile)]
        (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def banner(kind: str, profile: str, archive: str) -> str:
    """The banner of a page or a part of one (HTML): ``"archive"``, what reads the results archive
    (``archive``: its commit); ``"live"``, what ran when the page was built on ``profile``;
    ``"mixed"``, a page with both."""
    live = f"profile <code>{live_profile(profile)}</code>"
    text = {
        "archive": f"From the archive: profile <code>replicate</code> ({escape(archive)}); "
        "read from the stored runs, nothing trained when this page was built.",
        "live": f"Live: {live}, computed when this page was built.",
        "mixed": f"This page has two parts: its replicate section reads the stored runs, profile <code>replicate</code> "
        f"({escape(archive)}); its live section was computed when this page was built, {live}.",
    }
    if kind not in text:
        raise ValueError(f"banner kind must be one of {list(text)}, got {kind!r}")
    return f'<div class="nnrnn-banner nnrnn-banner-{kind}">{text[kind]}</div>'


#: the pages that always read the protocol-v2 runs (the analysis plan's verdicts) beside archive v1's language models.
READS_V2 = ("00-results",)
#: what a chapter reads besides its protocol's runs, named in its banner (the divergence chapter's own runs).
_ALSO_READS = {"10-divergence": "its own runs (data/divergence): "}


def reads_v2(root=None) -> tuple[str, ...]:
    """The pages that read protocol-v2 runs: :data:`READS_V2` and each chapter of :data:`CHAPTER_TASKS` whose tasks'
    protocol-v2 stage 2 is complete under ``root`` (the archive read by the build)."""
    root = archive_root() if root is None else root
    done = {t: is_complete(t, root) for t in dict.fromkeys(t for tasks in CHAPTER_TASKS.values() for t in tasks)}
    return READS_V2 + tuple(stem for stem, tasks in CHAPTER_TASKS.items() if all(done[t] for t in tasks))


def archive_labels(root=None) -> dict[str, str]:
    """How each page's banner names the runs it reads (page stem -> label; ``""``: every other page):
    ``"archive v1, commit <sha> (<date>)"``; for :data:`READS_V2` the protocol-v2 store's commit too, and for a
    chapter that reads protocol-v2 runs (:func:`reads_v2`) that commit alone."""
    v1 = f"archive v1, {archive_label(root)}"
    v2 = f"protocol-v2 runs, {archive_label(protocol_root(PROTOCOL, archive_root() if root is None else root))}"
    return {"": v1, **{stem: f"{v2}; language models: {v1}" if stem in READS_V2
                       else f"{v2}; {_ALSO_READS[stem]}{v1}" if stem in _ALSO_READS else v2 for stem in reads_v2(root)}}


def add_banners(path: Path, profile: str, archive: str) -> None:
    """Give an executed chapter its banners: one after its title (the title cell's tag, else
    ``mixed`` where a part is tagged, else ``live``) and one after each cell tagged with a
    :data:`BANNER_TAGS` tag. Banners added before (an earlier build of the same stage) are replaced."""
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if "nnrnn-banner" not in c.metadata.get("tags", [])]  # a rerun's
    tagged = [set(c.metadata.get("tags", [])) & BANNER_TAGS for c in nb.cells]
    title = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown")
    page = (next(iter(tagged[title])).removeprefix("banner-") if tagged[title]
            else "mixed" if any(tagged) else "live")
    cells = []
    for i, cell in enumerate(nb.cells):
        cells.append(cell)
        if i == title or tagged[i]:
            kind = page if i == title else next(iter(tagged[i])).removeprefix("banner-")
            cells.append(nbformat.v4.new_markdown_cell(banner(kind, profile, archive), metadata={"tags": ["nnrnn-banner"]}))
    nb.cells = cells
    nbformat.write(nb, str(path))


#: the line of a chapter's Colab install cell that names the ref it fetches (tools/nb.py writes the cell).
_INSTALL_REF = re.compile(r'^NNRNN_REF = "[^"\n]*"$', re.M)


def build_commit(repo: Path = REPO) -> str | None:
    """The full commit the book is built from (``git rev-parse HEAD``), or ``None`` outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def pin_install_ref(path: Path, ref: str) -> bool:
    """Make the Colab install cell of the executed chapter ``path`` fetch ``ref`` (the build's commit)
    in place of the source notebook's ``main``; returns whether the chapter has such a cell."""
    if not re.fullmatch(r"[0-9a-f]{40}", ref):
        raise ValueError(f"ref must be a full 40-character commit, got {ref!r}")
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and _INSTALL_REF.search(c.source)]
    for cell in cells:
        cell.source = _INSTALL_REF.sub(f'NNRNN_REF = "{ref}"', cell.source)
    if cells:
        nbformat.write(nb, str(path))
    return bool(cells)


def write_found(stage: Path, root=None) -> Path:
    """Write the landing page's "what we found" box (:func:`nnrnn.pages.claims_view.found_markdown`,
    from the results page's claims (:func:`nnrnn.pages.claims.plan_claims`) of the archive under ``root``,
    default the committed one) to ``stage/book/``:data:`FOUND`."""
    claims = claim_table.plan_claims(root)
    path = stage / "book" / FOUND
    path.parent.mkdir(parents=True, exist_ok=True)
    root = archive_root() if root is None else root
    label = (f"protocol-v2 runs as of {archive_label(protocol_root(PROTOCOL, root))}, judged by the analysis plan of "
             f"commit {PLAN_COMMIT}; language models: archive v1, {archive_label(root)}")
    waiting = [TASK_NAMES[t] for t in TASK_NAMES if not is_complete(t, root)]
    note = (f"Protocol v2 is still training ({', '.join(waiting)}): those benchmarks' claims get their verdicts when "
            "every planned run is stored; archive v1's verdicts stay readable on {doc}`../notebooks/00-results-v1`."
            if waiting else "")
    path.write_text(claims_view.found_markdown(claims, label, note=note))
    return path


def build_html(stage: Path, out: Path, log=print) -> Path:
    """Render ``stage`` with ``jupyter-book build -W`` from a clean ``_build``; return the html dir."""
    mathjax = stage / "book" / "_mathjax" / "mathjax" / "tex-svg-full.js"
    if not mathjax.is_file():
        raise BookError(f"self-hosted MathJax is missing ({mathjax}); run `make mathjax` first")
    shutil.rmtree(stage / "_build", ignore_errors=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb if jb.exists() else "jupyter-book"), "build", str(stage), "--builder", "html", "-W", "-n", "--keep-going"]
    log("[book] " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-8000:]}\n{proc.stderr[-8000:]}")
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)
    shutil.move(str(stage / "_build" / "html"), str(html))
    return html


def build(
    profile: str = "demo",
    device: str = "auto",
    out: Path | str = REPO / "_build",
    only: Sequence[str] = (),
    extra: dict | None = None,
    log=print,
    html: bool = True,
) -> Path:
    """Execute the chapters and render the book; returns the html folder.

    ``html=False`` stops after executing (``<out>/stage-<profile>/notebooks``, returned), for
    checking single chapters with ``only``.
    """
    out = Path(out)
    stage = out / f"stage-{profile}"
    notebooks = toc_notebooks()
    if only:
        missing = [o for o in only if not any(nb.stem == o or nb.name == o for nb in notebooks)]
        if missing:
            raise ValueError(f"--only {missing}: not in _toc.yml; chapters are {[nb.stem for nb in notebooks]}")
    t0 = time.perf_counter()
    stage_sources(stage, profile=profile)
    todo = [nb for nb in notebooks if not only or nb.stem in only or nb.name in only]
    timings = execute(todo, stage, profile, device, extra, log=log)
    if not html:
        for t in timings:
            log(f"  {t.name:<40s} {t.seconds:8.1f} s -> {t.output}")
        return stage / "notebooks"
    missing_exec = [nb.name for nb in notebooks if not (stage / "notebooks" / nb.name).is_file()]
    if missing_exec:
        raise BookError(
            f"not executed on profile {profile!r} yet: {missing_exec}; run without --only, or add --no-html"
        )
    archive = (extra or {}).get("archive") or None  # the chapters' -p archive, else the committed archive
    log("[book] the landing page's verdicts ...")
    write_found(stage, archive)
    labels, commit = archive_labels(archive), build_commit()
    for nb in notebooks:
        add_banners(stage / "notebooks" / nb.name, profile, labels.get(nb.stem, labels[""]))
        if commit:  # outside a checkout the pages keep "main"
            pin_install_ref(stage / "notebooks" / nb.name, commit)
    html = build_html(stage, out, log=log)
    log("\n[book] chapter timings (profile %s):" % profile)
    for t in timings:
        log(f"  {t.name:<40s} {t.seconds:8.1f} s")
    log(f"[book] total {time.perf_counter() - t0:.1f} s; open {html / 'index.html'}")
    return html


def _parse_extra(pairs: list[list[str]]) -> dict:
    extra = {}
    for name, value in pairs:
        try:
            extra[name] = json.loads(value)
        except ValueError:
            extra[name] = value
    return extra


_EXAMPLES = """\
examples:
  nnrnn book --profile smoke                                # every chapter, then the html book
  nnrnn book --profile smoke --only 04-copy --no-html       # one chapter, executed only
  nnrnn book --profile demo --only 04-copy -p seed 3        # a papermill parameter of the chapter
  PROFILE=paper DEVICE=cuda nnrnn book                      # the defaults come from $PROFILE, $DEVICE
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``nnrnn book``: execute the chapters and build the book; returns the exit status.

    Bad options (an unknown profile, device or chapter) are argparse errors (exit status 2)
    before anything is executed.
    """
    ap = argparse.ArgumentParser(prog="nnrnn book", description=__doc__.split("\n\n")[0], epilog=_EXAMPLES,
                                 formatter_class=HelpFormatter)
    ap.add_argument("--profile", default=os.environ.get("PROFILE", "demo"), choices=PROFILES,
                    help="the profile every chapter runs with (default: %(default)s, from $PROFILE if set)")
    ap.add_argument("--device", default=os.environ.get("DEVICE", "auto"), type=device,
                    help="auto, cpu, cuda or cuda:N (default: %(default)s, from $DEVICE if set)")
    ap.add_argument("--out", default=str(REPO / "_build"), metavar="DIR",
                    help="output folder: <out>/stage-<profile>/notebooks and <out>/html")
    ap.add_argument("--only", nargs="*", default=[], metavar="CHAPTER",
                    help="execute only these chapters (stems of _toc.yml, e.g. 01-fisher-memory; default: all)")
    ap.add_argument("--no-html", action="store_true", help="execute only; do not render the html book")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a papermill parameter of the executed chapters, VALUE read as JSON if it parses "
                    "(repeatable; default: none)")
    args = ap.parse_args(argv)
    if args.profile not in PROFILES:  # argparse checks a default's type (--device), not its choices
        ap.error(f"argument --profile: $PROFILE must be one of {list(PROFILES)}, got {args.profile!r}")
    try:
        notebooks = toc_notebooks()
        unknown = [o for o in args.only if not any(o in (nb.stem, nb.name) for nb in notebooks)]
        if unknown:
            ap.error(f"argument --only: {unknown} not in _toc.yml; chapters are {[nb.stem for nb in notebooks]}")
        build(args.profile, args.device, args.out, args.only, _parse_extra(args.parameter), html=not args.no_html)
    except (BookError, ValueError) as e:
        print(f"\n[book] FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
