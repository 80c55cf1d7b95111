"""Write source notebooks and keep their Colab install cell in step (a developer tool).

    from tools.nb import md, code, write
    write("notebooks/01-fisher-memory.ipynb", [md("# Title"), code("x = 1", tags=["parameters"])])

    python -m tools.nb install      # rewrite the install cell of every notebook from _config.yml

Notebooks are written without outputs, with the project's kernel spec, so that papermill and
Jupyter Book see the same thing in every chapter.

Every chapter has the same Colab install cell (:func:`install_cell`). The repository URL lives
in one place, ``repository.url`` of ``_config.yml`` (which also drives the book's launch and
repository buttons). The cell fetches ``NNRNN_REF``: ``main`` in the repository's notebooks (what
Colab opens from GitHub), and in a built book's copy of a page the commit the book was built from
(``nnrnn.book.pin_install_ref`` writes it). Changing the URL is one edit followed by
``python -m tools.nb install``; ``tests/test_live.py`` checks that every notebook's cell equals
the generated one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import nbformat
import yaml


REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

#: what marks a notebook's install cell (it installs only on Colab).
INSTALL_MARK = '"google.colab" in sys.modules'


def md(text: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def code(text: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path: str | Path, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def repository_url(config: Path = REPO / "_config.yml") -> str:
    """The repository URL of the book (``repository.url`` in ``_config.yml``)."""
    url = (yaml.safe_load(config.read_text()).get("repository") or {}).get("url")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(f"repository.url in {config.name} must be an https URL, got {url!r}")
    return url.rstrip("/")


#: the ref a source notebook's install cell fetches: the branch GitHub (and Colab) shows. A built
#: book's copy of a page names the commit it was built from instead (nnrnn.book.pin_install_ref).
SOURCE_REF = "main"


def install_ref() -> str:
    """The git ref the source notebooks' install cell fetches (:data:`SOURCE_REF`)."""
    return SOURCE_REF


#: where the Colab install cell clones the repository (the package and the results archive)
COLAB_CLONE = "/content/nnrnn-book"


def install_source(url: str | None = None, ref: str | None = None, clone: str = COLAB_CLONE) -> str:
    """The source of the Colab install cell: fetch the repository at ``NNRNN_REF`` (``ref``) into
    ``clone`` (it holds the results archive, ``data/``, which the chapters' replicate sections and the
    results page read; a failed fetch leaves no clone behind), install the package from the clone
    with the ``fast`` extra, and point ``NNRNN_ARCHIVE_DIR`` at the archive."""
    url, ref = url or repository_url(), ref or install_ref()
    tmp = f"{clone}.partial"
    return (
        "# Colab only: fetch the repository (the package and its results archive, data/) at NNRNN_REF, the\n"
        "# commit this copy of the page was built from (main in the repository's own notebooks), install\n"
        "# nnrnn from it with the `fast` extra (ninja, for the C++ engine), and read the archive there\n"
        "import os\n"
        "import sys\n"
        "\n"
        f'NNRNN_REF = "{ref}"\n'
        f"if {INSTALL_MARK}:\n"
        f'    if not os.path.isdir("{clone}"):\n'
        f"        !rm -rf {tmp} && git init --quiet {tmp} && git -C {tmp} fetch --quiet --depth 1 {url} {{NNRNN_REF}} "
        f"&& git -C {tmp} checkout --quiet FETCH_HEAD && mv {tmp} {clone}\n"
        f'    %pip install --quiet "{clone}[fast]"\n'
        f'    os.environ["NNRNN_ARCHIVE_DIR"] = "{clone}/data"'
    )


def install_cell(url: str | None = None, ref: str | None = None):
    """The Colab install cell: hidden on the page, a no-op outside Colab."""
    return code(install_source(url, ref), tags=["remove-cell"])


def is_install_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and INSTALL_MARK in cell.get("source", "")


def sync_install_cells(paths: Sequence[Path] | None = None) -> list[Path]:
    """Replace the install cell of each notebook by :func:`install_cell`; return those changed.

    A notebook without one gets it just before its ``parameters`` cell.
    """
    paths = sorted(NOTEBOOKS.glob("*.ipynb")) if paths is None else [Path(p) for p in paths]
    changed = []
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        fresh = install_cell()
        hits = [i for i, c in enumerate(nb.cells) if is_install_cell(c)]
        if hits:
            old = nb.cells[hits[0]]
            if old.source == fresh.source and old.metadata.get("tags") == fresh.metadata["tags"]:
                continue
            fresh["id"] = old.get("id", "install")
            nb.cells[hits[0]] = fresh
        else:
            where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
            fresh["id"] = "install"
            nb.cells.insert(where, fresh)
        nbformat.validate(nb)
        nbformat.write(nb, str(path))
        changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.nb", description="Notebook maintenance.")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="rewrite every notebook's Colab install cell from _config.yml")
    ap.parse_args(argv)
    for path in sync_install_cells():
        print(f"updated {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
