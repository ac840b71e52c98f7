"""What home-measuring devices send: codes, units, profiles and plausible ranges.

Codes follow the FHIR R4 vital-signs profiles and the Kanta PHR (Omatietovaranto)
profiles as listed in ``shared/SOURCES.md``: LOINC codes, UCUM units, IEEE 11073
MDC codes where a vendor sends them (``urn:iso:std:iso:11073:10101``). Blood
pressure is a panel (85354-9) with systolic (8480-6) and diastolic (8462-4)
components. Glucose: 15074-8 (vital signs), 14743-9 (glucometer, capillary) and
14745-4 (CGM, body fluid) as in Kanta PHR.

Plausible ranges are physical limits of a living adult, not clinical thresholds:
a value outside them is a device or unit error and the ingest rejects it.
Alert thresholds are clinical and live in ``data/raw/kotidigi/alert_thresholds.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kuntalib.i18n import Msg

__all__ = [
    "LOINC",
    "UCUM",
    "MDC",
    "CATEGORY",
    "Measure",
    "MEASURES",
    "BY_LOINC",
    "UNIT_SYNONYMS",
    "convert_unit",
    "UnitError",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:iso:std:iso:11073:10101"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
VS = "http://hl7.org/fhir/StructureDefinition/"
KANTA = "http://phr.kanta.fi/StructureDefinition/"


@dataclass(frozen=True)
class Measure:
    """One measured quantity: LOINC code, canonical UCUM unit, MDC code, profiles, plausible range."""

    key: str
    loinc: str
    unit: str
    label: dict[str, str]
    mdc: str | None
    profiles: tuple[str, ...]
    plausible: tuple[float, float]
    decimals: int = 0


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("bp_panel", "85354-9", "", Msg("fhir.measure.bp_panel"), "150020",
                (VS + "vitalsigns", VS + "bp", KANTA + "fiphr-sd-bloodpressure"), (0, 0)),
        Measure("systolic", "8480-6", "mm[Hg]", Msg("fhir.measure.systolic"),
                "150021", (), (50, 300)),
        Measure("diastolic", "8462-4", "mm[Hg]", Msg("fhir.measure.diastolic"),
                "150022", (), (20, 200)),
        Measure("heart_rate", "8867-4", "/min", Msg("fhir.measure.heart_rate"), "149546",
                (VS + "vitalsigns", VS + "heartrate"), (20, 300)),
        Measure("spo2", "2708-6", "%", Msg("fhir.measure.spo2"), "150456",
                (VS + "vitalsigns", VS + "oxygensat"), (50, 100)),
        Measure("spo2_pulse", "59408-5", "%", Msg("fhir.measure.spo2_pulse"), "150456",
                (VS + "vitalsigns", VS + "oxygensat"), (50, 100)),
        Measure("temperature", "8310-5", "Cel", Msg("fhir.measure.temperature"), "150364",
                (VS + "vitalsigns", VS + "bodytemp"), (30, 45), 1),
        Measure("weight", "29463-7", "kg", Msg("fhir.measure.weight"), "188736",
                (VS + "vitalsigns", VS + "bodyweight", KANTA + "fiphr-sd-bodyweight"), (20, 350), 1),
        Measure("height", "8302-2", "cm", Msg("fhir.measure.height"), None,
                (VS + "vitalsigns", VS + "bodyheight", KANTA + "fiphr-sd-bodyheight"), (50, 250)),
        Measure("glucose", "15074-8", "mmol/L", Msg("fhir.measure.glucose"), None,
                (KANTA + "fiphr-sd-bloodglucose",), (0.5, 50), 1),
        Measure("glucose_meter", "14743-9", "mmol/L", Msg("fhir.measure.glucose_meter"), "160196",
                (KANTA + "fiphr-sd-bloodglucose",), (0.5, 50), 1),
        Measure("glucose_cgm", "14745-4", "mmol/L", Msg("fhir.measure.glucose_cgm"), None,
                (KANTA + "fiphr-sd-bloodglucose",), (0.5, 50), 1),
    )
}
BY_LOINC: dict[str, Measure] = {m.loinc: m for m in MEASURES.values()}

#: Unit strings seen from devices that are not UCUM codes, mapped to the UCUM code they mean.
UNIT_SYNONYMS: dict[str, str] = {
    "mmHg": "mm[Hg]", "mm Hg": "mm[Hg]", "bpm": "/min", "beats/min": "/min", "1/min": "/min", "{beats}/min": "/min",
    "°C": "Cel", "C": "Cel", "degC": "Cel", "°F": "[degF]", "F": "[degF]", "lb": "[lb_av]", "lbs": "[lb_av]",
    "mmol/l": "mmol/L", "mg/dl": "mg/dL", "percent": "%",
}

_GLUCOSE_MG_PER_MMOL = 18.016  # molar mass of glucose 180.16 g/mol


class UnitError(ValueError):
    """A unit the catalogue cannot translate to the measure's canonical unit."""


def convert_unit(value: float, unit: str, measure: Measure) -> tuple[float, bool]:
    """Translate ``value`` in ``unit`` (UCUM or a known synonym) to the measure's canonical unit.

    Returns ``(value, translated)``; raises :class:`UnitError` for a unit it cannot translate.
    """
    unit = UNIT_SYNONYMS.get(unit, unit)
    target = measure.unit
    if unit == target:
        return value, False
    if target == "Cel" and unit == "[degF]":
        return (value - 32.0) * 5.0 / 9.0, True
    if target == "kg":
        if unit == "[lb_av]":
            return value * 0.45359237, True
        if unit == "g":
            return value / 1000.0, True
    if target == "cm" and unit == "m":
        return value * 100.0, True
    if target == "mm[Hg]" and unit == "kPa":
        return value * 7.500617, True
    if target == "mmol/L" and unit == "mg/dL":
        return value / _GLUCOSE_MG_PER_MMOL, True
    if target == "%" and unit == "1":
        return value * 100.0, True
    raise UnitError(f"unit {unit!r} cannot be translated to {target!r} for LOINC {measure.loinc}")
