"""Notebook 02 as an editor reads it (#30): the KOTIDIGI timeline as the deck gives it, the alerts legend, labelled
numbers, one source/N style on every figure, one money format and one minus sign per language, the deck's words,
translations marked, and no prose that a parameter could make wrong."""

from __future__ import annotations

import json
import re

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from kuntalib.deck import load_deck_file, plot_timeline, seed_text, timeline_table
from kuntalib.fhir import charts
from kuntalib.fhir.analysis import TrendResult
from kuntalib.fhir.conformance import ConformanceReport
from kuntalib.fhir.costbenefit import load_projection, tornado
from kuntalib.i18n import LANGS, text
from kuntalib.present import say
from kuntalib.theme import fmt_eur, fmt_num
from tests.conftest import REPO

RAW = REPO / "data" / "raw"
NOTEBOOK = REPO / "notebooks" / "02_device_data.ipynb"
SITE = REPO / "outputs" / "site"
#: How a caption line says where the data come from, per language: synthetic data or a cited source.
SOURCE_WORDS = {"fi": ("Aineisto:", "Lähde:"), "sv": ("Data:", "Källa:"), "en": ("Data:", "Source:")}


@pytest.fixture(autouse=True)
def _root(monkeypatch):
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))


@pytest.fixture(scope="module")
def timeline():
    return load_deck_file(RAW / "kotidigi" / "timeline.yml")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.figure.texts]


def _caption(ax) -> str:
    return "\n".join(t.get_text() for t in ax.figure.texts)


# -- item 1: the timeline ------------------------------------------------------------------------------------------

def _last_date(deck) -> pd.Timestamp:
    d = deck.data
    ends = [pd.Timestamp(str(p["end"]) + ("-01" if len(str(p["end"])) == 7 else "")) for p in d["phases"] if p.get("end")]
    dates = [pd.Timestamp(str(x["date"]) + ("-01" if len(str(x["date"])) == 7 else "")) for x in d["milestones"] + d["forums"]]
    return max(ends + dates)


@pytest.mark.parametrize("lang", LANGS)
def test_timeline_axis_ends_where_the_data_end(timeline, lang):
    ax = plot_timeline(timeline, lang=lang)
    last = _last_date(timeline).year
    assert last == 2025
    right = mdates.num2date(ax.get_xlim()[1]).replace(tzinfo=None)
    assert right == pd.Timestamp(f"{last + 1}-01-01")  # the end of the data's last year, not 2029
    ax.figure.canvas.draw()
    years = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert years[-1] == str(last) and all(int(y) <= last for y in years)


@pytest.mark.parametrize("lang", LANGS)
def test_forums_are_named_dated_placed_and_the_later_one_planned(timeline, lang):
    ax = plot_timeline(timeline, lang=lang)
    texts = _texts(ax)
    dates = {"fi": ["10.9.2020", "9.11.2021", "9.11.2022"], "sv": ["10.9.2020", "9.11.2021", "9.11.2022"],
             "en": ["10 September 2020", "9 November 2021", "9 November 2022"]}[lang]
    for forum, date in zip(timeline["forums"], dates, strict=True):
        label = forum["label"][lang]
        assert any(label in t and date in t and forum["detail"][lang] in t for t in texts), (label, date)
    # the row is "forums", not "ecosystem forum" (Business forum 2 sits on it)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert text("deck.timeline.forums", lang) in rows and "ekosysteemifoorumi" not in rows
    # the forum after the deck's date (14.9.2022) is drawn hollow and said to be planned
    dots = [ln for ln in ax.lines if ln.get_marker() == "o"]
    hollow = [ln for ln in dots if ln.get_markerfacecolor() == "white"]
    assert len(dots) == 3 and len(hollow) == 1
    assert mdates.num2date(hollow[0].get_xdata()[0]).date() == pd.Timestamp("2022-11-09").date()
    planned = [t for t in texts if timeline["forums"][2]["label"][lang] in t]
    assert text("deck.timeline.planned_then", lang) in planned[0]


def test_hoppu2_is_drawn_uncertain_as_the_deck_writes_it(timeline):
    hoppu = next(p for p in timeline["phases"] if p["id"] == "hoppu2")
    assert "(100%) ?" in hoppu["quote"] and hoppu.get("uncertain")
    ax = plot_timeline(timeline, lang="fi")
    start = mdates.date2num(pd.Timestamp("2023-01-01"))
    bars = [p for p in ax.patches if p.get_width() > 0 and abs(p.get_x() - start) < 1]
    assert len(bars) == 1 and bars[0].get_hatch()  # hatched, not a solid bar
    assert any("(100%) ?" in t for t in _texts(ax))


def test_the_deck_content_is_on_the_page(timeline):
    """Solita–Mediconsult–Cinia, the Kuha/TAU model and the market survey, forum venues, Sotetieto hyötykäyttöön."""
    table = timeline_table(timeline, "fi")
    flat = " ".join(table.astype(str).to_numpy().ravel())
    for words in ("Solita – Mediconsult – Cinia", "Kuha/TAU", "markkinaselvitys", "Teams", "Asemakeskus", "Metso"):
        assert words in flat, words
    assert list(table.columns) == ["when", "event", "detail", "status"]
    assert (table["status"] == text("deck.timeline.status.planned", "fi", date="14.9.2022")).sum() == 2  # forum 3, Hoppu2
    notes = [n["label"]["fi"] for n in timeline["solution"]["notes"]]
    assert any("Sotetieto hyötykäyttöön" in n for n in notes)
    nb = "".join("".join(c["source"]) for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"])
    assert "timeline_table(" in nb and "Kuha/TAU" in nb


# -- item 5: the deck's words ---------------------------------------------------------------------------------------

def test_goals_are_the_decks_words(timeline):
    for goal in timeline["goals"]:
        assert goal["label"]["fi"] == " ".join(goal["quote"].split())
    assert timeline["goals"][1]["label"]["fi"].startswith("Tukea ja vahvistaa ")
    seed = seed_text()
    if seed is not None:
        assert all(g["label"]["fi"] in seed for g in timeline["goals"])


# -- items 2, 3, 4: alerts legend, labelled numbers, source and N lines ---------------------------------------------

def _thresholds() -> pd.DataFrame:
    from kuntalib.fhir.analysis import load_thresholds

    return load_thresholds(RAW / "kotidigi" / "alert_thresholds.csv")


def _alerts_summary() -> pd.DataFrame:
    rows = [("sbp_high", w, 9.0 + w, 6.0, False) for w in (1, 2, 3)]
    rows += [("dbp_high", 1, np.nan, np.nan, True), ("dbp_high", 2, 5.0, 5.0, False)]
    rows += [("spo2_low", w, np.nan, np.nan, True) for w in (1, 2, 3)]
    return pd.DataFrame(rows, columns=["rule_id", "week", "alerts", "persons", "suppressed"])


@pytest.mark.parametrize("lang", LANGS)
def test_alerts_legend_lists_only_the_rules_drawn(lang):
    th = _thresholds()
    ax = charts.plot_alerts(_alerts_summary(), th, lang=lang, min_persons=7)
    drawn = {p.get_facecolor() for p in ax.patches if p.get_height() > 0}
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    rules = [t for t in labels if t != text("fhir.charts.suppressed_k", lang, k="7")]
    assert len(rules) == len(drawn) == 2 < len(th)
    caption = _caption(ax)
    spo2 = th.set_index("rule_id").loc["spo2_low", f"label_{lang}"]
    cgm = th.set_index("rule_id").loc["cgm_low", f"label_{lang}"]
    assert spo2 in caption and cgm in caption and spo2 not in labels  # said under the chart, not in the legend
    assert "7" in caption and text("fhir.charts.suppressed_k", lang, k="7") in labels  # the parameter, not a fixed 5


def _quality() -> pd.DataFrame:
    return pd.DataFrame({"vendor": ["vendor_a", "vendor_b"], "lines": [30914, 10279], "accepted": [30586, 10174],
                         "rejected": [328, 105], "rejected_duplicate": [267, 92], "rejected_implausible": [61, 13],
                         "persons": [108, 99], "tz_assumed_pct": [0.0, 1.0], "late_pct": [2.0, 1.9]})


def test_rejected_share_says_what_its_numbers_are():
    for lang, words in {"fi": "1,1\u00a0% hylätty 30\u00a0914 rivistä", "sv": "1,1\u00a0% avvisade av 30\u00a0914 rader",
                        "en": "1.1% rejected of 30,914 lines"}.items():
        ax = charts.plot_quality(_quality(), lang=lang)
        assert any(t.strip() == words for t in _texts(ax)), [t for t in _texts(ax) if "30" in t]
        assert not any(re.search(r"\d\s*/\s*\d", t) for t in _texts(ax))


def _trend() -> TrendResult:
    fixed = pd.DataFrame({"term": ["Intercept", "week"], "coef": [143.0, -0.07], "se": [0.9, 0.05],
                          "ci_low": [141.2, -0.17], "ci_high": [144.8, 0.03]})
    return TrendResult(fixed, 142, 8495, True, {}, pd.DataFrame({"day": [0, 7], "week": [0.0, 1.0], "value": [143, 143]}), -0.01)


def _conformance() -> ConformanceReport:
    v = pd.DataFrame({"vendor": ["vendor_a", "vendor_d"], "checked": [300, 300], "r4b_valid": [300, 213],
                      "profile_ok": [300, 0], "conformant": [300, 0], "share_conformant": [1.0, 0.0], "passed": [True, False]})
    return ConformanceReport(v, pd.DataFrame(columns=["vendor", "level", "issue", "count"]), 0.99)


def _every_chart(lang: str) -> dict[str, object]:
    adherence = pd.DataFrame({"week": [1, 2], "persons": [150, 148], "median_pct": [85.7, 80.0], "q1_pct": [70.0, 60.0],
                              "q3_pct": [100.0, 95.0], "good_pct": [60.0, 50.0], "active_pct": [100.0, 97.0]})
    s = load_projection(RAW / "kotidigi" / "cost_benefit_projection.csv")
    return {
        "quality_rejected": charts.plot_quality(_quality(), lang=lang, min_persons=5),
        "quality_flags": charts.plot_flags(_quality(), lang=lang, min_persons=5),
        "conformance": charts.plot_conformance(_conformance(), lang=lang),
        "adherence": charts.plot_adherence(adherence, lang=lang, codes=["8480-6"], min_persons=5),
        "alerts": charts.plot_alerts(_alerts_summary(), _thresholds(), lang=lang, source=text("cite.source", lang, source="ESH")),
        "bp_trend": charts.plot_trend(_trend(), lang=lang),
        "cost_benefit_tornado": charts.plot_tornado(tornado(s, service_cost=(0, 300)), s, lang=lang,
                                                    source=text("cite.source", lang, source="Smart Tampere")),
        "kotidigi_timeline": plot_timeline(load_deck_file(RAW / "kotidigi" / "timeline.yml"), lang=lang,
                                           source="Tampereen kaupunki"),
    }


@pytest.mark.parametrize("lang", LANGS)
def test_every_chart_has_a_source_line_and_its_n(lang):
    for name, ax in _every_chart(lang).items():
        lines = [line for t in ax.figure.texts for line in t.get_text().split("\n")]
        assert any(line.startswith(SOURCE_WORDS[lang]) for line in lines), (name, lines)
        if name not in ("cost_benefit_tornado", "kotidigi_timeline"):  # an N is meaningless for a projection or a history
            assert any(line.startswith("N = ") for line in lines), (name, lines)
            assert charts.synthetic_line(lang) in lines  # the simulated data say so, in the style of notebook 01


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_every_built_figure_has_a_source_line(shipped, lang):
    assert shipped.report.ok, shipped.report.summary()
    svgs = sorted((shipped.outputs / "figures" / "02_device_data" / lang).glob("*.svg"))
    names = {p.stem for p in svgs}
    assert {"kotidigi_timeline", "kotidigi_solution", "quality_rejected", "quality_flags", "conformance", "adherence",
            "alerts", "bp_trend", "cost_benefit_tornado"} <= names
    for svg in svgs:
        body = svg.read_text(encoding="utf-8")
        assert any(w in body for w in SOURCE_WORDS[lang]), svg.name


# -- item 7: money and minus ----------------------------------------------------------------------------------------

MONEY = {"fi": (r"\d\u00a0(milj\.\u00a0)?€", r"€\s?\d"), "sv": (r"\d\u00a0(mn\u00a0)?€", r"€\s?\d"),
         "en": (r"€\d", r"\d\s?(M)?€")}  # (the language's format, the other one)


@pytest.mark.parametrize("lang", LANGS)
def test_money_has_one_format_per_language(lang):
    ok, other = MONEY[lang]
    s = load_projection(RAW / "kotidigi" / "cost_benefit_projection.csv")
    ax = charts.plot_tornado(tornado(s, service_cost=(0, 300)), s, lang=lang)
    texts = _texts(ax) + [t.get_text() for t in ax.get_yticklabels()] + [t.get_text() for t in ax.get_legend().get_texts()]
    texts.append(ax.get_xlabel())
    texts.append(say("nb.02_device_data.projection", lang, source="x", cost_per_day=fmt_eur(416.67, 0, lang),
                     cost_range=charts.fmt_money_range(0, 300, 0, lang)))
    texts.append(say("nb.02_device_data.grid", lang))
    money = [t for t in texts if "€" in t]
    assert len(money) >= 8
    assert not [t for t in money if re.search(other, t)], [t for t in money if re.search(other, t)]
    units = ("milj. €", "mn €", "€m", "(€)")  # a unit in a label or header, not an amount
    assert all(re.search(ok, t) or any(u in t for u in units) for t in money), money
    assert fmt_eur(417, 0, lang) == {"fi": "417\u00a0€", "sv": "417\u00a0€", "en": "€417"}[lang]
    assert charts.fmt_money_range(0, 300, 0, lang) == {"fi": "0–300\u00a0€", "sv": "0–300\u00a0€", "en": "€0–300"}[lang]
    assert charts.fmt_meur(3.8, 1, lang, high=5.0) == {"fi": "3,8–5,0\u00a0milj.\u00a0€", "sv": "3,8–5,0\u00a0mn\u00a0€",
                                                       "en": "€3.8–5.0m"}[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_negative_numbers_have_the_same_minus_in_every_language(lang):
    ax = charts.plot_trend(_trend(), lang=lang)
    caption = _caption(ax)
    assert "\u22120" in caption and not re.search(r"-\d", caption)
    assert fmt_num(-7.1, 2, lang).startswith("\u2212")


# -- item 8: translations marked once ---------------------------------------------------------------------------------

def test_goals_are_marked_as_translation_on_sv_and_en_pages():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    goals = [c for c in nb["cells"] if c["cell_type"] == "code" and "timeline[\"goals\"]" in "".join(c["source"])]
    assert len(goals) == 1 and "nb.02_device_data.translated" in "".join(goals[0]["source"])
    if not (SITE / "en" / "02_device_data.html").exists():
        return
    for lang in LANGS:
        page = (SITE / lang / "02_device_data.html").read_text(encoding="utf-8")
        note = text("nb.02_device_data.translated", lang).strip("*")
        assert page.count(note) == (0 if lang == "fi" else 1), lang


# -- item 9: prose free of parameter values ---------------------------------------------------------------------------

FINNISH_NUMBERS = {2: ("kaksi", "kahden", "kahta"), 3: ("kolme", "kolmen"), 5: ("viisi", "viiden", "viittä"),
                   10: ("kymmenen",)}


def test_prose_states_no_value_a_parameter_changes():
    """A Markdown cell is the same for every run: a value a parameter sets (five persons, 300 resources, a LOINC code,
    a measure) belongs in show(...) or a caption filled from the parameter."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    params = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    prose = [("".join(c["source"]), c["id"]) for c in nb["cells"]
             if c["cell_type"] == "markdown" and "source-only" not in c["metadata"].get("tags", [])]
    forbidden: list[str] = []
    for line in "".join(params["source"]).splitlines():
        m = re.match(r"(\w+): (\w+) = (.+?)  #", line)
        if not m or m.group(1) in ("lang", "workers", "fhir_format") or m.group(1).endswith("_file"):
            continue
        value = eval(m.group(3))  # noqa: S307 - the literal defaults of the parameters cell
        if isinstance(value, str):
            forbidden += [rf"\b{re.escape(v.strip())}\b" for v in value.split(",") if v.strip()]
        elif value:
            forbidden.append(rf"(?<![\d,.]){int(value)}(?![\d,.]\d)")
            forbidden += [rf"\b{w}" for w in FINNISH_NUMBERS.get(int(value), ())]
    forbidden.append(r"verenpaineensa")  # the adherence codes are a parameter: the measure is said in the caption
    found = [(cid, pat) for text_, cid in prose for pat in forbidden if re.search(pat, text_, flags=re.IGNORECASE)]
    assert not found, found
