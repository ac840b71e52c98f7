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
cp1252, separated by ``;`` or ``,``, with decimal commas in ``weight``. SPSS value labels
are read for ``org_type``, ``size_class`` and the items (a code such as ``1.0`` by its label
``kunta``).

A file whose columns do not fit raises :class:`MicrodataError` naming the
column; a row with a bad value is rejected, kept in ``ParseResult.rejected``
with its line and reason, and the other rows are read.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from kuntalib.yamlsafe import YamlError, safe_load_file

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
_IGNORED = "\x00ignored:"

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


def _headers(raw: list[list[str]], rows: int) -> list[str]:
    """Column headers from the first ``rows`` (1 or 2) records."""
    first = [str(v).strip() for v in raw[0]]
    if rows == 1:
        return first
    second = [str(v).strip() for v in raw[1]] if len(raw) > 1 else [""] * len(first)
    second += [""] * (len(first) - len(second))
    out, question = [], ""
    for top, option in zip(first, second[: len(first)], strict=True):
        if top:
            question = top
        if option and (top or question):
            out.append(f"{top or question} – {option}")
        else:
            out.append(top or option)
    return out


def _delimiter(text: str, sample_lines: int = 50) -> str:
    """';', tab or ',': the one under which most of the first lines have the header's number of fields.

    Headers of real exports hold commas ("Yliopistot, korkeakoulut, …"), so the header line
    alone cannot decide; a few malformed rows must not either. Ties go to more fields.
    """
    head = "".join(itertools.islice(io.StringIO(text), sample_lines))
    best, best_score = ",", (0.0, 1)
    for sep in (";", "\t", ","):
        try:
            records = [r for r in csv.reader(io.StringIO(head), delimiter=sep) if r]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(len(r) == width for r in records) / len(records), width)
        if score > best_score:
            best, best_score = sep, score
    return best


def decode(path: Path, raw: bytes) -> str:
    """The text of a CSV export: UTF-8 (with or without BOM), UTF-16 by its BOM, else cp1252; others refused by name.

    Raises
    ------
    MicrodataError
        For an empty file, UTF-16 without a byte-order mark, or bytes that are neither UTF-8 nor
        cp1252 (naming the byte offset).
    """
    if not raw.strip():
        raise MicrodataError(f"{path}: the file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise MicrodataError(f"{path}: UTF-16 by its byte-order mark, but byte {exc.start} is not UTF-16") from exc
    if b"\x00" in raw[:4096]:
        raise MicrodataError(f"{path}: NUL bytes: UTF-16 or UTF-32 without a byte-order mark, or not a text file; "
                             "save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as utf8:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise MicrodataError(f"{path}: byte {utf8.start} is not UTF-8 and byte {exc.start} is not cp1252; "
                                 "save the export as UTF-8") from exc


@dataclass
class _Table:
    """Records of strings, each with the physical line (or sheet row) it starts on; at most ``size_hint`` of them."""

    records: Iterator[tuple[int, list[str]]]
    size_hint: int
    value_labels: dict[str, dict]


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their ends, one at a time (a StringIO would hold four bytes a character)."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end + 1]
        start = end + 1
    if start < len(text):
        yield text[start:]


def _csv_records(path: Path) -> _Table:
    text = decode(path, path.read_bytes())
    reader = csv.reader(_lines(text), delimiter=_delimiter(text))

    def records() -> Iterator[tuple[int, list[str]]]:
        start = 1
        try:
            for rec in reader:
                if rec:  # only a truly empty line is skipped; a line of empty fields is a row (and rejected)
                    yield start, rec
                start = reader.line_num + 1
        except csv.Error as exc:
            raise MicrodataError(f"{path}: line {reader.line_num}: {exc}") from exc

    return _Table(records(), text.count("\n") + 1, {})


def _excel_records(path: Path, sheet: str | int | None) -> _Table:
    try:
        sheets = pd.read_excel(path, sheet_name=None if sheet is None else sheet, header=None, dtype=str, keep_default_na=False)
    except (ValueError, KeyError) as exc:
        raise MicrodataError(f"{path}: cannot read sheet {sheet!r}: {exc}") from exc
    if not isinstance(sheets, dict):
        sheets = {str(sheet): sheets}
    filled = {name: df for name, df in sheets.items() if (df.astype(str).apply(lambda c: c.str.strip()) != "").any().any()}
    if not filled:
        raise MicrodataError(f"{path}: no sheet holds data")
    if len(filled) > 1:
        raise MicrodataError(f"{path}: {len(filled)} sheets hold data ({', '.join(map(str, filled))}); "
                             "keep the answers on one sheet or name it with sheet=")
    df = next(iter(filled.values())).fillna("").astype(str)
    # the sheet's row number (openpyxl keeps leading empty rows); wholly empty rows are formatting, not data
    records = [(i + 1, list(row)) for i, row in enumerate(df.itertuples(index=False, name=None)) if any(v.strip() for v in row)]
    return _Table(iter(records), len(records), {})


def _spss_number(v: object) -> str:
    """An SPSS value as text: integers without a decimal point or exponent, other numbers exactly (shortest repr)."""
    if isinstance(v, float):
        if v != v:  # NaN: system missing
            return ""
        return str(int(v)) if v.is_integer() else repr(v)
    return "" if v is None else str(v)


def _spss_records(path: Path) -> _Table:
    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and others
        raise MicrodataError(f"{path}: not a readable SPSS file: {exc}") from exc
    records = [(0, list(df.columns))] + [(i, [_spss_number(v) for v in row]) for i, row in enumerate(df.itertuples(index=False, name=None), 1)]
    return _Table(iter(records), len(records), dict(meta.variable_value_labels))


def _read_any(path: Path, header_rows: int | None, known: set[str], sheet: str | int | None = None
              ) -> tuple[pd.DataFrame, list[int], list[dict], dict[str, dict]]:
    """Frame of strings with its headers, each row's physical line, rows rejected for their field count, value labels.

    ``header_rows`` None: two header rows when the joined headers match more of ``known``
    (normalised names) than the first row alone.
    """
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        table = _csv_records(path)
    elif suffix in {".xlsx", ".xlsm", ".xls"}:
        table = _excel_records(path, sheet)
    elif suffix in {".sav", ".zsav"}:
        table = _spss_records(path)
        header_rows = 1
    else:
        raise MicrodataError(f"{path}: unsupported file type {suffix!r} (csv, xlsx or sav)")
    head = list(itertools.islice(table.records, 2))
    if not head:
        raise MicrodataError(f"{path}: no header row")
    rows = header_rows
    if rows is None:
        score = {n: sum(normalise_header(h) in known for h in _headers([r for _l, r in head], n)) for n in (1, 2)}
        rows = 2 if len(head) > 1 and score[2] > score[1] else 1
    if rows not in (1, 2):
        raise MicrodataError(f"{path}: header_rows must be 1 or 2, not {rows}")
    headers = _headers([r for _l, r in head], rows)
    width = len(headers)
    # rows go straight into one object grid: no list per row kept (a national file has 200 000 rows)
    grid = np.empty((max(table.size_hint, 0), width), dtype=object)
    lines: list[int] = []
    bad: list[dict] = []
    for line, rec in itertools.chain(head[rows:], table.records):
        if len(rec) == width:
            grid[len(lines)] = rec
            lines.append(line)
        else:
            bad.append({"line": line, "column": "", "value": f"{len(rec)} fields",
                        "reason": f"expected {width} fields (as the header), found {len(rec)}"})
    grid = grid[: len(lines)]
    value_labels = table.value_labels
    df = pd.DataFrame(grid, columns=pd.Index(headers, dtype=object), dtype=object, copy=False)  # object: no string-array copy
    return df, lines, bad, value_labels


def _norm(value: str) -> str:
    return " ".join(str(value).strip().lower().split())


def _code(value: object) -> str:
    """A value or value-label key as matched: :func:`_norm`, an integer-valued number as its integer ('1.0', '1e0' -> '1')."""
    t = _norm(value)
    try:
        f = float(t)
    except ValueError:
        return t
    return str(int(f)) if f.is_integer() else t


def _columns(cols: list[tuple[int, str]]) -> str:
    return ", ".join(f"column {name!r} ({pos})" for pos, name in cols)


def read_wide(path: str | Path, figures: pd.DataFrame, *, mapping: str | Path | dict[str, str] | None = None,
              header_rows: int | None = None, sheet: str | int | None = None) -> ParseResult:
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
    sheet
        The Excel sheet to read; None reads the only sheet holding data (several are an error
        that lists them).

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
    df, lines, bad, value_labels = _read_any(path, header_rows, known, sheet)
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
        value_labels = {f: value_labels[h] for h, f in zip(headers, target, strict=True) if f != IGNORE and h in value_labels}
        # left-out columns keep a name no field has (no copy of the frame to drop them)
        df.columns = [f if f != IGNORE else f"{_IGNORED}{i}" for i, f in enumerate(target)]
    else:
        df.columns = headers
    for col in ID_COLUMNS:
        if col not in df.columns:
            raise MicrodataError(f"{path}: required column {col!r} missing")
    unknown = [(pos, c) for pos, c in enumerate(df.columns, 1) if c not in fields and not c.startswith(_IGNORED)]
    if unknown:
        raise MicrodataError(
            f"{path}: {_columns(unknown)} not an item of the codebook "
            f"(expected <question_id>__<category_id>, e.g. 'support__user_ideas', or a mapping file)"
        )
    box = [df]
    del df  # the long table is built after the wide grid is let go (memory of a national file)
    return _wide_to_long(box, items, source=str(path), lines=lines, rejected_rows=bad, value_labels=value_labels)


def _strings(col: pd.Series) -> np.ndarray:
    """A column as an object array of Python strings (no copy into pandas' string dtype); numbers as :func:`_spss_number`."""
    arr = col.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(arr, skipna=False) in {"string", "empty"}:
        return arr
    return np.array([v if isinstance(v, str) else _spss_number(v) for v in arr], dtype=object)


def _normalised(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes into the column's distinct values and those values normalised (factorised once: a column holds few)."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes, [_norm(u) for u in uniques]


def _categorical(values: np.ndarray, column: str, labels: dict | None, read: Callable[[str], object],
                 expected: str, plain: str) -> tuple[np.ndarray, list, np.ndarray]:
    """Read a column through its value labels: a value whose label reads is read as its label, else as itself.

    Parameters
    ----------
    values
        The column's strings.
    labels
        Its SPSS value labels (code -> label), or None; codes are matched by :func:`_code`.
    read
        A text to the column's value, None when it is not one.
    expected
        What a valid value is ("one of kunta, kuntayhtymä"), for the reason of a code in a labelled column.
    plain
        The reason for a bad value in a column without labels (or an empty value).

    Returns
    -------
    codes, readings, reasons
        Each row's index into ``readings`` (each distinct value's reading, None when bad) and
        each row's reject reason ('' when read).
    """
    codes, uniq = pd.factorize(values, sort=False)
    table = {_code(k): str(v) for k, v in (labels or {}).items() if str(v).strip()}
    out, why = [], []
    for u in uniq:
        label = table.get(_code(u))
        got = read(label) if label is not None else None
        out.append(got if got is not None else read(u))
        why.append("" if out[-1] is not None else plain if not table or not u.strip()
                   else f"{column} code {u.strip()} has no value label and is not {expected}" if label is None
                   else f"{column} code {u.strip()} is labelled {label!r}, not {expected}")
    return codes, out, np.array([*why, ""], dtype=object)[codes]


def wide_to_long(df: pd.DataFrame, items: dict[str, tuple[str, str]], *, source: str, first_line: int = 2,
                 lines: list[int] | None = None, rejected_rows: list[dict] | None = None,
                 value_labels: dict[str, dict] | None = None) -> ParseResult:
    """Validate a wide frame of strings column by column; convert accepted rows to long format.

    The long table's text columns are categorical (a national file has millions of answers).

    A row is rejected (kept with its line, column, value and reason) for an empty or
    repeated respondent id, an unknown organisation type, a weight that is not a finite
    positive number, or an answer outside the code table. The code table: ``1``/``0``,
    ``kyllä``/``ei``, ``ja``/``nej``, ``yes``/``no`` (and ``x``, ``true``/``false``);
    promoter items ``1``/``2``/``3`` or the chart's words. A value of ``org_type``,
    ``size_class`` or an item with an SPSS value label (``value_labels``) that reads as a
    valid value is read as that label (so 1 = "Ei" is "no"); other values are read as
    themselves (so 1 = "Valittu" is "yes"). In a labelled ``size_class`` every non-empty
    value must have a label. A rejected code in a labelled column is named in the reason.

    Parameters
    ----------
    lines
        Each row's physical line (or sheet row); default ``first_line`` + row number.
    rejected_rows
        Rows rejected before (e.g. for their field count), counted in ``n_rows``.
    """
    return _wide_to_long([df], items, source=source, first_line=first_line, lines=lines, rejected_rows=rejected_rows,
                         value_labels=value_labels)


def _wide_to_long(box: list[pd.DataFrame], items: dict[str, tuple[str, str]], *, source: str, first_line: int = 2,
                  lines: list[int] | None = None, rejected_rows: list[dict] | None = None,
                  value_labels: dict[str, dict] | None = None) -> ParseResult:
    """:func:`wide_to_long` of a frame handed over in ``box``: let go as soon as its columns are checked."""
    df = box.pop()
    n = len(df)
    line = np.asarray(lines if lines is not None else range(first_line, first_line + n), dtype=np.int64)
    value_labels = value_labels or {}
    bad_rows = np.zeros(n, dtype=bool)
    problems: list[pd.DataFrame] = []
    raw = {c: _strings(df[c]) for c in df.columns}
    index = np.arange(n)

    def flag(mask: np.ndarray, column: str, reason: str | np.ndarray) -> None:
        nonlocal bad_rows
        if mask.any():
            problems.append(pd.DataFrame({"row": index[mask], "column": column, "value": raw[column][mask],
                                          "reason": reason if isinstance(reason, str) else reason[mask]}))
            bad_rows |= mask

    rid = np.array([v.strip() for v in raw["respondent_id"]], dtype=object)
    flag(rid == "", "respondent_id", "empty respondent id")
    expected = f"one of {', '.join(ORG_TYPES)}"
    codes, orgs, why = _categorical(raw["org_type"], "org_type", value_labels.get("org_type"),
                                    lambda v: ORG_TYPES.index(_ORG[_norm(v)]) if _norm(v) in _ORG else None,
                                    expected, f"org_type must be {expected}")
    org_codes_of = np.array([-1 if o is None else o for o in orgs] + [-1], dtype=np.int8)[codes]
    flag(why != "", "org_type", why)
    weight = np.ones(n)
    if "weight" in raw:
        stripped = np.array([v.strip().replace(",", ".") for v in raw["weight"]], dtype=object)
        given = stripped != ""
        num = pd.to_numeric(pd.Series(stripped, dtype=object), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(num) & (num > 0)
        flag(given & ~ok, "weight", "weight must be a finite positive number")
        weight = np.where(given & ok, num, 1.0)
    answer_names = ("yes", "no", "promoted", "not_relevant", "barrier")
    answer_index = {a: i for i, a in enumerate(answer_names)}
    yes_no = {**{v: "yes" for v in _YES}, **{v: "no" for v in _NO}}
    item_cols = [(col, q, c) for col, (q, c) in items.items() if col in raw]
    answers = np.full((n, len(item_cols)), -1, dtype=np.int8)
    for j, (col, q, _c) in enumerate(item_cols):
        table = _PROMOTER if q == "promoters" else yes_no
        expected = "1/2/3 or EDISTI / ei merkityksellinen / OLI ESTEENÄ" if q == "promoters" else "1/0 or kyllä/ei"
        codes, mapped, why = _categorical(
            raw[col], col, value_labels.get(col),
            lambda v, t=table: -1 if (u := _norm(v)) in {"", "nan", "none"} else answer_index[t[u]] if u in t else None,
            expected, f"expected {expected}")
        answers[:, j] = np.array([-2 if m is None else m for m in mapped] + [-1], dtype=np.int8)[codes]
        flag(why != "", col, why)
    size_of = np.full(n, "ei tiedossa", dtype=object)
    if "size_class" in raw:
        labels = value_labels.get("size_class") or {}
        texts = {_norm(t) for t in labels.values()} | {""}  # a labelled size class is a code or a label's text
        codes, sizes, why = _categorical(raw["size_class"], "size_class", labels,
                                         lambda v: v.strip() or "ei tiedossa" if not labels or _norm(v) in texts else None,
                                         f"one of {', '.join(map(str, labels.values()))}", "")
        size_of = np.array([s or "" for s in sizes] + [""], dtype=object)[codes]
        flag(why != "", "size_class", why)
    # a repeated id is a duplicate of the first row with that id that is otherwise acceptable
    rid_codes, rid_uniq = pd.factorize(rid, sort=False)
    first = np.full(len(rid_uniq), n, dtype=np.int64)
    ok_other = ~bad_rows
    np.minimum.at(first, rid_codes[ok_other], index[ok_other])
    flag((first[rid_codes] < index) & (rid != ""), "respondent_id", "duplicate respondent id")

    synthetic = "synthetic" in raw and any(u in _YES for u in _normalised(raw["synthetic"])[1])
    rej = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=["row", "column", "value", "reason"])
    org_id = np.array([v.strip() for v in raw["organisation_id"]], dtype=object) if "organisation_id" in raw else rid
    del df
    raw.clear()  # the wide grid is no longer needed
    problems.clear()
    accepted = ~bad_rows
    # the answers, column by column (int32 indices: a national file has millions of answers)
    picked = [np.flatnonzero(accepted & (answers[:, j] >= 0)).astype(np.int32) for j in range(answers.shape[1])]
    answer_codes = np.concatenate([answers[idx, j] for j, idx in enumerate(picked)]) if picked else np.array([], dtype=np.int8)
    del answers
    rows_idx = np.concatenate(picked) if picked else np.array([], dtype=np.int32)
    cols_idx = np.repeat(np.arange(len(picked), dtype=np.int32), [len(x) for x in picked])
    del picked
    org_id = np.where(org_id == "", rid, org_id)

    def per_row(values: np.ndarray) -> pd.Categorical:
        """Each answer's row value, as a categorical built from codes (millions of answers, few distinct values)."""
        codes, uniq = pd.factorize(values, sort=False)
        return pd.Categorical.from_codes(codes.astype(np.int32)[rows_idx], categories=pd.Index(uniq, dtype=object))

    def per_item(names: list[str]) -> pd.Categorical:
        codes, uniq = pd.factorize(np.array(names, dtype=object), sort=False)
        return pd.Categorical.from_codes(codes.astype(np.int8 if len(uniq) < 128 else np.int32)[cols_idx] if len(codes)
                                         else np.array([], dtype=np.int32),
                                         categories=pd.Index(uniq, dtype=object))

    data = pd.DataFrame({
        "respondent_id": per_row(rid),
        "organisation_id": per_row(org_id),
        "org_type": pd.Categorical.from_codes(org_codes_of[rows_idx].clip(0) if len(rows_idx) else np.array([], dtype=np.int8),
                                              categories=pd.Index(list(ORG_TYPES), dtype=object)),
        "size_class": per_row(size_of),
        "weight": weight[rows_idx],
        "question_id": per_item([q for _col, q, _c in item_cols]),
        "category_id": per_item([c for _col, _q, c in item_cols]),
        "answer": pd.Categorical.from_codes(answer_codes, categories=pd.Index(list(answer_names), dtype=object)),
    }, copy=False)
    rej = rej.sort_values(["row"], kind="stable")
    rej.insert(0, "line", line[rej.pop("row").to_numpy(dtype=np.int64)] if len(rej) else np.array([], dtype=np.int64))
    rej["value"] = rej["value"].astype(str)
    if rejected_rows:
        rej = pd.concat([rej, pd.DataFrame(rejected_rows, columns=["line", "column", "value", "reason"])], ignore_index=True)
        rej = rej.sort_values("line", kind="stable")
    rej = rej.reset_index(drop=True)[["line", "column", "value", "reason"]]
    return ParseResult(data, rej, source, n + len(rejected_rows or []), synthetic)
