"""Indicator files kept in a spreadsheet: the YAML format as an Excel workbook or as CSV files.

Municipal officers keep their indicators in Excel. The same content as the YAML
format (:mod:`kuntalib.indicators.model`) fits in these sheets, one row each, a header
row first; the required sheets and columns are marked *:

``indicators``*    id*, aim, aim_stated, label_fi*, label_sv, label_en, unit_fi*, unit_sv, unit_en,
                   direction*, baseline_date, baseline_value, baseline_source, target_date*,
                   target_value*, target_kind*, target_reference, target_source*, target_text_fi,
                   target_text_sv, target_text_en
``observations``*  series* (an indicator id or a reference id), date*, value*, source*, published,
                   text_fi, text_sv, text_en
``sources``*       key*, citation*
``aims``           id*, label_fi*, label_sv, label_en, source
``references``     id*, label_fi*, label_sv, label_en
``municipality``   key*, value* (code, name_fi, name_sv, name_en, strategy)

An ``.xlsx`` workbook holds them as sheets. As CSV they are files beside each other that share a stem,
``rautjarvi.indicators.csv``, ``rautjarvi.observations.csv``, …, and the file named is the
``.indicators.csv`` one; each file has its provenance sidecar. CSV may be comma- or semicolon-separated;
with semicolons a decimal comma is read (as Finnish Excel writes it). Dates are ``YYYY-MM-DD`` (or Excel
dates). The content is then validated exactly like YAML; a cell that is not a date or a number, a
missing sheet or column, or an unknown column raises :class:`~kuntalib.indicators.model.IndicatorFileError`
naming the file, sheet, row and column.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from kuntalib.i18n import LANGS
from kuntalib.indicators.model import IndicatorFile, IndicatorFileError, parse_indicator_file
from kuntalib.provenance import read_provenance, track_input

__all__ = ["SHEETS", "REQUIRED", "read_indicator_sheets", "write_indicator_workbook"]

SHEETS: dict[str, list[str]] = {
    "indicators": ["id", "aim", "aim_stated", *(f"label_{x}" for x in LANGS), *(f"unit_{x}" for x in LANGS), "direction",
                   "baseline_date", "baseline_value", "baseline_source", "target_date", "target_value", "target_kind",
                   "target_reference", "target_source", *(f"target_text_{x}" for x in LANGS)],
    "observations": ["series", "date", "value", "source", "published", *(f"text_{x}" for x in LANGS)],
    "sources": ["key", "citation"],
    "aims": ["id", *(f"label_{x}" for x in LANGS), "source"],
    "references": ["id", *(f"label_{x}" for x in LANGS)],
    "municipality": ["key", "value"],
}
REQUIRED: dict[str, list[str]] = {
    "indicators": ["id", "label_fi", "unit_fi", "direction", "target_date", "target_value", "target_kind", "target_source"],
    "observations": ["series", "date", "value", "source"],
    "sources": ["key", "citation"],
    "aims": ["id", "label_fi"],
    "references": ["id", "label_fi"],
    "municipality": ["key", "value"],
}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


class _Cells:
    """Typed access to one sheet's cells, with errors that name the file, sheet, row and column."""

    def __init__(self, source: Path, sheet: str, df: pd.DataFrame, decimal_comma: bool) -> None:
        self.source, self.sheet, self.df, self.decimal_comma = source, sheet, df, decimal_comma

    def where(self, row: int, col: str) -> str:
        return f"{self.source}: sheet {self.sheet!r} row {row + 2} column {col!r}"  # row 1 is the header

    def rows(self) -> range:
        return range(len(self.df))

    def _cell(self, row: int, col: str, required: bool, what: str) -> Any:
        """The cell's value, or None when blank (an error when ``required``)."""
        v = self.df[col].iloc[row] if col in self.df.columns else None
        if _blank(v):
            if required:
                raise IndicatorFileError(f"{self.where(row, col)}: empty, {what} is required")
            return None
        return v

    def text(self, row: int, col: str, required: bool = False) -> str | None:
        v = self._cell(row, col, required, "a value")
        return None if v is None else str(v).strip()

    def number(self, row: int, col: str, required: bool = False) -> float | None:
        v = self._cell(row, col, required, "a number")
        if v is None:
            return None
        if isinstance(v, bool):
            raise IndicatorFileError(f"{self.where(row, col)}: {v!r} is not a number")
        if isinstance(v, int | float):
            out = float(v)
        else:
            text = str(v).strip().replace("\u00a0", "").replace(" ", "")
            if self.decimal_comma:
                text = text.replace(",", ".")
            try:
                out = float(text)
            except ValueError:
                raise IndicatorFileError(f"{self.where(row, col)}: {v!r} is not a number") from None
        if not math.isfinite(out):
            raise IndicatorFileError(f"{self.where(row, col)}: {v!r} is not a finite number")
        return out

    def date(self, row: int, col: str, required: bool = False) -> dt.date | None:
        v = self._cell(row, col, required, "a date")
        if v is None:
            return None
        if isinstance(v, dt.datetime | pd.Timestamp):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v).strip())
        except ValueError:
            raise IndicatorFileError(f"{self.where(row, col)}: {v!r} is not a date YYYY-MM-DD") from None

    def flag(self, row: int, col: str) -> bool | None:
        v = self.text(row, col)
        if v is None:
            return None
        low = v.lower()
        if low in {"true", "1", "yes", "kyllä", "ja"}:
            return True
        if low in {"false", "0", "no", "ei", "nej"}:
            return False
        raise IndicatorFileError(f"{self.where(row, col)}: {v!r} is not true or false")

    def texts(self, row: int, prefix: str, required: bool = False) -> dict[str, str] | None:
        out = {x: t for x in LANGS if (t := self.text(row, f"{prefix}_{x}", required=required and x == "fi"))}
        return out or None


def _read_tables(path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Path], bool]:
    """The sheets as frames of strings/objects, where each came from, and whether decimals use a comma."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        try:
            book = pd.read_excel(path, sheet_name=None, dtype=object)
        except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
            raise IndicatorFileError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc})") from exc
        return {str(k).strip().lower(): v for k, v in book.items()}, {k.strip().lower(): path for k in book}, False
    if not path.name.endswith(".indicators.csv"):
        raise IndicatorFileError(f"{path}: a spreadsheet indicator file is an .xlsx workbook or a '<name>.indicators.csv'")
    stem = path.name[: -len(".indicators.csv")]
    tables, origin, comma = {}, {}, False
    for sheet in SHEETS:
        p = path.with_name(f"{stem}.{sheet}.csv")
        if not p.exists():
            continue
        try:
            head = p.read_text(encoding="utf-8-sig").splitlines()[0] if p.stat().st_size else ""
        except UnicodeDecodeError as exc:
            raise IndicatorFileError(f"{p}: not UTF-8 text ({exc})") from exc
        sep = ";" if head.count(";") > head.count(",") else ","
        comma = comma or sep == ";"
        try:
            tables[sheet] = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise IndicatorFileError(f"{p}: not a readable CSV ({exc})") from exc
        origin[sheet] = p
        if p != path:
            read_provenance(p)  # each CSV of the set has its own sidecar and checksum
            track_input(p)
    return tables, origin, comma


def read_indicator_sheets(path: str | Path, *, evaluation_date: Any = None) -> IndicatorFile:
    """Read an indicator file kept as an Excel workbook or CSV files (see the module docstring).

    ``evaluation_date`` as in :func:`~kuntalib.indicators.model.parse_indicator_file`.
    """
    path = Path(path)
    tables, origin, comma = _read_tables(path)
    for sheet in ("indicators", "observations", "sources"):
        if sheet not in tables:
            raise IndicatorFileError(f"{path}: sheet {sheet!r} is missing (found: {', '.join(sorted(tables)) or 'none'})")
    cells: dict[str, _Cells] = {}
    for sheet, df in tables.items():
        if sheet not in SHEETS:
            continue  # a notes sheet or the like
        df = df.rename(columns=lambda c: str(c).strip())
        df = df.dropna(how="all")
        unknown = [c for c in df.columns if c not in SHEETS[sheet]]
        if unknown:
            raise IndicatorFileError(f"{origin[sheet]}: sheet {sheet!r} column {unknown[0]!r} is not one of "
                                     f"{', '.join(SHEETS[sheet])}")
        missing = [c for c in REQUIRED[sheet] if c not in df.columns]
        if missing:
            raise IndicatorFileError(f"{origin[sheet]}: sheet {sheet!r} lacks required column {missing[0]!r}")
        cells[sheet] = _Cells(origin[sheet], sheet, df.reset_index(drop=True), comma)

    s = cells["sources"]
    data: dict[str, Any] = {"sources": {s.text(r, "key", True): s.text(r, "citation", True) for r in s.rows()}}
    if "municipality" in cells:
        m = cells["municipality"]
        kv = {m.text(r, "key", True): m.text(r, "value", True) for r in m.rows()}
        data["municipality"] = {k: v for k, v in kv.items() if not k.startswith("name_")}
        names = {k[5:]: v for k, v in kv.items() if k.startswith("name_")}
        if names:
            data["municipality"]["name"] = names
    if "aims" in cells:
        a = cells["aims"]
        data["aims"] = [{"id": a.text(r, "id", True), "label": a.texts(r, "label", True), "source": a.text(r, "source")}
                        for r in a.rows()]
    series: dict[str, list[dict[str, Any]]] = {}
    o = cells["observations"]
    for r in o.rows():
        obs = {"date": o.date(r, "date", True), "value": o.number(r, "value", True), "source": o.text(r, "source", True)}
        if (pub := o.date(r, "published")) is not None:
            obs["published"] = pub
        if (text := o.texts(r, "text")) is not None:
            obs["text"] = text
        series.setdefault(o.text(r, "series", True), []).append(obs)
    if "references" in cells:
        ref = cells["references"]
        data["references"] = {ref.text(r, "id", True): {"label": ref.texts(r, "label", True),
                                                          "observations": series.get(ref.text(r, "id", True), [])}
                              for r in ref.rows()}
    i = cells["indicators"]
    indicators = []
    for r in i.rows():
        ind: dict[str, Any] = {"id": i.text(r, "id", True), "label": i.texts(r, "label", True),
                               "unit": i.texts(r, "unit", True), "direction": i.text(r, "direction", True)}
        if (aim := i.text(r, "aim")) is not None:
            ind["aim"] = aim
        if (stated := i.flag(r, "aim_stated")) is not None:
            ind["aim_stated"] = stated
        if (bdate := i.date(r, "baseline_date")) is not None:
            ind["baseline"] = {"date": bdate, "value": i.number(r, "baseline_value", True),
                               "source": i.text(r, "baseline_source")}
        target: dict[str, Any] = {"date": i.date(r, "target_date", True), "value": i.number(r, "target_value", True),
                                  "kind": i.text(r, "target_kind", True), "source": i.text(r, "target_source", True)}
        if (ref_id := i.text(r, "target_reference")) is not None:
            target["reference"] = ref_id
        if (text := i.texts(r, "target_text")) is not None:
            target["text"] = text
        ind["target"] = target
        ind["observations"] = series.get(ind["id"], [])
        indicators.append(ind)
    data["indicators"] = indicators
    known = {ind["id"] for ind in indicators} | set(data.get("references", {}))
    stray = sorted(set(series) - known)
    if stray:
        rows = [r + 2 for r in o.rows() if o.text(r, "series") == stray[0]]
        raise IndicatorFileError(f"{o.source}: sheet 'observations' row {rows[0]} column 'series': {stray[0]!r} is "
                                 "neither an indicator id nor a reference id")
    return parse_indicator_file(data, path, evaluation_date=evaluation_date)


def write_indicator_workbook(file: IndicatorFile, path: str | Path) -> Path:
    """Write ``file`` as an Excel workbook in the sheet format (a starting point for officers)."""
    path = Path(path)

    def d(x: Any) -> Any:
        return None if x is None else pd.Timestamp(x).date().isoformat()

    inds, obs = [], []
    for ind in file.indicators:
        t = ind.target
        inds.append({"id": ind.id, "aim": ind.aim, "aim_stated": ind.aim_stated,
                     **{f"label_{x}": ind.label.get(x) for x in LANGS}, **{f"unit_{x}": ind.unit.get(x) for x in LANGS},
                     "direction": ind.direction,
                     "baseline_date": d(ind.baseline["date"]) if ind.baseline else None,
                     "baseline_value": ind.baseline["value"] if ind.baseline else None,
                     "baseline_source": ind.baseline.get("source") if ind.baseline else None,
                     "target_date": d(t["date"]), "target_value": t["value"], "target_kind": t["kind"],
                     "target_reference": t.get("reference"), "target_source": t.get("source"),
                     **{f"target_text_{x}": (t.get("text") or {}).get(x) for x in LANGS}})
        for r in ind.observations.itertuples():
            obs.append({"series": ind.id, "date": d(r.date), "value": r.value, "source": r.source,
                        "published": d(r.published) if r.published != r.date else None,
                        **{f"text_{x}": getattr(r, f"text_{x}") for x in LANGS}})
    refs = {ind.target["reference"]: ind.reference for ind in file.indicators if ind.reference is not None}
    for ref_id, ref in refs.items():
        for r in ref.itertuples():
            obs.append({"series": ref_id, "date": d(r.date), "value": r.value, "source": r.source,
                        "published": d(r.published) if r.published != r.date else None})
    muni = file.municipality
    municipality = [{"key": k, "value": v} for k, v in muni.items() if not isinstance(v, dict)]
    municipality += [{"key": f"name_{x}", "value": n} for x, n in (muni.get("name") or {}).items()]
    sheets = {
        "indicators": pd.DataFrame(inds, columns=SHEETS["indicators"]),
        "observations": pd.DataFrame(obs, columns=SHEETS["observations"]),
        "sources": pd.DataFrame([{"key": k, "citation": v} for k, v in file.sources.items()], columns=SHEETS["sources"]),
        "aims": pd.DataFrame([{"id": a["id"], **{f"label_{x}": a["label"].get(x) for x in LANGS}, "source": a.get("source")}
                              for a in file.aims], columns=SHEETS["aims"]),
        "municipality": pd.DataFrame(municipality, columns=SHEETS["municipality"]),
    }
    if refs:
        # a reference without a label in the file is named by its id
        labels = file.reference_labels
        sheets["references"] = pd.DataFrame([{"id": k, **{f"label_{x}": (labels.get(k) or {}).get(x) for x in LANGS},
                                              "label_fi": (labels.get(k) or {}).get("fi") or k} for k in refs],
                                            columns=SHEETS["references"])
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, df in sheets.items():
            df.to_excel(xl, sheet_name=name, index=False)
    return path
