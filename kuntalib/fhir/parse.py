"""One FHIR Observation (JSON bytes) -> tidy rows, or a rejection with a reason.

Decoding uses msgspec with typed structs that name only the fields the tidy table
needs; everything else is skipped at C speed. A JSON type that does not fit FHIR
(a decimal sent as a string, say) is rejected with msgspec's path to the field.

Rules, in the order they are applied (the reason code is in brackets):

* the line must be JSON [invalid_json] whose types fit [invalid_type], an
  Observation [not_observation] with status final, amended, corrected or
  preliminary [status];
* ``subject`` must reference a patient [missing_subject];
* ``code`` must have a LOINC coding, found by system wherever it stands
  [no_loinc];
* time: ``effectiveDateTime``, ``effectiveInstant`` or ``effectivePeriod`` (start,
  else end) [missing_effective]; precision at least a day [imprecise_time]; a
  time without UTC offset is read in ``assume_timezone`` and flagged, or rejected
  when that is None [missing_timezone]; unparseable [bad_time];
* value: ``valueQuantity`` or components (each picked by its LOINC code); a
  ``dataAbsentReason`` (on the Observation or a component) keeps a row with no
  value and the reason; a value of another type [value_not_quantity]; nothing
  at all [no_value];
* units: UCUM code, else the unit string, translated to the catalogue's unit
  (``mmHg`` -> ``mm[Hg]``, mg/dL -> mmol/L for glucose, ...) and flagged; a unit
  that cannot be translated [unit_unknown]; codes outside the catalogue keep
  their unit as sent;
* a catalogued value outside the plausible range [implausible].

Duplicates are found after parsing, per patient (see :mod:`kuntalib.fhir.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import orjson

from kuntalib.fhir.catalogue import BY_LOINC, LOINC, UnitError, convert_unit

__all__ = ["IngestOptions", "Reject", "REASONS", "ObservationParser", "LINE_FIELDS", "ROW_FIELDS", "has_utc_offset"]

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
    "bad_time": "effective time cannot be parsed",
    "value_not_quantity": "value[x] is not a Quantity",
    "no_value": "no value, no component values and no dataAbsentReason",
    "unit_unknown": "unit cannot be translated to the catalogue unit",
    "implausible": "value outside the physically plausible range",
    "duplicate": "same identifier and content as an earlier line",
    "identifier_conflict": "identifier already used by an earlier line with other content",
    "duplicate_content": "same patient, time, codes and values as an earlier line",
}
_OK_STATUS = frozenset({"final", "amended", "corrected", "preliminary"})
_UNKNOWN = ("unknown", "unknown")
_SYNTHETIC = frozenset({"HTEST", "synthetic"})


class Reject(Exception):
    """A line the ingest rejects: ``code`` (see REASONS) and a detail naming the field."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


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
    """

    assume_timezone: str | None = "Europe/Helsinki"
    plausibility: bool = True
    chunk_lines: int = 50_000
    max_raw_chars: int = 2000


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


#: Line-level fields (one per accepted line) and row-level fields (one per value), in order.
LINE_FIELDS = ("line", "observation_id", "identifier", "patient", "device", "vendor", "device_type", "effective", "period_end",
               "issued", "synthetic")
ROW_FIELDS = ("panel", "code", "value", "unit", "comparator", "absent_reason", "unit_translated", "catalogued")

_DECODER = msgspec.json.Decoder(_Observation)


def _loinc(concept: _Concept | None) -> str | None:
    if concept is not None:
        for c in concept.coding:
            if c.system == LOINC and c.code:
                return c.code
    return None


def has_utc_offset(text: str) -> bool:
    """Whether a FHIR dateTime is anchored in UTC: 'Z' or '±hh:mm' after a time; a date alone needs none."""
    n = len(text)
    return n <= 10 or text[-1] == "Z" or (n > 19 and text[-6] in "+-" and text[-3] == ":")


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

        Raises :class:`Reject` with the reason code.
        """
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
        except msgspec.DecodeError as exc:
            raise Reject("invalid_json", str(exc)) from None
        if obs.resourceType != "Observation":
            raise Reject("not_observation", f"resourceType {obs.resourceType!r}")
        if obs.status not in _OK_STATUS:
            raise Reject("status", f"status {obs.status!r}")
        subject = obs.subject
        ref = subject.reference if subject is not None else None
        if not ref:
            raise Reject("missing_subject")
        code = _loinc(obs.code)
        if code is None:
            raise Reject("no_loinc", "code.coding has no system http://loinc.org")
        period_end = None
        effective = obs.effectiveDateTime or obs.effectiveInstant
        if effective is None and obs.effectivePeriod is not None:
            effective = obs.effectivePeriod.start or obs.effectivePeriod.end
            period_end = obs.effectivePeriod.end
        if not effective:
            raise Reject("missing_effective")
        if len(effective) <= 7:
            raise Reject("imprecise_time", f"effective {effective!r}")
        if self.options.assume_timezone is None and not has_utc_offset(effective):
            raise Reject("missing_timezone", f"effective {effective!r}")
        dev = obs.device
        device = dev.reference.rpartition("/")[2] if dev is not None and dev.reference else None
        vendor, device_type = self.devices.get(device, _UNKNOWN) if device else _UNKNOWN
        meta = obs.meta
        synthetic = False
        if meta is not None:
            if vendor == "unknown" and meta.source and meta.source.startswith("urn:kuntalib:vendor:"):
                vendor = meta.source[20:]
            for tag in meta.tag:
                if tag.code in _SYNTHETIC:
                    synthetic = True
                    break
        identifier = obs.identifier[0].value if obs.identifier else None
        if obs.component:
            values = []
            for comp in obs.component:
                ccode = _loinc(comp.code)
                if ccode is None:
                    raise Reject("no_loinc", "a component has no LOINC coding")
                values.append(self._value(ccode, comp.valueQuantity, comp.dataAbsentReason, comp.valueString,
                                          comp.valueCodeableConcept, code))
        elif obs.valueQuantity is not None or obs.dataAbsentReason is not None:
            values = [self._value(code, obs.valueQuantity, obs.dataAbsentReason, None, None, None)]
        elif obs.valueString is not None or obs.valueCodeableConcept is not None or obs.valueBoolean is not None \
                or obs.valueInteger is not None:
            raise Reject("value_not_quantity")
        else:
            raise Reject("no_value")
        return (obs.id, identifier, ref.rpartition("/")[2], device, vendor, device_type, effective, period_end, obs.issued,
                synthetic), values

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
        value = float(q.value)
        translated = False
        if measure is not None:
            if unit != measure.unit:
                try:
                    value, translated = convert_unit(value, unit or "", measure)
                except UnitError as exc:
                    raise Reject("unit_unknown", str(exc)) from None
                unit = measure.unit
            lo, hi = measure.plausible
            if self.options.plausibility and hi > lo and not lo <= value <= hi:
                raise Reject("implausible", f"LOINC {code}: {q.value} {q.code or q.unit} outside {lo}–{hi} {measure.unit}")
        return (panel, code, value, unit, q.comparator, None, translated, measure is not None)
