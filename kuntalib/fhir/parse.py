"""One FHIR Observation (JSON bytes) -> tidy rows, or a rejection with a reason.

Decoding uses msgspec with typed structs that name only the fields the tidy table
needs; everything else is skipped at C speed. A JSON type that does not fit FHIR
(a decimal sent as a string, say) is rejected with msgspec's path to the field.

Rules, in the order they are applied (the reason code is in brackets):

* the line must be JSON [invalid_json] whose types fit [invalid_type], naming no key
  twice [duplicate_keys], an Observation [not_observation] with status final, amended,
  corrected, preliminary or entered-in-error [status]. An ``entered-in-error`` line is
  a withdrawal: it needs only its identity and is handled with the other versions of
  its resource (see :mod:`kuntalib.fhir.ingest`);
* ``subject`` must reference a Patient: relative (``Patient/1``), versioned
  (``Patient/1/_history/2`` -> ``1``), absolute (``https://host/fhir/Patient/1``, kept whole, as
  another server's patient 1 is another patient) or ``urn:uuid:`` [missing_subject]; a reference
  to another resource type (``Group/g1``) [subject_not_patient];
* ``code`` must have a LOINC coding, found by system wherever it stands
  [no_loinc];
* time: ``effectiveDateTime``, ``effectiveInstant`` or ``effectivePeriod`` (start,
  else end) [missing_effective]. Every time (start, end, ``issued``) must be a FHIR
  dateTime — ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ss[.f]`` with
  ``Z`` or ``±hh:mm`` — a real calendar date and clock time; an instant needs seconds
  and an offset; a period may not end before it starts [bad_time, with the reason].
  Precision is recorded as given (day, second, fraction); coarser than a day
  [imprecise_time]. One time-zone rule for start, end and ``issued``: a time without
  an offset is read in ``assume_timezone`` and the line flagged, or rejected when
  that is None [missing_timezone]; a date alone is local midnight;
* value: ``valueQuantity`` or components (each picked by its LOINC code; a component
  coded only in another system, such as MDC mean pressure, is skipped and counted in
  ``components_skipped``, and only a panel with no LOINC component is [no_loinc]); a
  ``dataAbsentReason`` (on the Observation or a component) keeps a row with no
  value and the reason; a value of another type [value_not_quantity]; nothing
  at all [no_value];
* units: UCUM code, else the unit string, translated to the catalogue's unit
  (``mmHg`` -> ``mm[Hg]``, mg/dL -> mmol/L for glucose, ...) and flagged; a unit
  that cannot be translated [unit_unknown]; codes outside the catalogue keep
  their unit as sent;
* a catalogued value outside the plausible range [implausible];
* any other failure to read a line (bytes that are not UTF-8, say) [unreadable]: one
  bad line never costs the others.

Duplicates are found after parsing, per patient (see :mod:`kuntalib.fhir.ingest`).

This parser is the reference implementation. On NDJSON the ingest reads the plain, common
line with Arrow's JSON reader instead (:mod:`kuntalib.fhir.columns`, in the structure of the structs
below), which takes a line only where whole-column checks show that these rules accept it
unchanged, and leaves every other line to this parser; the test suite holds the two to the same answer.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import zoneinfo
from dataclasses import dataclass

import msgspec
import numpy as np
import orjson
import pyarrow as pa

from kuntalib.fhir.catalogue import BY_LOINC, LOINC, UnitError, convert_unit

__all__ = ["IngestOptions", "Reject", "REASONS", "ObservationParser", "LINE_FIELDS", "ROW_FIELDS", "LINE_SCHEMA", "ROW_SCHEMA", "VENDOR_SOURCE", "has_utc_offset",
           "check_datetime", "parse_reference", "duplicate_key"]

REASONS: dict[str, str] = {
    "invalid_json": "line is not JSON",
    "invalid_type": "a JSON value has the wrong type for FHIR",
    "not_observation": "resource is not an Observation",
    "status": "status is not final, amended, corrected or preliminary",
    "missing_subject": "no subject reference",
    "no_loinc": "no LOINC coding in code",
    "missing_effective": "no effective[x]",
    "imprecise_time": "effective time coarser than a day",
    "missing_timezone": "time without UTC offset and no timezone to assume",
    "bad_time": "a time is not a FHIR dateTime/instant (the detail says which and why)",
    "subject_not_patient": "the subject references a resource that is not a Patient",
    "not_bundle": "the file is not a FHIR Bundle",
    "truncated_file": "the compressed file ends early (cut off): this line is incomplete and any after it are missing",
    "corrupt_file": "the compressed file is damaged (a gzip check failed), so no line of it is trusted",
    "duplicate_keys": "a JSON object names the same key twice: ambiguous, so neither value is taken",
    "entered_in_error": "the line withdraws its resource (status entered-in-error); earlier versions are retracted",
    "retracted": "a later line of the same resource has status entered-in-error",
    "superseded": "a later amended or corrected version of the same resource replaces this line",
    "unreadable": "the line could not be read (not UTF-8, or an unexpected structure; the detail says where)",
    "value_not_quantity": "value[x] is not a Quantity",
    "no_value": "no value, no component values and no dataAbsentReason",
    "unit_unknown": "unit cannot be translated to the catalogue unit",
    "implausible": "value outside the physically plausible range",
    "duplicate": "same identifier and content as an earlier line",
    "identifier_conflict": "identifier already used by an earlier line with other content",
    "duplicate_content": "same patient, time, codes and values as an earlier line",
}
OK_STATUS = frozenset({"final", "amended", "corrected", "preliminary", "entered-in-error"})


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for k, _v in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen.add(k)
    return dict(pairs)


def duplicate_key(raw: bytes) -> str | None:
    """The first key a JSON object anywhere in ``raw`` names twice, or None (also for text that is not JSON).

    JSON readers keep one of the two values silently, so the line is ambiguous. A fast test decides
    whether the exact, slower check runs: orjson keeps one value per key, so its re-encoding of a line
    that repeats a key has fewer ``":`` (a key's end) than the line; a line where the count cannot tell
    (white space before a colon, a quote or colon written as a ``\\u`` escape, a number orjson does not
    take) always gets the exact check.
    """
    try:
        loose = b'" ' in raw or b'"\t' in raw or b'"\n' in raw or b'"\r' in raw or b"\\u" in raw  # "k" : or \u0022
        if not loose and raw.count(b'":') == orjson.dumps(orjson.loads(raw)).count(b'":'):
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # (not JSON to orjson, or nested too deep for it)
        pass
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return str(exc)
    except ValueError:
        return None
    return None


_UNKNOWN = ("unknown", "unknown")
#: ``meta.source`` (and Device identifier systems) of the simulator's vendors: this prefix, then the vendor.
VENDOR_SOURCE = "urn:kuntalib:vendor:"
SYNTHETIC_TAGS = frozenset({"HTEST", "synthetic"})


class Reject(Exception):
    """A line the ingest rejects: ``code`` (see REASONS) and a detail naming the field."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


#: The UTF-8 byte order mark, ignored at the start of an NDJSON line or a Bundle file.
BOM = b"\xef\xbb\xbf"


def strip_bom(raw: bytes) -> bytes:
    """``raw`` without a UTF-8 byte order mark at its start (RFC 8259, 8.1: a parser may ignore one; Windows
    tools write one at the start of a file)."""
    return raw[3:] if raw[:3] == BOM else raw


@dataclass(frozen=True)
class IngestOptions:
    """Ingest settings.

    assume_timezone : str or None
        IANA zone for times without a UTC offset (flagged ``tz_assumed``); None rejects them.
    plausibility : bool
        Reject catalogued values outside their plausible range.
    chunk_lines : int
        Lines parsed per chunk; bounds memory.
    max_raw_chars : int
        Characters of a rejected line kept with the rejection.
    check_duplicate_keys : bool
        Reject lines whose JSON names a key twice (see :func:`duplicate_key`).
    fast_path : bool
        Read the plain, common NDJSON line with Arrow's JSON reader (:mod:`kuntalib.fhir.columns`);
        False sends every line through :class:`ObservationParser`.
        The answer is the same either way.
    """

    assume_timezone: str | None = "Europe/Helsinki"
    plausibility: bool = True
    chunk_lines: int = 50_000
    max_raw_chars: int = 2000
    check_duplicate_keys: bool = True
    fast_path: bool = True

    def __post_init__(self) -> None:
        if self.assume_timezone is not None:
            try:
                zoneinfo.ZoneInfo(self.assume_timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
                raise ValueError(f"IngestOptions.assume_timezone: {self.assume_timezone!r} is not an IANA time zone "
                                 "(e.g. 'Europe/Helsinki'), or None to reject times without an offset") from exc


class _Coding(msgspec.Struct, gc=False):
    system: str | None = None
    code: str | None = None


class _Concept(msgspec.Struct, gc=False):
    coding: list[_Coding] = []


class _Ref(msgspec.Struct, gc=False):
    reference: str | None = None


class _Quantity(msgspec.Struct, gc=False):
    value: float | None = None
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class _Component(msgspec.Struct, gc=False):
    code: _Concept | None = None
    valueQuantity: _Quantity | None = None
    valueString: str | None = None
    valueCodeableConcept: _Concept | None = None
    dataAbsentReason: _Concept | None = None


class _Period(msgspec.Struct, gc=False):
    start: str | None = None
    end: str | None = None


class _Identifier(msgspec.Struct, gc=False):
    system: str | None = None
    value: str | None = None


class _Meta(msgspec.Struct, gc=False):
    source: str | None = None
    tag: list[_Coding] = []
    versionId: str | None = None
    lastUpdated: str | None = None


class _Observation(msgspec.Struct, gc=False):
    resourceType: str
    id: str | None = None
    meta: _Meta | None = None
    identifier: list[_Identifier] = []
    status: str | None = None
    code: _Concept | None = None
    subject: _Ref | None = None
    device: _Ref | None = None
    effectiveDateTime: str | None = None
    effectiveInstant: str | None = None
    effectivePeriod: _Period | None = None
    issued: str | None = None
    valueQuantity: _Quantity | None = None
    valueString: str | None = None
    valueCodeableConcept: _Concept | None = None
    valueBoolean: bool | None = None
    valueInteger: int | None = None
    component: list[_Component] = []
    dataAbsentReason: _Concept | None = None


#: What the parser gives for an accepted line (:meth:`ObservationParser.parse`'s head tuple, after the line number) and
#: for each of its values (its value tuples), in order and with their Arrow types: the one declaration of them.
LINE_SCHEMA = pa.schema([
    ("line", pa.int64()), ("observation_id", pa.string()), ("identifier", pa.string()), ("patient", pa.string()),
    ("device", pa.string()), ("vendor", pa.string()), ("device_type", pa.string()), ("effective", pa.string()),
    ("period_end", pa.string()), ("issued", pa.string()), ("synthetic", pa.bool_()), ("precision", pa.string()),
    ("status", pa.string()), ("components_skipped", pa.int32()), ("version", pa.string()),
])
ROW_SCHEMA = pa.schema([
    ("panel", pa.string()), ("code", pa.string()), ("value", pa.float64()), ("unit", pa.string()), ("comparator", pa.string()),
    ("absent_reason", pa.string()), ("unit_translated", pa.bool_()), ("catalogued", pa.bool_()),
])
LINE_FIELDS, ROW_FIELDS = tuple(LINE_SCHEMA.names), tuple(ROW_SCHEMA.names)

_DECODER = msgspec.json.Decoder(_Observation)


def _loinc(concept: _Concept | None) -> str | None:
    if concept is not None:
        for c in concept.coding:
            if c.system == LOINC and c.code:
                return c.code
    return None


_DATETIME = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d{1,9})?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2}|[+-]\d{2,4})?)?)?)?")


_FAST = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?")


@functools.lru_cache(maxsize=4096)
def _date_ok(day: str) -> bool:
    try:
        _dt.date(int(day[:4]), int(day[5:7]), int(day[8:10]))
    except ValueError:
        return False
    return day[:4] != "0000"


def check_datetime(text: str, field: str, *, instant: bool = False) -> str:
    """Check a FHIR dateTime (``instant``: a FHIR instant); return its precision or raise ``Reject("bad_time")``.

    Precision: ``year``, ``month``, ``day``, ``second`` or ``fraction``. The detail names the field,
    the value and what is wrong (minutes without seconds, an offset not written ±hh:mm, a space for
    ``T``, a date that does not exist, ...).
    """
    m = _FAST.fullmatch(text)  # the usual full timestamp: checked without the general pattern
    if m is not None and _date_ok(text[:10]) and text[11:13] <= "23" and text[14:16] <= "59" and text[17:19] <= "60":
        tz = m.group(2)
        if tz is None or tz == "Z" or (tz[1:3] <= "14" and tz[4:6] <= "59"):
            if instant and tz is None:
                raise Reject("bad_time", f"{field} {text!r}: an instant needs seconds and an offset")
            return "fraction" if m.group(1) else "second"
    m = _DATETIME.fullmatch(text)
    if m is None:
        why = ("a space instead of 'T'" if " " in text else "no '-' between year, month and day" if text.isdigit()
               else "not YYYY[-MM[-DD[Thh:mm:ss[.f](Z|±hh:mm)]]]")
        raise Reject("bad_time", f"{field} {text!r}: {why}")
    g = m.groupdict()
    if g["H"] is not None and g["S"] is None:
        raise Reject("bad_time", f"{field} {text!r}: minutes without seconds (FHIR times have seconds)")
    tz = g["tz"]
    if tz and tz != "Z" and (len(tz) != 6 or tz[3] != ":"):
        raise Reject("bad_time", f"{field} {text!r}: offset {tz!r} must be written ±hh:mm")
    try:
        year = int(g["y"])
        if g["d"] is not None:
            _dt.date(year, int(g["m"]), int(g["d"]))
        elif g["m"] is not None and not 1 <= int(g["m"]) <= 12:
            raise ValueError("month out of range")
        if g["H"] is not None:
            sec = int(g["S"])
            if int(g["H"]) > 23 or int(g["M"]) > 59 or sec > 60:
                raise ValueError("clock time out of range")
        if tz and tz != "Z" and (int(tz[1:3]) > 14 or int(tz[4:6]) > 59):
            raise ValueError("offset out of range")
    except ValueError as exc:
        raise Reject("bad_time", f"{field} {text!r}: {exc}") from None
    if year < 1:
        raise Reject("bad_time", f"{field} {text!r}: year 0000")
    if instant and (g["S"] is None or not tz):
        raise Reject("bad_time", f"{field} {text!r}: an instant needs seconds and an offset")
    if g["f"]:
        return "fraction"
    if g["S"] is not None:
        return "second"
    return "day" if g["d"] else "month" if g["m"] else "year"


def parse_reference(ref: str | None, field: str, expected: str = "Patient") -> str:
    """The id a FHIR reference names, checked to be of resource type ``expected``.

    Relative ``Patient/1`` and versioned ``Patient/1/_history/2`` give ``1``; an absolute
    ``https://host/fhir/Patient/1`` is kept whole (without ``_history``), since another server's
    patient 1 is another patient; ``urn:uuid:<id>`` gives the uuid. Raises ``Reject`` with
    ``missing_subject`` (no or empty reference) or ``subject_not_patient`` (another type).
    """
    if ref and ref.startswith(expected) and ref[len(expected):len(expected) + 1] == "/" and ref.count("/") == 1 \
            and len(ref) > len(expected) + 1:
        return ref[len(expected) + 1:]  # the usual relative reference
    return _parse_reference(ref, field, expected)


def _parse_reference(ref: str | None, field: str, expected: str = "Patient") -> str:
    """The general case of :func:`parse_reference`."""
    if not ref or not ref.strip():
        raise Reject("missing_subject", f"{field}: no reference")
    ref = ref.strip()
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        ident = ref.split(":", 2)[2]
        if not ident:
            raise Reject("missing_subject", f"{field} {ref!r}: empty id")
        return ident
    if ref.startswith("#"):
        raise Reject("missing_subject", f"{field} {ref!r}: a contained resource, not a patient record")
    absolute = "://" in ref
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1]:
        raise Reject("missing_subject", f"{field} {ref!r}: empty id")
    kind, ident = parts[-2], parts[-1]
    if kind != expected:
        raise Reject("subject_not_patient", f"{field} {ref!r}: a {kind or 'reference'} is not a {expected}")
    return "/".join(parts) if absolute else ident


def has_utc_offset(text: str) -> bool:
    """Whether a FHIR dateTime is anchored in UTC: 'Z' or '±hh:mm' after a time; a date alone needs none."""
    n = len(text)
    return n <= 10 or text[-1] == "Z" or (n > 19 and text[-6] in "+-" and text[-3] == ":")


def _version(meta: _Meta | None) -> str | None:
    """A sortable version key: ``v:<versionId as 12 digits>`` when numeric, else ``t:<lastUpdated>``, else None."""
    if meta is None:
        return None
    if meta.versionId and meta.versionId.isdigit():
        return f"v:{int(meta.versionId):012d}"
    if meta.lastUpdated:
        return f"t:{meta.lastUpdated}"
    return None


def _identity(identifiers: list[_Identifier]) -> str | None:
    """Every identifier as ``system|value``, sorted and joined by the unit separator (0x1f); None when there is none.

    Identity is the pair (system, value), never the value alone: two systems may issue the same number.
    """
    pairs = sorted({f"{i.system or ''}|{i.value}" for i in identifiers if i.value})
    return "\x1f".join(pairs) if pairs else None


def _absent(concept: _Concept | None) -> str | None:
    if concept is None:
        return None
    return next((c.code for c in concept.coding if c.code), "unknown")


class ObservationParser:
    """Parse Observation lines into tidy rows, with a device -> (vendor, type) map."""

    def __init__(self, options: IngestOptions | None = None, devices: dict[str, tuple[str, str]] | None = None) -> None:
        self.options = options or IngestOptions()
        self.devices = devices or {}

    def parse(self, raw: bytes) -> tuple[tuple, list[tuple]]:
        """One line: its line-level fields (LINE_FIELDS without ``line``) and one tuple of ROW_FIELDS per value.

        A UTF-8 byte order mark at the start of the line is ignored (:func:`strip_bom`). Raises
        :class:`Reject` with the reason code.
        """
        raw = strip_bom(raw)
        try:
            obs = _DECODER.decode(raw)
        except msgspec.ValidationError as exc:
            try:
                doc = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise Reject("invalid_json", str(exc)) from None
            kind = doc.get("resourceType") if isinstance(doc, dict) else None
            if kind != "Observation":
                raise Reject("not_observation", f"resourceType {kind!r}") from None
            raise Reject("invalid_type", str(exc)) from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise Reject("unreadable", f"not UTF-8: byte {bad.start} (0x{raw[bad.start]:02x})") from None
            raise Reject("invalid_json", str(exc)) from None
        if obs.resourceType != "Observation":
            raise Reject("not_observation", f"resourceType {obs.resourceType!r}")
        if self.options.check_duplicate_keys and (key := duplicate_key(raw)) is not None:
            raise Reject("duplicate_keys", f"key {key!r} appears twice in one object")
        if obs.status not in OK_STATUS:
            raise Reject("status", f"status {obs.status!r}")
        subject = obs.subject
        patient = parse_reference(subject.reference if subject is not None else None, "subject")
        meta = obs.meta
        version = _version(meta)
        identifier = _identity(obs.identifier)
        if obs.status == "entered-in-error":  # a withdrawal: it needs only an identity; it never keeps a row
            if not obs.id and identifier is None:
                raise Reject("entered_in_error", "entered-in-error without an id or identifier: nothing to retract")
            return (obs.id, identifier, patient, None, "unknown", "unknown", None, None, None, False, None, obs.status, 0,
                    version), [(None, _loinc(obs.code), None, None, None, None, False, False)]
        code = _loinc(obs.code)
        if code is None:
            raise Reject("no_loinc", "code.coding has no system http://loinc.org")
        period_end = None
        field, instant = "effectiveDateTime", False
        effective = obs.effectiveDateTime
        if effective is None and obs.effectiveInstant is not None:
            effective, field, instant = obs.effectiveInstant, "effectiveInstant", True
        if effective is None and obs.effectivePeriod is not None:
            effective = obs.effectivePeriod.start or obs.effectivePeriod.end
            field = "effectivePeriod.start" if obs.effectivePeriod.start else "effectivePeriod.end"
            period_end = obs.effectivePeriod.end
            if period_end and obs.effectivePeriod.start:
                check_datetime(period_end, "effectivePeriod.end")
        if not effective:
            raise Reject("missing_effective")
        precision = check_datetime(effective, field, instant=instant)
        if precision in ("year", "month"):
            raise Reject("imprecise_time", f"{field} {effective!r}")
        if obs.issued is not None:
            check_datetime(obs.issued, "issued", instant=True)
        if self.options.assume_timezone is None:
            for name, t in ((field, effective), ("effectivePeriod.end", period_end)):
                if t and not has_utc_offset(t):
                    raise Reject("missing_timezone", f"{name} {t!r}")
        dev = obs.device
        device = None
        if dev is not None and dev.reference:
            try:
                device = parse_reference(dev.reference, "device", "Device")
            except Reject:
                device = None
        vendor, device_type = self.devices.get(device, _UNKNOWN) if device else _UNKNOWN
        synthetic = False
        if meta is not None:
            if vendor == "unknown" and meta.source and meta.source.startswith(VENDOR_SOURCE):
                vendor = meta.source[len(VENDOR_SOURCE):]
            for tag in meta.tag:
                if tag.code in SYNTHETIC_TAGS:
                    synthetic = True
                    break
        skipped = 0
        if obs.component:
            values = []
            for comp in obs.component:
                ccode = _loinc(comp.code)
                if ccode is None:
                    if comp.code is not None and any(c.code for c in comp.code.coding):
                        skipped += 1  # coded in another system only (MDC mean pressure, say): skipped, counted
                        continue
                    raise Reject("no_loinc", "a component has no coding")
                values.append(self._value(ccode, comp.valueQuantity, comp.dataAbsentReason, comp.valueString,
                                          comp.valueCodeableConcept, code))
            if not values:
                raise Reject("no_loinc", "no component has a LOINC coding")
        elif obs.valueQuantity is not None or obs.dataAbsentReason is not None:
            values = [self._value(code, obs.valueQuantity, obs.dataAbsentReason, None, None, None)]
        elif obs.valueString is not None or obs.valueCodeableConcept is not None or obs.valueBoolean is not None \
                or obs.valueInteger is not None:
            raise Reject("value_not_quantity")
        else:
            raise Reject("no_value")
        return (obs.id, identifier, patient, device, vendor, device_type, effective, period_end, obs.issued,
                synthetic, precision, obs.status, skipped, version), values

    def canonical(self, code: str, value: float, unit: str | None, sent: str = "") -> tuple[float, str | None, bool]:
        """A value of LOINC ``code`` in the catalogue's unit, checked for plausibility: (value, unit, translated).

        Codes outside the catalogue keep their value and unit. Raises :class:`Reject` with
        ``unit_unknown`` or ``implausible`` (``sent`` is the value as sent, for the detail).
        """
        measure = BY_LOINC.get(code)
        translated = False
        if measure is not None:
            if unit != measure.unit:
                try:
                    value, translated = convert_unit(value, unit or "", measure)
                except UnitError as exc:
                    raise Reject("unit_unknown", str(exc)) from None
                unit = measure.unit
            if self.implausible(code, value):
                lo, hi = measure.plausible
                raise Reject("implausible", f"LOINC {code}: {sent} outside {lo}–{hi} {measure.unit}")
        return value, unit, translated

    def implausible(self, code: str, value):
        """Whether a value of catalogued LOINC ``code`` in its canonical unit lies outside the plausible range.

        ``value`` is a float or an array of floats (then an array of booleans is returned): the one
        rule for the reference parser and the fast path's whole columns. NaN is implausible.
        """
        lo, hi = BY_LOINC[code].plausible
        inside = (lo <= value) & (value <= hi)
        if not (self.options.plausibility and hi > lo):
            inside = inside | True  # no range to check: nothing is implausible
        return np.logical_not(inside)

    def _value(self, code: str, q: _Quantity | None, absent: _Concept | None, vstring: str | None,
               vconcept: _Concept | None, panel: str | None) -> tuple:
        measure = BY_LOINC.get(code)
        if q is None or q.value is None:
            if absent is not None:
                return (panel, code, None, measure.unit if measure else None, None, _absent(absent), False, measure is not None)
            if vstring is not None or vconcept is not None:
                raise Reject("value_not_quantity", f"LOINC {code}")
            raise Reject("no_value", f"LOINC {code}")
        unit = q.code if q.code and (q.system is None or "unitsofmeasure" in q.system) else q.unit
        # + 0.0: minus zero is zero, so "value":-0 and "value":0 are the same content
        value, unit, translated = self.canonical(code, float(q.value) + 0.0, unit, f"{q.value} {q.code or q.unit}")
        return (panel, code, value, unit, q.comparator, None, translated, measure is not None)
