"""The deck's non-numeric parts: every entry quotes the seed, and the charts draw what the files say."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuntalib.deck import (
    DeckError,
    case_table,
    check_claims,
    load_deck_file,
    plot_flow,
    plot_grid,
    plot_process,
    plot_timeline,
    seed_text,
)
from tests.conftest import REPO

RAW = REPO / "data" / "raw"
DECK_FILES = sorted(p for p in RAW.rglob("*.yml") if not p.name.endswith(".provenance.yml")
                    and "kuntalib.deck/1" in p.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _root(monkeypatch):
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))


def test_the_deck_files_are_found():
    assert {p.name for p in DECK_FILES} == {"timeline.yml", "foresight_model.yml", "cases.yml", "process.yml", "strategy_process.yml",
                                              "slides.yml"}


@pytest.mark.parametrize("path", DECK_FILES, ids=lambda p: p.name)
def test_every_quote_occurs_in_the_seed(path):
    if seed_text() is None:
        pytest.skip("the seed deck (../shared/seeds) is not beside the checkout; CI has it")
    deck = load_deck_file(path, require_seed=True)
    assert deck.quotes_checked and deck.quotes >= 4


def _seed(tmp_path: Path, text: str, monkeypatch) -> None:
    seed = tmp_path / "seed.txt"
    seed.write_text(text, encoding="utf-8")
    monkeypatch.setenv("KUNTALIB_SEED", str(seed))


def test_a_quote_the_deck_does_not_contain_is_refused(tmp_path, monkeypatch):
    _seed(tmp_path, "Ensimmäinen rivi\n  jatkuu tässä.\nToinen lause.", monkeypatch)
    good = tmp_path / "ok.yml"
    good.write_text("format: kuntalib.deck/1\nitems:\n  - label: {fi: a, sv: b, en: c}\n"
                    "    quote: 'Ensimmäinen rivi jatkuu tässä.'\n", encoding="utf-8")
    assert load_deck_file(good).quotes_checked  # whitespace and line breaks normalised
    bad = tmp_path / "bad.yml"
    bad.write_text("format: kuntalib.deck/1\nitems:\n  - label: {fi: a, sv: b, en: c}\n    quote: 'Kolmas lause.'\n",
                   encoding="utf-8")
    with pytest.raises(DeckError, match=r"bad.yml: items\[0\].quote does not occur in the seed deck"):
        load_deck_file(bad)
    missing = tmp_path / "missing.yml"
    missing.write_text("format: kuntalib.deck/1\nitems:\n  - label: {fi: a, sv: b}\n    quote: 'Toinen lause.'\n",
                       encoding="utf-8")
    with pytest.raises(DeckError, match=r"items\[0\].label: give a text for each of fi, sv, en"):
        load_deck_file(missing)
    unquoted = tmp_path / "unquoted.yml"
    unquoted.write_text("format: kuntalib.deck/1\nitems:\n  - label: {fi: a, sv: b, en: c}\n", encoding="utf-8")
    with pytest.raises(DeckError, match="no quote"):
        load_deck_file(unquoted)


def test_without_the_seed_quotes_are_reported_unchecked(tmp_path, monkeypatch):
    monkeypatch.setenv("KUNTALIB_SEED", str(tmp_path / "absent.txt"))
    deck = load_deck_file(RAW / "barometer" / "2022" / "cases.yml")
    assert not deck.quotes_checked and deck.quotes == 4
    with pytest.raises(DeckError, match="seed deck is not available"):
        load_deck_file(RAW / "barometer" / "2022" / "cases.yml", require_seed=True)


def test_cases_carry_the_support_share_or_its_range():
    from kuntalib.barometer.published import load_published

    figures = load_published("barometer/2022/published_figures.csv", "barometer/2022/questions.csv").figures
    t = case_table(load_deck_file(RAW / "barometer" / "2022" / "cases.yml"), figures, "fi")
    assert list(t["share_supporting"])[0] == "70\u00a0%"  # collecting ideas: published
    assert "ei julkaistu" in list(t["share_supporting"])[3] and "–" in list(t["share_supporting"])[3]  # a range
    assert t["presenter"].str.contains("Anttila").any()


def test_the_regions_claims_are_checked_or_said_to_be_unquantified():
    from kuntalib.scenarios import load_population

    deck = load_deck_file(RAW / "scenarios" / "varsinais-suomi" / "foresight_model.yml")
    pop = load_population(RAW / "scenarios" / "varsinais-suomi" / "population_subregions.csv")
    claims = check_claims(deck, pop, "en")
    assert list(claims["status"]) == ["unchecked", "unchecked", "holds", "unchecked"]
    assert "not quantified in the source" in claims["check"].iloc[0]
    assert "not working-age" in claims["check"].iloc[2]
    grown = pop.copy()
    grown.loc[(grown["subregion_id"] == "salo") & (grown["year"] == grown["year"].max()), "population"] = 10**6
    assert check_claims(deck, grown, "fi")["status"].iloc[2] == "fails"
    assert set(check_claims(deck, None, "sv")["status"]) == {"unchecked"}


def test_timeline_process_and_diagrams_draw_what_the_files_say():
    timeline = load_deck_file(RAW / "kotidigi" / "timeline.yml")
    ax = plot_timeline(timeline, lang="sv", source="Källa")
    dated = [p for p in timeline["phases"] if p.get("start")]
    assert len([p for p in ax.patches if p.get_width() > 0]) >= len(dated)
    assert any(p.get_hatch() for p in ax.patches)  # the tender's uncertain timing
    caption = "\n".join(t.get_text() for t in ax.figure.texts)
    assert "GHW AKKE" in caption and "tidpunkten nämns inte" in caption  # the undated project is listed, not drawn
    process = load_deck_file(RAW / "strategy" / "rautjarvi" / "process.yml")
    ax = plot_process(process, lang="en")
    undated = [e for e in process["events"] if e.get("date") is None]
    hollow = [ln for ln in ax.lines if ln.get_marker() == "o" and ln.get_markerfacecolor() == "white"
              and len(ln.get_xdata()) == 1]
    assert len(hollow) == len(undated) == 3
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "February 2021" in texts and "2019" in texts and "30 June 2022" in texts
    foresight = load_deck_file(RAW / "scenarios" / "varsinais-suomi" / "foresight_model.yml")
    ax = plot_flow(foresight["work_model"]["stages"], title="t", lang="fi")
    assert {"Luotaus", "Merkityksellistäminen", "Haltuunotto"} <= {t.get_text() for t in ax.texts}
    ax = plot_grid(foresight["operating_model"], title="t", lang="en")
    assert sum(1 for t in ax.texts if t.get_text()) == len(foresight["operating_model"])


def test_every_slide_is_rebuilt_on_a_page_or_says_why_not():
    slides = load_deck_file(RAW / "deck" / "slides.yml")["slides"]
    stems = {p.stem for p in (REPO / "notebooks").glob("*.ipynb")}
    assert len(slides) >= 30
    for s in slides:
        assert bool(s.get("page")) != bool(s.get("not_rebuilt")), s["quote"]
        if s.get("page"):
            assert s["page"] in stems, s
        else:
            assert set(s["not_rebuilt"]) == {"fi", "sv", "en"}


def test_the_site_index_lists_the_slides(tmp_path, monkeypatch):
    from kuntalib.pipeline.site import write_indexes

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    (tmp_path / "out" / "notebooks" / "sv").mkdir(parents=True)
    write_indexes()
    page = (tmp_path / "out" / "site" / "sv" / "index.html").read_text(encoding="utf-8")
    assert "Seminariepresentationens bilder" in page and page.count("<tr><td>") == 31
    assert "inget att återskapa" in page and '<small lang="fi">' in page


def test_numbers_the_deck_does_not_give_are_not_credited_to_it():
    """The KOTIDIGI cost-benefit projection (4 000 clients, 3 hospital days, almost 5 M€) is not in the deck:
    its citation names its own publisher and says, in every language, that the seminar presentation lacks it."""
    import re

    import pandas as pd

    from kuntalib.provenance import open_raw
    from kuntalib.sources import cite

    seed = seed_text()
    if seed is None:
        pytest.skip("the seed deck is not beside the project")
    path, prov = open_raw("kotidigi/cost_benefit_projection.csv")
    digits = re.sub(r"(?<=\d)[\s\u00a0](?=\d{3})", "", seed)
    values = pd.read_csv(path).set_index("parameter")["value"]
    assert str(int(values["clients_per_year"])) not in digits and str(int(values["annual_savings_eur"])) not in digits
    said = {"fi": "seminaariesitys (Kuntamarkkinat 14.9.2022) anna näitä lukuja",
            "sv": "seminariepresentationen (Kommunmarknaden 14.9.2022) ger inte dessa siffror",
            "en": "the seminar presentation (Kuntamarkkinat, 14 September 2022) does not give these figures"}
    for lang, words in said.items():
        text = cite(prov, lang)
        assert text.startswith("Smart Tampere: ") and words in text, text
