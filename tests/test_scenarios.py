"""Foresight scenarios: file format, futures table, consistency, competences, budget, population."""

import copy
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from kuntalib.i18n import pick
from kuntalib.scenarios import (
    ScenarioFileError,
    charts,
    consistency,
    futures_table,
    level_overlap,
    load_budget,
    load_model,
    load_population,
    load_profile,
    population_change,
    scenario_distance,
    score_matrix,
    sector_profile,
    shared_skills,
    type_counts,
)
from kuntalib.scenarios.analysis import NOT_STATED
from kuntalib.scenarios.model import normalise_space, parse_model
from tests.conftest import REPO

RAW = REPO / "data" / "raw" / "scenarios"
MODEL = RAW / "varsinais-suomi" / "maritime_scenarios.yml"
PROFILE = RAW / "varsinais-suomi" / "competence_profile_2030.yml"
BUDGET = RAW / "varsinais-suomi" / "budget_2023.csv"
POPULATION = RAW / "varsinais-suomi" / "population_subregions.csv"
EXAMPLE = RAW / "example" / "synthetic_municipality_2035.yml"
SEED = REPO.parent / "shared" / "seeds" / "000_9036ed6640ce4509.txt"


def tiny() -> dict:
    """A three-variable, two-scenario model small enough to check by hand."""
    lab = {"fi": "x"}
    return {
        "format": "kuntalib.scenarios/1",
        "id": "tiny",
        "title": {"fi": "Pieni"},
        "horizon": 2030,
        "sectors": [{"id": "economic", "label": lab}, {"id": "social", "label": lab}],
        "variables": [
            {"id": "jobs", "sector": "economic", "label": lab,
             "states": [{"id": "up", "score": 2, "label": lab}, {"id": "down", "score": -2, "label": lab}]},
            {"id": "energy", "sector": "economic", "label": lab,
             "states": [{"id": "cheap", "score": 1, "label": lab}, {"id": "dear", "score": -1, "label": lab},
                        {"id": "none", "score": -2, "label": lab}]},
            {"id": "people", "sector": "social", "label": lab,
             "states": [{"id": "in", "score": 2, "label": lab}, {"id": "out", "score": -2, "label": lab}]},
        ],
        "scenarios": [
            {"id": "good", "name": {"fi": "Hyvä"}, "text": {"fi": "Työpaikat kasvavat. Energia on halpaa. Väki muuttaa tänne."},
             "states": {"jobs": {"state": "up", "quote": "Työpaikat kasvavat."},
                        "energy": {"state": "cheap", "quote": "Energia on   halpaa."},
                        "people": {"state": "in", "quote": "Väki muuttaa tänne."}}},
            {"id": "odd", "name": {"fi": "Outo"}, "text": {"fi": "Työpaikat vähenevät, mutta väki muuttaa tänne."},
             "states": {"jobs": {"state": "down", "quote": "Työpaikat vähenevät"},
                        "people": {"state": "in", "quote": "väki muuttaa tänne"}}},
        ],
        "consistency": [
            {"a": "jobs.down", "b": "people.in", "value": -2, "reason": {"fi": "ei töitä"}},
            {"a": "jobs.up", "b": "people.in", "value": 2, "reason": {"fi": "töitä"}},
            {"a": "energy.none", "b": "jobs.up", "value": -1, "reason": {"fi": "ei energiaa"}},
        ],
    }


@pytest.fixture
def model():
    return parse_model(tiny(), "tiny.yml")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# -- the shipped data ---------------------------------------------------------------------------

def test_shipped_model_loads_with_the_four_seed_scenarios():
    m = load_model(MODEL)
    assert [s.id for s in m.scenarios] == ["blue_hub", "kituva", "vakaa", "taivaan_laser"]
    assert {v.sector for v in m.variables} == {"ecological", "political", "economic", "social", "technological"}
    assert not m.synthetic


def test_a_name_given_in_finnish_only_is_a_proper_name_with_its_gloss_once():
    from kuntalib.scenarios import scenario_name, scenario_names

    data = tiny()
    del data["horizon"]
    data["scenarios"][1]["gloss"] = {"en": "Strange"}
    m = parse_model(data, "tiny.yml")
    assert m.horizon is None
    assert scenario_names(m, "en") == ["Hyvä", "Outo"] and scenario_name(m, "odd", "en", gloss=True) == "Outo (Strange)"
    assert scenario_name(m, "odd", "sv", gloss=True) == "Outo"  # no sv gloss: the name alone
    assert set(futures_table(m, "en")["scenario"]) == {"Hyvä", "Outo"}


def test_scenario_texts_are_the_seed_text():
    if not SEED.exists():
        pytest.skip("shared/seeds not beside the checkout")
    seed = normalise_space(SEED.read_text(encoding="utf-8"))
    for sc in load_model(MODEL).scenarios:
        assert sc.text["fi"] in seed, sc.id
        assert pytest.approx(len(sc.text["en"]), rel=0.5) == len(sc.text["fi"])  # a translation, not a stub


def test_competence_profile_matches_the_slide_counts():
    p = load_profile(PROFILE, load_model(MODEL))
    counts = type_counts(p, "en")
    # generic, special, qualifications per level, as counted on the slide
    assert counts.to_numpy().tolist() == [[3, 2, 5], [3, 3, 7], [4, 3, 5], [3, 3, 3]]
    shared = shared_skills(p, "fi")
    assert shared.iloc[0]["skill"] == "Digiosaaminen" and shared.iloc[0]["n_levels"] == 4


def test_level_overlap_is_jaccard():
    p = load_profile(PROFILE)
    ov = level_overlap(p)
    a, b = set(p.profile["management"]), set(p.profile["supervisor"])
    assert ov.loc["management", "supervisor"] == pytest.approx(len(a & b) / len(a | b))
    assert np.allclose(ov.to_numpy(), ov.to_numpy().T) and (np.diag(ov) == 1).all()
    quals = level_overlap(p, "qualification")
    assert quals.loc["operational", "management"] == 0


def test_budget_derives_only_what_the_total_forces():
    b = load_budget(BUDGET)
    assert b.planned_total == 25000 and b.actual_total == 0 and b.remaining == 25000
    assert b.items["planned_eur"].tolist() == [2500, 1000, 8500, 12000, 1000]
    assert (b.items["actual_eur"] == 0).all() and b.items["actual_derived"].all()
    assert b.utilisation == 0


def test_population_sums_and_turku_concentration():
    pop = load_population(POPULATION)
    ch = population_change(pop, "en").set_index("subregion_id")
    assert ch.loc["turku", "change_pct"] > 0
    assert (ch.drop(["turku", "region"])["change_pct"] < 0).all()
    assert ch.loc["turku", "share_2021_pct"] > ch.loc["turku", "share_2011_pct"]


# -- format errors name the file and the place ---------------------------------------------------

def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("format: kuntalib.scenarios/1\nvariables:\n  - id: a\n   sector: [x\n", encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"bad\.yml: malformed YAML: line \d+, column \d+"):
        load_model(bad)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["scenarios"][1]["states"].update({"enrgy": {"state": "cheap", "quote": "x"}}),
         r"tiny\.yml: scenarios\[1\] \(odd\)\.states\.enrgy: unknown variable 'enrgy'"),
        (lambda d: d["scenarios"][0]["states"]["energy"].update({"state": "free"}),
         r"states\.energy: unknown state 'free' of variable 'energy'"),
        (lambda d: d["scenarios"][0]["states"]["jobs"].update({"quote": "Tätä ei ole tekstissä"}),
         r"states\.jobs: quote .* does not occur"),
        (lambda d: d["variables"][0].update({"sector": "economy"}), r"variables\[0\] \(jobs\): unknown sector 'economy'"),
        (lambda d: d["variables"][1]["states"][0].update({"score": 5}), r"score 5 must be an integer from -2 to 2"),
        (lambda d: d["consistency"].append({"a": "jobs.up", "b": "wages.high", "value": 1, "reason": {"fi": "x"}}),
         r"consistency\[3\]: b: unknown variable 'wages'"),
        (lambda d: d["consistency"].append({"a": "people.in", "b": "jobs.down", "value": 1, "reason": {"fi": "x"}}),
         r"judged twice"),
        (lambda d: d["variables"].append(copy.deepcopy(d["variables"][0])), r"variables: duplicate id 'jobs'"),
        (lambda d: d.update({"format": "other/2"}), r"format: expected 'kuntalib.scenarios/1'"),
        (lambda d: d.update({"horizon": "soon"}), r"horizon: expected a year"),
        (lambda d: d["scenarios"][0].update({"gloss": {"fi": "x"}}), r"scenarios\[0\] \(good\)\.gloss: unknown language 'fi'"),
    ],
)
def test_invalid_model_errors_name_the_place(mutate, message):
    data = tiny()
    mutate(data)
    with pytest.raises(ScenarioFileError, match=message):
        parse_model(data, "tiny.yml")


def test_competence_errors(tmp_path):
    data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    data["profile"]["expert"].append("juggling")
    with pytest.raises(ScenarioFileError, match=r"profile\.expert\[9\]: unknown skill 'juggling'"):
        from kuntalib.scenarios.competence import parse_profile

        parse_profile(data, "p.yml")
    data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    data["scenario"] = "nowhere"
    from kuntalib.scenarios.competence import parse_profile

    with pytest.raises(ScenarioFileError, match=r"scenario: unknown scenario 'nowhere'"):
        parse_profile(data, "p.yml", load_model(MODEL))


def test_budget_and_population_errors(tmp_path):
    text = BUDGET.read_text(encoding="utf-8")
    bad = tmp_path / "budget.csv"
    bad.write_text(text.replace(",8500,", ",8600,"), encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"budget\.csv: planned cost lines sum to 25100"):
        load_budget(bad)
    bad.write_text(text.replace(",1000,,\"e.g.", ",1000,x,\"e.g."), encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"line 3, column 'actual_eur': 'x' is not a number"):
        load_budget(bad)
    pop = tmp_path / "pop.csv"
    pop.write_text(POPULATION.read_text(encoding="utf-8").replace("2016,62573", "2016,62574"), encoding="utf-8")
    with pytest.raises(ScenarioFileError, match=r"pop\.csv: year 2016: sub-regions sum to 475544"):
        load_population(pop)


# -- analysis ---------------------------------------------------------------------------------------

def test_futures_table_marks_unstated_variables(model):
    ft = futures_table(model, "en")
    assert len(ft) == 3 * 2
    row = ft[(ft.scenario_id == "odd") & (ft.variable_id == "energy")].iloc[0]
    assert np.isnan(row.score) and row.state == "not stated" and pd.isna(row.quote)
    assert ft[(ft.scenario_id == "good") & (ft.variable_id == "energy")].iloc[0].quote == "Energia on halpaa."
    m = score_matrix(model)
    assert m.loc["jobs"].tolist() == [2, -2]


def test_sector_profile_means_over_stated_variables(model):
    prof = sector_profile(model).set_index(["scenario_id", "sector_id"])
    assert prof.loc[("good", "economic"), "mean_score"] == 1.5
    assert prof.loc[("odd", "economic"), "mean_score"] == -2 and prof.loc[("odd", "economic"), "n_stated"] == 1


def test_scenario_distance(model):
    d = scenario_distance(model)
    assert d.loc["good", "odd"] == d.loc["odd", "good"] == pytest.approx((4 + 0) / 2)
    assert d.loc["good", "good"] == 0


def test_consistency_flags_inconsistent_pairs(model):
    res = consistency(model, lang="fi")
    s = res.scores.set_index("scenario_id")
    assert not s.loc["odd", "consistent"] and s.loc["odd", "n_inconsistent"] == 1
    assert s.loc["good", "consistent"] and s.loc["good", "score"] == 2 and s.loc["good", "n_pairs"] == 3
    assert res.pairs[res.pairs.scenario_id == "odd"].reason.tolist() == ["ei töitä"]
    assert "odd: 1 inconsistent" in res.summary()


def test_morphological_field_matches_brute_force(model):
    res = consistency(model)
    states = [[s.id for s in v.states] for v in model.variables]
    ok = []
    for combo in itertools.product(*states):
        chosen = set(zip([v.id for v in model.variables], combo, strict=False))
        vals = [j.value for j in model.judgements if j.a in chosen and j.b in chosen]
        if -2 not in vals:
            ok.append(sum(vals))
    assert res.field_size == 12 and res.field_consistent == len(ok) and res.field_best == max(ok)
    skipped = consistency(model, max_field=5)
    assert not skipped.field_enumerated and skipped.field_consistent is None


def test_shipped_scenarios_are_each_consistent():
    res = consistency(load_model(MODEL))
    assert res.scores["consistent"].all()
    assert res.field_enumerated and 0 < res.field_consistent < res.field_size


# -- charts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_charts_return_axes(lang):
    m = load_model(MODEL)
    p = load_profile(PROFILE, m)
    axes = [
        charts.plot_futures_table(m, lang=lang),
        charts.plot_sector_profile(m, lang=lang),
        charts.plot_consistency(consistency(m, lang=lang), m, lang=lang),
        charts.plot_competence_matrix(p, lang=lang),
        charts.plot_level_overlap(p, lang=lang),
        charts.plot_budget(load_budget(BUDGET), lang=lang, year=2023, source="s"),
        charts.plot_population(load_population(POPULATION), lang=lang, source="s"),
    ]
    titles = [ax.get_title(loc="left") for ax in axes[:3]]
    assert all(pick(m.title, lang) in t for t in titles), titles
    texts = {t.get_text() for t in axes[0].texts}
    assert pick(NOT_STATED, lang) in texts
    others = {pick(NOT_STATED, x) for x in ("fi", "sv", "en") if x != lang}
    assert not others & texts
    budget_texts = {t.get_text() for t in axes[5].texts}
    zero, twelve = {"en": ("€0*", "€12,000")}.get(lang, ("0\u00a0€*", "12\u00a0000\u00a0€"))
    assert zero in budget_texts and twelve in budget_texts
    # A 0 € actual has no bar width: it is marked, so it is seen rather than missed.
    assert [ln for ln in axes[5].lines if ln.get_marker() == "D"]


def test_synthetic_model_charts_are_stamped():
    m = load_model(EXAMPLE)
    assert m.synthetic
    for ax in (charts.plot_futures_table(m, lang="en"), charts.plot_sector_profile(m, lang="en"),
               charts.plot_consistency(consistency(m), m, lang="en")):
        assert any("SYNTHETIC DATA" in t.get_text() for t in ax.figure.texts)


def test_consistency_is_language_neutral_and_round_trips_through_a_step(tmp_path, monkeypatch):
    """One enumeration serves every language: the stored step gives each language's result exactly."""
    from kuntalib.pipeline.steps import run_step
    from kuntalib.scenarios import steps

    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path))
    m = load_model(MODEL)
    step = run_step("nb", steps.consistency, scenario_file=MODEL)
    for lang in ("fi", "sv", "en"):
        direct = consistency(m, lang=lang)
        back = steps.consistency_result(step, lang)
        pd.testing.assert_frame_equal(back.scores, direct.scores)
        pd.testing.assert_frame_equal(back.pairs, direct.pairs)
        assert (back.field_size, back.field_consistent, back.field_best) == (direct.field_size, direct.field_consistent,
                                                                            direct.field_best)
    assert set(step["pairs"]["reason_sv"]) != set(step["pairs"]["reason_fi"])


def test_scenario_charts_draw_the_saved_table():
    """A chart given the published table draws exactly what it draws from the model."""
    m = load_model(MODEL)
    for lang in ("fi", "en"):
        table, profile = futures_table(m, lang), sector_profile(m, lang)
        a = charts.plot_futures_table(m, table=table, lang=lang)
        b = charts.plot_futures_table(m, lang=lang)
        assert [t.get_text() for t in a.texts] == [t.get_text() for t in b.texts]
        np.testing.assert_array_equal(a.images[0].get_array(), b.images[0].get_array())
        c = charts.plot_sector_profile(m, profile=profile, lang=lang)
        d = charts.plot_sector_profile(m, lang=lang)
        assert [t.get_text() for t in c.texts] == [t.get_text() for t in d.texts]
        changed = profile.assign(mean_score=profile["mean_score"].fillna(0) + 0.5)
        e = charts.plot_sector_profile(m, profile=changed, lang=lang)
        assert [t.get_position() for t in e.texts] != [t.get_position() for t in d.texts]
