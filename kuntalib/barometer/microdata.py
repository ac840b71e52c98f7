"""Respondent-level barometer data: long format, parsers for survey-tool exports.

Long format (one row per respondent and item)::

    respondent_id  org_type      size_class  weight  question_id  category_id  answer
    r0001          kunta         <10000      1.0     support      user_ideas   yes

``org_type`` is ``kunta`` (municipality) or ``kuntayhtymä`` (joint authority).
``answer`` is ``yes``/``no`` for multi-select items and
``promoted``/``not_relevant``/``barrier`` for the promoter items. A respondent
who left an item blank has no row for it.

Wide export (what survey tools write): one row per respondent; columns
``respondent_id``, ``org_type``, optional ``organisation_id`` (several responses
from one organisation share it), ``size_class`` and ``weight``, and one
column per item named ``<question_id>__<category_id>`` (the ids of
``published_figures.csv``).

A real export's own headers (Webropol-style "5. Mitkä … – Yhteistyö yritysten
kanssa") are read through a mapping file (:func:`load_mapping`): each export
header to one of those field names, or ``-`` for a column to leave out. Excel or
CSV exports with a two-row header (question in the first row, often merged
across its options; option in the second) are joined as "question – option"
(``header_rows=2``, or detected when the joined headers match better). Values: ``1``/``0``, ``kyllä``/``ei``, ``ja``/``nej``,
``yes``/``no``; promoter items ``1``/``2``/``3`` or the chart's words
(``EDISTI``, ``ei merkityksellinen``, ``OLI ESTEENÄ``). CSV may be UTF-8 or
cp1252, separated by ``;`` or ``,``, with decimal commas in ``weight``.

A file whose columns do not fit raises :class:`MicrodataError` naming the
column; a row with a bad value is rejected, kept in ``ParseResult.rejected``
with its line and reason, and the other rows are read.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "MicrodataError",
    "ParseResult",
    "load_mapping",
    "normalise_header",
    "ORG_TYPES",
    "item_columns",
    "read_wide",
    "wide_to_long",
    "DERIVED_ITEMS",
]

ORG_TYPES = ("kunta", "kuntayhtymä")
ID_COLUMNS = ("respondent_id", "org_type")
OPTIONAL_COLUMNS = ("organisation_id", "size_class", "weight", "synthetic")
#: The mapping file's value for an export column that is deliberately not read (timestamps, free text).
IGNORE = "-"

_YES = {"1", "1.0", "kyllä", "kylla", "k", "ja", "yes", "y", "x", "true"}
_NO = {"0", "0.0", "ei", "e", "nej", "no", "n", "false"}
_PROMOTER = {
    "1": "promoted", "1.0": "promoted", "edisti": "promoted", "edisti innovaatiota": "promoted", "promoted": "promoted",
    "2": "not_relevant", "2.0": "not_relevant", "ei merkityksellinen": "not_relevant",
    "ei merkityksellinen tässä yhteydessä": "not_relevant", "not relevant": "not_relevant", "not_relevant": "not_relevant",
    "3": "barrier", "3.0": "barrier", "oli esteenä": "barrier", "oli esteenä innovaatiolle": "barrier", "barrier": "barrier",
}
_ORG = {"kunta": "kunta", "kommun": "kunta", "municipality": "kunta",
        "kuntayhtymä": "kuntayhtymä", "kuntayhtyma": "kuntayhtymä", "samkommun": "kuntayhtymä",
        "joint authority": "kuntayhtymä", "joint municipal authority": "kuntayhtymä"}

#: Items computed from others, not read from files, in the order they are computed:
#: (question, category) -> (source question, source categories, rule).
DERIVED_ITEMS = {
    ("types", "any"): ("types", ("service", "product", "process"), "any"),
    ("key_figures", "supported"): ("support", ("not_supported",), "not"),
    ("key_figures", "collaborated"): ("partners", ("no_collaboration",), "not"),
    ("key_figures", "adopted"): ("types", ("any",), "same"),
}


class MicrodataError(ValueError):
    """A microdata file that cannot be read as a whole (names the file and column)."""


@dataclass(frozen=True)
class ParseResult:
    """Accepted answers in long format and every rejected row with its reason."""

    data: pd.DataFrame
    rejected: pd.DataFrame
    source: str
    n_rows: int
    synthetic: bool = False

    @property
    def n_accepted_rows(self) -> int:
        return self.n_rows - self.rejected["line"].nunique() if len(self.rejected) else self.n_rows

    def summary(self) -> str:
        return f"{self.source}: {self.n_rows} rows, {self.n_accepted_rows} accepted, {self.n_rows - self.n_accepted_rows} rejected"


def item_columns(figures: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Column name -> (question_id, category_id) for every item a file may hold."""
    items = figures[["question_id", "category_id"]].drop_duplicates()
    out = {}
    for q, c in items.itertuples(index=False):
        if (q, c) not in DERIVED_ITEMS:
            out[f"{q}__{c}"] = (q, c)
    return out


def normalise_header(text: object) -> str:
    """A header as compared with the mapping: Unicode NFC, dashes (and a spaced hyphen) as '–', whitespace collapsed, case folded."""
    t = unicodedata.normalize("NFC", str(text))
    for dash in ("\u2014", "\u2012", "\u2013", "\u2212"):
        t = t.replace(dash, "–")
    t = " ".join(t.split())
    return t.replace(" - ", " – ").casefold()  # a spaced hyphen separates question and option like a dash


def load_mapping(path: str | Path, figures: pd.DataFrame) -> dict[str, str]:
    """Read a mapping file: export header -> field (``respondent_id``, …, ``<question>__<category>`` or ``-``).

    CSV with columns ``header`` and ``field`` (UTF-8), or YAML (a mapping of header to field).
    Headers are compared after :func:`normalise_header`.

    Raises
    ------
    MicrodataError
        Naming every line (CSV) or key whose field is unknown, and every header given twice.
    """
    path = Path(path)
    allowed = set(item_columns(figures)) | set(ID_COLUMNS) | set(OPTIONAL_COLUMNS) | {IGNORE}
    pairs: list[tuple[str, str, str]] = []  # (where, header, field)
    if path.suffix.lower() in {".yml", ".yaml"}:
        from kuntalib.yamlsafe import YamlError, safe_load_file

        try:
            doc = safe_load_file(path)
        except YamlError as exc:
            raise MicrodataError(str(exc)) from exc
        if not isinstance(doc, dict):
            raise MicrodataError(f"{path}: a mapping file must map export headers to fields")
        pairs = [(f"key {str(k)!r}", str(k), str(v).strip()) for k, v in doc.items()]
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise MicrodataError(f"{path}: not a UTF-8 CSV mapping file with columns header, field ({exc})") from exc
        missing = [c for c in ("header", "field") if c not in df.columns]
        if missing:
            raise MicrodataError(f"{path}: mapping file needs columns 'header' and 'field' (missing {', '.join(missing)})")
        pairs = [(f"line {i + 2}", h, f.strip()) for i, (h, f) in enumerate(zip(df["header"], df["field"], strict=True))]
    problems, out, where_of = [], {}, {}
    for where, header, field in pairs:
        key = normalise_header(header)
        if field not in allowed:
            problems.append(f"{where}: field {field!r} for {header!r} is not a column of the codebook")
        elif key in out and out[key] != field:
            problems.append(f"{where}: header {header!r} is mapped twice ({out[key]!r} at {where_of[key]} and {field!r})")
        else:
            out[key], where_of[key] = field, where
    if problems:
        raise MicrodataError(f"{path}: " + "; ".join(problems))
    return out


def _headers(raw: pd.DataFrame, rows: int) -> list[str]:
    """Column headers from the first ``rows`` (1 or 2) rows of a header-less frame of strings."""
    first = [str(v).strip() for v in raw.iloc[0]]
    if rows == 1:
        return first
    second = [str(v).strip() for v in raw.iloc[1]] if len(raw) > 1 else [""] * len(first)
    out, question = [], ""
    for top, option in zip(first, second, strict=True):
        if top:
            question = top
        if option and (top or question):
            out.append(f"{top or question} – {option}")
        else:
            out.append(top or option)
    return out


def _delimiter(text: str, sample_lines: int = 50) -> str:
    """';', tab or ',': the one that splits the first lines into the same number of fields, most fields first.

    Headers of real exports hold commas ("Yliopistot, korkeakoulut, …"), so the header line
    alone cannot decide.
    """
    head = "\n".join(text.splitlines()[:sample_lines])
    best, best_fields = ",", 1
    for sep in (";", "\t", ","):
        try:
            counts = {len(r) for r in csv.reader(io.StringIO(head), delimiter=sep) if r}
        except csv.Error:
            continue
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = sep, n
    return best


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise MicrodataError(f"{path}: neither UTF-8 nor cp1252 text")
    sep = _delimiter(text)
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, header=None)


def _read_any(path: Path, header_rows: int | None, known: set[str]) -> tuple[pd.DataFrame, int]:
    """Frame of strings with its headers and the line number of its first data row.

    ``header_rows`` None: two header rows when the joined headers match more of ``known``
    (normalised names) than the first row alone.
    """
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".xlsx", ".xlsm", ".xls"}:
        raw = _read_csv(path) if suffix in {".csv", ".txt"} else pd.read_excel(path, dtype=str, keep_default_na=False, header=None)
        if raw.empty:
            raise MicrodataError(f"{path}: no header row")
        rows = header_rows
        if rows is None:
            score = {n: sum(normalise_header(h) in known for h in _headers(raw, n)) for n in (1, 2)}
            rows = 2 if len(raw) > 1 and score[2] > score[1] else 1
        if rows not in (1, 2):
            raise MicrodataError(f"{path}: header_rows must be 1 or 2, not {rows}")
        df = raw.iloc[rows:].reset_index(drop=True)
        df.columns = _headers(raw, rows)
        return df, rows + 1
    if suffix in {".sav", ".zsav"}:
        import pyreadstat

        df, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
        df = df.astype(object).where(df.notna(), "")
        return df.map(lambda v: format(v, "g") if isinstance(v, float) else str(v)), 1
    raise MicrodataError(f"{path}: unsupported file type {suffix!r} (csv, xlsx or sav)")


def _norm(value: str) -> str:
    return " ".join(str(value).strip().lower().split())


def _columns(cols: list[tuple[int, str]]) -> str:
    return ", ".join(f"column {name!r} ({pos})" for pos, name in cols)


def read_wide(path: str | Path, figures: pd.DataFrame, *, mapping: str | Path | dict[str, str] | None = None,
              header_rows: int | None = None) -> ParseResult:
    """Read a wide survey export (CSV, Excel or SPSS) into long format.

    Parameters
    ----------
    path
        The export file.
    figures
        The published figures table (for the item ids).
    mapping
        A mapping file (:func:`load_mapping`) or its dict, for exports with the survey tool's own
        headers; None when the headers are kuntalib's field names.
    header_rows
        1 or 2 header rows (CSV and Excel); None to detect.

    Raises
    ------
    MicrodataError
        Naming every column that is unmapped (or not a field), mapped to a field another column
        also maps to, or present twice; or a required column that is missing.
    """
    path = Path(path)
    items = item_columns(figures)
    if mapping is not None and not isinstance(mapping, dict):
        mapping = load_mapping(mapping, figures)
    fields = set(items) | set(ID_COLUMNS) | set(OPTIONAL_COLUMNS)
    known = set(mapping) if mapping is not None else {normalise_header(f) for f in fields}
    df, first_line = _read_any(path, header_rows, known)
    headers = [str(c).strip() for c in df.columns]
    seen: dict[str, int] = {}
    twice = []
    for pos, h in enumerate(headers, 1):
        key = normalise_header(h)
        if key in seen:
            twice.append((pos, h))
        seen.setdefault(key, pos)
    if twice:
        raise MicrodataError(f"{path}: header given twice: {_columns(twice)}")
    if mapping is not None:
        unmapped = [(pos, h) for pos, h in enumerate(headers, 1) if normalise_header(h) not in mapping]
        if unmapped:
            raise MicrodataError(f"{path}: {len(unmapped)} column(s) not in the mapping: {_columns(unmapped)}")
        target = [mapping[normalise_header(h)] for h in headers]
        by_field: dict[str, list[tuple[int, str]]] = {}
        for pos, (h, f) in enumerate(zip(headers, target, strict=True), 1):
            if f != IGNORE:
                by_field.setdefault(f, []).append((pos, h))
        double = [f"{f!r} from {_columns(cols)}" for f, cols in by_field.items() if len(cols) > 1]
        if double:
            raise MicrodataError(f"{path}: doubly mapped: " + "; ".join(double))
        keep = [i for i, f in enumerate(target) if f != IGNORE]
        df = df.iloc[:, keep]
        df.columns = [target[i] for i in keep]
    else:
        df.columns = headers
    for col in ID_COLUMNS:
        if col not in df.columns:
            raise MicrodataError(f"{path}: required column {col!r} missing")
    unknown = [(pos, c) for pos, c in enumerate(df.columns, 1) if c not in fields]
    if unknown:
        raise MicrodataError(
            f"{path}: {_columns(unknown)} not an item of the codebook "
            f"(expected <question_id>__<category_id>, e.g. 'support__user_ideas', or a mapping file)"
        )
    return wide_to_long(df, items, source=str(path), first_line=first_line)


def wide_to_long(df: pd.DataFrame, items: dict[str, tuple[str, str]], *, source: str, first_line: int = 2) -> ParseResult:
    """Validate a wide frame of strings row by row; convert accepted rows to long format."""
    records: list[dict] = []
    rejected: list[dict] = []
    seen: set[str] = set()
    for i, row in enumerate(df.to_dict("records")):
        line = first_line + i
        problems: list[tuple[str, str, str]] = []
        rid = str(row["respondent_id"]).strip()
        if not rid:
            problems.append(("respondent_id", rid, "empty respondent id"))
        elif rid in seen:
            problems.append(("respondent_id", rid, "duplicate respondent id"))
        org = _ORG.get(_norm(row["org_type"]))
        if org is None:
            problems.append(("org_type", str(row["org_type"]), f"org_type must be one of {', '.join(ORG_TYPES)}"))
        weight = 1.0
        if "weight" in row and str(row["weight"]).strip():
            try:
                weight = float(str(row["weight"]).strip().replace(",", "."))
                if not weight > 0:
                    raise ValueError
            except ValueError:
                problems.append(("weight", str(row["weight"]), "weight must be a positive number"))
        answers = []
        for col, (q, c) in items.items():
            if col not in row:
                continue
            v = _norm(row[col])
            if v in {"", "nan", "none"}:
                continue
            if q == "promoters":
                ans = _PROMOTER.get(v)
                if ans is None:
                    problems.append((col, str(row[col]), "expected 1/2/3 or EDISTI / ei merkityksellinen / OLI ESTEENÄ"))
                    continue
            elif v in _YES:
                ans = "yes"
            elif v in _NO:
                ans = "no"
            else:
                problems.append((col, str(row[col]), "expected 1/0 or kyllä/ei"))
                continue
            answers.append((q, c, ans))
        if problems:
            rejected += [{"line": line, "column": col, "value": val, "reason": why} for col, val, why in problems]
            continue
        seen.add(rid)
        size = str(row.get("size_class", "")).strip() or "ei tiedossa"
        org_id = str(row.get("organisation_id", "")).strip() or rid
        records += [
            {"respondent_id": rid, "organisation_id": org_id, "org_type": org, "size_class": size, "weight": weight,
             "question_id": q, "category_id": c, "answer": a}
            for q, c, a in answers
        ]
    data = pd.DataFrame(records, columns=["respondent_id", "organisation_id", "org_type", "size_class", "weight",
                                          "question_id", "category_id", "answer"])
    rej = pd.DataFrame(rejected, columns=["line", "column", "value", "reason"])
    synthetic = "synthetic" in df.columns and bool(df["synthetic"].map(_norm).isin(_YES).any())
    return ParseResult(data, rej, source, len(df), synthetic)
