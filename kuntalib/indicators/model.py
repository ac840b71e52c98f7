"""The indicator file format (YAML), for any municipality.

::

    municipality: {code: "689", name: {fi: Rautjärvi, sv: ..., en: ...}}
    indicators:
      - id: population
        label: {fi: Asukasluku, sv: Folkmängd, en: Population}
        unit: {fi: asukasta, sv: invånare, en: residents}
        direction: higher            # higher or lower is better
        baseline: {date: 2020-12-31, value: 3146, source: key}       # optional
        target: {date: 2025-12-31, value: 3028, kind: at_least, source: key}
        observations:
          - {date: 2022-06-30, value: 3099, source: key}
    references:                      # optional series a target may refer to
      national_income_tax: {label: {...}, observations: [...]}
    sources: {key: "full citation", ...}

Optional, for evaluation rounds and faithful wording:

- ``aims``: the strategy's aims, ``[{id, label: {fi, sv, en}, source}]``; each indicator then names
  its ``aim`` and says with ``aim_stated`` whether the source lists it under that aim (``false``:
  the grouping is the file author's, and figures say so).
- ``target.text`` / ``observation.text``: the wording as the source prints it (``{fi: "25 hlöä/v"}``),
  shown instead of a formatted number; ``target.statement``: the aim's sentence for the target.
- ``observation.published``: the date the value became public, where later than its reference
  ``date``; a round evaluated on ``as_of`` sees only values published by then (default: the
  reference date).

Target kinds: ``at_least``, ``above``, ``at_most``, ``below`` (the value
itself), and ``at_most_above_reference`` (at most ``value`` units above the
series named by ``reference`` at the same date, e.g. 1 pp above the national
average tax rate). Every ``source`` must be a key of ``sources``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from kuntalib.i18n import LANGS, pick
from kuntalib.sources import CitationError, cite_key

__all__ = ["TARGET_KINDS", "Indicator", "IndicatorFile", "IndicatorFileError", "parse_indicator_file"]

TARGET_KINDS = ("at_least", "above", "at_most", "below", "at_most_above_reference")


class IndicatorFileError(ValueError):
    """An indicator file that does not fit the format (names the file and the place)."""


@dataclass(frozen=True)
class Indicator:
    """One indicator: labels, direction, optional baseline, target, observed series."""

    id: str
    label: dict[str, str]
    unit: dict[str, str]
    direction: str
    target: dict[str, Any]
    observations: pd.DataFrame  # date, value, source, published (Timestamps), text_fi, text_sv, text_en
    baseline: dict[str, Any] | None = None
    reference: pd.DataFrame | None = None
    aim: str | None = None
    aim_stated: bool = True

    @property
    def target_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.target["date"])

    def latest(self) -> pd.Series | None:
        """The latest observation, or None."""
        return None if self.observations.empty else self.observations.iloc[-1]

    def known_at(self, as_of: pd.Timestamp) -> Indicator:
        """This indicator as it was known on ``as_of``: only values published by then."""
        obs = self.observations[self.observations["published"] <= as_of].reset_index(drop=True)
        ref = self.reference
        if ref is not None:
            ref = ref[ref["published"] <= as_of].reset_index(drop=True)
        return replace(self, observations=obs, reference=ref)

    def target_text(self, lang: str) -> str | None:
        """The target as the source words it, in ``lang``, or None."""
        text = self.target.get("text")
        return pick(text, lang) if text else None


@dataclass(frozen=True)
class IndicatorFile:
    """A municipality's indicators and the sources they cite."""

    path: Path
    municipality: dict[str, Any]
    indicators: list[Indicator]
    sources: dict[str, str] = field(default_factory=dict)
    aims: list[dict[str, Any]] = field(default_factory=list)
    #: Each reference series' label (``{fi, sv, en}``) by its name, where the file gives one.
    reference_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def source_text(self, key: str, lang: str, *, markup: bool = False) -> str:
        """Source ``key`` as a reader can follow it: its public citation in ``lang`` (``data/raw/sources/citations.yml``)
        when the file lies under data/raw and has one, else the file's own text for the key."""
        try:
            cited = cite_key(self.path, key, lang, markup=markup)
        except CitationError:
            cited = None
        if cited:
            return cited
        fallback = self.sources.get(key, key)
        if markup:
            return html.escape(fallback)
        return fallback

    def aim(self, aim_id: str | None) -> dict[str, Any] | None:
        """The aim ``aim_id`` (id, label, source), or None."""
        return next((a for a in self.aims if a["id"] == aim_id), None)

    def get(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"{self.path}: no indicator {indicator_id!r}")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Indicator and aim ids: they name files and table rows, so letters, digits, '_' and '-' only.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _date(v: Any, where: str, *, latest: pd.Timestamp | None = None) -> pd.Timestamp:
    """A literal calendar date (a YAML date or ``YYYY-MM-DD``); never a word such as ``now`` or ``today``."""
    if isinstance(v, dt.datetime):
        out = pd.Timestamp(v.date())
    elif isinstance(v, dt.date):
        out = pd.Timestamp(v)
    elif isinstance(v, str) and _ISO_DATE.fullmatch(v.strip()):
        try:
            out = pd.Timestamp(dt.date.fromisoformat(v.strip()))
        except ValueError as exc:
            raise IndicatorFileError(f"{where}: {v!r} is not a calendar date") from exc
    else:
        raise IndicatorFileError(f"{where}: date {v!r} is not a literal date YYYY-MM-DD")
    if latest is not None and out > latest:
        raise IndicatorFileError(f"{where}: date {out.date()} is later than the evaluation date {latest.date()}")
    return out


def _number(v: Any, where: str) -> float:
    """A finite number (not a boolean, not NaN or infinity)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise IndicatorFileError(f"{where}: value {v!r} is not a finite number")
    return float(v)


def _ident(v: Any, where: str) -> str:
    if not isinstance(v, str) or not _SAFE_ID.fullmatch(v):
        raise IndicatorFileError(f"{where}: id {v!r} must be a string of letters, digits, '_' and '-' (at most 64)")
    return v


def _source(v: Any, where: str, sources: dict[str, str], *, required: bool = True) -> Any:
    if v is None and not required:
        return None
    if v not in sources:
        raise IndicatorFileError(f"{where}: source {v!r} is not a key of 'sources'")
    return v


def _texts(v: Any, where: str) -> dict[str, str]:
    if not isinstance(v, dict) or "fi" not in v:
        raise IndicatorFileError(f"{where}: expected a mapping with at least 'fi' (and sv, en)")
    unknown = set(v) - set(LANGS)
    if unknown:
        raise IndicatorFileError(f"{where}: unknown language {sorted(unknown)[0]!r}")
    return {k: str(x) for k, x in v.items()}


def _series(items: Any, where: str, sources: dict[str, str], latest: pd.Timestamp | None = None) -> pd.DataFrame:
    if not isinstance(items, list):
        raise IndicatorFileError(f"{where}: observations must be a list")
    rows = []
    for i, o in enumerate(items):
        w = f"{where}[{i}]"
        if not isinstance(o, dict) or "date" not in o or "value" not in o:
            raise IndicatorFileError(f"{w}: an observation needs date and value")
        value = _number(o["value"], w)
        src = _source(o.get("source"), w, sources)
        date = _date(o["date"], w, latest=latest)
        published = _date(o["published"], f"{w}.published", latest=latest) if o.get("published") is not None else date
        if published < date:
            raise IndicatorFileError(f"{w}: published {published.date()} is before the reference date {date.date()}")
        text = _texts(o["text"], f"{w}.text") if o.get("text") is not None else {}
        rows.append({"date": date, "value": value, "source": src, "published": published,
                     **{f"text_{lang}": text.get(lang) for lang in LANGS}})
    cols = ["date", "value", "source", "published", *(f"text_{lang}" for lang in LANGS)]
    df = pd.DataFrame(rows, columns=cols).sort_values("date", kind="stable").reset_index(drop=True)
    if df.date.duplicated().any():
        raise IndicatorFileError(f"{where}: two observations on {df.date[df.date.duplicated()].iloc[0].date()}")
    return df


def parse_indicator_file(data: Any, path: Path, *, evaluation_date: Any = None) -> IndicatorFile:
    """Validate parsed YAML; raise :class:`IndicatorFileError` naming the place of the first problem.

    The schema is strict: ids are strings of a safe character set; dates are literal dates
    (never ``now``/``today``), and with ``evaluation_date`` no observation, baseline or
    publication date may be later than it (targets may); numbers are finite; every ``source``
    (observations, baseline, target, aims) is a key of ``sources``.
    """
    latest = _date(evaluation_date, f"{path}: evaluation date") if evaluation_date is not None else None
    if not isinstance(data, dict) or not isinstance(data.get("indicators"), list):
        raise IndicatorFileError(f"{path}: expected a mapping with an 'indicators' list")
    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw_sources.items()):
        raise IndicatorFileError(f"{path}: sources must map keys to citation texts")
    sources = dict(raw_sources)
    refs, ref_labels = {}, {}
    raw_refs = data.get("references") or {}
    if not isinstance(raw_refs, dict):
        raise IndicatorFileError(f"{path}: references must be a mapping of series")
    for name, ref in raw_refs.items():
        if not isinstance(ref, dict):
            raise IndicatorFileError(f"{path}: references.{name}: expected a mapping with observations")
        refs[name] = _series(ref.get("observations"), f"{path}: references.{name}.observations", sources, latest)
        if ref.get("label") is not None:
            ref_labels[str(name)] = _texts(ref["label"], f"{path}: references.{name}.label")
    aims = []
    raw_aims = data.get("aims") or []
    if not isinstance(raw_aims, list):
        raise IndicatorFileError(f"{path}: aims must be a list")
    for i, a in enumerate(raw_aims):
        w = f"{path}: aims[{i}]"
        if not isinstance(a, dict) or not a.get("id"):
            raise IndicatorFileError(f"{w}: an aim needs an id and a label")
        _source(a.get("source"), w, sources, required=False)
        aims.append({"id": _ident(a["id"], w), "label": _texts(a.get("label"), f"{w}.label"), "source": a.get("source")})
    aim_ids = [a["id"] for a in aims]
    out, seen = [], set()
    for i, d in enumerate(data["indicators"]):
        where = f"{path}: indicators[{i}]"
        if not isinstance(d, dict) or d.get("id") is None:
            raise IndicatorFileError(f"{where}: needs an 'id'")
        _ident(d["id"], where)
        where = f"{path}: indicator {d['id']!r}"
        if d["id"] in seen:
            raise IndicatorFileError(f"{where}: duplicate id")
        seen.add(d["id"])
        if d.get("direction") not in ("higher", "lower"):
            raise IndicatorFileError(f"{where}: direction must be 'higher' or 'lower'")
        t = d.get("target")
        if not isinstance(t, dict) or t.get("kind") not in TARGET_KINDS or "value" not in t or "date" not in t:
            raise IndicatorFileError(f"{where}: target needs date, value and kind (one of {', '.join(TARGET_KINDS)})")
        t = {**t, "date": _date(t["date"], f"{where}.target"), "value": _number(t["value"], f"{where}.target")}
        _source(t.get("source"), f"{where}.target", sources, required=False)
        for key in ("text", "statement"):
            if t.get(key) is not None:
                t[key] = _texts(t[key], f"{where}.target.{key}")
        aim = d.get("aim")
        if aims and aim not in aim_ids:
            raise IndicatorFileError(f"{where}: aim {aim!r} is not one of the file's aims ({', '.join(aim_ids)})")
        ref = None
        if t["kind"] == "at_most_above_reference":
            if t.get("reference") not in refs:
                raise IndicatorFileError(f"{where}: target refers to unknown reference {t.get('reference')!r}")
            ref = refs[t["reference"]]
        base = d.get("baseline")
        if base is not None:
            if not isinstance(base, dict) or "value" not in base or "date" not in base:
                raise IndicatorFileError(f"{where}.baseline: needs date and value")
            _source(base.get("source"), f"{where}.baseline", sources, required=False)
            base = {**base, "date": _date(base["date"], f"{where}.baseline", latest=latest),
                    "value": _number(base["value"], f"{where}.baseline")}
        out.append(Indicator(
            id=str(d["id"]), label=_texts(d.get("label"), f"{where}.label"), unit=_texts(d.get("unit"), f"{where}.unit"),
            direction=d["direction"], target=t,
            observations=_series(d.get("observations", []), f"{where}.observations", sources, latest),
            baseline=base, reference=ref, aim=aim, aim_stated=bool(d.get("aim_stated", True)),
        ))
    return IndicatorFile(path, data.get("municipality") or {}, out, sources, aims, ref_labels)
