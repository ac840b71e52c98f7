"""Write notebooks/02_device_data.ipynb (without outputs)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from nbtools import write_notebook  # noqa: E402

CELLS = [
    ("markdown", None, """# Kotimittausten laitedata: FHIR-virtojen simulointi ja analyysi

Tampereen KOTIDIGI-alustan kaltainen tilanne: usean toimittajan kotimittalaitteet lähettävät mittauksia HL7 FHIR R4 -muodossa yhdelle toimittajariippumattomalle alustalle. **Aineisto on synteettistä**: kuntalibin simulaattori tuottaa asiakkaat, laitteet, mittaukset ja virheet tunnetuin osuuksin. Muistio lukee aineiston (NDJSON tai Bundle) siistiksi taulukoksi, arvioi toimittajien laadun ja FHIR-yhdenmukaisuuden, mittaussitoutumisen, hälytykset ja verenpaineen kehityksen sekamallilla sekä kustannus-hyötymallin herkkyyden. Julkaistuissa taulukoissa ei ole tunnisteita, ja alle viiden henkilön solut on peitetty.

*Device data like Tampere's KOTIDIGI platform, **synthetic**: simulate FHIR streams from several vendors, ingest them into a tidy table, and report data quality, vendor conformance, adherence, alerts, a mixed-model blood-pressure trend and the cost-benefit sensitivity. No identifiers in published tables; cells under five persons suppressed.*"""),
    ("code", ["parameters"], """lang: str = "fi"  # fi, sv or en
config_file: str = "kotidigi/synthetic_simulation_config.yml"  # simulator settings under data/raw (SYNTHETIC)
thresholds_file: str = "kotidigi/alert_thresholds.csv"  # documented alert thresholds under data/raw
projection_file: str = "kotidigi/cost_benefit_projection.csv"  # cited cost-benefit projection under data/raw
n_clients: int = 0  # clients to simulate; 0 takes the config file's value
days: int = 0  # days to simulate; 0 takes the config file's value
fhir_format: str = "ndjson"  # ndjson (bulk data) or bundle (transaction Bundles)
workers: int = 2  # processes for the ingest
conformance_sample: int = 300  # resources per vendor checked strictly with fhir.resources
adherence_codes: str = "8480-6"  # comma-separated LOINC codes that count as a measurement day
min_persons: int = 5  # published cells counting fewer persons are suppressed
service_cost_low: float = 0.0  # low end of the service cost per client in EUR (not published; kuntalib assumption)
service_cost_high: float = 300.0  # high end of the service cost per client in EUR (not published; kuntalib assumption)"""),
    ("code", None, """import matplotlib.pyplot as plt
import numpy as np
import yaml

from kuntalib import paths, theme
from kuntalib.fhir import analysis, charts
from kuntalib.fhir.conformance import conformance_report
from kuntalib.fhir.costbenefit import grid, load_projection, tornado
from kuntalib.fhir.ingest import ingest_bundles, ingest_ndjson, load_devices
from kuntalib.fhir.resources import write_bundles, write_ndjson
from kuntalib.fhir.simulate import CohortConfig, simulate_cohort
from kuntalib.outputs import save_figure, save_table
from kuntalib.provenance import open_raw

NOTEBOOK = "02_device_data"
theme.set_theme()


def publish(df, name):
    \"\"\"Save a published table: no identifier columns, labelled synthetic.\"\"\"
    analysis.check_publishable(df, name)
    save_table(df.assign(synthetic=True), name, notebook=NOTEBOOK, lang=lang)
    return df"""),
    ("markdown", None, "## Simulointi / Simulation (SYNTHETIC)"),
    ("code", None, """cfg_path, cfg_prov = open_raw(*config_file.split("/"))
assert cfg_prov.synthetic, f"{config_file}: the simulator settings must be marked synthetic"
raw_cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
settings = dict(raw_cfg["cohort"])
settings.update({k: v for k, v in {"n_clients": n_clients, "days": days}.items() if v})
config = CohortConfig(**settings)
cohort = simulate_cohort(config, raw_cfg["seed"])
work = paths.data_processed() / "kotidigi" / f"synthetic-seed{raw_cfg['seed']}-n{config.n_clients}-d{config.days}-{fhir_format}-{lang}"
if fhir_format == "ndjson":
    files = write_ndjson(cohort, work / "fhir")
    observation_files = [files["Observation"]]
elif fhir_format == "bundle":
    files = write_ndjson(cohort, work / "fhir")  # Device.ndjson for the vendor map and the conformance sample
    observation_files = write_bundles(cohort, work / "bundles")
else:
    raise ValueError(f"fhir_format must be ndjson or bundle, got {fhir_format!r}")
truth = cohort.measurements
print(f"{config.n_clients} clients, {len(cohort.devices)} devices, {len(truth)} resources sent; faults injected:")
truth["fault"].replace("", "none").value_counts()"""),
    ("markdown", None, "## Luku siistiksi taulukoksi / Ingest"),
    ("code", None, """devices = load_devices([files["Device"]])
ingest = ingest_ndjson if fhir_format == "ndjson" else ingest_bundles
result = ingest(observation_files, work / "tidy", devices=devices, workers=workers)
print(result.summary())
assert result.accepted + result.rejected == result.lines
obs = result.read()
counts = result.by_reason().rename_axis("reason").reset_index(name="lines")
publish(counts, "ingest_rejected_by_reason")"""),
    ("markdown", None, "## Laatu ja yhdenmukaisuus toimittajittain / Quality and conformance by vendor"),
    ("code", None, """quality_all = analysis.quality_table(obs, result.rejects)
quality_pub = analysis.suppress_small(quality_all, "persons", k=min_persons)
publish(quality_pub.round(2), "quality_by_vendor")
quality = quality_all[~quality_pub["suppressed"].to_numpy()]  # charts show only vendors with enough persons
by_device = analysis.quality_table(obs, result.rejects, by=("vendor", "device_type"))
publish(analysis.suppress_small(by_device, "persons", k=min_persons).round(2), "quality_by_vendor_device")
ax = charts.plot_quality(quality, lang=lang)
save_figure(ax, "quality_rejected", notebook=NOTEBOOK, lang=lang)
plt.show()
ax = charts.plot_flags(quality, lang=lang)
save_figure(ax, "quality_flags", notebook=NOTEBOOK, lang=lang)
plt.show()"""),
    ("code", None, """report = conformance_report(files["Observation"], devices=devices, sample_per_vendor=conformance_sample, rng=raw_cfg["seed"])
print(report.summary())
publish(report.vendors, "conformance_by_vendor")
publish(report.issues, "conformance_issues")
ax = charts.plot_conformance(report, lang=lang)
save_figure(ax, "conformance", notebook=NOTEBOOK, lang=lang)
plt.show()"""),
    ("markdown", None, "## Mittaussitoutuminen / Adherence"),
    ("code", None, """codes = tuple(c.strip() for c in adherence_codes.split(",") if c.strip())
adh = analysis.adherence(obs, start=config.start, days=config.days, tz=config.timezone, codes=codes)
adh_summary = analysis.suppress_small(analysis.adherence_summary(adh), "persons", k=min_persons)
publish(adh_summary.round(1), "adherence_by_week")
ax = charts.plot_adherence(adh_summary, lang=lang)
save_figure(ax, "adherence", notebook=NOTEBOOK, lang=lang)
plt.show()"""),
    ("markdown", None, "## Hälytykset / Alerts"),
    ("code", None, """th_path, th_prov = open_raw(*thresholds_file.split("/"))
thresholds = analysis.load_thresholds(th_path)
alert_rows = analysis.alerts(obs, thresholds, tz=config.timezone)
alert_summary = analysis.suppress_small(analysis.alert_summary(alert_rows, start=config.start, tz=config.timezone), "persons",
                                        k=min_persons, columns=["alerts"])
publish(alert_summary, "alerts_by_week")
ax = charts.plot_alerts(alert_summary, thresholds, lang=lang)
save_figure(ax, "alerts", notebook=NOTEBOOK, lang=lang)
plt.show()
thresholds[["rule_id", f"label_{lang}", "source"]]"""),
    ("markdown", None, "## Verenpaineen kehitys / Blood-pressure trend"),
    ("code", None, """trend = analysis.fit_bp_trend(obs, start=config.start, tz=config.timezone)
print(trend.summary())
publish(trend.to_frame().round(3), "bp_trend_fixed_effects")
ax = charts.plot_trend(trend, lang=lang)
save_figure(ax, "bp_trend", notebook=NOTEBOOK, lang=lang)
plt.show()"""),
    ("markdown", None, "## Kustannus-hyötymalli / Cost-benefit"),
    ("code", None, """pr_path, pr_prov = open_raw(*projection_file.split("/"))
settings_cb = load_projection(pr_path)
print(pr_prov.citation(), f"- implied cost of a hospital day {settings_cb.cost_per_day:.0f} EUR")
table = tornado(settings_cb, absolute={"cost_per_client": (service_cost_low, service_cost_high)})
save_table(table.round(2), "cost_benefit_sensitivity", notebook=NOTEBOOK, lang=lang)
two_way = grid(settings_cb, np.array([2000, 3000, 4000, 5000, 6000]), np.array([1, 2, 3, 4, 5]))
save_table((two_way / 1e6).round(2).reset_index(), "cost_benefit_grid_meur", notebook=NOTEBOOK, lang=lang)
ax = charts.plot_tornado(table, settings_cb, lang=lang)
save_figure(ax, "cost_benefit_tornado", notebook=NOTEBOOK, lang=lang)
plt.show()
(two_way / 1e6).round(1)"""),
]

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "notebooks" / "02_device_data.ipynb"
    write_notebook(CELLS, out)
    print(out)
