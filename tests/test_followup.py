"""Strategy follow-up by evaluation round: the deck's 30.6.2022 table, an honest time axis, rounds, backtest, page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kuntalib.indicators import StatusRules, evaluate, load_indicator_file
from kuntalib.indicators.charts import plot_backtest, plot_bullet, plot_dashboard, plot_trajectory, year_position
from kuntalib.indicators.model import parse_indicator_file
from kuntalib.indicators.page import followup_html
from kuntalib.indicators.status import backtest, parse_as_of
from kuntalib.indicators.texts import compare_rounds, round_table
from kuntalib.provenance import open_raw
from tests.conftest import REPO

SEED = REPO.parent / "shared" / "seeds" / "000_9036ed6640ce4509.txt"
DECK_ROUND = "2022-09-14"  # the seminar: the 30.6.2022 round as the deck shows it
LATER_ROUND = "2023-10-31"


@pytest.fixture(scope="module")
def file():
    path, _ = open_raw("strategy/rautjarvi/followup.yml")
    return load_indicator_file(path)


def _norm(text: str) -> str:
    """A cell as the seed's plain text has it: no thousands separator (a no-break space), plain spaces."""
    return re.sub(r"(?<=\d)\u00a0(?=\d{3}\b)", "", text).replace("\u00a0", " ")


def _seed_table() -> list[str]:
    if not SEED.exists():
        pytest.skip(f"the seed deck is not beside the checkout ({SEED})")
    text = SEED.read_text(encoding="utf-8")
    block = text.split("Olosuhdetekijä Tavoite 2025 Toteutuma", 1)[1].split("www.rautjarvi.fi", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_the_deck_round_reproduces_the_decks_table_cell_by_cell(file):
    seed_rows = _seed_table()
    assert len(seed_rows) == 5
    result = evaluate(file, StatusRules(window_years=10), as_of=DECK_ROUND)
    assert result.status_date == pd.Timestamp("2022-06-30")
    table = round_table(result, "fi")
    ours = [" ".join(_norm(c) for c in (r.indicator, r.target, r.actual)) for r in table.itertuples() if r.actual != "–"]
    assert ours == seed_rows
    tax = table.set_index("indicator_id").loc["income_tax"]
    assert tax.actual == "–" and tax.target_status == "unknown"  # the deck prints no tax rate
    ax = plot_dashboard(result, lang="fi")
    # the deck's slide is titled "Strategian toteutuminen 30.6.2022" and has no lights: the title says whose lights these are
    assert ax.get_title(loc="left") == "Rautjärvi: tavoitteet ja toteutuma 30.6.2022 – liikennevalot kuntalibin säännöin"
    texts = {_norm(t.get_text()) for t in ax.texts}
    for row in seed_rows:
        label = row.split(" ")[0]
        assert any(t.startswith(label) for t in texts), label
    for cell in ("25 hlöä/v", "10 hlöä/12kk", "3028", "3099", "1350", "1563", "900", "898", "Yli 100 %", "171 %"):
        assert cell in texts, cell
    caption = " ".join(" ".join(t.get_text() for t in ax.figure.texts).split())
    assert "kuntalibin säännöt, eivät kunnan omat" in caption and "Arvioitu 14.9.2022" in caption
    assert "Kuntamarkkinat 14.9.2022" in caption


def test_aims_are_the_decks_and_statements_quote_it(file):
    assert [a["label"]["fi"] for a in file.aims] == ["Väestörakenteen muutos", "Yritysten ja työpaikkojen määrä",
                                                     "Kuntatalouden tasapaino"]
    seed = " ".join(SEED.read_text(encoding="utf-8").split()) if SEED.exists() else None
    for ind in file.indicators:
        st = ind.target.get("statement")
        if st and seed:
            assert st["fi"] in seed, st["fi"]
        if seed and ind.target.get("text"):
            assert ind.target["text"]["fi"] in seed or ind.target["text"]["fi"].startswith("enintään 1 %"), ind.id
    stated = {i.id: i.aim_stated for i in file.indicators}
    assert stated == {"net_migration": True, "population": False, "working_age": True, "jobs": True,
                      "margin_to_depreciation": False, "income_tax": True}
    if seed:
        for a in file.aims:
            assert a["label"]["fi"] in seed


def test_a_round_sees_only_values_published_by_its_date(file):
    rules = StatusRules(window_years=10)
    early = evaluate(file, rules, as_of="2022-09-13")  # the day before the deck made the 30.6.2022 values public
    assert early.status_date == pd.Timestamp("2020-12-31")
    assert early.actuals["population"].value == 3146 and early.actuals["jobs"] is None
    deck = evaluate(file, rules, as_of=DECK_ROUND)
    assert deck.actuals["population"].value == 3099
    assert deck.file.get("population").observations.date.max() == pd.Timestamp("2022-06-30")  # not the 2023 value
    later = evaluate(file, rules, as_of=LATER_ROUND)
    assert later.status_date == pd.Timestamp("2023-09-30") and later.actuals["population"].value == 3047
    assert later.actuals["jobs"] is None  # 15 months old: history, not this round's actual
    change = compare_rounds(deck, later, "en").set_index("indicator_id")
    assert change.loc["population", "change"] == "\u221252" and change.loc["jobs", "change"] == "–"
    assert change.loc["population", "actual_1"] == "3,099" and change.loc["population", "date_2"] == "30 September 2023"
    for bad in ("now", "today", "14.9.2022", ""):
        with pytest.raises(ValueError, match="literal date YYYY-MM-DD"):
            parse_as_of(bad)


def test_forecast_is_not_estimable_with_too_few_points_and_never_a_number(file):
    res = evaluate(file, StatusRules(window_years=10, min_points=5), as_of=DECK_ROUND)
    st = res.status("jobs", "forecast")
    assert st.status == "not_estimable" and st.value is None and st.probability is None
    assert "jobs" not in res.forecasts
    pop = res.status("population", "forecast")
    assert pop.status in {"green", "yellow", "red"} and 0 <= pop.probability <= 1
    assert res.forecasts["population"].n == 5  # 2015, 2018, 30.6.2020, 2020, 30.6.2022 in the 10 years to the round


def test_year_axis_puts_values_at_their_year(file):
    x = year_position(pd.to_datetime(["2016-12-31", "2025-12-31", "2022-06-30", "1980-12-31"]))
    assert x[0] == 2016.0 and x[1] == 2025.0 and x[3] == 1980.0
    assert x[2] == pytest.approx(2021.5, abs=0.01)
    res = evaluate(file, StatusRules(window_years=10), as_of=LATER_ROUND)
    ax = plot_trajectory(res.file.get("income_tax"), lang="fi", result=res)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [2016.0, 2017.0, 2018.0]
    ax.figure.canvas.draw()
    ticks = {round(t.get_position()[0], 6): t.get_text() for t in ax.get_xticklabels()}
    assert ticks.get(2016.0) == "2016"
    ax = plot_trajectory(res.file.get("population"), res.forecasts.get("population"), lang="en", result=res)
    star = [ln for ln in ax.get_lines() if ln.get_marker() == "*"][0]
    assert list(star.get_xdata()) == [2025.0] and list(star.get_ydata()) == [3028.0]
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", t) for t in labels), labels  # whole persons, English format
    assert "Evaluated 31 October 2023" in " ".join(" ".join(t.get_text() for t in ax.figure.texts).split())


def test_one_value_indicators_get_a_bullet_chart(file):
    res = evaluate(file, StatusRules(), as_of=DECK_ROUND)
    ax = plot_bullet(res.file.get("jobs"), res, lang="sv")
    bar = ax.patches[0]
    assert bar.get_width() == 898
    target = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [900, 900]]
    assert target, "the target is drawn as a line at 900"
    assert any("898 (30.6.2022)" in t.get_text() for t in ax.texts)


def _series_file(values: list[float], start: int = 2000) -> object:
    ind = {"id": "x", "label": {"fi": "x"}, "unit": {"fi": "kpl"}, "direction": "higher",
           "target": {"date": "2030-12-31", "value": 0, "kind": "at_least", "source": "s"},
           "observations": [{"date": f"{start + i}-12-31", "value": v, "source": "s"} for i, v in enumerate(values)]}
    return parse_indicator_file({"indicators": [ind], "sources": {"s": "test"}}, Path("t.yml"))


def test_backtest_counts_and_flags_predictions(rng):
    f = _series_file(list(100 - 2 * np.arange(12) + rng.normal(0, 0.5, 12)))
    rules = StatusRules(window_years=6, min_points=5, alpha=0.2)
    bt = backtest(f.indicators[0], rules, horizon_years=3)
    # origins 2004..2010 have 5+ points in 6 years; each predicts up to 3 later years (fewer near the end)
    assert len(bt) == 3 * 5 + 2 + 1 and bt.horizon.max() == pytest.approx(3, abs=0.01)
    assert bt.inside.mean() >= 0.6  # a straight line with small noise is mostly covered
    jumped = _series_file([100, 98, 96, 94, 92, 90, 150])
    bt = backtest(jumped.indicators[0], rules, horizon_years=3)
    last = bt[bt.date == pd.Timestamp("2006-12-31")]
    assert len(last) == 2 and not last.inside.any()  # the jump is outside every interval


def test_followup_step_and_backtest_chart(file, tmp_path, monkeypatch):
    from kuntalib.indicators import steps
    from kuntalib.pipeline.steps import run_step

    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path))
    rules = StatusRules(window_years=10)
    step = run_step("nb", steps.rounds, indicator_file=file.path, rounds=[DECK_ROUND, LATER_ROUND], evaluated_on="2026-11-29",
                    window_years=10.0, prediction_level=0.8, backtest_years=3.0)
    first, latest = steps.rounds_result(step, file, rules)
    direct = evaluate(file, rules, as_of=DECK_ROUND)
    assert first.statuses == direct.statuses and first.status_date == direct.status_date
    pd.testing.assert_frame_equal(round_table(first, "fi"), round_table(direct, "fi"))
    assert latest.status_date == pd.Timestamp("2023-09-30")
    windows = step["backtest_windows"]
    assert list(windows.window_years) == [5, 10, 15, 20, 25] and (windows.nominal == 0.8).all()
    row = windows.set_index("window_years").loc[10.0]
    assert row.predictions == len(step["backtest"]) and row.inside == step["backtest"].inside.sum()
    ax = plot_backtest(windows, used=10.0, horizon_years=3, result=latest, lang="en")
    assert any("nominal 80%" in t.get_text() for t in ax.get_legend().get_texts())


def test_followup_page_is_in_its_language_and_escaped(file):
    rules = StatusRules(window_years=10)
    results = [evaluate(file, rules, as_of=DECK_ROUND), evaluate(file, rules, as_of=LATER_ROUND)]
    page = followup_html(results, "sv")
    assert page.startswith('<div class="kl-followup" lang="sv">')
    # the later round shows only what it adds: the population of 30.9.2023; the five others are named under it
    assert page.count('<section class="round">') == 2 and page.count("<table>") == 3 + 1
    assert "Mål och utfall 30.6.2022, trafikljus enligt kuntalibs regler (utvärderad 14.9.2022)" in page
    assert "utan nytt värde: Flyttningsöverskott, Personer i arbetsför ålder, Arbetsplatser" in page
    assert 'aria-label="når målet"' in page and 'aria-label="kan inte skattas"' in page
    assert page.count("<svg") == 2 + 1  # population and income tax have a series; the later round shows population
    hostile = parse_indicator_file({"indicators": [{
        "id": "x", "label": {"fi": "<img src=x onerror=alert(1)>"}, "unit": {"fi": "kpl"}, "direction": "higher",
        "target": {"date": "2025-12-31", "value": 1, "kind": "at_least", "source": "s"},
        "observations": [{"date": "2022-06-30", "value": 2, "source": "s"}]}], "sources": {"s": "<script>"}}, Path("h.yml"))
    page = followup_html([evaluate(hostile, as_of="2022-12-31")], "fi")
    assert "<img src=x" not in page and "<script>" not in page and "&lt;img src=x" in page


@pytest.mark.slow
@pytest.mark.browser
def test_followup_page_on_the_site_in_headless_chromium(shipped):
    """The notebook's follow-up section, as published on the site in each language, seen in a real browser."""
    from kuntalib.indicators.charts import STATUS_TEXT
    from tests.test_site import served

    assert shipped.report.ok, shipped.report.summary()  # a failed run would leave its last good page
    with served(shipped.outputs / "site") as (base, browser):
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith((base, "data:")) else route.abort())
        for lang, heading in (("fi", "Tavoitteet ja toteutuma 30.6.2022"), ("sv", "Mål och utfall 30.6.2022"),
                              ("en", "Targets and actuals, 30 June 2022")):
            assert page.goto(f"{base}{lang}/04_strategy_followup.html").status == 200
            box = page.locator(".kl-followup")
            assert box.get_attribute("lang") == lang
            assert page.locator(".kl-followup h3").first.inner_text().startswith(heading)
            assert page.locator(".kl-followup tbody tr").count() == 6 + 1  # the later round: only its new value
            labels = page.eval_on_selector_all(".kl-followup .light", "els => els.map(e => e.getAttribute('aria-label'))")
            assert len(labels) == (6 + 1) * 3 and set(labels) <= {t[lang] for t in STATUS_TEXT.values()}
            spark = page.locator(".kl-followup svg.spark").first.bounding_box()
            assert spark is not None and spark["width"] > 50 and spark["height"] > 10
            row = page.locator(".kl-followup tbody tr", has_text={"fi": "Työpaikat", "sv": "Arbetsplatser", "en": "Jobs"}[lang])
            assert {"fi": "898", "sv": "898", "en": "898"}[lang] in row.first.inner_text()


def _workbook_frames(file, tmp_path):
    from kuntalib.indicators.sheets import write_indicator_workbook

    return pd.read_excel(write_indicator_workbook(file, tmp_path / "w.xlsx"), sheet_name=None, dtype=object)


def test_indicator_file_from_an_excel_workbook_equals_the_yaml(file, tmp_path):
    from kuntalib.indicators.sheets import write_indicator_workbook

    book = write_indicator_workbook(file, tmp_path / "rautjarvi.xlsx")
    again = load_indicator_file(book)
    for as_of in (DECK_ROUND, LATER_ROUND):
        a, b = evaluate(file, as_of=as_of), evaluate(again, as_of=as_of)
        assert a.statuses == b.statuses
        for lang in ("fi", "sv", "en"):
            pd.testing.assert_frame_equal(round_table(a, lang), round_table(b, lang))


def test_indicator_file_from_semicolon_csv_with_decimal_commas(file, tmp_path):
    from kuntalib.provenance import write_sidecar

    for sheet, df in _workbook_frames(file, tmp_path).items():
        if sheet == "observations":
            df["value"] = [str(v).replace(".", ",") for v in df["value"]]
        p = tmp_path / f"kunta.{sheet}.csv"
        df.to_csv(p, sep=";", index=False, encoding="utf-8")
        write_sidecar(p, source="test", address="-", date="2026-11-29", licence="CC0")
    again = load_indicator_file(tmp_path / "kunta.indicators.csv")
    assert again.get("income_tax").observations.value.tolist() == [20.5, 20.25, 20.25]
    pd.testing.assert_frame_equal(round_table(evaluate(again, as_of=DECK_ROUND), "fi"),
                                  round_table(evaluate(file, as_of=DECK_ROUND), "fi"))


@pytest.mark.parametrize(
    "sheet, change, message",
    [
        ("observations", ("date", 3, "30.6.2022"), r"sheet 'observations' row 5 column 'date': '30.6.2022' is not a date"),
        ("observations", ("value", 0, "paljon"), r"sheet 'observations' row 2 column 'value': 'paljon' is not a number"),
        ("observations", ("series", 1, "populaatio"), r"sheet 'observations' row 3 column 'series': 'populaatio' is neither an indicator"),
        ("indicators", ("target_value", 2, None), r"sheet 'indicators' row 4 column 'target_value': empty"),
        ("indicators", ("colour", 0, "red"), r"sheet 'indicators' column 'colour' is not one of"),
        ("sources", None, r"sheet 'sources' is missing"),
    ],
)
def test_spreadsheet_errors_name_the_sheet_row_and_column(file, tmp_path, sheet, change, message):
    from kuntalib.indicators.model import IndicatorFileError

    frames = _workbook_frames(file, tmp_path)
    if change is None:
        frames.pop(sheet)
    else:
        col, row, value = change
        frames[sheet].loc[row, col] = value
    bad = tmp_path / "bad.xlsx"
    with pd.ExcelWriter(bad, engine="openpyxl") as xl:
        for name, df in frames.items():
            df.to_excel(xl, sheet_name=name, index=False)
    with pytest.raises(IndicatorFileError, match=f"bad.xlsx: {message}"):
        load_indicator_file(bad)
