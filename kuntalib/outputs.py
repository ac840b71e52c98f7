"""Saving figures and tables: separate from drawing them.

Figures go to ``outputs/figures/<notebook>/<lang>/<name>.{png,svg}``, tables to
``outputs/tables/<notebook>/<lang>/<name>.csv``. Files carry no dates, so a
rerun writes the same bytes.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from kuntalib import paths
from kuntalib.i18n import messages, text
from kuntalib.provenance import read_provenance
from kuntalib.sources import CitationError, citation_for
from kuntalib.theme import caption_layout, check_lang, place_captions

__all__ = ["save_figure", "save_table", "write_workbook", "check_publishable", "IDENTIFIER_COLUMNS"]

#: Columns that identify a person or a device; no published table may have one.
IDENTIFIER_COLUMNS = ("patient", "device", "observation_id", "identifier", "client", "respondent_id")


def _check_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith(".") or any(ord(ch) < 32 for ch in name):
        raise ValueError(f"output name must be a plain file stem, got {name!r}")
    return name


def save_figure(fig: Figure | Axes, name: str, *, notebook: str, lang: str) -> list[Path]:
    """Write ``fig`` as PNG and SVG without date metadata, its caption lines clear of the plot
    (:func:`kuntalib.theme.place_captions`); return the paths.

    A figure with caption lines, saved to its tight box and without a layout engine, is measured once
    (:func:`kuntalib.theme.caption_layout` at the saving dpi): the PNG is cut to that box (the box savefig
    would measure itself: the same bytes). ``figure.kuntalib_layout`` is then the dpi the PNG was saved at and
    that layout (None when not measured), which :func:`kuntalib.present.figure` reads for the image's size and
    hands to :func:`kuntalib.present.picture_box`.
    """
    check_lang(lang)
    figure = place_captions(fig.figure if isinstance(fig, Axes) else fig)
    out = paths.figures_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{_check_name(name)}.png"
    svg = out / f"{name}.svg"
    dpi = float(figure.get_dpi()) if mpl.rcParams["savefig.dpi"] == "figure" else float(mpl.rcParams["savefig.dpi"])
    tight = mpl.rcParams["savefig.bbox"] == "tight" and figure.get_layout_engine() is None
    layout = caption_layout(figure, dpi) if tight else None
    figure.kuntalib_layout = (dpi, layout)
    box = layout[0].padded(mpl.rcParams["savefig.pad_inches"]) if layout else None
    figure.savefig(png, format="png", metadata={"Software": None}, **({"bbox_inches": box} if box else {}))
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return [png, svg]


def check_publishable(df: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """Return ``df`` if it has no identifier column; raise ``ValueError`` naming the column otherwise."""
    bad = [c for c in df.columns if c in IDENTIFIER_COLUMNS]
    if bad:
        raise ValueError(f"{name}: column {bad[0]!r} identifies persons or devices and must not be published")
    return df


def save_table(df: pd.DataFrame, name: str, *, notebook: str, lang: str, synthetic: bool = False,
               index: bool = False) -> Path:
    """Write a published table as UTF-8 CSV with ``\\n`` line ends; return the path.

    Parameters
    ----------
    df
        The table. A column that identifies persons or devices (:data:`IDENTIFIER_COLUMNS`)
        is refused with ``ValueError``.
    name, notebook, lang
        The file is ``outputs/tables/<notebook>/<lang>/<name>.csv``.
    synthetic
        Drawn from synthetic data: the table gets a ``synthetic`` column set to true, so the
        label travels with every copy of the file.
    index
        Write the index as a column.
    """
    check_lang(lang)
    check_publishable(df, name)
    if synthetic:
        df = df.assign(synthetic=True)
    out = paths.tables_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{_check_name(name)}.csv"
    df.to_csv(path, index=index, lineterminator="\n", encoding="utf-8")
    return path


#: Fixed time written into workbooks (their zip entries and document properties), so a rebuild writes the same bytes.
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def _deterministic_zip(path: Path) -> None:
    """Rewrite a zip (an .xlsx) with fixed entry times and document dates."""
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)
    tmp.replace(path)


_LIGHT = "indicators.charts.status_text.{}"
#: Code columns of the tables and the catalogue key of each code's words (``{}`` is the code): the pages' tables and
#: the workbook, written for readers, show the words (:func:`in_words`); the CSV files keep the codes.
VALUE_LABELS: dict[str, str] = {
    **{c: _LIGHT for c in ("status", "target_status", "trajectory_status", "forecast_status", "target_1", "target_2",
                           "trajectory_1", "trajectory_2", "forecast_1", "forecast_2")},
    "answer": "barometer.answers.{}",
    "suppression": "fhir.suppression.{}",
    "kind": "scenarios.kind.{}",
    "rule": "indicators.charts.rule_text.{}",
    "reason": "fhir.reason.{}",
    "fault": "fhir.fault.{}",
    "actual_status": "scenarios.realisation.{}",
    "device_type": "fhir.simulate.device_types.{}",
    "input": "fhir.charts.inputs.{}",
    "basis": "fhir.rule_basis.{}",
}


def in_words(df: pd.DataFrame, lang: str, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``df`` with the codes of its :data:`VALUE_LABELS` columns in ``lang``'s words; a code without a key stays as it is.

    ``labels`` adds or replaces columns' key patterns (``{"fault": "fhir.fault.{}"}``); a code of
    those columns without a key raises ``KeyError``, so that no code reaches a reader unasked.
    """
    have, out = messages(lang), df.copy()
    for c, pattern in {**VALUE_LABELS, **(labels or {})}.items():
        if c not in out.columns:
            continue
        asked = bool(labels) and c in labels
        words = {v: text(k, lang) for v in out[c].dropna().unique() if isinstance(v, str)
                 and ((k := pattern.format(v)) in have or asked)}
        out[c] = out[c].map(lambda v, words=words: words.get(v, v))
    return out


def write_workbook(notebook: str, lang: str, *, sources: Sequence[str | Path] = ()) -> Path:
    """Gather the notebook's CSV tables of ``lang`` into one Excel workbook for Excel users.

    ``outputs/tables/<notebook>/<lang>/<notebook>.xlsx`` has one sheet per CSV (named as the file),
    headers in ``lang`` from the catalogue (``col.<name>``; a column named by the data, such as a
    scenario id, keeps its name), the codes of :data:`VALUE_LABELS`' columns in words (a traffic
    light ``red`` is "jäljessä", as on the chart), numbers as numbers with a thousands format, and a last sheet
    listing the sources: each raw file's public citation, address, date, licence and whether it is
    synthetic. The CSV files stay as they are (machine-readable, decimal point).

    Parameters
    ----------
    notebook, lang
        Whose tables.
    sources
        The raw files (paths under ``data/raw``) the tables come from.
    """
    check_lang(lang)
    out = paths.tables_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)

    def fill(ws: Any, header: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        for j, fmt in enumerate(formats, start=1):
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
            width = max([len(str(header[j - 1]))] + [len(str(r[j - 1])) for r in rows[:200] if r[j - 1] is not None])
            ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"

    have = messages(lang)
    for csv in sorted(out.glob("*.csv")):
        df = in_words(pd.read_csv(csv, encoding="utf-8", keep_default_na=True), lang)
        header = [text(f"col.{c}", lang) if f"col.{c}" in have else str(c) for c in df.columns]
        formats: list[str | None] = []
        for c in df.columns:
            if pd.api.types.is_bool_dtype(df[c]):
                formats.append(None)
            elif pd.api.types.is_integer_dtype(df[c]):
                formats.append("#,##0")
            elif pd.api.types.is_float_dtype(df[c]):
                whole = df[c].dropna().map(float.is_integer).all()
                formats.append("#,##0" if whole else "#,##0.0#")
            else:
                formats.append(None)
        rows = [[None if (isinstance(v, float) and v != v) else (v.item() if hasattr(v, "item") else v) for v in rec]
                for rec in df.itertuples(index=False, name=None)]
        fill(wb.create_sheet(csv.stem[:31]), header, rows, formats)
    src_rows = []
    for src in sources:
        raw = paths.raw_file(str(src))
        prov = read_provenance(raw, check=False)
        try:
            c = citation_for(str(src))
            cited, url = c.text(lang), c.url
        except CitationError:
            cited, url = prov.source, prov.address
        src_rows.append([str(src), cited, url, prov.date, prov.licence, text("table.yes" if prov.synthetic else "table.no", lang)])
    heads = [text(k, lang) for k in ("xlsx.file", "xlsx.citation", "xlsx.address", "xlsx.date", "xlsx.licence", "col.synthetic")]
    src_rows += [[None] * len(heads), [text("xlsx.language_note", lang)] + [None] * (len(heads) - 1)]
    fill(wb.create_sheet(text("xlsx.sources", lang)[:31]), heads, src_rows, [None] * len(heads))
    path = out / f"{_check_name(notebook)}.xlsx"
    wb.save(path)
    _deterministic_zip(path)
    return path
