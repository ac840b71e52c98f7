"""KOTIDIGI-style device data: simulator, FHIR writers, ingest, conformance, analysis, cost-benefit."""

import http.server
import threading

import numpy as np
import orjson
import pandas as pd
import pytest

from kuntalib.fhir import analysis, charts
from kuntalib.fhir.catalogue import MEASURES, UnitError, convert_unit
from kuntalib.fhir.conformance import check_profile, conformance_report, validate_r4b
from kuntalib.fhir.costbenefit import CostBenefitSettings, grid, load_projection, net_benefit, tornado
from kuntalib.fhir.ingest import ingest_bundles, ingest_ndjson, load_devices
from kuntalib.fhir.parse import IngestOptions
from kuntalib.fhir.resources import iter_observations, stream_observations, write_bundles, write_ndjson
from kuntalib.fhir.simulate import CohortConfig, simulate_cohort
from tests.conftest import REPO

KANTA = REPO / "tests" / "fixtures" / "kanta-phr"  # CC0 examples of fhir-fi/finnish-base-profiles (see its README)
SMALL = CohortConfig(n_clients=24, days=14, share_diabetic=0.4, share_cgm=0.3, cgm_minutes=60, p_duplicate=0.03,
                     p_implausible=0.01, p_wrong_unit=0.2, p_absent_component=0.02)


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(SMALL, 11)


@pytest.fixture(scope="module")
def written(cohort, tmp_path_factory):
    return write_ndjson(cohort, tmp_path_factory.mktemp("fhir"))


@pytest.fixture(scope="module")
def ingested(written, tmp_path_factory):
    devices = load_devices([written["Device"]])
    return ingest_ndjson(written["Observation"], tmp_path_factory.mktemp("tidy"), devices=devices)


# -- catalogue and simulator --------------------------------------------------------------------

def test_unit_translations():
    assert convert_unit(180.16, "mg/dL", MEASURES["glucose_meter"])[0] == pytest.approx(10.0, rel=1e-3)
    assert convert_unit(98.6, "[degF]", MEASURES["temperature"]) == (pytest.approx(37.0), True)
    assert convert_unit(100, "lbs", MEASURES["weight"])[0] == pytest.approx(45.359237)
    assert convert_unit(120, "mmHg", MEASURES["systolic"]) == (120, False)
    with pytest.raises(UnitError, match="'kg' cannot be translated to 'mm\\[Hg\\]'"):
        convert_unit(1, "kg", MEASURES["systolic"])


def test_simulator_is_seeded(cohort):
    again = simulate_cohort(SMALL, 11)
    pd.testing.assert_frame_equal(cohort.measurements, again.measurements)
    other = simulate_cohort(SMALL, 12)
    assert not cohort.measurements["value"].equals(other.measurements["value"])


def test_simulator_config_is_validated():
    with pytest.raises(ValueError, match="p_late = 1.5 must lie between 0 and 1"):
        CohortConfig(p_late=1.5)
    with pytest.raises(ValueError, match="cgm_minutes"):
        CohortConfig(cgm_minutes=7)


def test_simulator_injects_every_fault(cohort):
    faults = set(cohort.measurements["fault"])
    assert {"duplicate", "implausible", "wrong_unit", "missing_timezone", "late_arrival", "absent_component"} <= faults
    dup = cohort.measurements[cohort.measurements["fault"] == "duplicate"]
    orig = cohort.measurements.set_index("obs_no").loc[dup["duplicate_of"]]
    assert (orig["value"].to_numpy() == dup["value"].to_numpy()).all()


def test_writers_label_synthetic_and_are_reproducible(cohort, written, tmp_path):
    again = write_ndjson(simulate_cohort(SMALL, 11), tmp_path)
    assert again["Observation"].read_bytes() == written["Observation"].read_bytes()
    for kind in ("Patient", "Device", "Observation"):
        for line in written[kind].read_bytes().splitlines()[:50]:
            doc = orjson.loads(line)
            assert {t["code"] for t in doc["meta"]["tag"]} >= {"HTEST", "synthetic"}
            assert "name" not in doc or kind == "Device"
    obs = [orjson.loads(x) for x in written["Observation"].read_bytes().splitlines()]
    bp = next(o for o in obs if o["code"]["coding"][-1]["code"] == "85354-9")
    assert [c["code"]["coding"][-1]["code"] for c in bp["component"]] == ["8480-6", "8462-4"]
    assert any(o["code"]["coding"][0]["system"] == "urn:iso:std:iso:11073:10101" for o in obs)  # vendor B: MDC first
    assert any("effectivePeriod" in o for o in obs)  # CGM


# -- ingest -------------------------------------------------------------------------------------

def test_ingest_accounts_for_every_line(cohort, ingested):
    truth = cohort.measurements
    assert ingested.lines == len(truth) == ingested.accepted + ingested.rejected
    reasons = ingested.by_reason()
    assert reasons.get("duplicate", 0) == (truth["fault"] == "duplicate").sum()
    bad = truth[truth["fault"].isin(["implausible", "wrong_unit"])]
    ranges = bad["measure"].map(lambda m: MEASURES["systolic" if m == "bp_panel" else m].plausible)
    outside = [not lo <= v <= hi for v, (lo, hi) in zip(bad["value"], ranges, strict=True)]
    assert 0 < reasons.get("implausible", 0) == sum(outside)  # a mislabelled low glucose can stay plausible
    obs = ingested.read()
    lines = obs.drop_duplicates(["source", "line"])
    accepted_truth = truth[truth["fault"] != "duplicate"].drop(bad.index[outside])
    assert lines["tz_assumed"].sum() == accepted_truth["naive_time"].sum() > 0


def test_the_faults_table_says_what_became_of_each_injected_fault(cohort, ingested):
    truth, rejects = cohort.measurements, ingested.rejects
    source = rejects.source.iloc[0]
    table = analysis.fault_outcomes(truth, rejects, source=source).set_index("fault")
    assert table.resources.to_dict() == truth.fault.replace("", "none").value_counts().to_dict()
    assert (table.drop(columns="resources").sum(axis=1) == table.resources).all()  # every line once
    assert {c.removeprefix("rejected_"): int(n) for c, n in table.filter(like="rejected_").sum().items()} == ingested.by_reason().to_dict()
    assert table.loc["duplicate", "rejected_duplicate"] == table.loc["duplicate", "resources"]
    kept = ["none", "clock_drift", "missing_timezone", "late_arrival", "absent_component"]
    assert (table.loc[table.index.intersection(kept), "accepted"] == table.loc[table.index.intersection(kept), "resources"]).all()
    wrong = truth[truth.fault == "wrong_unit"]
    outside = sum(not lo <= v <= hi for v, (lo, hi) in zip(wrong.value, [MEASURES[m].plausible for m in wrong.measure], strict=True))
    assert 0 < table.loc["wrong_unit", "rejected_implausible"] == outside  # a mislabelled low glucose can stay plausible
    with pytest.raises(ValueError, match=f"{source}: line {len(truth) + 1} is not a resource"):
        analysis.fault_outcomes(truth, pd.concat([rejects, rejects.tail(1).assign(line=len(truth) + 1)]), source=source)


def test_ingest_values_match_the_truth(cohort, ingested):
    truth = cohort.measurements
    ok = truth[truth["fault"].isin(["", "clock_drift", "missing_timezone", "late_arrival"])]
    obs = ingested.read()
    sys_truth = np.sort(ok.loc[ok["measure"] == "bp_panel", "value"].to_numpy())
    sys_obs = np.sort(obs.loc[obs["code"] == "8480-6", "value"].dropna().to_numpy())
    ab = truth[truth["fault"] == "absent_component"]
    assert np.array_equal(np.sort(np.concatenate([sys_truth, ab["value"].to_numpy()])), sys_obs)
    mg = ok[(ok["measure"] == "glucose_meter") & (ok["unit"] == "mg/dL")]
    translated = obs[(obs["code"] == "14743-9") & obs["unit_translated"]]
    assert len(translated) == len(mg) > 0
    assert np.allclose(np.sort(translated["value"]), np.sort(mg["value"] / 18.016))
    dia_absent = obs[(obs["code"] == "8462-4") & obs["absent_reason"].notna()]
    assert len(dia_absent) == len(ab) and dia_absent["value"].isna().all()
    t = ok[ok["fault"] == ""].iloc[0]
    assert (obs["time_utc"] == t["device_time_utc"]).any()


def test_parallel_and_bucketed_ingest_give_the_same_table(written, ingested, tmp_path):
    devices = load_devices([written["Device"]])
    par = ingest_ndjson(written["Observation"], tmp_path / "par", devices=devices, workers=2, range_bytes=50_000, rows_per_bucket=500)
    assert par.buckets > 1
    key = ["source", "line", "code"]
    a = ingested.read().sort_values(key).reset_index(drop=True)
    b = par.read().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ingested.rejects, par.rejects)


def test_bundles_ingest_like_ndjson(cohort, ingested, tmp_path):
    paths = write_bundles(cohort, tmp_path / "b", per_bundle=200)
    res = ingest_bundles(paths[1:], tmp_path / "t", devices=load_devices([]))
    assert res.lines == ingested.lines and res.rejected == ingested.rejected
    a = ingested.read()["value"].dropna().sort_values().to_numpy()
    b = res.read()["value"].dropna().sort_values().to_numpy()
    assert np.array_equal(a, b)


def _obs(**over):
    base = {"resourceType": "Observation", "id": "x", "status": "final",
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"}],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "27113001"}, {"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-03-01T08:00:00.123+02:00",
            "valueQuantity": {"value": 80.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


EDGE_LINES = [
    _obs(),                                                                              # 1 ok, LOINC second, ms + offset
    b"{not json",                                                                        # 2
    {"resourceType": "Patient", "id": "p1"},                                             # 3
    _obs(id="s", identifier=None, valueQuantity={"value": "80", "unit": "kg"}),          # 4 value as string
    _obs(id="n", identifier=None, subject=None),                                         # 5
    _obs(id="l", identifier=None, code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}),  # 6
    _obs(id="p", identifier=None, effectiveDateTime=None,
         effectivePeriod={"start": "2024-03-02T10:00:00Z", "end": "2024-03-02T10:15:00Z"}),  # 7 ok, period
    _obs(id="d", identifier=None, effectiveDateTime="2024-03-03"),                       # 8 ok, day precision
    _obs(id="z", identifier=None, effectiveDateTime="2024-03-04T08:00:00"),              # 9 ok, tz assumed
    _obs(id="y", identifier=None, effectiveDateTime="2024"),                             # 10 imprecise
    _obs(id="c", identifier=None, code={"coding": [{"system": "http://loinc.org", "code": "14743-9"}]},
         valueQuantity={"value": 33.3, "comparator": ">", "unit": "mmol/l", "system": "http://unitsofmeasure.org",
                        "code": "mmol/L"}),                                              # 11 ok, comparator
    _obs(id="b", identifier=None, code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}, valueQuantity=None,
         component=[{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                     "valueQuantity": {"value": 16, "unit": "kPa", "system": "http://unitsofmeasure.org", "code": "kPa"}},
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                     "dataAbsentReason": {"coding": [{"code": "error"}]}}]),             # 12 ok, kPa, absent
    _obs(id="u", identifier=None, valueQuantity={"value": 80, "unit": "stone"}),         # 13 unit unknown
    _obs(id="t", identifier=None, valueQuantity=None, valueString="HIGH"),               # 14
    _obs(id="e", identifier=None, status="entered-in-error"),                            # 15
    _obs(id="q", identifier=None, effectiveDateTime="2024-13-45T08:00:00Z"),             # 16 bad time
    _obs(id="v", identifier=None, valueQuantity=None),                                   # 17 no value
    _obs(id="dup"),                                                                      # 18 same identifier as line 1
]
EXPECTED = {2: "invalid_json", 3: "not_observation", 4: "invalid_type", 5: "missing_subject", 6: "no_loinc", 10: "imprecise_time",
            13: "unit_unknown", 14: "value_not_quantity", 15: "entered_in_error", 16: "bad_time", 17: "no_value", 18: "duplicate"}


def _write_lines(path, items):
    with open(path, "wb") as fh:
        for it in items:
            fh.write((it if isinstance(it, bytes) else orjson.dumps(it)) + b"\n")
    return path


def test_ingest_edge_cases_name_line_and_reason(tmp_path):
    path = _write_lines(tmp_path / "edge.ndjson", EDGE_LINES)
    res = ingest_ndjson(path, tmp_path / "out")
    got = dict(zip(res.rejects["line"], res.rejects["reason"], strict=True))
    assert got == EXPECTED
    assert "$.valueQuantity.value" in res.rejects.set_index("line").loc[4, "detail"]
    assert res.rejects.set_index("line").loc[2, "raw"] == "{not json"
    obs = res.read().set_index("observation_id")
    assert obs.loc["x", "time_utc"] == pd.Timestamp("2024-03-01T06:00:00.123Z")
    assert obs.loc["p", "time_utc"] == pd.Timestamp("2024-03-02T10:00Z") and obs.loc["p", "period_end_utc"].minute == 15
    assert obs.loc["d", "time_precision"] == "day"
    assert obs.loc["z", "tz_assumed"] and obs.loc["z", "time_utc"] == pd.Timestamp("2024-03-04T06:00Z")
    assert obs.loc["c", "comparator"] == ">" and obs.loc["c", "value"] == 33.3
    bp = obs.loc["b"].set_index("code")
    assert bp.loc["8480-6", "value"] == pytest.approx(120.0, abs=0.01) and bp.loc["8480-6", "unit_translated"]
    assert np.isnan(bp.loc["8462-4", "value"]) and bp.loc["8462-4", "absent_reason"] == "error"
    strict = ingest_ndjson(path, tmp_path / "strict", options=IngestOptions(assume_timezone=None))
    assert strict.rejects.set_index("line").loc[9, "reason"] == "missing_timezone"


def test_kanta_phr_examples(tmp_path):
    files = sorted(p for p in KANTA.glob("*.json") if "bundle" not in p.name)
    path = _write_lines(tmp_path / "kanta.ndjson", [orjson.dumps(orjson.loads(p.read_bytes())) for p in files])
    res = ingest_ndjson(path, tmp_path / "out")
    by_file = {files[line - 1].name: reason for line, reason in zip(res.rejects["line"], res.rejects["reason"], strict=True)}
    assert by_file["Observation-example-duplicate-7.json"] == "invalid_type"  # "value": "182" is a string
    assert by_file["kanta-phr-patient-1.json"] == "not_observation"
    assert res.accepted + res.rejected == res.lines == len(files)
    # the examples reuse identifiers: BP min repeats BP max; both body weights reuse the BP's identifier
    assert by_file["Observation-example-Bloodpressure-min.json"] == "duplicate"
    assert by_file["Observation-example-BodyWeight-max.json"] == "identifier_conflict"
    assert by_file["observation-example-bloodglucose-dataabsentreason.json"] == "identifier_conflict"
    obs = res.read()
    assert {"8480-6", "8462-4", "15074-8", "14743-9"} <= set(obs["code"])
    assert (obs["comparator"] == "<").any()  # Bloodglucose-max
    assert set(obs.loc[obs["absent_reason"].notna(), "absent_reason"]) <= {"error", "astext"}
    bundle = ingest_bundles(KANTA / "diabetes-data-bundle-kantaphr-r4-en.json", tmp_path / "b")
    assert bundle.lines == 300 and bundle.by_reason()["not_observation"] == 111
    assert bundle.accepted == 189 and set(bundle.read()["code"]) == {"14745-4", "9059-7"}


# -- conformance --------------------------------------------------------------------------------

def test_conformance_fails_the_sloppy_vendor(written):
    rep = conformance_report(written["Observation"], devices=load_devices([written["Device"]]), sample_per_vendor=40, rng=1)
    v = rep.vendors.set_index("vendor")
    assert v.loc["vendor_a", "passed"] and v.loc["vendor_b", "passed"] and v.loc["vendor_c", "passed"]
    assert not v.loc["vendor_d", "passed"]
    assert set(rep.issues.loc[rep.issues["vendor"] == "vendor_d", "issue"]) >= {"R3 UCUM system and code on quantities"}


def test_profile_and_r4b_rules():
    bp = _obs(code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}, valueQuantity=None,
              component=[{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                          "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}])
    assert {"R1", "R6", "R7"} <= set(check_profile(bp))
    assert validate_r4b(orjson.dumps(_obs(effectiveDateTime="2024-03-04T08:00:00"))) == ["effectiveDateTime"]
    assert validate_r4b(orjson.dumps(_obs())) == []


# -- analysis -----------------------------------------------------------------------------------

def test_quality_table_adds_up(ingested):
    q = analysis.quality_table(ingested.read(), ingested.rejects)
    assert q["lines"].sum() == ingested.lines and q["rejected"].sum() == ingested.rejected
    assert q.set_index("vendor").loc["vendor_d", "tz_assumed_pct"] > 0 == q.set_index("vendor").loc["vendor_a", "tz_assumed_pct"]


def test_quality_by_vendor_and_device_type(ingested):
    q = analysis.quality_table(ingested.read(), ingested.rejects, by=("vendor", "device_type"))
    assert q["lines"].sum() == ingested.lines and q["rejected"].sum() == ingested.rejected
    assert "unknown" not in set(q["device_type"])  # rejected lines are traced to their device
    obs = ingested.read()
    assert q.groupby("vendor")["persons"].sum().min() >= 1
    assert analysis.quality_table(obs, ingested.rejects)["persons"].sum() == obs.groupby("vendor")["patient"].nunique().sum()
    assert set(q.loc[q["vendor"] == "vendor_c", "device_type"]) <= {"glucometer", "cgm"}


def test_adherence_counts_days():
    t = pd.to_datetime(["2024-01-01T08:00Z", "2024-01-01T18:00Z", "2024-01-02T08:00Z", "2024-01-03T08:00Z", "2024-01-09T08:00Z"])
    obs = pd.DataFrame({"patient": "p", "time_utc": t, "code": "8480-6"})
    adh = analysis.adherence(obs, start="2024-01-01", days=14, codes=("8480-6",)).set_index("week")
    assert adh.loc[1, "days_measured"] == 3 and adh.loc[1, "share"] == pytest.approx(3 / 7)
    assert adh.loc[2, "days_measured"] == 1


def test_alert_rules():
    th = analysis.load_thresholds(REPO / "data" / "raw" / "kotidigi" / "alert_thresholds.csv")
    t = pd.date_range("2024-01-01T07:00Z", periods=6, freq="D")
    weight = pd.DataFrame({"patient": "p", "time_utc": t, "code": "29463-7", "value": [80, 80.2, 81.0, 82.4, 82.5, 80]})
    sbp = pd.DataFrame({"patient": "q", "time_utc": t[:2], "code": "8480-6", "value": [185.0, 179.0]})
    al = analysis.alerts(pd.concat([weight, sbp]), th)
    assert al.groupby("rule_id").size().to_dict() == {"sbp_high": 1, "weight_gain": 2}


def test_privacy_helpers():
    df = pd.DataFrame({"week": [1, 2], "persons": [3, 12], "alerts": [4, 20]})
    out = analysis.suppress_small(df, "persons")
    assert out["suppressed"].tolist() == [True, False] and np.isnan(out.loc[0, "alerts"]) and out.loc[1, "alerts"] == 20
    with pytest.raises(ValueError, match="'patient' identifies"):
        analysis.check_publishable(pd.DataFrame({"patient": ["a"]}), "t")


def test_mixed_model_recovers_the_simulated_drift(tmp_path):
    cfg = CohortConfig(n_clients=60, days=56, share_treated=0.0, share_oximeter=0, share_thermometer=0, share_diabetic=0,
                       p_implausible=0, p_duplicate=0)
    c = simulate_cohort(cfg, 5)
    files = write_ndjson(c, tmp_path)
    obs = ingest_ndjson(files["Observation"], tmp_path / "t").read()
    tr = analysis.fit_bp_trend(obs, start=cfg.start)
    slope = tr.fixed.set_index("term").loc["week"]
    assert slope.ci_low < 0.2 < slope.ci_high  # the simulator's mean drift: +0.2 mmHg a week
    assert "mmHg/week" in tr.summary()


# -- cost-benefit ---------------------------------------------------------------------------------

def test_cost_benefit_reproduces_the_projection():
    s = load_projection(REPO / "data" / "raw" / "kotidigi" / "cost_benefit_projection.csv")
    assert s.cost_per_day == pytest.approx(5_000_000 / 12_000) and s.source("cost_per_day") == "implied"
    assert s.source("cost_per_client") == "not published"
    assert net_benefit(s) == pytest.approx(5_000_000)
    t = tornado(s, service_cost=(0, 300)).set_index("input")
    assert t["swing"].is_monotonic_decreasing
    assert t.loc["cost_per_client", "net_high"] == pytest.approx(5_000_000 - 4000 * 300)
    # The unknown service cost is a range, never 0: the base case spans it and every other input is read over it.
    assert t["base_min"].iloc[0] == pytest.approx(3_800_000) and t["base_max"].iloc[0] == pytest.approx(5_000_000)
    assert t.loc["clients", "net_low_min"] < t.loc["clients", "net_low"] < t.loc["clients", "net_low_max"]
    # The documented ranges differ, so the bars do.
    assert t.loc[["clients", "days_avoided", "cost_per_day"], "swing"].nunique() == 3
    with pytest.raises(ValueError, match="service_cost"):
        tornado(s, service_cost=(300, 0))
    g = grid(s, np.array([4000]), np.array([3]))
    assert g.iloc[0, 0] == pytest.approx(5_000_000)
    with pytest.raises(ValueError, match="clients must not be negative"):
        CostBenefitSettings(clients=-1, days_avoided=1, cost_per_day=1)


# -- streaming to an endpoint ---------------------------------------------------------------------

class _Collector(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        doc = orjson.loads(body)
        self.received.append((self.path, self.headers["Content-Type"], doc))
        status = 500 if doc["id"] == "fail" else 201
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_stream_posts_to_a_local_fhir_endpoint(cohort):
    _Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rep = stream_observations(cohort, f"http://127.0.0.1:{server.server_port}/fhir", speedup=1e9, limit=25)
    finally:
        server.shutdown()
    assert rep.sent == rep.accepted == 25 and rep.statuses == {201: 25}
    paths = {p for p, _, _ in _Collector.received}
    assert paths == {"/fhir/Observation"}
    assert all(ct == "application/fhir+json" for _, ct, _ in _Collector.received)
    sent_ids = [d["id"] for _, _, d in _Collector.received]
    assert sent_ids == [o["id"] for o, _ in zip(iter_observations(cohort), range(25), strict=False)]


# -- charts ---------------------------------------------------------------------------------------

def test_charts_are_stamped_synthetic(ingested, written):
    obs = ingested.read()
    q = analysis.quality_table(obs, ingested.rejects)
    th = analysis.load_thresholds(REPO / "data" / "raw" / "kotidigi" / "alert_thresholds.csv")
    summary = analysis.suppress_small(analysis.alert_summary(analysis.alerts(obs, th), start=SMALL.start), "persons",
                                      columns=["alerts"])
    adh = analysis.adherence_summary(analysis.adherence(obs, start=SMALL.start, days=SMALL.days))
    rep = conformance_report(written["Observation"], devices=load_devices([written["Device"]]), sample_per_vendor=5)
    for ax in (charts.plot_quality(q, lang="sv"), charts.plot_flags(q, lang="en"), charts.plot_alerts(summary, th),
               charts.plot_adherence(adh), charts.plot_conformance(rep)):
        assert any("SYNT" in t.get_text() for t in ax.figure.texts)
    s = load_projection(REPO / "data" / "raw" / "kotidigi" / "cost_benefit_projection.csv")
    ax = charts.plot_tornado(tornado(s, service_cost=(0, 300)), s, lang="fi")
    assert not any("SYNT" in t.get_text() for t in ax.figure.texts)
    assert any("ei julkaistu" in t.get_text() or "johdettu" in t.get_text() for t in ax.get_yticklabels())


def test_simulator_settings_file_is_validated(tmp_path):
    from kuntalib.fhir.simulate import load_cohort_config

    shipped = REPO / "data" / "raw" / "kotidigi" / "synthetic_simulation_config.yml"
    cfg, seed = load_cohort_config(shipped)
    assert (cfg.n_clients, cfg.days, seed) == (150, 84, 2021)
    cfg, _ = load_cohort_config(shipped, n_clients=20, days=7)
    assert (cfg.n_clients, cfg.days, cfg.share_cgm) == (20, 7, 0.2)
    text = shipped.read_text(encoding="utf-8")
    bad = tmp_path / "sim.yml"
    for change, message in [
        (("synthetic: true", "synthetic: false"), "must say 'synthetic: true'"),
        (("  days: 84", "  dayz: 84"), "cohort: unknown setting.s. dayz"),
        (("  p_late: 0.02", "  p_late: 1.5"), "sim.yml: cohort: "),
        (("seed: 2021", "seed: x"), "integer 'seed'"),
    ]:
        bad.write_text(text.replace(*change), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_cohort_config(bad)
