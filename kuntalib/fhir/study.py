"""The device-data study as one language-neutral step: simulate, write FHIR, ingest, analyse.

Notebook 02 runs :func:`device_study` once per build through
:func:`kuntalib.pipeline.steps.run_step`; each language then draws the tables it
returned. Everything here is **synthetic** (the simulator's cohort).

Tables (all published ones already suppressed: no cell of fewer than ``min_persons``
persons, no identifier column; the vendor and vendor × device tables are suppressed
together with complementary cells, :func:`kuntalib.fhir.analysis.suppress_hierarchy`, so that
no blanked cell is the difference of published ones):

``faults``                 resources sent, by injected fault (simulator truth)
``rejected_by_reason``     ingest rejects by documented reason
``quality_by_vendor``      quality per vendor (suppressed)
``quality_by_vendor_device`` quality per vendor × device type (suppressed)
``conformance_vendors``, ``conformance_issues``  the certification report
``adherence_by_week``      adherence summary (suppressed)
``alerts_by_week``         alerts per rule and week (suppressed)
``thresholds``             the alert rules with their guideline sources
``trend_fixed``, ``trend_daily``  the mixed model's fixed effects and its input (daily means;
                           not published)
``cost_benefit_sensitivity``, ``cost_benefit_grid_meur``  the cost-benefit model
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kuntalib.fhir.simulate import CohortConfig
from kuntalib.yamlsafe import YamlError, safe_load_file

if TYPE_CHECKING:
    from kuntalib.fhir.analysis import TrendResult
    from kuntalib.fhir.conformance import ConformanceReport
    from kuntalib.pipeline.steps import StepData, StepResult

__all__ = ["CohortConfigError", "load_cohort_config", "device_study", "trend_from_step", "conformance_from_step", "publishable", "GRID_CLIENTS", "GRID_DAYS"]

#: Axes of the two-way cost-benefit grid: clients a year, hospital days avoided per client.
#: The smallest cell (persons) kuntalib publishes; a lower ``min_persons`` is refused.
MIN_CELL = 5
GRID_CLIENTS = (2000, 3000, 4000, 5000, 6000)
GRID_DAYS = (1, 2, 3, 4, 5)


class CohortConfigError(ValueError):
    """A simulator settings file that does not fit (names the file)."""


def load_cohort_config(path: str | Path, *, n_clients: int = 0, days: int = 0) -> tuple[CohortConfig, int]:
    """Read the simulator settings file; return the validated config and the seed.

    The file must say ``synthetic: true`` and hold ``seed`` and a ``cohort`` mapping of
    :class:`~kuntalib.fhir.simulate.CohortConfig` fields. ``n_clients`` and ``days``
    override the file's values when not 0.

    Raises
    ------
    CohortConfigError
        (a ValueError) The file is not YAML, is not marked synthetic, lacks ``seed``/``cohort`` or names an
        unknown setting; the message names the file.
    """
    path = Path(path)
    try:
        raw = safe_load_file(path)
    except YamlError as exc:  # names the file and the place
        raise CohortConfigError(str(exc)) from exc
    if not isinstance(raw, dict) or raw.get("synthetic") is not True:
        raise CohortConfigError(f"{path}: simulator settings must say 'synthetic: true'")
    if not isinstance(raw.get("seed"), int) or not isinstance(raw.get("cohort"), dict):
        raise CohortConfigError(f"{path}: needs an integer 'seed' and a 'cohort' mapping")
    settings = dict(raw["cohort"])
    known = set(CohortConfig.__dataclass_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise CohortConfigError(f"{path}: cohort: unknown setting(s) {', '.join(unknown)}")
    if n_clients:
        settings["n_clients"] = n_clients
    if days:
        settings["days"] = days
    try:
        return CohortConfig(**settings), raw["seed"]
    except (TypeError, ValueError) as exc:
        raise CohortConfigError(f"{path}: cohort: {exc}") from exc


def device_study(
    config: CohortConfig,
    seed: int,
    *,
    work: Path,
    thresholds_path: Path,
    projection_path: Path,
    fhir_format: str = "ndjson",
    workers: int = 2,
    conformance_sample: int = 300,
    adherence_codes: tuple[str, ...] = ("8480-6",),
    min_persons: int = 5,
    service_cost: tuple[float, float] = (0.0, 300.0),
) -> StepData:
    """Simulate a cohort, write it as FHIR, ingest it and compute every table of notebook 02.

    Parameters
    ----------
    config, seed
        The simulator settings (:func:`load_cohort_config`).
    work
        A folder for the FHIR files and the ingested Parquet dataset.
    thresholds_path, projection_path
        The alert thresholds and the cost-benefit projection (raw files).
    fhir_format
        ``ndjson`` (bulk data) or ``bundle`` (transaction Bundles).
    workers
        Processes for the ingest.
    conformance_sample
        Resources per vendor validated strictly.
    adherence_codes
        LOINC codes that count as a measurement day.
    min_persons
        Published cells counting fewer persons are blanked.
    service_cost
        Range of the (unpublished) service cost per client in EUR.
    """
    from kuntalib.fhir import analysis
    from kuntalib.fhir.conformance import conformance_report
    from kuntalib.fhir.costbenefit import grid, load_projection, tornado
    from kuntalib.fhir.ingest import ingest_bundles, ingest_ndjson, load_devices
    from kuntalib.fhir.resources import write_bundles, write_ndjson
    from kuntalib.fhir.simulate import simulate_cohort
    from kuntalib.pipeline.steps import StepData

    if fhir_format not in {"ndjson", "bundle"}:
        raise ValueError(f"fhir_format must be ndjson or bundle, got {fhir_format!r}")
    if min_persons < MIN_CELL:
        raise ValueError(f"min_persons must be at least {MIN_CELL} (cells of fewer persons could identify them), got {min_persons}")
    cohort = simulate_cohort(config, seed)
    files = write_ndjson(cohort, work / "fhir")  # Device.ndjson: the vendor map and the conformance sample
    observation_files = [files["Observation"]] if fhir_format == "ndjson" else write_bundles(cohort, work / "bundles")
    faults = cohort.measurements["fault"].replace("", "none").value_counts().rename_axis("fault").reset_index(name="resources")

    devices = load_devices([files["Device"]])
    ingest = ingest_ndjson if fhir_format == "ndjson" else ingest_bundles
    result = ingest(observation_files, work / "tidy", devices=devices, workers=workers)
    if result.accepted + result.rejected != result.lines:
        raise RuntimeError(f"ingest lost lines: {result.summary()}")
    obs = result.read()
    by_reason = result.by_reason().rename_axis("reason").reset_index(name="lines")

    k = min_persons
    # vendor rows sum to the ingest totals the page states, vendor × device rows to their vendor's row:
    # suppressed together so that no blanked cell is a difference of published ones
    quality, by_device = analysis.suppress_hierarchy(analysis.quality_table(obs, result.rejects),
                                                     analysis.quality_table(obs, result.rejects, by=("vendor", "device_type")),
                                                     key="vendor", persons="persons", k=k)
    quality, by_device = quality.round(2), by_device.round(2)
    report = conformance_report(files["Observation"], devices=devices, sample_per_vendor=conformance_sample, rng=seed)

    adh = analysis.adherence(obs, start=config.start, days=config.days, tz=config.timezone, codes=adherence_codes)
    adh_summary = analysis.suppress_small(analysis.adherence_summary(adh), "persons", k=k).round(1)

    thresholds = analysis.load_thresholds(thresholds_path)
    alert_rows = analysis.alerts(obs, thresholds, tz=config.timezone)
    alert_summary = analysis.suppress_small(analysis.alert_summary(alert_rows, start=config.start, tz=config.timezone),
                                            "persons", k=k, columns=["alerts"])

    trend = analysis.fit_bp_trend(obs, start=config.start, tz=config.timezone)

    cb = load_projection(projection_path)
    sensitivity = tornado(cb, service_cost=tuple(service_cost))
    two_way = grid(cb, np.array(GRID_CLIENTS), np.array(GRID_DAYS)) / 1e6
    two_way.columns = [str(c) for c in two_way.columns]

    tables = {
        "faults": faults,
        "rejected_by_reason": by_reason,
        "quality_by_vendor": quality,
        "quality_by_vendor_device": by_device,
        "conformance_vendors": report.vendors,
        "conformance_issues": report.issues,
        "adherence_by_week": adh_summary,
        "alerts_by_week": alert_summary,
        "thresholds": thresholds,
        "trend_fixed": trend.fixed.round(3),
        "trend_daily": trend.daily,
        "cost_benefit_sensitivity": sensitivity.round(2),
        "cost_benefit_grid_meur": two_way.round(2).reset_index(),
    }
    values: dict[str, Any] = {
        "synthetic": True,
        "n_clients": config.n_clients,
        "n_devices": len(cohort.devices),
        "resources_sent": len(cohort.measurements),
        "ingest_summary": result.summary(),
        "lines": result.lines,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "rows": result.rows,
        "pass_share": report.pass_share,
        "conformance_summary": report.summary(),
        "trend": {"n_patients": trend.n_patients, "n_days": trend.n_days, "converged": trend.converged,
                  "random_sd": trend.random_sd, "summary": trend.summary(),
                  "cov_intercept_week": trend.cov_intercept_week},
        "cost_per_day": cb.cost_per_day,
    }
    return StepData(tables, values)


def trend_from_step(step: StepResult) -> TrendResult:
    """The :class:`~kuntalib.fhir.analysis.TrendResult` that :func:`device_study` stored."""
    from kuntalib.fhir.analysis import TrendResult

    t = step.values["trend"]
    return TrendResult(step["trend_fixed"], int(t["n_patients"]), int(t["n_days"]), bool(t["converged"]),
                       dict(t["random_sd"]), step["trend_daily"], float(t.get("cov_intercept_week", 0.0)))


def conformance_from_step(step: StepResult) -> ConformanceReport:
    """The :class:`~kuntalib.fhir.conformance.ConformanceReport` that :func:`device_study` stored."""
    from kuntalib.fhir.conformance import ConformanceReport

    return ConformanceReport(step["conformance_vendors"], step["conformance_issues"], float(step.values["pass_share"]))


def publishable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a suppressed table that may be drawn (not suppressed)."""
    if "suppressed" not in table.columns:
        return table
    return table[~table["suppressed"].astype(bool)]
