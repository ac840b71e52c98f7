"""Which sources of an indicator file are primary and which secondary: the source register beside the file.

A register is a YAML file ``<name>.sources.yml`` beside the indicator file ``<name>.yml`` (or ``.xlsx``, or
``<name>.indicators.csv``), format ``kuntalib.source-register/1``::

    format: kuntalib.source-register/1
    file: strategy/rautjarvi/followup.yml     # the indicator file it covers, under data/raw
    status:                                   # every source key of the file
      seed: primary                           # the value's own publisher published it
      frwiki: secondary                       # transcribed from another page; not compared with the publisher's table
    checked:                                  # optional: values of secondary sources found in a primary publication
      - {series: national_income_tax, date: 2022-12-31, value: 20.01, source: release_key, quote: "…"}

``checked[].source`` is a source key of the register file itself, cited in ``data/raw/sources/citations.yml``
(``keys``: ``<register path>#<key>``). Captions cite every key by its publisher (the citation says which page a
secondary value was transcribed from); :func:`value_sources` gives every value of the file with its source's
status, and :func:`secondary_values` the values that rest only on a secondary source, for the page to list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kuntalib import paths
from kuntalib.i18n import check_lang, pick
from kuntalib.indicators.model import IndicatorFile
from kuntalib.sources import Citation, CitationError, load_citations
from kuntalib.theme import fmt_date, fmt_num, pct_sign
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = ["SourceRegister", "SourceRegisterError", "STATUSES", "register_path", "load_source_register",
           "value_sources", "secondary_values", "checked_values", "key_citation"]

FORMAT = "kuntalib.source-register/1"
STATUSES = ("primary", "secondary")


class SourceRegisterError(ValueError):
    """A register that does not fit the format or its indicator file (names the file and the place)."""


@dataclass(frozen=True)
class SourceRegister:
    """A validated register: the status of every source key, and the values checked against a primary publication."""

    path: Path
    file: str
    status: dict[str, str]
    checked: tuple[dict[str, Any], ...]

    def is_checked(self, series: str, date: pd.Timestamp) -> dict[str, Any] | None:
        """The check of ``series`` on ``date``, or None."""
        return next((c for c in self.checked if c["series"] == series and c["date"] == pd.Timestamp(date)), None)


def register_path(indicator_path: str | Path) -> Path | None:
    """The register beside an indicator file (``followup.yml`` → ``followup.sources.yml``), or None if there is none."""
    p = Path(indicator_path)
    candidate = p.with_name(p.name.split(".")[0] + ".sources.yml")
    return candidate if candidate.is_file() else None


def _series_sources(file: IndicatorFile) -> dict[str, pd.DataFrame]:
    """Every series of the file (indicators, then references) with its observations."""
    out = {ind.id: ind.observations for ind in file.indicators}
    for ind in file.indicators:
        if ind.reference is not None and ind.target.get("reference"):
            out.setdefault(ind.target["reference"], ind.reference)
    return out


def _used_keys(file: IndicatorFile) -> list[str]:
    keys: list[str] = [a["source"] for a in file.aims if a.get("source")]
    for ind in file.indicators:
        keys += [k for k in (ind.target.get("source"), (ind.baseline or {}).get("source")) if k]
    for obs in _series_sources(file).values():
        keys += [k for k in obs.source if k]
    return list(dict.fromkeys(keys))


def load_source_register(path: str | Path, file: IndicatorFile) -> SourceRegister:
    """Read a register and check it against its indicator file.

    Raises
    ------
    SourceRegisterError
        Not the format; a status other than primary or secondary; a key that is not a source of the file, or a
        source the file uses without a status; a check of a value the file does not hold, or of a primary source.
    """
    path = Path(path)
    try:
        raw = safe_load_file(path)
    except YamlError as exc:
        raise SourceRegisterError(str(exc)) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise SourceRegisterError(f"{path}: not a {FORMAT} file")
    unknown = sorted(set(raw) - {"format", "file", "status", "checked"})
    if unknown:
        raise SourceRegisterError(f"{path}: unknown field(s) {', '.join(unknown)}")
    covered = raw.get("file")
    if not isinstance(covered, str) or not Path(file.path).as_posix().endswith(covered):
        raise SourceRegisterError(f"{path}: file {covered!r} is not the indicator file {Path(file.path).name}")
    status = raw.get("status")
    if not isinstance(status, dict):
        raise SourceRegisterError(f"{path}: status must map each source key to primary or secondary")
    for key, st in status.items():
        if key not in file.sources:
            raise SourceRegisterError(f"{path}: status.{key}: not a source key of {Path(file.path).name}")
        if st not in STATUSES:
            raise SourceRegisterError(f"{path}: status.{key}: {st!r} is not one of {', '.join(STATUSES)}")
    missing = [k for k in _used_keys(file) if k not in status]
    if missing:
        raise SourceRegisterError(f"{path}: no status for source(s) {', '.join(missing)} of {Path(file.path).name}")
    series = _series_sources(file)
    checked = []
    for i, c in enumerate(raw.get("checked") or []):
        where = f"{path}: checked[{i}]"
        if not isinstance(c, dict) or set(c) != {"series", "date", "value", "source", "quote"}:
            raise SourceRegisterError(f"{where}: expected series, date, value, source and quote")
        if c["series"] not in series:
            raise SourceRegisterError(f"{where}: {c['series']!r} is neither an indicator nor a reference of the file")
        obs = series[c["series"]]
        date = pd.Timestamp(str(c["date"]))
        row = obs[obs.date == date]
        if row.empty:
            raise SourceRegisterError(f"{where}: {c['series']} has no value on {date.date()}")
        value = row.iloc[0]
        if not isinstance(c["value"], int | float) or not math.isclose(float(c["value"]), float(value.value)):
            raise SourceRegisterError(f"{where}: value {c['value']!r} is not the file's {value.value:g}")
        if status.get(value.source) != "secondary":
            raise SourceRegisterError(f"{where}: the value's source {value.source!r} is not secondary: nothing to check")
        if not isinstance(c["source"], str) or not c["source"] or not isinstance(c["quote"], str) or not c["quote"].strip():
            raise SourceRegisterError(f"{where}: source (a key) and quote (the publication's sentence) must be texts")
        checked.append({"series": c["series"], "date": date, "value": float(c["value"]), "source": c["source"],
                        "quote": c["quote"]})
    return SourceRegister(path, covered, {str(k): str(v) for k, v in status.items()}, tuple(checked))


def _rel(path: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(paths.data_raw().resolve()).as_posix()
    except ValueError:
        return None


def key_citation(path: str | Path, key: str) -> Citation | None:
    """The public citation of source ``key`` of the file ``path`` (an indicator file or a register), or None."""
    rel = _rel(Path(path))
    if rel is None:
        return None
    try:
        cits = load_citations()
    except (CitationError, OSError):
        return None
    cid = cits.keys.get(f"{rel}#{key}")
    return cits.by_id.get(cid) if cid else None


def _label(file: IndicatorFile, series: str, lang: str) -> str:
    for ind in file.indicators:
        if ind.id == series:
            return pick(ind.label, lang)
    label = file.reference_labels.get(series)
    return pick(label, lang) if label else series


def _unit(file: IndicatorFile, series: str, lang: str) -> str:
    for ind in file.indicators:
        if ind.id == series:
            return pick(ind.unit, lang)
        if ind.target.get("reference") == series:
            return pick(ind.unit, lang)
    return ""


def _value(value: float, unit: str, lang: str) -> str:
    text = fmt_num(value, 0 if float(value).is_integer() else 2, lang=lang)
    return text + pct_sign(lang) if unit.strip() == "%" else text


def value_sources(file: IndicatorFile, register: SourceRegister | None = None) -> pd.DataFrame:
    """Every value of the file (observations, baselines, targets, reference series) with its source and status.

    Columns: series, kind (observation, baseline, target, reference), date, value, source, status (primary,
    secondary, or "" without a register), checked (found in a primary publication, :attr:`SourceRegister.checked`).
    A baseline equal to an observation of its series on the same date is that observation, not a second value.
    """
    rows = []
    refs = {ind.target["reference"] for ind in file.indicators if ind.target.get("reference")}
    for name, obs in _series_sources(file).items():
        kind = "reference" if name in refs and name not in {i.id for i in file.indicators} else "observation"
        rows += [{"series": name, "kind": kind, "date": r.date, "value": float(r.value), "source": r.source}
                 for r in obs.itertuples()]
    for ind in file.indicators:
        b = ind.baseline
        if b is not None:
            same = ind.observations[(ind.observations.date == pd.Timestamp(b["date"]))
                                    & (ind.observations.value == float(b["value"]))]
            if same.empty:
                rows.append({"series": ind.id, "kind": "baseline", "date": pd.Timestamp(b["date"]),
                             "value": float(b["value"]), "source": b.get("source")})
        rows.append({"series": ind.id, "kind": "target", "date": pd.Timestamp(ind.target["date"]),
                     "value": float(ind.target["value"]), "source": ind.target.get("source")})
    out = pd.DataFrame(rows, columns=["series", "kind", "date", "value", "source"])
    status = register.status if register is not None else {}
    out["status"] = [status.get(k, "") for k in out.source]
    out["checked"] = [register is not None and register.is_checked(s, d) is not None for s, d in zip(out.series, out.date,
                                                                                                   strict=True)]
    return out


def secondary_values(file: IndicatorFile, register: SourceRegister, lang: str) -> pd.DataFrame:
    """The values that rest only on a secondary source, for readers: what, when and how much, whose, from where.

    One row per series and source, in the file's order: indicator; values (every value as "date: value", in
    ``lang``); primary_source (the publisher and its statistic, table or decision, from the public citation);
    transcribed_from (the page the values were transcribed from, with its address).
    """
    check_lang(lang)
    vs = value_sources(file, register)
    vs = vs[(vs.status == "secondary") & ~vs.checked]
    rows = []
    for (series, key), group in vs.groupby(["series", "source"], sort=False):
        cit = key_citation(file.path, key)
        if cit is not None:
            primary = f"{cit.publisher[lang]}: {cit.title[lang]}"
            medium = cit.medium[lang]
            via = " ".join(p for p in (medium[:1].upper() + medium[1:], cit.url) if p)
        else:
            primary, via = "", file.sources.get(key, key)
        unit = _unit(file, series, lang)
        values = "; ".join(f"{fmt_date(r.date, lang)}: {_value(r.value, unit, lang)}" for r in group.sort_values("date").itertuples())
        rows.append({"indicator": _label(file, series, lang), "values": values, "n": len(group),
                     "primary_source": primary, "transcribed_from": via})
    return pd.DataFrame(rows, columns=["indicator", "values", "n", "primary_source", "transcribed_from"])


def checked_values(file: IndicatorFile, register: SourceRegister, lang: str) -> pd.DataFrame:
    """The values of secondary sources found in a primary publication: what, when, how much, where and its words.

    Columns: indicator, date, value, checked_in (the publication's citation in ``lang``),
    publication_sentence (the publication's own words, with "(på finska)" when its language is not ``lang``).
    """
    check_lang(lang)
    rows = []
    for c in register.checked:
        cit = key_citation(register.path, c["source"])
        rows.append({"indicator": _label(file, c["series"], lang), "date": fmt_date(c["date"], lang),
                     "value": _value(c["value"], _unit(file, c["series"], lang), lang),
                     "checked_in": cit.text(lang) if cit is not None else c["source"],
                     "publication_sentence": " ".join(filter(None, (c["quote"], cit.language_note(lang) if cit is not None else "")))})
    return pd.DataFrame(rows, columns=["indicator", "date", "value", "checked_in", "publication_sentence"])
