"""A simulated cohort as FHIR R4 resources: bulk NDJSON, transaction Bundles, or a live stream.

Each synthetic vendor writes FHIR its own way, as real vendors do:

* vendor A: LOINC codes, UCUM units, local time with UTC offset;
* vendor B: MDC code first and LOINC second, UTC times with milliseconds;
* vendor C: glucometers send mmol/L or mg/dL; CGM readings carry an ``effectivePeriod``;
* vendor D: unit strings such as ``mmHg`` without a UCUM code, and some times without offset.

Every resource is tagged as test data (``meta.tag`` HTEST, v3 ActReason) and with
``urn:kuntalib:synthetic``; patients and devices have pseudonymous UUIDs only.
``meta.source`` names the vendor, as the platform knows it from the sender.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from kuntalib.fhir.catalogue import CATEGORY, LOINC, MDC, MEASURES, UCUM
from kuntalib.fhir.simulate import VENDORS, Cohort, _uuid

__all__ = ["SYNTHETIC_TAGS", "iter_patients", "iter_devices", "iter_observations", "write_ndjson", "write_bundles",
           "stream_observations", "StreamReport"]

SYNTHETIC_TAGS = [
    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST", "display": "test health data"},
    {"system": "urn:kuntalib", "code": "synthetic", "display": "kuntalib simulator"},
]
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _meta(profiles: tuple[str, ...] = (), source: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"tag": SYNTHETIC_TAGS}
    if profiles:
        meta["profile"] = list(profiles)
    if source:
        meta["source"] = source
    return meta


def iter_patients(cohort: Cohort) -> Iterator[dict[str, Any]]:
    """Patient resources: pseudonymous id, sex and birth year only."""
    for c in cohort.clients.itertuples():
        yield {"resourceType": "Patient", "id": c.client, "meta": _meta(),
               "identifier": [{"system": "urn:kuntalib:pseudonym", "value": c.client}], "gender": c.sex,
               "birthDate": str(c.birth_year)}


def iter_devices(cohort: Cohort) -> Iterator[dict[str, Any]]:
    """Device resources: vendor (manufacturer), device type and the patient it belongs to."""
    for d in cohort.devices.itertuples():
        yield {"resourceType": "Device", "id": d.device, "meta": _meta(source=f"urn:kuntalib:vendor:{d.vendor}"),
               "identifier": [{"system": f"urn:kuntalib:vendor:{d.vendor}", "value": d.device}],
               "manufacturer": VENDORS[d.vendor]["name"], "type": {"text": d.device_type},
               "deviceName": [{"name": f"{d.device_type} (synthetic)", "type": "user-friendly-name"}],
               "patient": {"reference": f"Patient/{d.client}"}}


def _times(m: pd.DataFrame, tz: str, period_minutes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """effective (device clock, vendor style), CGM period end, and issued strings."""
    local = m["device_time_utc"].dt.tz_convert(tz)
    with_offset = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    with_offset = with_offset.str[:-2] + ":" + with_offset.str[-2:]
    naive = local.dt.strftime("%Y-%m-%dT%H:%M:%S")
    utc_ms = m["device_time_utc"].dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    style = m["vendor"].map(lambda v: VENDORS[v]["time"]).to_numpy()
    eff = np.where(style == "utc_ms", utc_ms, np.where(m["naive_time"].to_numpy(), naive, with_offset))
    end_local = (m["device_time_utc"] + pd.Timedelta(minutes=period_minutes)).dt.tz_convert(tz).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    end = (end_local.str[:-2] + ":" + end_local.str[-2:]).to_numpy()
    issued = m["issued_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
    return eff, end, issued


def _code(measure: str, vendor: str) -> dict[str, Any]:
    ms = MEASURES[measure]
    loinc = {"system": LOINC, "code": ms.loinc, "display": ms.label["en"]}
    if VENDORS[vendor]["coding"] == "mdc_first" and ms.mdc:
        return {"coding": [{"system": MDC, "code": ms.mdc}, loinc]}
    return {"coding": [loinc]}


def _quantity(value: float, unit: str, vendor: str) -> dict[str, Any]:
    value = int(value) if float(value).is_integer() else float(value)
    if VENDORS[vendor]["coding"] == "loinc_synonym_units":
        return {"value": value, "unit": {"mm[Hg]": "mmHg", "/min": "bpm"}.get(unit, unit)}
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def iter_observations(cohort: Cohort) -> Iterator[dict[str, Any]]:
    """Observation resources in the order they arrive (issued time), duplicates included."""
    m = cohort.measurements
    rng = np.random.default_rng([cohort.id_seed, 7])
    ids = _uuid(rng, len(m))
    ident = _uuid(rng, len(m))
    dup = m["duplicate_of"].to_numpy()
    ident = [ident[d] if d >= 0 else ident[i] for i, d in enumerate(dup)]
    eff, end, issued = _times(m, cohort.config.timezone, cohort.config.cgm_minutes)
    cols = zip(m["measure"], m["vendor"], m["device_type"], m["client"], m["device"], m["value"], m["value2"], m["unit"],
               m["fault"], strict=True)
    for i, (measure, vendor, dtype, client, device, value, value2, unit, fault) in enumerate(cols):
        ms = MEASURES[measure]
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": ids[i], "meta": _meta(ms.profiles, f"urn:kuntalib:vendor:{vendor}"),
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{ident[i]}"}], "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}], "code": _code(measure, vendor),
            "subject": {"reference": f"Patient/{client}"}, "device": {"reference": f"Device/{device}"},
        }
        if dtype == "cgm":
            obs["effectivePeriod"] = {"start": eff[i], "end": end[i]}
        else:
            obs["effectiveDateTime"] = eff[i]
        obs["issued"] = issued[i]
        if measure == "bp_panel":
            dia: dict[str, Any] = {"code": _code("diastolic", vendor)}
            if fault == "absent_component":
                dia["dataAbsentReason"] = {"coding": [{"system": _ABSENT, "code": "error"}]}
            else:
                dia["valueQuantity"] = _quantity(value2, unit, vendor)
            obs["component"] = [{"code": _code("systolic", vendor), "valueQuantity": _quantity(value, unit, vendor)}, dia]
        else:
            obs["valueQuantity"] = _quantity(value, unit, vendor)
        yield obs


def _write_lines(path: Path, resources: Iterable[dict[str, Any]]) -> int:
    n = 0
    with open(path, "wb") as fh:
        for r in resources:
            fh.write(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE))
            n += 1
    return n


def write_ndjson(cohort: Cohort, out_dir: str | Path) -> dict[str, Path]:
    """Write FHIR bulk-data NDJSON: ``Patient.ndjson``, ``Device.ndjson``, ``Observation.ndjson``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, it in (("Patient", iter_patients), ("Device", iter_devices), ("Observation", iter_observations)):
        paths[kind] = out / f"{kind}.ndjson"
        _write_lines(paths[kind], it(cohort))
    return paths


def write_bundles(cohort: Cohort, out_dir: str | Path, per_bundle: int = 1000) -> list[Path]:
    """Write transaction Bundles: the first carries Patients and Devices (PUT), then Observations (POST).

    Observations are created conditionally (``ifNoneExist`` on their identifier), so a
    resent duplicate is a no-op on a conforming server.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def entry(r: dict[str, Any]) -> dict[str, Any]:
        if r["resourceType"] == "Observation":
            req = {"method": "POST", "url": "Observation", "ifNoneExist": f"identifier={r['identifier'][0]['value']}"}
        else:
            req = {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
        return {"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "request": req}

    paths: list[Path] = []

    def flush(entries: list[dict[str, Any]]) -> None:
        path = out / f"bundle-{len(paths):05d}.json"
        path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "transaction", "meta": _meta(), "entry": entries}))
        paths.append(path)

    flush([entry(r) for r in (*iter_patients(cohort), *iter_devices(cohort))])
    batch: list[dict[str, Any]] = []
    for r in iter_observations(cohort):
        batch.append(entry(r))
        if len(batch) == per_bundle:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return paths


@dataclass
class StreamReport:
    """What a stream to a FHIR endpoint did: sent, accepted (2xx), failed, and the status codes seen."""

    sent: int = 0
    accepted: int = 0
    failed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def stream_observations(cohort: Cohort, url: str, *, speedup: float = 3600.0, limit: int | None = None,
                        timeout: float = 10.0, max_sleep: float = 1.0) -> StreamReport:
    """POST each Observation to ``{url}/Observation`` as the device would, in accelerated real time.

    The pause between two resources is their arrival-time difference divided by
    ``speedup`` (3600: an hour a second), at most ``max_sleep`` seconds. Failures are
    counted with their status; the stream goes on.
    """
    report = StreamReport()
    issued = cohort.measurements["issued_utc"]
    prev = None
    target = url.rstrip("/") + "/Observation"
    for i, obs in enumerate(iter_observations(cohort)):
        if limit is not None and i >= limit:
            break
        now = issued.iat[i]
        if prev is not None and speedup > 0:
            time.sleep(min(max_sleep, (now - prev).total_seconds() / speedup))
        prev = now
        req = urllib.request.Request(target, data=orjson.dumps(obs), method="POST",
                                     headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"})
        report.sent += 1
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            report.errors.append(f"{obs['id']}: HTTP {exc.code}")
        except OSError as exc:
            status = 0
            report.errors.append(f"{obs['id']}: {exc}")
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            report.accepted += 1
        else:
            report.failed += 1
    return report
