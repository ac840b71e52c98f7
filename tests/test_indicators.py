"""Strategy follow-up: file format, status rules, charts, PxWeb client (offline, loopback)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kuntalib.indicators import (
    ImpactChainError,
    IndicatorFileError,
    StatusRules,
    evaluate,
    load_impact_chain,
    load_indicator_file,
)
from kuntalib.indicators.charts import plot_dashboard, plot_impact_chain, plot_trajectory
from kuntalib.indicators.model import parse_indicator_file
from kuntalib.indicators.pxweb import PxWebError, fetch, parse_jsonstat2, query_body
from kuntalib.provenance import open_raw

FIXTURES = Path(__file__).parent / "fixtures"


def _file(**over):
    ind = {"id": "pop", "label": {"fi": "Asukasluku"}, "unit": {"fi": "as."}, "direction": "higher",
           "baseline": {"date": "2020-01-01", "value": 100},
           "target": {"date": "2025-01-01", "value": 90, "kind": "at_least", "source": "s"},
           "observations": [{"date": f"{y}-01-01", "value": v, "source": "s"} for y, v in over.pop("obs", [(2020, 100), (2022, 96)])]}
    ind.update(over)
    return parse_indicator_file({"indicators": [ind], "sources": {"s": "test"}}, Path("test.yml"))


def test_rautjarvi_statuses():
    path, _ = open_raw("strategy", "rautjarvi", "indicators.yml")
    res = evaluate(load_indicator_file(path), as_of="2022-06-30")  # the round of 30.6.2022
    t = res.table()
    assert t.loc["population", "target"] == "green"          # 3099 ≥ 3028
    assert t.loc["jobs", "target"] == "yellow"               # 898 vs 900, within 2 %
    assert t.loc["net_migration", "target"] == "red"         # 10 vs 25
    assert t.loc["margin_to_depreciation", "target"] == "green"
    assert t.loc["income_tax", "target"] == "unknown"        # no national average for 2018 in the sources
    assert t.loc["population", "forecast"] == "red" and res.forecasts["population"].probability < 0.2
    assert t.loc["jobs", "trajectory"] == "unknown" and t.loc["jobs", "forecast"] == "not_estimable"
    # everything in the file: the round of the latest value (30.9.2023), where jobs has no value of its own
    latest = evaluate(load_indicator_file(path)).table()
    assert latest.loc["population", "target"] == "green" and latest.loc["jobs", "target"] == "unknown"


def test_target_trajectory_and_tolerance():
    f = _file()
    t = evaluate(f, StatusRules(tolerance=0.0)).table()
    assert t.loc["pop", "target"] == "green"
    # path 100 -> 90 over 5 years: expected 96 at 2022; 96 meets it
    assert t.loc["pop", "trajectory"] == "green"
    f = _file(obs=[(2020, 100), (2022, 88.5)])
    assert evaluate(f, StatusRules(tolerance=0.02)).table().loc["pop", "target"] == "yellow"
    assert evaluate(f, StatusRules(tolerance=0.01)).table().loc["pop", "target"] == "red"


def test_forecast_probability_follows_the_trend():
    rising = _file(obs=[(2015 + i, 80 + 2 * i) for i in range(8)])
    falling = _file(obs=[(2015 + i, 110 - 3 * i + (i % 2)) for i in range(8)])
    up, down = evaluate(rising).forecasts["pop"], evaluate(falling).forecasts["pop"]
    assert up.probability > 0.95 and down.probability < 0.05
    assert (up.band.lower <= up.band["mean"]).all() and (up.band["mean"] <= up.band.upper).all()
    assert evaluate(_file()).table().loc["pop", "forecast"] == "not_estimable"


def test_rules_are_validated():
    with pytest.raises(ValueError, match="tolerance"):
        StatusRules(tolerance=1.5)
    with pytest.raises(ValueError, match="min_points"):
        StatusRules(min_points=2)


@pytest.mark.parametrize("change, message", [
    ({"direction": "up"}, "direction must be"),
    ({"target": {"date": "2025-01-01", "value": 1, "kind": "maybe"}}, "target needs"),
    ({"observations": [{"date": "2020-01-01", "value": "many", "source": "s"}]}, r"observations\[0\]: value 'many'"),
    ({"observations": [{"date": "2020-01-01", "value": 1, "source": "nowhere"}]}, "source 'nowhere'"),
    ({"label": {"fi": "x", "de": "y"}}, "unknown language 'de'"),
])
def test_bad_files_name_the_place(change, message):
    with pytest.raises(IndicatorFileError, match=message) as exc:
        _file(**change)
    assert "test.yml: indicator 'pop'" in str(exc.value)


def test_malformed_yaml(tmp_path):
    p = tmp_path / "x.yml"
    p.write_text("indicators: [\n")
    with pytest.raises(IndicatorFileError, match="x.yml: not valid YAML"):
        load_indicator_file(p)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_charts_return_axes(lang):
    path, _ = open_raw("strategy", "rautjarvi", "indicators.yml")
    f = load_indicator_file(path)
    res = evaluate(f)
    ax = plot_dashboard(res, lang=lang)
    texts = [t.get_text() for t in ax.texts]
    lights = [t.get_text() for t in ax.texts if t.get_zorder() == 4]  # the symbol on each light
    assert len(ax.collections) == len(lights) == 3 * len(f.indicators)
    assert set(lights) <= {"✓", "!", "✗", "?", "–"}
    assert sum(t == "–" for t in texts) >= 1  # an actual the round does not have
    ax = plot_trajectory(f.get("population"), res.forecasts["population"], lang=lang)
    assert ax.get_legend() is not None and len(ax.collections) >= 1
    chain_path, _ = open_raw("strategy", "hamina", "mito_impact_chain.yml")
    ax = plot_impact_chain(load_impact_chain(chain_path), lang=lang)
    assert len(ax.patches) == 11 + 2  # 11 boxes, 2 arrows
    assert ax.get_title(loc="left") == {"fi": "Hyvinvoinnin ja mielenterveysosaamisen lisääminen kasvatus- ja opetusyhteisöissä",
                                        "sv": "Mer välbefinnande och kompetens i psykisk hälsa i fostrings- och undervisningsgemenskaper",
                                        "en": "More wellbeing and mental-health competence in education communities"}[lang]
    title = plot_dashboard(res, lang=lang).get_title(loc="left")
    assert title == {"fi": "Rautjärvi: tavoitteet ja toteutuma 30.9.2023 – liikennevalot kuntalibin säännöin",
                     "sv": "Rautjärvi: mål och utfall 30.9.2023 – trafikljus enligt kuntalibs regler",
                     "en": "Rautjärvi: targets and actuals, 30 September 2023 – traffic lights by kuntalib's rules"}[lang]


def test_jsonstat2_parsing_and_errors():
    df = parse_jsonstat2(json.loads((FIXTURES / "pxweb_11ra_rautjarvi.json").read_text()))
    assert df.set_index("Vuosi").value.to_dict() == {"2018": 3335, "2020": 3146}
    assert df.Alue_label.iloc[0] == "Rautjärvi"
    with pytest.raises(PxWebError, match="not a json-stat2 dataset"):
        parse_jsonstat2({"class": "collection"})
    bad = json.loads((FIXTURES / "pxweb_11ra_rautjarvi.json").read_text())
    bad["value"] = [1]
    with pytest.raises(PxWebError, match="1 values for 2 cells"):
        parse_jsonstat2(bad)


def test_fetch_against_a_loopback_server():
    seen = {}
    fixture = (FIXTURES / "pxweb_11ra_rautjarvi.json").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["path"] = self.path
            code, body = (200, fixture) if self.path.endswith("11ra.px") else (400, b"bad table")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/PxWeb/api/v1/fi/StatFin/vaerak/"
    try:
        df = fetch(base + "statfin_vaerak_pxt_11ra.px", {"Alue": ["KU689"], "Vuosi": ["2018", "2020"]}, timeout=5)
        assert df.value.tolist() == [3335, 3146]
        assert seen["body"] == query_body({"Alue": ["KU689"], "Vuosi": ["2018", "2020"]})
        assert seen["body"]["response"]["format"] == "json-stat2"
        with pytest.raises(PxWebError, match="HTTP 400"):
            fetch(base + "nope.px", {}, timeout=5)
    finally:
        server.shutdown()


def test_follow_up_round_trips_through_its_tables():
    """The render reads back exactly what the status step computed."""
    from kuntalib.indicators.status import FollowUp

    path, _ = open_raw("strategy/rautjarvi/indicators.yml")
    f = load_indicator_file(path)
    rules = StatusRules(window_years=50)
    res = evaluate(f, rules)
    back = FollowUp.from_tables(f, rules, res.to_tables())
    assert back.statuses == res.statuses
    assert back.table().equals(res.table())
    assert set(back.forecasts) == set(res.forecasts) == {"population"}
    for k, fc in res.forecasts.items():
        assert (back.forecasts[k].at_target, back.forecasts[k].probability, back.forecasts[k].n) == (fc.at_target,
                                                                                                   fc.probability, fc.n)
        pd.testing.assert_frame_equal(back.forecasts[k].band, fc.band)


def test_impact_chain_loader_validates(tmp_path):
    path, _ = open_raw("strategy/hamina/mito_impact_chain.yml")
    chain = load_impact_chain(path)
    assert [s["id"] for s in chain.stages] == ["means", "outputs", "goals"]
    assert [len(s["items"]) for s in chain.stages] == [3, 5, 3]
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["stages"][1]["items"][0].pop("sv")
    bad = tmp_path / "chain.yml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ImpactChainError, match=r"chain.yml: stages\[1\]\.items\[0\]: missing text in sv"):
        load_impact_chain(bad)
    raw["stages"] = raw["stages"][:1]
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ImpactChainError, match="at least two stages"):
        load_impact_chain(bad)
    bad.write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(ImpactChainError, match="chain.yml: not valid YAML"):
        load_impact_chain(bad)
