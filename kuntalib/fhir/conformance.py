"""Vendor conformance report: strict FHIR R4B validation plus the profile rules the platform certifies.

Two levels, per resource:

* **R4B** — ``fhir.resources.R4B`` (pydantic) validates the resource against the
  FHIR R4B structure: cardinalities, types, value sets it knows and the datatype
  regexes (a ``dateTime`` with a time but no UTC offset fails here).
* **Profile** — the vital-signs / Kanta PHR rules a certification service checks
  and ``fhir.resources`` does not: ``vital-signs`` category (R1), a LOINC code (R2),
  UCUM system and code on every quantity (R3), a UTC offset on the time (R4),
  a subject (R5), a blood-pressure panel with both components or a
  dataAbsentReason (R6), and a ``meta.profile`` that the catalogue knows for the
  code (R7).

A vendor passes when at least ``pass_share`` of its checked resources pass both
levels. Strict validation is slow (about 0.4 ms a resource), so the report checks
a seeded random sample of up to ``sample_per_vendor`` lines per vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from kuntalib.fhir.catalogue import BY_LOINC, CATEGORY, LOINC, UCUM
from kuntalib.fhir.ingest import read_lines
from kuntalib.fhir.parse import VENDOR_SOURCE, has_utc_offset, strip_bom

__all__ = ["PROFILE_RULES", "check_profile", "validate_r4b", "ConformanceReport", "conformance_report"]

PROFILE_RULES = {
    "R1": "category vital-signs",
    "R2": "LOINC code",
    "R3": "UCUM system and code on quantities",
    "R4": "UTC offset on the time",
    "R5": "subject reference",
    "R6": "blood pressure has systolic and diastolic (or dataAbsentReason)",
    "R7": "meta.profile known for the code",
}


def _loinc(concept: dict | None) -> str | None:
    for c in (concept or {}).get("coding", []) or []:
        if c.get("system") == LOINC:
            return c.get("code")
    return None


def check_profile(obs: dict) -> list[str]:
    """Profile rules (see module docstring) the Observation breaks, as rule codes."""
    broken = []
    cats = [c for cc in obs.get("category", []) or [] for c in cc.get("coding", []) or []]
    if not any(c.get("system") == CATEGORY and c.get("code") == "vital-signs" for c in cats):
        broken.append("R1")
    code = _loinc(obs.get("code"))
    if code is None:
        broken.append("R2")
    quantities = [obs.get("valueQuantity")] + [c.get("valueQuantity") for c in obs.get("component", []) or []]
    if any(q is not None and (q.get("system") != UCUM or not q.get("code")) for q in quantities):
        broken.append("R3")
    period = obs.get("effectivePeriod") or {}
    when = obs.get("effectiveDateTime") or obs.get("effectiveInstant") or period.get("start") or period.get("end")
    if not when or not has_utc_offset(when):
        broken.append("R4")
    if not (obs.get("subject") or {}).get("reference"):
        broken.append("R5")
    if code == "85354-9":
        comps = {_loinc(c.get("code")): c for c in obs.get("component", []) or []}
        if not all(k in comps and ("valueQuantity" in comps[k] or "dataAbsentReason" in comps[k]) for k in ("8480-6", "8462-4")):
            broken.append("R6")
    measure = BY_LOINC.get(code or "")
    profiles = set((obs.get("meta") or {}).get("profile", []) or [])
    if measure is not None and measure.profiles and not profiles & set(measure.profiles):
        broken.append("R7")
    return broken


def validate_r4b(raw: bytes) -> list[str]:
    """Strict R4B validation with fhir.resources: the failing fields (empty when valid)."""
    from fhir.resources.R4B import get_fhir_model_class  # with pydantic ~0.3 s: only when lines are validated
    from pydantic import ValidationError

    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ["<json>"]
    if not isinstance(doc, dict):  # JSON, but not a resource
        return ["<json>"]
    try:
        get_fhir_model_class(doc.get("resourceType", "Observation")).model_validate(doc)
    except (ValidationError, KeyError, ValueError, TypeError) as exc:  # (a resourceType that is not a name: no model)
        errs = exc.errors() if isinstance(exc, ValidationError) else [{"loc": ("resourceType",)}]
        return sorted({".".join(str(p) for p in e["loc"]) for e in errs})
    return []


@dataclass(frozen=True)
class ConformanceReport:
    """Per-vendor conformance (see module docstring).

    ``vendors``: vendor, checked, r4b_valid, profile_ok, conformant, share_conformant, passed.
    ``issues``: vendor, level (R4B or profile), issue (field or rule), count.
    """

    vendors: pd.DataFrame
    issues: pd.DataFrame
    pass_share: float

    def to_frame(self) -> pd.DataFrame:
        return self.vendors.copy()

    def summary(self) -> str:
        out = []
        for r in self.vendors.itertuples():
            verdict = "PASS" if r.passed else "FAIL"
            out.append(f"{r.vendor}: {verdict} {r.conformant}/{r.checked} conformant (R4B valid {r.r4b_valid}, profile ok {r.profile_ok})")
        return "\n".join(out)


def _vendor(doc: dict, devices: dict[str, tuple[str, str]]) -> str:
    """The sender of a line: its device's vendor, else the vendor in ``meta.source``, else "unknown" (also for wrong types)."""
    try:
        dev = ((doc.get("device") or {}).get("reference") or "").rsplit("/", 1)[-1]
        if dev in devices:
            return devices[dev][0]
        source = (doc.get("meta") or {}).get("source") or ""
        return source.rsplit(":", 1)[-1] if source.startswith(VENDOR_SOURCE) else "unknown"
    except (AttributeError, TypeError):
        return "unknown"


def _profile(raw: bytes) -> list[str]:
    """:func:`check_profile` of a raw line; a line that is not a JSON object, or has a value of the wrong type, fails."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ["<json>"]
    if not isinstance(doc, dict):
        return ["<json>"]
    try:
        return check_profile(doc)
    except (AttributeError, TypeError, KeyError):
        return ["<structure>"]


def conformance_report(path: str | Path, *, devices: dict[str, tuple[str, str]] | None = None, sample_per_vendor: int = 300,
                       rng: int | np.random.Generator | None = 0, pass_share: float = 0.99) -> ConformanceReport:
    """Check a seeded sample of each vendor's Observation lines at both levels.

    ``path`` is NDJSON, plain or gzip, UTF-8 or UTF-16, read as the ingest reads it (:func:`~kuntalib.fhir.ingest.read_lines`).
    """
    devices = devices or {}
    by_vendor: dict[str, list[bytes]] = {}
    for _line, raw in read_lines(path):  # the ingest's reader: gzip and UTF-16 files read as it reads them
        if raw.strip():  # blank as the ingest counts it: a line holding only a byte order mark is a line
            raw = strip_bom(raw)
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                doc = None
            # a line that is not a JSON object counts for vendor "unknown" and fails both levels
            by_vendor.setdefault(_vendor(doc, devices) if isinstance(doc, dict) else "unknown", []).append(raw)
    gen = np.random.default_rng(rng)
    rows, issues = [], {}
    for vendor in sorted(by_vendor):
        lines = by_vendor[vendor]
        pick = gen.choice(len(lines), size=min(sample_per_vendor, len(lines)), replace=False)
        r4b_ok = prof_ok = both = 0
        for i in sorted(pick):
            raw = lines[i]
            r4b = validate_r4b(raw)
            prof = _profile(raw)
            r4b_ok += not r4b
            prof_ok += not prof
            both += not r4b and not prof
            for f in r4b:
                issues[(vendor, "R4B", f)] = issues.get((vendor, "R4B", f), 0) + 1
            for f in prof:
                key = (vendor, "profile", f"{f} {PROFILE_RULES.get(f, '')}".strip())
                issues[key] = issues.get(key, 0) + 1
        n = len(pick)
        rows.append({"vendor": vendor, "checked": n, "r4b_valid": r4b_ok, "profile_ok": prof_ok, "conformant": both,
                     "share_conformant": both / n if n else np.nan, "passed": bool(n) and both / n >= pass_share})
    iss = pd.DataFrame([(v, lvl, i, c) for (v, lvl, i), c in sorted(issues.items())], columns=["vendor", "level", "issue", "count"])
    return ConformanceReport(pd.DataFrame(rows), iss, pass_share)
