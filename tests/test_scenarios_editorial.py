"""Notebook 03 as an editor reads it: what its figures and prose may say, and what they may not.

Each test holds one editorial finding of issue #30: no scenario figure names a year the source does not
give, one name per scenario in every language, no 0 € realisation of a budget year that had not begun, the
whole operating-model diagram with the layout said to be kuntalib's, interpretation said to be
interpretation, and Markdown that no parameter can make untrue.
"""

from __future__ import annotations

import ast
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from kuntalib import theme
from kuntalib.deck import load_deck_file, seed_text
from kuntalib.i18n import LANGS, text
from kuntalib.present import figure_text, say
from kuntalib.scenarios import (
    charts,
    consistency,
    load_budget,
    load_model,
    load_population,
    load_profile,
    scenario_names,
)
from kuntalib.scenarios.academy import REBUILT_FILL, academy_facts, plot_operating_model, region_claims
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "03_scenarios.ipynb"
RAW = REPO / "data" / "raw"


def _defaults() -> dict:
    """The notebook's parameters with their default values, read from its parameters cell."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {n.target.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.AnnAssign)}


PARAMS = _defaults()
MODEL = load_model(RAW / PARAMS["scenario_file"])
PROFILE = load_profile(RAW / PARAMS["competence_file"], MODEL)
DECK = load_deck_file(RAW / PARAMS["foresight_file"])
POPULATION = load_population(RAW / PARAMS["population_file"])
PUBLISHED = "2022-09-14"  # the date of the budget's source (its sidecar)
ZERO_EUROS = re.compile(r"(?<![\d\u00a0\u202f ,.])0[\u00a0\u202f ]?€|€0(?![\d.,])")


@pytest.fixture(autouse=True)
def _close():
    theme.set_theme()
    yield
    plt.close("all")


def _scenario_charts(lang: str) -> dict:
    return {
        "futures_table": charts.plot_futures_table(MODEL, lang=lang),
        "sector_profile": charts.plot_sector_profile(MODEL, lang=lang),
        "scenario_distance": charts.plot_distance(MODEL, lang=lang),
        "consistency": charts.plot_consistency(consistency(MODEL, lang=lang), MODEL, lang=lang),
        "competence_matrix": charts.plot_competence_matrix(PROFILE, model=MODEL, lang=lang),
    }


def _words(ax) -> set[str]:
    """Every text a chart shows: titles, ticks, legend, texts on and around the plot."""
    out = {ax.get_title(loc="left")} | {t.get_text() for t in ax.texts} | {t.get_text() for t in ax.figure.texts}
    out |= {t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()}
    if ax.get_legend() is not None:
        out |= {t.get_text() for t in ax.get_legend().get_texts()}
    return {" ".join(re.sub(r"-\n(?=[A-ZÅÄÖ])", "-", w).split()) for w in out if w.strip()}  # a wrapped name joined


@pytest.mark.parametrize("lang", LANGS)
def test_no_figure_title_names_2030_but_the_vakaa_competence_profile(lang):
    """The deck gives 2030 only for the 'Vakaa Varsinais-Suomi' competence profile, not for the scenarios."""
    assert MODEL.horizon is None
    titles = {name: ax.get_title(loc="left") for name, ax in _scenario_charts(lang).items()}
    assert "2030" in titles.pop("competence_matrix") and "Vakaa Varsinais-Suomi" in figure_text(
        charts.plot_competence_matrix(PROFILE, model=MODEL, lang=lang))[0]
    assert not [t for t in titles.values() if "2030" in t], titles


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_scenario_names_on_figures_are_those_the_page_introduces(lang):
    """One name per scenario: the intro's (the deck's Finnish name, its translation in brackets), on every figure."""
    names = scenario_names(MODEL, lang)
    assert names == scenario_names(MODEL, "fi")  # proper names, the same in every language
    intro = say("nb.03_scenarios.scenarios", lang, title="t", names=", ".join(scenario_names(MODEL, lang, gloss=True)))
    glosses = [sc.gloss[lang] for sc in MODEL.scenarios if sc.gloss.get(lang)]
    assert all(n in intro for n in names) and all(f"({g})" in intro for g in glosses)
    for name, ax in _scenario_charts(lang).items():
        words = " | ".join(_words(ax))
        if name != "competence_matrix":
            assert all(n in words for n in names), (name, words)
        assert not [g for g in glosses if g in words], (name, glosses)  # no second name for a scenario


def test_scenario_colours_never_mean_good_or_bad():
    assert theme.ROLE["unfavourable"] not in charts.SCENARIO_COLOURS
    assert theme.ROLE["favourable"] not in charts.SCENARIO_COLOURS
    ax = charts.plot_competence_matrix(PROFILE, model=MODEL, lang="fi")
    colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in ax.collections}
    assert len(colours) == 1  # one colour: the grouping is said by the heading rows, not by colour


@pytest.mark.parametrize("lang", LANGS)
def test_no_zero_euro_realisation_before_the_budget_year(lang):
    budget = load_budget(RAW / PARAMS["budget_file"]).as_of(PUBLISHED, PARAMS["budget_year"])
    assert budget.realisation == "not_started" and not budget.actual_known
    assert budget.to_frame(lang)["actual_eur"].isna().all() and np.isnan(budget.actual_total)
    ax = charts.plot_budget(budget, lang=lang, year=PARAMS["budget_year"], source="s")
    on_plot = [t.get_text() for t in ax.texts]
    assert not [t for t in on_plot if ZERO_EUROS.search(t)], on_plot
    assert not [ln for ln in ax.lines if ln.get_marker() == "D"]  # no zero marker
    assert len(ax.containers) == 1  # the plan only
    assert text("scenarios.charts.actual_not_known", lang).format(date=theme.fmt_date(PUBLISHED, lang)) in on_plot
    sentence = say("nb.03_scenarios.budget_not_started", lang, planned=theme.fmt_eur(25000, lang=lang),
                   date=theme.fmt_date(PUBLISHED, lang), year=str(PARAMS["budget_year"]))
    assert not ZERO_EUROS.search(sentence.replace(theme.fmt_eur(25000, lang=lang), "")), sentence


def test_a_printed_actual_after_the_year_began_is_drawn():
    budget = load_budget(RAW / PARAMS["budget_file"]).as_of("2024-02-01", PARAMS["budget_year"])
    assert budget.realisation == "closed" and budget.actual_total == 0
    ax = charts.plot_budget(budget, lang="en", year=PARAMS["budget_year"], source="s")
    assert "€0*" in {t.get_text() for t in ax.texts} and len(ax.containers) == 2
    zero = next(ln for ln in ax.lines if ln.get_marker() == "D")
    label = next(t for t in ax.texts if t.get_text() == "€0*")
    assert label.xy[0] == zero.get_xdata()[0] == 0 and label.xyann[0] > 4  # beside the mark, not under it


def test_the_consistency_chart_shows_every_pair_and_says_how_many_are_judged():
    result = consistency(MODEL)
    ax = charts.plot_consistency(result, MODEL, lang="en")
    for i, r in enumerate(result.scores.itertuples()):
        widths = sum(p.get_width() for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - i) < 0.01)
        assert widths == r.n_pairs
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks)  # counts, no negative or unsigned-negative ticks
    caption = " ".join(t.get_text() for t in ax.figure.texts)
    total, judged = int(result.scores["n_pairs"].sum()), int(result.scores["n_judged"].sum())
    assert f"{total} in all" in " ".join(caption.split()) and f"{judged} of them are judged" in " ".join(caption.split())


def test_the_operating_model_is_every_text_of_the_diagram():
    """All of the diagram's texts (the deck's text from the working groups to the work-model slide), none left out."""
    seed = seed_text()
    if seed is None:
        pytest.skip("the seed deck (../shared/seeds) is not beside the checkout")
    start, end = seed.index("Työryhmät ja verkostot"), seed.index("Ennakointityöskentelyn työmalli")
    rest = seed[start:end].replace("VARSINAIS-SUOMEN ENNAKOINTIAKATEMIAN TOIMINTAMALLI", "")
    for part in sorted(DECK["operating_model"], key=lambda p: -len(p["quote"])):
        assert part["quote"] in rest, part["quote"]
        rest = rest.replace(part["quote"], "", 1)
    assert not rest.strip(), rest


@pytest.mark.parametrize("lang", LANGS)
def test_the_operating_model_figure_colours_one_thing_and_says_the_layout_is_ours(lang):
    parts = DECK["operating_model"]
    ax = plot_operating_model(parts, rebuilt={"scenarios", "annual_budget"}, lang=lang, footer=["s"])
    boxes = [p for p in ax.patches if p.get_width() > 0.5]
    fills = {p.get_facecolor() for p in boxes}
    assert len(boxes) == len(parts) == 20 and len(fills) == 2
    assert sum(p.get_facecolor() == plt.matplotlib.colors.to_rgba(REBUILT_FILL) for p in boxes) == 2
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 2
    caption = " ".join(t.get_text() for t in ax.figure.texts)
    assert " ".join(text("scenarios.academy.operating_note", lang).split()) in " ".join(caption.split())


def test_academy_wording():
    labels = {p["id"]: p["label"] for p in DECK["operating_model"]}
    assert "council" not in labels["steering_group"]["en"].lower() and "yhteistyöryhmä" in labels["steering_group"]["fi"]
    facts = academy_facts(DECK, "fi")
    assert all(f.endswith(".") for f in facts)
    assert not [f for f in facts if "Koordinoinnin, tietopalvelut ja viestinnän hoitaa" in f]


def test_the_working_age_claim_is_judged_from_total_population_only():
    claims = region_claims(DECK, POPULATION, "en").set_index("claim")
    row = claims.loc[[c for c in claims.index if "working-age" in c][0]]
    assert row["status"] == "total_population_only"
    assert row["check"].startswith("Judged from the total population only") and "cannot be checked" in row["check"]


def _markdown() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "source-only" not in c.get("metadata", {}).get("tags", [])]


def test_markdown_states_no_value_a_parameter_changes():
    """Years, names and counts of the parameter files come from show(...), filled in by the run."""
    values = {str(PARAMS["budget_year"]), str(PROFILE.year), *scenario_names(MODEL, "fi"), "Ennakointiakatemia"}
    values |= {"Turun seu", "Varsinais-Suomen liitto", "2011", "2021"}
    found = [(v, md[:60]) for md in _markdown() for v in values if v in md]
    assert not found, found


def test_our_translations_are_marked_once_per_page():
    code = "\n".join("".join(c["source"]) for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
                     if c["cell_type"] == "code")
    assert code.count('"nb.03_scenarios.translations"') == 1 and "narrative_translated" not in code
    for lang in ("sv", "en"):
        assert "kuntalib" in text("nb.03_scenarios.translations", lang)
