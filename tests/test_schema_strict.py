"""Indicator and scenario files under a strict schema: each breach an error naming the file and the place."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.indicators.load import load_indicator_file
from kuntalib.indicators.model import IndicatorFileError, parse_indicator_file
from kuntalib.provenance import open_raw
from kuntalib.scenarios.model import ScenarioFileError, load_model, parse_model

BASE = {
    "municipality": {"code": "999", "name": {"fi": "Testilä"}},
    "sources": {"s": "Tilastokeskus, taulukko 11ra"},
    "indicators": [{
        "id": "population", "label": {"fi": "Asukasluku"}, "unit": {"fi": "asukasta"}, "direction": "higher",
        "baseline": {"date": "2020-12-31", "value": 3146, "source": "s"},
        "target": {"date": "2025-12-31", "value": 3028, "kind": "at_least", "source": "s"},
        "observations": [{"date": "2021-12-31", "value": 3100, "source": "s"}, {"date": "2022-06-30", "value": 3099, "source": "s"}],
    }],
}


def _with(change) -> dict:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def _ind(doc):
    return doc["indicators"][0]


CASES = {
    "baseline cites an unknown source": (lambda d: _ind(d)["baseline"].update(source="nope"), r"baseline: source 'nope'"),
    "target cites an unknown source": (lambda d: _ind(d)["target"].update(source="nope"), r"target: source 'nope'"),
    "now as a date": (lambda d: _ind(d)["observations"][0].update(date="now"), r"observations\[0\]: date 'now' is not a literal"),
    "today as a baseline date": (lambda d: _ind(d)["baseline"].update(date="today"), r"baseline: date 'today'"),
    "a date in 2099": (lambda d: _ind(d)["observations"][1].update(date="2099-01-01"), r"2099-01-01 is later than the evaluation date"),
    "published after the evaluation": (lambda d: _ind(d)["observations"][1].update(published="2031-01-01"), r"published: date 2031"),
    "NaN value": (lambda d: _ind(d)["observations"][0].update(value=float("nan")), r"value nan is not a finite number"),
    "infinite target": (lambda d: _ind(d)["target"].update(value=float("inf")), r"target: value inf is not a finite number"),
    "baseline without value": (lambda d: _ind(d)["baseline"].pop("value"), r"baseline: needs date and value"),
    "baseline value not a number": (lambda d: _ind(d)["baseline"].update(value="3146 as"), r"baseline: value '3146 as'"),
    "numeric id": (lambda d: _ind(d).update(id=1), r"id 1 must be a string"),
    "id with markup": (lambda d: _ind(d).update(id="<img src=x>"), r"id '<img src=x>' must be a string"),
    "id with a newline": (lambda d: _ind(d).update(id="pop\nulation"), r"must be a string of letters"),
    "impossible calendar date": (lambda d: _ind(d)["observations"][0].update(date="2021-02-30"), r"not a calendar date"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_breach_is_named(name, tmp_path):
    change, message = CASES[name]
    with pytest.raises(IndicatorFileError, match=message):
        parse_indicator_file(_with(change), tmp_path / "f.yml", evaluation_date="2026-11-29")


def test_the_base_document_and_the_shipped_files_pass(tmp_path):
    f = parse_indicator_file(_with(lambda d: None), tmp_path / "f.yml", evaluation_date=dt.date(2026, 11, 29))
    assert f.get("population").baseline["value"] == 3146
    for raw in ("strategy/rautjarvi/followup.yml", "strategy/rautjarvi/indicators.yml"):
        path, _ = open_raw(raw)
        assert load_indicator_file(path, evaluation_date="2026-11-29").indicators
    # ids 1 and "1" cannot both pass: the number is refused outright
    two = _with(lambda d: d["indicators"].append({**copy.deepcopy(_ind(d)), "id": "1"}))
    assert parse_indicator_file(two, tmp_path / "f.yml").get("1")


_yaml_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                           | st.dates().map(str), lambda k: st.lists(k, max_size=3) | st.dictionaries(st.text(max_size=8), k, max_size=3),
                           max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_structures_give_an_indicator_file_error_or_a_file(data, tmp_path_factory):
    """Random YAML structures, and random values put anywhere in a valid file: IndicatorFileError or a valid file."""
    doc = copy.deepcopy(BASE)
    if data.draw(st.booleans()):
        doc = data.draw(_yaml_value)
    else:
        key = data.draw(st.sampled_from(["id", "label", "unit", "direction", "baseline", "target", "observations"]))
        _ind(doc)[key] = data.draw(_yaml_value)
    path = tmp_path_factory.mktemp("y") / "f.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        f = load_indicator_file(path, evaluation_date="2026-11-29")
    except IndicatorFileError:
        return
    for ind in f.indicators:
        assert ind.observations.value.map(float).notna().all()


def _scenario_doc():
    path, _ = open_raw("scenarios/example/synthetic_municipality_2035.yml")
    return yaml.safe_load(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("scale", [{"min": -1000, "max": 1000}, {"min": -3, "max": 2}, {"min": -2, "max": True}, {"min": 0, "max": 2}])
def test_score_scale_is_limited_to_minus_two_plus_two(scale):
    doc, path = _scenario_doc()
    doc["score_scale"] = scale
    with pytest.raises(ScenarioFileError, match=r"score_scale: .*-2…\+2"):
        parse_model(doc, path)


def test_too_many_key_variables_is_a_clear_error():
    doc, path = _scenario_doc()
    first = doc["variables"][0]
    doc["variables"] = [{**copy.deepcopy(first), "id": f"v{i}"} for i in range(64)]
    with pytest.raises(ScenarioFileError, match="64 key variables; at most 32"):
        parse_model(doc, path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_scenario_structures_give_a_scenario_file_error_or_a_model(data):
    doc, path = _scenario_doc()
    key = data.draw(st.sampled_from(sorted(doc)))
    doc[key] = data.draw(_yaml_value)
    try:
        parse_model(doc, path)
    except ScenarioFileError:
        return
    try:
        load_model(path)
    except ScenarioFileError:
        pass


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_other_yaml_readers_fail_only_with_their_own_errors(data, tmp_path_factory):
    """Provenance sidecars, the simulator config and impact chains: random structures give their error, nothing bare."""
    from kuntalib.fhir.simulate import CohortConfigError, load_cohort_config
    from kuntalib.indicators import load_impact_chain
    from kuntalib.indicators.chain import ImpactChainError
    from kuntalib.provenance import ProvenanceError, read_provenance

    doc = data.draw(_yaml_value)
    folder = tmp_path_factory.mktemp("r")
    text = yaml.safe_dump(doc, allow_unicode=True)
    (folder / "c.yml").write_text(text, encoding="utf-8")
    for load, error in ((load_cohort_config, CohortConfigError), (load_impact_chain, ImpactChainError)):
        try:
            load(folder / "c.yml")
        except error:
            pass
    (folder / "d.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "d.csv.provenance.yml").write_text(text, encoding="utf-8")
    try:
        read_provenance(folder / "d.csv")
    except ProvenanceError:
        pass


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(consistency=True), "consistency: expected a list"),
    (lambda d: d.update(horizon=True), "horizon: expected a year"),
    (lambda d: d["title"].update(sv=5), r"title\.sv: expected text"),
    (lambda d: d["scenarios"][0]["states"][next(iter(d["scenarios"][0]["states"]))].update(quote=7), "quote must be text"),
])
def test_scenario_shapes_found_by_the_property_test(change, message):
    """Shapes hypothesis found escaping as TypeError/AttributeError: each is a ScenarioFileError now."""
    doc, path = _scenario_doc()
    change(doc)
    with pytest.raises(ScenarioFileError, match=message):
        parse_model(doc, path)


def test_a_workbook_gets_the_same_evaluation_date_check(tmp_path):
    from kuntalib.indicators.sheets import write_indicator_workbook

    path, _ = open_raw("strategy/rautjarvi/followup.yml")
    book = write_indicator_workbook(load_indicator_file(path), tmp_path / "f.xlsx")
    assert load_indicator_file(book, evaluation_date="2026-11-29").indicators
    with pytest.raises(IndicatorFileError, match="later than the evaluation date 2022-09-14"):
        load_indicator_file(book, evaluation_date="2022-09-14")
