"""The notebooks' prose: Markdown cells in Finnish, translated to Swedish and English by gettext.

A notebook's narrative (title, introduction, section headings, what each figure shows,
how to read it, its caveat) is written as Markdown cells in Finnish, the source language,
so that it reads as a document when the notebook is opened in JupyterLab. The Swedish and
English pages translate each cell as one message, the way Sphinx and Jupyter Book translate
documents (``sphinx-intl``): the Finnish cell text is the ``msgid``, each language keeps a
catalogue per notebook, ``notebooks/locale/<lang>/LC_MESSAGES/<notebook>.po``, and Babel
merges a changed notebook into it (``kuntalib prose update``, ``make catalog``): a new cell
comes in untranslated, an edited cell keeps its old translation marked *fuzzy* (stale) until a
translator checks it, and a removed cell's entry is dropped.

A Markdown cell may start with a condition, a line of its own that JupyterLab shows as the reader's
first sight of the cell: ``*Vain kun* `timeline_file``` ("only when"), then the text. The condition is a
Python expression over the notebook's parameters (names, literals, comparisons, ``and``, ``or``,
``not``). The build leaves the cell out of a run where it is false, so an optional section's text
appears only when its data is given; the line itself is never on a page, nor in the catalogues.

Cells tagged ``source-only`` (the note for JupyterLab users atop each notebook) are neither
translated nor run by the build.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from kuntalib import paths
from kuntalib.i18n import LANGS, LOCALES
from kuntalib.pipeline.params import read_parameters
from kuntalib.provenance import sha256_file

__all__ = ["SOURCE_LANG", "TARGET_LANGS", "CONDITION", "ProseError", "Cell", "prose_cells", "template", "read_catalogue",
           "update_catalogues", "problems", "keeps", "translate", "catalogue_digest"]

SOURCE_LANG = "fi"
TARGET_LANGS: tuple[str, ...] = tuple(lang for lang in LANGS if lang != SOURCE_LANG)
SOURCE_ONLY = "source-only"
_WIDTH = 100
#: What a ``when`` condition may use: names of parameters, literals, comparisons and boolean logic.
_ALLOWED = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.Compare, ast.Eq, ast.NotEq, ast.In, ast.NotIn,
            ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Tuple, ast.List)


#: A condition, as the first line of a prose cell: ``*Vain kun* `expression```.
CONDITION = re.compile(r"\*Vain kun\*[ \t]+`(?P<when>[^`\r\n]+)`[ \t]*(?:\r?\n\s*|$)")
#: A first line that looks meant as a condition but is not written as one (``_Vain kun_``, ``*vain kun:*``, ...).
_NEAR_CONDITION = re.compile(r"[\W_]*vain\s+kun[\W_]*`", re.IGNORECASE)


class ProseError(ValueError):
    """A prose cell that cannot be published: no current translation, or a bad condition (names notebook and cell)."""


@dataclass(frozen=True)
class Cell:
    """One prose cell: its number in the notebook (from 1, as JupyterLab counts), its text and condition."""

    number: int
    text: str
    when: str | None

    @property
    def label(self) -> str:
        """``cell 7 ("## Laatu toimittajittain")``: how messages name the cell."""
        first = next((ln for ln in self.text.splitlines() if ln.strip()), "")
        return f"cell {self.number} ({first[:50]!r})"


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def prose_cells(nb: dict[str, Any]) -> list[Cell]:
    """The notebook's translatable Markdown cells (not the ``source-only`` note, not empty ones), each with the
    condition of its first line (:data:`CONDITION`) and its text without that line.

    Raises
    ------
    ProseError
        A cell keeps its condition in its metadata (``kuntalib.when``, the earlier form, which JupyterLab
        does not show): the message says how to write it.
    """
    cells = []
    for i, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "markdown" or SOURCE_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        text = _source(cell).strip()
        if "when" in cell.get("metadata", {}).get("kuntalib", {}):
            when = cell["metadata"]["kuntalib"]["when"]
            raise ProseError(f"cell {i} ({text[:50]!r}): its condition is in its metadata, where a reader does not "
                             f"see it; write it as the cell's first line, *Vain kun* `{when}`, and remove kuntalib.when")
        found = CONDITION.match(text)
        if found:
            text = text[found.end():].strip()
            if not text:
                raise ProseError(f"cell {i}: a condition ({found['when']!r}) with no text after it")
        if text:
            cells.append(Cell(i, text, found["when"].strip() if found else None))
    return cells


def _load(notebook: Path) -> dict[str, Any]:
    import nbformat  # deferred: 1.8 s to import (its schema validators), and a no-op build reads no notebook

    return nbformat.read(notebook, as_version=4)


def template(notebook: Path) -> Catalog:
    """The notebook's messages: one per prose cell, the Finnish text as ``msgid``, the cell as location."""
    cat = Catalog(locale=SOURCE_LANG, domain=notebook.stem, project="kuntalib", fuzzy=False)
    for cell in prose_cells(_load(notebook)):
        if cell.text in cat:
            cat[cell.text].locations.append((notebook.name, cell.number))
        else:
            cat.add(cell.text, locations=[(notebook.name, cell.number)])
    return cat


def read_catalogue(notebook: Path, lang: str) -> Catalog | None:
    """The notebook's catalogue in ``lang``, or None when it has none yet."""
    path = paths.prose_catalogue(notebook.stem, lang)
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=LOCALES[lang], domain=notebook.stem)


def catalogue_digest(notebook: Path, lang: str) -> str:
    """SHA-256 of the notebook's ``lang`` catalogue ("" for the source language or none): a run depends on it."""
    path = paths.prose_catalogue(notebook.stem, lang)
    return sha256_file(path) if lang != SOURCE_LANG and path.exists() else ""


def update_catalogues(notebook: Path, langs: tuple[str, ...] = TARGET_LANGS) -> list[Path]:
    """Merge the notebook's current prose into each language's catalogue (Babel's ``update``); return the files.

    New cells come in untranslated, edited ones keep their old translation marked fuzzy,
    removed ones are dropped. Nothing else changes, so a translator's work is kept.
    """
    tmpl = template(notebook)
    written = []
    for lang in langs:
        path = paths.prose_catalogue(notebook.stem, lang)
        cat = read_catalogue(notebook, lang) or Catalog(locale=LOCALES[lang], domain=notebook.stem, project="kuntalib")
        cat.update(tmpl, update_creation_date=False)
        cat.fuzzy = False  # the header; each message keeps its own flag
        cat.header_comment = (f"# {notebook.name}: the prose cells in {lang} (kuntalib). Each msgid is a Finnish Markdown cell;\n"
                              "# `kuntalib prose update` merges the notebook's changes, `kuntalib prose check` lists what needs a translator.")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, cat, width=_WIDTH, ignore_obsolete=True)
        written.append(path)
    return written


def _check_when(expr: str, notebook: Path, cell: Cell, names: set[str]) -> ast.Expression:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ProseError(f"{notebook}: {cell.label}: condition {expr!r} is not an expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ProseError(f"{notebook}: {cell.label}: condition {expr!r} may use only parameters, literals, "
                             f"comparisons, and/or/not (found {type(node).__name__})")
        if isinstance(node, ast.Name) and node.id not in names:
            raise ProseError(f"{notebook}: {cell.label}: condition {expr!r} names {node.id!r}, which is not a parameter")
    return tree


def keeps(notebook: Path, cell: Cell, params: dict[str, Any]) -> bool:
    """Whether the build keeps ``cell`` in a run with these parameter values (its ``when`` condition)."""
    if cell.when is None:
        return True
    tree = _check_when(cell.when, notebook, cell, set(params))
    return bool(eval(compile(tree, str(notebook), "eval"), {"__builtins__": {}}, dict(params)))  # noqa: S307 (checked above)


def _gap(cat: Catalog, cell: Cell) -> str | None:
    """Why ``cell`` has no usable translation in ``cat`` ("missing" or "stale (fuzzy)"), or None when it has one."""
    msg = cat.get(cell.text)
    if msg is None or not msg.string:
        return "missing"
    return "stale (fuzzy)" if msg.fuzzy else None


def problems(notebook: Path, langs: tuple[str, ...] = TARGET_LANGS) -> list[str]:
    """Every prose cell of ``notebook`` lacking a current translation in ``langs``, and every bad condition.

    One line each, naming the catalogue, the notebook and the cell; empty when all is well.
    """
    cells = prose_cells(_load(notebook))
    names = set(read_parameters(notebook))
    out = []
    for cell in cells:
        if cell.when is None and _NEAR_CONDITION.match(cell.text):
            out.append(f"{notebook}: {cell.label}: the first line looks like a condition but is not one; write it "
                       "*Vain kun* `expression` (asterisks, a space, the expression in single backticks)")
        if cell.when is not None:
            try:
                _check_when(cell.when, notebook, cell, names)
            except ProseError as exc:
                out.append(str(exc))
    for lang in langs:
        cat = read_catalogue(notebook, lang)
        path = paths.prose_catalogue(notebook.stem, lang)
        if cat is None:
            out.append(f"{path}: missing ({notebook.name} has {len(cells)} prose cells; run `kuntalib prose update`)")
            continue
        for cell in cells:
            gap = _gap(cat, cell)
            if gap == "missing":
                out.append(f"{path}: {notebook.name} {cell.label} has no {lang} translation")
            elif gap:
                out.append(f"{path}: {notebook.name} {cell.label}: the {lang} translation is stale (fuzzy): "
                           "the Finnish text changed, or Babel guessed it from a similar cell; check it and remove "
                           "the fuzzy flag")
    return out


def translate(notebook: Path, lang: str, params: dict[str, Any]) -> dict[str, Any]:
    """The notebook as the run in ``lang`` executes it: prose cells in ``lang``, false conditions and the
    ``source-only`` note left out.

    Parameters
    ----------
    notebook
        The source notebook (Finnish prose).
    lang
        The run's language.
    params
        Every parameter's value in this run (defaults with overrides).

    Raises
    ------
    ProseError
        A prose cell has no current ``lang`` translation, or a condition is not valid; the
        message names the catalogue, the notebook and the cell.
    """
    nb = _load(notebook)  # a fresh copy: edited here, not the file
    cat = read_catalogue(notebook, lang) if lang != SOURCE_LANG else None
    if lang != SOURCE_LANG and cat is None:
        raise ProseError(f"{paths.prose_catalogue(notebook.stem, lang)}: missing: {notebook.name} has no {lang} translation")
    by_number = {c.number: c for c in prose_cells(nb)}
    kept = []
    for i, cell in enumerate(nb.cells, start=1):
        if SOURCE_ONLY in cell.get("metadata", {}).get("tags", []):
            continue  # the note for JupyterLab users of the source file
        prose = by_number.get(i)
        if prose is not None:
            if not keeps(notebook, prose, params):
                continue
            if cat is not None:
                gap = _gap(cat, prose)
                if gap:
                    raise ProseError(f"{paths.prose_catalogue(notebook.stem, lang)}: {notebook.name} {prose.label}: "
                                     f"{lang} translation {gap}")
                cell.source = str(cat[prose.text].string)
            else:
                cell.source = prose.text  # without its condition line
        kept.append(cell)
    nb.cells = kept
    return nb
