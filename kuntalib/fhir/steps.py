"""The steps of the device-data notebook (02): simulate, write FHIR, ingest, then one step per analysis.

Each function is one language-neutral step that the build runs once and stores
(``run_step(NOTEBOOK, steps.quality, tidy, min_persons=5)``): it takes file paths, the
parameters it uses and the results of the steps above it, and returns a dict of tables
(DataFrames) and JSON values. The graph::

    simulate ── fhir_files ──┬── tidy ──┬── quality
        │                    │          ├── faults_caught (also simulate and fhir_files: NDJSON lines)
        │                    │          ├── adherence   (also simulate: start, days, time zone)
        │                    │          ├── alerts      (also simulate; thresholds file)
        │                    │          └── trend       (also simulate)
        └────────────────────┴── conformance (the NDJSON files; simulate's seed draws the sample)
    cost_benefit (projection file and service-cost range only)

Everything here is **synthetic** (the simulator's cohort). Published tables are suppressed
where they are made: no cell of fewer than ``min_persons`` persons, no identifier column; the
vendor and vendor × device tables are suppressed together with complementary cells
(:func:`~kuntalib.fhir.analysis.suppress_hierarchy`), so that no blanked cell is the difference
of published ones.

Tables by step: ``simulate``: ``faults`` (resources sent, by injected fault), ``clients``,
``devices``, ``measurements`` (the simulator's truth; not published); ``tidy``:
``rejected_by_reason``; ``faults_caught``: ``faults_caught``; ``quality``: ``quality_by_vendor``, ``quality_by_vendor_device``;
``conformance``: ``conformance_vendors``, ``conformance_issues``; ``adherence``:
``adherence_by_week``; ``alerts``: ``alerts_by_week``, ``thresholds``; ``trend``: ``trend_fixed``,
``trend_daily`` (the model's input, not published); ``cost_benefit``: ``cost_benefit_sensitivity``,
``cost_benefit_grid_meur``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kuntalib.fhir.analysis import (
    TrendResult,
    adherence_summary,
    alert_summary,
    fault_outcomes,
    fit_bp_trend,
    load_thresholds,
    quality_table,
    suppress_hierarchy,
    suppress_small,
)
from kuntalib.fhir.analysis import adherence as adherence_table
from kuntalib.fhir.analysis import alerts as alert_rows
from kuntalib.fhir.conformance import ConformanceReport, conformance_report
from kuntalib.fhir.costbenefit import grid, load_projection, tornado
from kuntalib.fhir.ingest import ingest_bundles, ingest_ndjson, load_devices, read_observations
from kuntalib.fhir.resources import write_bundles, write_ndjson
from kuntalib.fhir.simulate import Cohort, CohortConfig, load_cohort_config, simulate_cohort
from kuntalib.upstream import Upstream

__all__ = ["simulate", "fhir_files", "tidy", "faults_caught", "quality", "conformance", "adherence", "alerts", "trend", "cost_benefit",
           "cohort", "observations", "rejected_lines", "conformance_result", "trend_result", "GRID_CLIENTS", "GRID_DAYS", "FHIR_FORMATS"]

#: Axes of the two-way cost-benefit grid: clients a year, hospital days avoided per client.
GRID_CLIENTS = (2000, 3000, 4000, 5000, 6000)
GRID_DAYS = (1, 2, 3, 4, 5)
FHIR_FORMATS = ("ndjson", "bundle")
_TIDY = "tidy"  # the ingest's output folder in the tidy step's work folder


def simulate(config_file: Path, *, n_clients: int = 0, days: int = 0) -> dict[str, Any]:
    """Simulate the cohort of the settings file (:func:`~kuntalib.fhir.simulate.load_cohort_config`).

    ``n_clients`` and ``days`` override the file's values when not 0. Tables ``clients``, ``devices``,
    ``measurements`` (the truth, :class:`~kuntalib.fhir.simulate.Cohort`) and ``faults``; values
    ``config`` (every setting), ``seed``, ``id_seed``, ``n_clients``, ``n_devices``, ``resources_sent``.
    """
    config, seed = load_cohort_config(config_file, n_clients=n_clients, days=days)
    sim = simulate_cohort(config, seed)
    faults = sim.measurements["fault"].replace("", "none").value_counts().rename_axis("fault").reset_index(name="resources")
    return {"clients": sim.clients, "devices": sim.devices, "measurements": sim.measurements, "faults": faults,
            "synthetic": True, "config": asdict(config), "seed": seed, "id_seed": int(sim.id_seed),
            "n_clients": config.n_clients, "n_devices": len(sim.devices), "resources_sent": len(sim.measurements)}


def cohort(sim: Upstream) -> Cohort:
    """The :class:`~kuntalib.fhir.simulate.Cohort` that :func:`simulate` stored."""
    return Cohort(CohortConfig(**sim["config"]), int(sim["seed"]), sim["clients"], sim["devices"], sim["measurements"],
                  int(sim["id_seed"]))


def fhir_files(sim: Upstream, *, work: Path, fhir_format: str = "ndjson") -> dict[str, Any]:
    """Write the cohort as FHIR: NDJSON always (Patient, Device, Observation), Bundles too for ``bundle``.

    Values (paths relative to the step's work folder): ``format``, ``devices`` (the Device file),
    ``ndjson`` (the Observation NDJSON), ``sent`` (the files sent: the NDJSON or the Bundles).
    """
    if fhir_format not in FHIR_FORMATS:
        raise ValueError(f"fhir_format must be ndjson or bundle, got {fhir_format!r}")
    sim_cohort = cohort(sim)
    files = {kind: path.relative_to(work).as_posix() for kind, path in write_ndjson(sim_cohort, work / "ndjson").items()}
    sent = [files["Observation"]]
    if fhir_format == "bundle":
        sent = [p.relative_to(work).as_posix() for p in write_bundles(sim_cohort, work / "bundles")]
    return {"format": fhir_format, "devices": files["Device"], "ndjson": files["Observation"], "sent": sent}


def _fhir_folder(fhir: Upstream) -> Path:
    if fhir.work is None:
        raise ValueError("the FHIR step kept no files")
    return fhir.work


def tidy(fhir: Upstream, *, work: Path, workers: int = 2) -> dict[str, Any]:
    """Ingest the files sent into the tidy Parquet dataset (kept as ``work/tidy``) with the Device vendor map.

    ``workers`` does not change the result (the ingest's answer does not depend on its split). Each file
    is known by its path in the FHIR step's folder. Table ``rejected_by_reason``; values ``lines``,
    ``accepted``, ``rejected``, ``rows``, ``ingest_summary``.
    """
    folder = _fhir_folder(fhir)
    devices = load_devices([folder / fhir["devices"]])
    sent = list(fhir["sent"])
    ingest = ingest_ndjson if fhir["format"] == "ndjson" else ingest_bundles
    result = ingest([folder / s for s in sent], work / _TIDY, devices=devices, workers=workers, source_ids=sent)
    if result.accepted + result.rejected != result.lines:
        raise RuntimeError(f"ingest lost lines: {result.summary()}")
    return {"rejected_by_reason": result.by_reason().rename_axis("reason").reset_index(name="lines"),
            "synthetic": True, "lines": result.lines, "accepted": result.accepted, "rejected": result.rejected,
            "rows": result.rows, "ingest_summary": result.summary()}


def _tidy_folder(tidy: Upstream) -> Path:
    if tidy.work is None:
        raise ValueError("the tidy step kept no files")
    return tidy.work / _TIDY


def observations(tidy: Upstream) -> pd.DataFrame:
    """The tidy observations that :func:`tidy` kept."""
    return read_observations(_tidy_folder(tidy))


def rejected_lines(tidy: Upstream) -> pd.DataFrame:
    """The rejected lines (with their reasons) that :func:`tidy` kept."""
    return pd.read_parquet(_tidy_folder(tidy) / "rejects.parquet")


def faults_caught(sim: Upstream, fhir: Upstream, tidy: Upstream) -> dict[str, Any]:
    """Table ``faults_caught``: for each fault the simulator injected, its resources accepted and rejected by reason
    (:func:`~kuntalib.fhir.analysis.fault_outcomes`). Sent as NDJSON only (a line is a resource); empty for Bundles."""
    if fhir["format"] != "ndjson":
        return {"faults_caught": pd.DataFrame({"fault": pd.Series(dtype=str)})}
    return {"faults_caught": fault_outcomes(sim["measurements"], rejected_lines(tidy), source=fhir["sent"][0])}


def quality(tidy: Upstream, *, min_persons: int = 5) -> dict[str, Any]:
    """Quality per vendor and per vendor × device type, suppressed together below ``min_persons`` persons."""
    obs, rejects = observations(tidy), rejected_lines(tidy)
    # vendor rows sum to the ingest totals the page states, vendor × device rows to their vendor's row
    by_vendor, by_device = suppress_hierarchy(quality_table(obs, rejects),
                                              quality_table(obs, rejects, by=("vendor", "device_type")),
                                              key="vendor", persons="persons", k=min_persons)
    return {"quality_by_vendor": by_vendor.round(2), "quality_by_vendor_device": by_device.round(2)}


def conformance(sim: Upstream, fhir: Upstream, *, conformance_sample: int = 300) -> dict[str, Any]:
    """The certification report on the Observation NDJSON: ``conformance_sample`` lines per vendor, drawn with the cohort's seed."""
    folder = _fhir_folder(fhir)
    report = conformance_report(folder / fhir["ndjson"], devices=load_devices([folder / fhir["devices"]]),
                                sample_per_vendor=conformance_sample, rng=int(sim["seed"]))
    return {"conformance_vendors": report.vendors, "conformance_issues": report.issues,
            "pass_share": float(report.pass_share), "conformance_summary": report.summary()}


def conformance_result(step: Upstream) -> ConformanceReport:
    """The :class:`~kuntalib.fhir.conformance.ConformanceReport` that :func:`conformance` stored."""
    return ConformanceReport(step["conformance_vendors"], step["conformance_issues"], float(step["pass_share"]))


def adherence(sim: Upstream, tidy: Upstream, *, adherence_codes: list[str] | tuple[str, ...] = ("8480-6",),
              min_persons: int = 5) -> dict[str, Any]:
    """Weekly adherence (days with a measurement of one of ``adherence_codes``), suppressed below ``min_persons``."""
    config = sim["config"]
    obs = observations(tidy)
    adh = adherence_table(obs, start=config["start"], days=config["days"], tz=config["timezone"], codes=tuple(adherence_codes))
    return {"adherence_by_week": suppress_small(adherence_summary(adh), "persons", k=min_persons).round(1)}


def alerts(sim: Upstream, tidy: Upstream, *, thresholds_file: Path, min_persons: int = 5) -> dict[str, Any]:
    """Alerts per rule and week under the thresholds file, suppressed below ``min_persons``; table ``thresholds`` too."""
    config = sim["config"]
    obs = observations(tidy)
    thresholds = load_thresholds(thresholds_file)
    rows = alert_rows(obs, thresholds, tz=config["timezone"])
    summary = alert_summary(rows, start=config["start"], tz=config["timezone"])
    return {"alerts_by_week": suppress_small(summary, "persons", k=min_persons, columns=["alerts"]), "thresholds": thresholds}


def trend(sim: Upstream, tidy: Upstream) -> dict[str, Any]:
    """The mixed model of systolic blood pressure (:func:`~kuntalib.fhir.analysis.fit_bp_trend`)."""
    config = sim["config"]
    obs = observations(tidy)
    fit = fit_bp_trend(obs, start=config["start"], tz=config["timezone"])
    return {"trend_fixed": fit.fixed.round(3), "trend_daily": fit.daily, "n_patients": fit.n_patients, "n_days": fit.n_days,
            "converged": fit.converged, "random_sd": fit.random_sd, "cov_intercept_week": fit.cov_intercept_week,
            "summary": fit.summary()}


def trend_result(step: Upstream) -> TrendResult:
    """The :class:`~kuntalib.fhir.analysis.TrendResult` that :func:`trend` stored."""
    return TrendResult(step["trend_fixed"], int(step["n_patients"]), int(step["n_days"]), bool(step["converged"]),
                       dict(step["random_sd"]), step["trend_daily"], float(step["cov_intercept_week"]))


def cost_benefit(*, projection_file: Path, service_cost_low: float = 0.0, service_cost_high: float = 300.0) -> dict[str, Any]:
    """One-way sensitivity over the unpublished service-cost range and the two-way grid of clients × days avoided (M EUR)."""
    settings = load_projection(projection_file)
    two_way = grid(settings, np.array(GRID_CLIENTS), np.array(GRID_DAYS)) / 1e6
    two_way.columns = [str(c) for c in two_way.columns]
    return {"cost_benefit_sensitivity": tornado(settings, service_cost=(service_cost_low, service_cost_high)).round(2),
            "cost_benefit_grid_meur": two_way.round(2).reset_index(), "cost_per_day": settings.cost_per_day}
