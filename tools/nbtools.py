"""Write a notebook (without outputs, deterministic cell ids) from (kind, tags, source) triples."""

from pathlib import Path

import nbformat


def write_notebook(cells: list[tuple[str, list[str] | None, str]], out: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, (kind, tags, src) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        cell.id = f"cell-{i:03d}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, out)
    return out
