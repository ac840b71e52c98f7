"""Notebook 04 as an editor signs it off (#30): sources fit for an official publication, interpretation marked as
interpretation, the deck's words shown, charts that keep their labels off the data, prose without run values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kuntalib.deck import load_deck_file
from kuntalib.i18n import LANGS, text
from kuntalib.indicators import StatusRules, evaluate, load_impact_chain, load_indicator_file, steps
from kuntalib.indicators.charts import (
    chain_notes,
    new_values,
    plot_backtest,
    plot_dashboard,
    plot_impact_chain,
    plot_trajectory,
)
from kuntalib.indicators.page import followup_html
from kuntalib.indicators.register import (
    SourceRegisterError,
    checked_values,
    key_citation,
    load_source_register,
    register_path,
    secondary_values,
    value_sources,
)
from kuntalib.indicators.texts import process_table
from kuntalib.provenance import open_raw
from tests.conftest import REPO

SEED = REPO.parent / "shared" / "seeds" / "000_9036ed6640ce4509.txt"
NOTEBOOK = REPO / "notebooks" / "04_strategy_followup.ipynb"
#: Where a value was transcribed from: such a page may be named as that, never as the value's publisher.
SECONDARY_PAGES = ("wikipedia", "etelä-saimaa", "esaimaa")
TRANSCRIBED = {"fi": "kirjattu", "sv": "återgiv", "en": "transcribed"}


def _seed() -> str:
    if not SEED.exists():
        pytest.skip(f"the seed deck is not beside the checkout ({SEED})")
    return " ".join(SEED.read_text(encoding="utf-8").split())


@pytest.fixture(scope="module")
def followup():
    path, _ = open_raw("strategy/rautjarvi/followup.yml")
    file = load_indicator_file(path)
    return file, load_source_register(register_path(path), file)


def test_every_value_names_its_primary_publisher_and_secondary_ones_are_listed(followup):
    """The source of every value is cited by its publisher; a page it was transcribed from is named as that; the
    page lists every value that rests only on a secondary source, and nothing else."""
    file, register = followup
    values = value_sources(file, register)
    assert set(values.status) == {"primary", "secondary"}, "every source key has a status"
    for key in values.source.unique():
        cit = key_citation(file.path, key)
        assert cit is not None, f"{key}: no public citation"
        for lang in LANGS:
            publisher = f"{cit.publisher[lang]} {cit.title[lang]}".lower()
            assert not any(p in publisher for p in SECONDARY_PAGES), f"{key}: cites a secondary page as the publisher"
            if register.status[key] == "secondary":
                assert TRANSCRIBED[lang] in cit.medium[lang].lower(), f"{key} ({lang}): does not say where it was transcribed from"
                assert cit.url, f"{key}: the page it was transcribed from has no address"
    only_secondary = values[(values.status == "secondary") & ~values.checked]
    assert len(only_secondary) == 19 and len(values[values.checked]) == 1  # 2022's national average: Kuntaliitto's release
    for lang in LANGS:
        table = secondary_values(file, register, lang)
        assert table.n.sum() == len(only_secondary)
        assert all(TRANSCRIBED[lang] in t.lower() for t in table.transcribed_from)
    population = secondary_values(file, register, "fi").set_index("transcribed_from")
    assert any("30.9.2023: 3\u00a0047" in v for v in population["values"]), "the 30.9.2023 round's value is listed"


def test_a_quoted_sentence_says_its_language_where_the_page_has_another(followup):
    file, register = followup
    assert checked_values(file, register, "fi").publication_sentence.tolist() == ["Keskimääräinen kunnallisveroprosentti on ensi vuonna 20,01 %."]
    for lang, note in (("sv", "(på finska)"), ("en", "(in Finnish)")):
        assert checked_values(file, register, lang).publication_sentence.tolist() == [f"Keskimääräinen kunnallisveroprosentti on ensi vuonna 20,01 %. {note}"]


def test_a_register_must_cover_every_source_and_check_real_values(followup, tmp_path):
    file, register = followup
    raw = register.path.read_text(encoding="utf-8")
    for change, message in ((lambda s: s.replace("  ptwiki: secondary\n", ""), "no status for source"),
                            (lambda s: s.replace("value: 20.01", "value: 20.1"), "is not the file's 20.01"),
                            (lambda s: s.replace("  seed: primary", "  seed: official"), "not one of primary, secondary")):
        bad = tmp_path / "followup.sources.yml"
        bad.write_text(change(raw), encoding="utf-8")
        with pytest.raises(SourceRegisterError, match=message):
            load_source_register(bad, file)


def test_the_decks_strategy_words_are_shown_as_the_deck_gives_them():
    """The strategy's name, the four goals of the process, the critical success factor and the yearly August-September
    assessment: in the table the page shows, every Finnish row a sentence of the deck."""
    seed = _seed()
    path, _ = open_raw("strategy/rautjarvi/strategy_process.yml")
    deck = load_deck_file(path, require_seed=True)
    fi = process_table(deck.data, "fi")
    rows = list(fi.statement)
    for sentence in ("Padot murtava koti- ja kutupaikka", "Kriittiseksi menestystekijäksi työvoiman määrä",
                     "Strategisten tavoitteiden saavuttamista arvioidaan vuosittain elo-syyskuussa"):
        assert sentence in rows and sentence in seed
    goals = fi.index[fi.topic == text("indicators.process.process_goals", "fi")][0]
    assert len(deck["process_goals"]) == 4 and rows[goals:goals + 4] == [g["label"]["fi"] for g in deck["process_goals"]]
    assert all(" ".join(r.split()) in seed for r in rows[goals:goals + 4])
    for lang in ("sv", "en"):
        assert len(process_table(deck.data, lang)) == len(fi)


def test_the_mito_chain_names_stm_as_the_slide_does_and_marks_its_reading():
    seed = _seed()
    path, _ = open_raw("strategy/hamina/mito_2020_2022.yml")
    chain = load_impact_chain(path)
    assert chain.funder is not None and chain.funder["quote"] in seed and not chain.funder["stated"]
    assert "STM" in chain.funder["name"]["fi"]
    for stage in chain.stages:  # the slide's words (a hyphen in a compound is ours)
        for item in stage["items"]:
            assert " ".join(item["fi"].replace("-", " ").split()) in seed.replace("-", " "), item["fi"]
    for lang in LANGS:
        notes = " ".join(chain_notes(chain, lang))
        assert "STM" in notes and {"fi": "kuntalibin luenna", "sv": "kuntalibs tolkning", "en": "as kuntalib reads it"}[lang] in notes
        assert {"fi": "nuolet ovat kuntalibin luenta", "sv": "pilarna är kuntalibs tolkning",
                "en": "the arrows are kuntalib's reading"}[lang] in notes
        assert ({"sv": "kuntalibs översättning", "en": "kuntalib's translation"}.get(lang, "käännös") in notes) == (lang != "fi")
    ax = plot_impact_chain(chain, lang="en")
    arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == 2 and all(a.get_linestyle() == "--" for a in arrows)  # not drawn by the slide: dashed


@pytest.fixture(scope="module")
def rounds(followup):
    file, _ = followup
    rules = StatusRules(window_years=20)
    return evaluate(file, rules, as_of="2022-09-14"), evaluate(file, rules, as_of="2023-10-31")


def test_the_later_round_shows_only_what_it_adds(rounds):
    first, later = rounds
    assert new_values(first, later) == ["population"]
    ax = plot_dashboard(later, lang="fi", only=["population"])
    assert sum(t.get_zorder() == 4 for t in ax.texts) == 3  # one row of three lights
    caption = " ".join(t.get_text() for t in ax.figure.texts)
    assert "ilman uutta arvoa: Muuttovoitto" in " ".join(caption.split())
    assert "kuntalibin säännöin" in ax.get_title(loc="left")
    page = followup_html([first, later], "en")
    assert page.split('<section class="round">')[2].count("<tr>") == 1 + 1  # header and population


def test_the_tax_chart_says_it_cannot_answer_and_labels_its_axis_as_years(rounds):
    _first, later = rounds
    ax = plot_trajectory(later.file.get("income_tax"), lang="fi", result=later)
    notes = " ".join(" ".join(t.get_text().split()) for t in ax.texts)
    assert "Ei havaintoa vertailuvuosilta: kunnan arvot 2016–2018, vertailuarvot 2019, 2021–2022" in notes
    assert "30.6" not in ax.get_xlabel() and ax.get_xlabel() == "vuosi"
    assert ax.get_ylabel().endswith("%")
    for line in ax.lines[1:]:  # the national average and the limit: values for 2019 and 2021-2022, no line across 2020
        x = line.get_xdata()
        assert [int(v) for v in x[~np.isnan(x)]] == [2019, 2021, 2022] and np.isnan(x[1])
    ax = plot_trajectory(later.file.get("population"), later.forecasts.get("population"), lang="fi", result=later)
    assert "30.6." in ax.get_xlabel()  # a mid-year value is drawn there, so the label says where


def test_the_backtest_keeps_its_legend_and_labels_off_the_bars_and_the_line(rounds, followup):
    _first, later = rounds
    file, _ = followup
    step = steps.rounds(file.path, rounds=["2023-10-31"], evaluated_on="2026-11-29")
    ax = plot_backtest(step["backtest_windows"], used=20.0, horizon_years=3, result=later, lang="en", tested=["population"])
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bars = [p.get_window_extent(renderer) for p in ax.patches]
    legend = ax.get_legend().get_window_extent(renderer)
    assert bars and not any(legend.overlaps(b) for b in bars)
    line = next(ln for ln in ax.get_lines() if ln.get_linestyle() == "--")
    y = ax.transData.transform((0, line.get_ydata()[0]))[1]
    for t in ax.texts:
        box = t.get_window_extent(renderer)
        assert not box.y0 <= y <= box.y1, f"{t.get_text()!r} is crossed by the nominal line"
    caption = max(fig.texts, key=lambda t: len(t.get_text())).get_window_extent(renderer)
    assert caption.x1 <= ax.get_window_extent(renderer).x1 + 5, "the source block is wider than the plot"
    assert "n = " not in " ".join(t.get_text() for t in ax.texts)


def _prose(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]
            if c["cell_type"] == "markdown" and "source-only" not in c["metadata"].get("tags", [])]


def test_prose_states_no_value_a_parameter_changes():
    """Dates, years, counts and names of the municipality or project come from the run (show), not the Markdown."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in _prose(nb):
        assert not re.search(r"\d", cell), cell[:80]
        assert not re.search(r"Rautjärv|Hamina|Mito", cell), cell[:80]


def test_sv_and_en_pages_mark_the_translations_once():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert code.count('show("nb.04_strategy_followup.translated", lang)') == 1
    before = code.split('show("nb.04_strategy_followup.translated", lang)')[0].rstrip().splitlines()[-1]
    assert before.startswith('if lang != "fi":'), before  # shown on the sv and en pages only
    for lang, word in (("sv", "kuntalibs översättning"), ("en", "kuntalib's translation")):
        note = text("nb.04_strategy_followup.translated", lang)
        assert word in note and all(w in note for w in {"sv": ("mätare", "effektkedjans"), "en": ("indicators", "impact chain")}[lang])


def test_the_notebook_defaults_are_the_files_that_carry_the_fixes():
    from kuntalib.pipeline.params import read_parameters

    params = {n: p.default for n, p in read_parameters(NOTEBOOK).items()}
    assert params["process_file"] == "strategy/rautjarvi/strategy_process.yml"
    assert params["impact_chain"] == "strategy/hamina/mito_2020_2022.yml"
    assert register_path(open_raw(params["indicator_file"])[0]) is not None
    assert isinstance(pd.Timestamp(params["as_of"]), pd.Timestamp) and Path(params["indicator_file"]).suffix == ".yml"
