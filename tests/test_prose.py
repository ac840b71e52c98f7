"""The notebooks' prose: Finnish Markdown cells, translated per cell through gettext catalogues."""

from __future__ import annotations

import io
import json
import re
import shutil

import nbformat
import pytest
from babel.messages.pofile import read_po, write_po
from hypothesis import given
from hypothesis import strategies as st

from kuntalib import paths
from kuntalib.i18n import LOCALES, fields, text
from kuntalib.pipeline.params import read_parameters
from kuntalib.pipeline.translate import (
    ProseError,
    keeps,
    problems,
    prose_cells,
    read_catalogue,
    template,
    translate,
    update_catalogues,
)
from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_prose_cell_has_a_current_translation(notebook):
    assert problems(notebook) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_reads_as_a_document(notebook):
    """Opened as a file, the notebook starts with its title and introduction and has its narrative in Markdown."""
    nb = nbformat.read(notebook, as_version=4)
    cells = prose_cells(nb)
    assert cells[0].number == 1 and cells[0].text.startswith("# ") and len(cells[0].text) > 200
    headings = [c for c in cells if c.text.startswith("## ")]  # section headings are Markdown headings
    assert len(headings) >= 4 and len(cells) >= 8
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # a figure's narrative is a Markdown cell; a catalogue narrative (figure(about=...)) only where it needs numbers of
    # the run, or where the figure itself is drawn only when the data allow (the size classes of microdata)
    keyed = set(re.findall(r'about=f?"([^"]+)"', code))
    plain = {k for k in keyed if "{" not in k and not fields(text(k, "fi"))}
    assert plain <= {"nb.01_barometer.fig.breakdown_size_class"}, plain


def _project(tmp_path, monkeypatch):
    """A copy of the notebooks and their catalogues as a project of its own."""
    root = tmp_path / "proj"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    monkeypatch.setenv("KUNTALIB_ROOT", str(root))
    return root / "notebooks" / "04_strategy_followup.ipynb"


def _edit(nb_path, number, change):
    nb = nbformat.read(nb_path, as_version=4)
    change(nb.cells, number - 1)
    nbformat.write(nb, nb_path)


def test_an_edited_cell_is_stale_and_a_new_one_untranslated(tmp_path, monkeypatch):
    nb_path = _project(tmp_path, monkeypatch)
    heading = next(c for c in prose_cells(nbformat.read(nb_path, as_version=4)) if c.text.startswith("## "))
    translated = read_catalogue(nb_path, "sv").get(heading.text).string

    def edit(cells, i):
        cells[i].source = cells[i].source.replace("## ", "## Uusi: ", 1)
        cells.insert(i + 1, nbformat.v4.new_markdown_cell("Aivan uusi kappale, jota kukaan ei ole vielä kääntänyt."))

    _edit(nb_path, heading.number, edit)
    before = problems(nb_path)
    assert any("no sv translation" in p for p in before)  # the catalogue has not been updated yet
    written = update_catalogues(nb_path)
    first = [p.read_bytes() for p in written]
    assert [p.read_bytes() for p in update_catalogues(nb_path)] == first  # merging again changes nothing
    assert not any(line.startswith((b"#|", b"# |")) for po in first for line in po.splitlines()), \
        "no previous-msgid comments (Babel cannot read its own multi-line ones back)"
    found = problems(nb_path)
    stale = [p for p in found if "stale (fuzzy)" in p]
    assert len(stale) == 2 and all(f"cell {heading.number} ('## Uusi:" in p and "04_strategy_followup.ipynb" in p for p in stale)
    new = [p for p in found if "has no" in p and "Aivan uusi" in p]
    assert {p.split(" has no ")[1].split()[0] for p in new} == {"sv", "en"}
    # the edited cell keeps its old translation for the translator, marked fuzzy
    sv = read_catalogue(nb_path, "sv")
    edited = next(m for m in sv if m.id and str(m.id).startswith("## Uusi:"))
    assert edited.fuzzy and edited.string == translated
    params = {n: p.default for n, p in read_parameters(nb_path).items()}
    with pytest.raises(ProseError, match=r"04_strategy_followup\.ipynb cell \d+ \('## Uusi:.*sv translation stale"):
        translate(nb_path, "sv", params)
    assert translate(nb_path, "fi", params)  # the source language needs no catalogue


def test_translate_gives_the_language_and_leaves_out_false_conditions(tmp_path, monkeypatch):
    nb_path = _project(tmp_path, monkeypatch)
    params = {n: p.default for n, p in read_parameters(nb_path).items()}
    source = prose_cells(nbformat.read(nb_path, as_version=4))
    conditional = [c for c in source if c.when == "process_file"]
    assert conditional, "notebook 04's process section is conditional on process_file"
    for lang in ("sv", "en"):
        out = translate(nb_path, lang, params)
        assert not [c for c in out.cells if "source-only" in c.metadata.get("tags", [])]  # the note is for the source file
        texts = [c.source for c in out.cells if c.cell_type == "markdown"]
        assert len(texts) == len(source) and not {c.text for c in source} & set(texts)
        without = translate(nb_path, lang, {**params, "process_file": ""})
        assert len(without.cells) == len(out.cells) - len(conditional)
    fi = translate(nb_path, "fi", params)
    assert [c.text for c in prose_cells(fi)] == [c.text for c in source]


@pytest.mark.parametrize("expr", ["__import__('os')", "process_file.upper()", "no_such_parameter", "[x for x in 'ab']", "1 +"])
def test_a_condition_is_parameters_and_logic_only(tmp_path, monkeypatch, expr):
    nb_path = _project(tmp_path, monkeypatch)
    cell = prose_cells(nbformat.read(nb_path, as_version=4))[1]
    _edit(nb_path, cell.number, lambda cells, i: setattr(cells[i], "source", f"*Vain kun* `{expr}`\n\n{cells[i].source}"))
    params = {n: p.default for n, p in read_parameters(nb_path).items()}
    with pytest.raises(ProseError, match=rf"cell {cell.number} .*condition"):
        translate(nb_path, "sv", params)
    assert any("condition" in p for p in problems(nb_path))


def test_a_condition_is_the_first_line_a_reader_sees_and_never_on_a_page(tmp_path, monkeypatch):
    nb_path = _project(tmp_path, monkeypatch)
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in prose_cells(nb) if c.when == "process_file")
    raw = nb.cells[cell.number - 1].source
    assert raw.startswith("*Vain kun* `process_file`\n") and cell.text in raw and "Vain kun" not in cell.text
    assert cell.text in {str(m.id) for m in read_catalogue(nb_path, "sv")}  # the catalogues hold the text alone
    params = {n: p.default for n, p in read_parameters(nb_path).items()}
    for lang in ("fi", "sv", "en"):
        page = "\n".join(c.source for c in translate(nb_path, lang, params).cells if c.cell_type == "markdown")
        assert "Vain kun" not in page, lang
    windows = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("*Vain kun* `process_file`\r\n\r\nTeksti.")])
    assert [(c.when, c.text) for c in prose_cells(windows)] == [("process_file", "Teksti.")]  # a line end written \r\n
    with pytest.raises(ProseError, match="no text"):
        prose_cells(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("*Vain kun* `process_file`\n")]))
    for near in ("_Vain kun_ `process_file`", "*vain kun:* `process_file`", "**Vain kun** ``process_file``"):
        _edit(nb_path, cell.number, lambda cells, i, near=near: setattr(cells[i], "source", f"{near}\n\n{cell.text}"))
        assert any("looks like a condition" in p for p in problems(nb_path)), near
    # the earlier form, a condition in the metadata, which JupyterLab does not show, is refused with the way to write it
    _edit(nb_path, cell.number, lambda cells, i: cells[i].metadata.update({"kuntalib": {"when": "process_file"}}))
    with pytest.raises(ProseError, match=rf"cell {cell.number} .*first line, \*Vain kun\* `process_file`"):
        translate(nb_path, "fi", params)


def test_conditions_over_parameters():
    nb = REPO / "notebooks" / "01_barometer.ipynb"
    cells = {c.when: c for c in prose_cells(nbformat.read(nb, as_version=4)) if c.when}
    published = cells['source == "published"']
    assert keeps(nb, published, {"source": "published"}) and not keeps(nb, published, {"source": "x.csv"})
    assert not keeps(nb, cells['round == "2022"'], {"round": "2025"})
    assert not keeps(nb, cells["compare"], {"compare": ""}) and keeps(nb, cells["compare"], {"compare": "2018"})


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=80)


@given(cells=st.lists(_TEXT.filter(lambda t: t.strip()), min_size=1, max_size=6))
def test_any_cell_text_survives_the_catalogue(cells):
    """Whatever a cell holds (quotes, backslashes, tabs, line breaks, Markdown), its msgid written to a .po
    file and read back finds the cell again, so no translated page silently keeps a Finnish cell."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        nb_path = Path(tmp) / "x.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(t) for t in cells])
        nbformat.write(nb, nb_path)
        tmpl = template(nb_path)
        for msg in tmpl:
            if msg.id:
                msg.string = f"KÄÄNNÖS {msg.id}"
        buf = io.BytesIO()
        write_po(buf, tmpl, width=100)
        back = read_po(io.BytesIO(buf.getvalue()), locale=LOCALES["sv"])
        for cell in prose_cells(json.loads(nb_path.read_text(encoding="utf-8"))):
            assert back.get(cell.text) is not None and back.get(cell.text).string == f"KÄÄNNÖS {cell.text}"


def test_prose_catalogues_live_beside_the_notebooks():
    assert paths.prose_catalogue("01_barometer", "sv").relative_to(paths.notebooks_dir()).as_posix() == \
        "locale/sv/LC_MESSAGES/01_barometer.po"


def test_the_build_publishes_no_untranslated_cell(project):
    """A prose cell added to a notebook without translating it: the fi run publishes it, the sv run fails naming it."""
    from kuntalib.pipeline.runner import discover, plan, run_build

    nb_path = project / "notebooks" / "a_plot.ipynb"
    _edit(nb_path, 1, lambda cells, i: cells.insert(i + 1, nbformat.v4.new_markdown_cell("## Uusi osio\n\nKääntämätön teksti.")))
    report = run_build(plan(discover(), ("fi", "sv")), progress=False)
    assert [r.job.lang for r in report.failed] == ["sv"]
    assert "a_plot.ipynb cell 2 ('## Uusi osio')" in report.failed[0].message and "sv translation missing" in report.failed[0].message
    fi = nbformat.read(paths.executed_dir("fi") / "a_plot.ipynb", as_version=4)
    assert "## Uusi osio\n\nKääntämätön teksti." in [c.source for c in fi.cells if c.cell_type == "markdown"]
