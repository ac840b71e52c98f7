"""Respondent-level barometer data: long format, parsers for survey-tool exports.

Long format (one row per respondent and item)::

    respondent_id  org_type      size_class  weight  question_id  category_id  answer
    r0001          kunta         <10000      1.0     support      user_ideas   yes

``org_type`` is ``kunta`` (municipality) or ``kuntayhtymä`` (joint authority).
``answer`` is ``yes``/``no`` for multi-select items and
``promoted``/``not_relevant``/``barrier`` for the promoter items. A respondent
who left an item blank has no row for it.

Wide export (what survey tools write): one row per respondent; columns
``respondent_id``, ``org_type``, optional ``size_class`` and ``weight``, and one
column per item named ``<question_id>__<category_id>`` (the ids of
``published_figures.csv``). Values: ``1``/``0``, ``kyllä``/``ei``, ``ja``/``nej``,
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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "MicrodataError",
    "ParseResult",
    "ORG_TYPES",
    "item_columns",
    "read_wide",
    "wide_to_long",
    "DERIVED_ITEMS",
]

ORG_TYPES = ("kunta", "kuntayhtymä")
ID_COLUMNS = ("respondent_id", "org_type")
OPTIONAL_COLUMNS = ("size_class", "weight", "synthetic")

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
    first = text.splitlines()[0] if text else ""
    try:
        sep = csv.Sniffer().sniff(first, delimiters=";,\t").delimiter
    except csv.Error:
        sep = ","
    df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    return df


def _read_any(path: Path) -> tuple[pd.DataFrame, int]:
    """Frame of strings and the line number of its first data row."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        return _read_csv(path), 2
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        df = pd.read_excel(path, dtype=str, keep_default_na=False)
        return df, 2
    if suffix in {".sav", ".zsav"}:
        import pyreadstat

        df, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
        df = df.astype(object).where(df.notna(), "")
        return df.map(lambda v: format(v, "g") if isinstance(v, float) else str(v)), 1
    raise MicrodataError(f"{path}: unsupported file type {suffix!r} (csv, xlsx or sav)")


def _norm(value: str) -> str:
    return " ".join(str(value).strip().lower().split())


def read_wide(path: str | Path, figures: pd.DataFrame) -> ParseResult:
    """Read a wide survey export (CSV, Excel or SPSS) into long format.

    Parameters
    ----------
    path
        The export file.
    figures
        The published figures table (for the item ids).
    """
    path = Path(path)
    df, first_line = _read_any(path)
    df.columns = [str(c).strip() for c in df.columns]
    items = item_columns(figures)
    for col in ID_COLUMNS:
        if col not in df.columns:
            raise MicrodataError(f"{path}: required column {col!r} missing")
    unknown = [c for c in df.columns if c not in items and c not in ID_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise MicrodataError(
            f"{path}: column {unknown[0]!r} is not an item of the codebook "
            f"(expected <question_id>__<category_id>, e.g. 'support__user_ideas')"
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
        records += [
            {"respondent_id": rid, "org_type": org, "size_class": size, "weight": weight,
             "question_id": q, "category_id": c, "answer": a}
            for q, c, a in answers
        ]
    data = pd.DataFrame(records, columns=["respondent_id", "org_type", "size_class", "weight", "question_id", "category_id", "answer"])
    rej = pd.DataFrame(rejected, columns=["line", "column", "value", "reason"])
    synthetic = "synthetic" in df.columns and bool(df["synthetic"].map(_norm).isin(_YES).any())
    return ParseResult(data, rej, source, len(df), synthetic)
