"""Write a source notebook from a list of cells (a developer tool; not part of the package).

    from tools.nb import md, code, write
    write("notebooks/01-fisher-memory.ipynb", [md("# Title"), code("x = 1", tags=["parameters"])])

Notebooks are written without outputs, with the project's kernel spec, so that papermill and
Jupyter Book see the same thing in every chapter.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


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
