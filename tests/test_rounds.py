"""Barometer rounds: a round is a folder; two rounds' figures compared question by question."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuntalib.barometer import steps
from kuntalib.barometer.charts import plot_comparison
from kuntalib.barometer.published import check_constraints, load_published, read_questions
from kuntalib.barometer.rounds import MICRODATA, RoundError, compare_rounds, find_round
from kuntalib.barometer.synthetic import ROUND_2025, reproduction_errors, write_synthetic_round
from kuntalib.provenance import open_raw
from kuntalib.theme import set_theme


def _files(r):
    return [open_raw(f)[0] if f else None for f in (r.figures, r.questions, r.microdata)]


@pytest.fixture(scope="module")
def rounds_2025_2022():
    """Both shipped synthetic rounds from their microdata, and from their published figures."""
    now, before = find_round("2025"), find_round("2022")
    (fa, qa, ma), (fb, qb, mb) = _files(now), _files(before)
    questions = (read_questions(qa), read_questions(qb))
    micro = compare_rounds(steps.figures(fa, ma, frame_municipalities=308)["figures"],
                           steps.figures(fb, mb, frame_municipalities=309)["figures"], *questions, ("2025", "2022"))
    published = compare_rounds(steps.figures(fa)["figures"], steps.figures(fb)["figures"], *questions, ("2025", "2022"))
    return micro, published, questions


def test_shipped_rounds_follow_the_convention():
    assert find_round("2022").press == "barometer/2022/press_releases.csv"
    assert find_round("2022").microdata == "barometer/2022/synthetic_microdata.csv"
    old = find_round("2018")
    assert old.microdata is None and old.press is None and old.cases is None
    assert open_raw(old.figures)[1].address.startswith("https://www.kuntaliitto.fi/")
    for name in ("published_figures.csv", "questions.csv", "synthetic_microdata.csv"):
        assert open_raw(f"barometer/2025/{name}")[1].synthetic, name


def test_a_round_folder_that_is_not_one_says_what_is_wrong(project):
    folder = project / "data" / "raw" / "barometer"
    (folder / "2030").mkdir(parents=True)
    (folder / "2030" / "questions.csv").write_text("question_id\n")
    with pytest.raises(RoundError, match=r"2030/ lacks published_figures.csv"):
        find_round("2030")
    with pytest.raises(RoundError, match=r"no folder data/raw/barometer/2031/ \(rounds: 2030\)"):
        find_round("2031")
    with pytest.raises(RoundError, match="a round is a year"):
        find_round("../2030")
    (folder / "2030" / "published_figures.csv").write_text("x\n")
    for name in MICRODATA[:2]:
        (folder / "2030" / name).write_text("x\n")
    with pytest.raises(RoundError, match="2 microdata files"):
        find_round("2030")
    (folder / "2030" / MICRODATA[1]).unlink()
    assert find_round("2030").source_file("microdata") == "barometer/2030/microdata.csv"
    (folder / "2030" / MICRODATA[0]).unlink()
    with pytest.raises(RoundError, match="round 2030 has no microdata file"):
        find_round("2030").source_file("microdata")
    assert find_round("2030").source_file("published") is None


def test_shipped_2025_round_is_what_its_generator_writes(tmp_path):
    pub = load_published()
    write_synthetic_round(tmp_path, pub.figures, pub.questions, rng=2025)
    for name in ("published_figures.csv", "questions.csv", "synthetic_microdata.csv"):
        assert (tmp_path / name).read_bytes() == open_raw(f"barometer/2025/{name}")[0].read_bytes(), name


def test_2025_figures_obey_the_constraints_and_its_microdata_reproduce_them():
    now = find_round("2025")
    fa, _, ma = _files(now)
    figures = steps.figures(fa)["figures"]
    assert check_constraints(figures) == []
    estimated = steps.figures(fa, ma)["figures"]
    est = estimated.assign(n=estimated.n_max)
    assert reproduction_errors(figures, est) == []


def test_options_and_wording_that_differ_are_said_not_guessed(rounds_2025_2022):
    micro, published, _ = rounds_2025_2022
    yes = micro[micro.answer == "yes"].set_index(["question_id", "category_id"])
    dropped, added = ROUND_2025["drop"], ROUND_2025["add"][:2]
    assert not yes.loc[dropped, "in_now"] and yes.loc[dropped, "in_before"]
    assert yes.loc[added, "in_now"] and not yes.loc[added, "in_before"]
    assert math.isnan(yes.loc[added, "difference"])
    reworded = {k for k, r in yes.iterrows() if r.reworded_option}
    by_years = {k for k, r in yes.iterrows() if ROUND_2025["reference_years"][1] in r.label_fi}  # "2020–2021" → "2023–2024"
    assert reworded == set(ROUND_2025["reword_options"]) | by_years and by_years
    assert yes.loc[("partners", "companies"), "label_before_fi"] == "Yritykset"
    questions = set(micro[micro.reworded_question].question_id)
    # motivators and partners by design; support and types only by their reference years (2020–2021 → 2023–2024)
    assert {"motivators", "partners"} <= questions and "key_figures" not in questions and "achievements" not in questions


def test_difference_interval_only_where_both_rounds_are_estimates(rounds_2025_2022):
    micro, published, _ = rounds_2025_2022
    both = micro[micro.in_now.astype(bool) & micro.in_before.astype(bool)]
    assert both.diff_lower.notna().all() and (both.diff_lower <= both.difference).all() and (both.difference <= both.diff_upper).all()
    np.testing.assert_allclose(both.difference, both.share_now - both.share_before)
    assert published.diff_lower.isna().all() and published.diff_upper.isna().all()
    # 2022 publishes only some shares: a difference exactly where both are published
    known = published.share_now.notna() & published.share_before.notna()
    assert (published.difference.notna() == known).all() and known.sum() > 5


def test_default_comparison_2022_with_2018_is_the_published_adoption_only():
    now, before = find_round("2022"), find_round("2018")
    (fa, qa, _), (fb, qb, _) = _files(now), _files(before)
    table = compare_rounds(steps.figures(fa)["figures"], steps.figures(fb)["figures"], read_questions(qa), read_questions(qb),
                           ("2022", "2018"))
    assert set(table.question_id) == {"key_figures"}
    both = table[table.in_now.astype(bool) & table.in_before.astype(bool)]
    assert list(both.category_id) == ["adopted"] and both.difference.iloc[0] == 1.0
    assert not table.reworded_question.any()


@settings(max_examples=30, deadline=None)
@given(p1=st.floats(0.05, 0.95), p0=st.floats(0.05, 0.95), h1=st.floats(0.01, 0.2), h0=st.floats(0.01, 0.2))
def test_newcombe_interval_contains_the_difference_and_is_symmetric_in_the_rounds(p1, p0, h1, h0):
    def rows(p, h):
        return pd.DataFrame({"question_id": ["q"], "category_id": ["c"], "answer": ["yes"], "chart_order": [1], "label_fi": ["a"],
                             "label_sv": ["a"], "label_en": ["a"], "share": [100 * p], "lower": [100 * (p - h)],
                             "upper": [100 * (p + h / 2)], "n_min": [100.0], "n_max": [100.0], "published": [False]})
    q = pd.DataFrame({"title_fi": ["Q"]}, index=pd.Index(["q"], name="question_id"))
    ab = compare_rounds(rows(p1, h1), rows(p0, h0), q, q, ("2", "1")).iloc[0]
    ba = compare_rounds(rows(p0, h0), rows(p1, h1), q, q, ("2", "1")).iloc[0]
    assert ab.diff_lower < ab.difference < ab.diff_upper
    assert ab.diff_lower == pytest.approx(-ba.diff_upper) and ab.diff_upper == pytest.approx(-ba.diff_lower)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_comparison_chart_says_what_differs(rounds_2025_2022, lang):
    set_theme()
    micro, published, questions = rounds_2025_2022
    ax = plot_comparison(micro, "partners", questions, ("2025", "2022"), lang=lang, synthetic=True)
    caption = "\n".join(t.get_text() for t in ax.figure.texts)
    assert "†" in "".join(t.get_text() for t in ax.get_yticklabels())
    old = micro.set_index(["question_id", "category_id", "answer"]).loc[("partners", "companies", "yes"), f"label_before_{lang}"]
    assert f"”{old}”" in caption or f"“{old}”" in caption  # the earlier wording of the reworded option
    assert {"2022", "2025"} <= {t.get_text() for t in ax.get_legend().get_texts()}
    assert "95" in caption
    ax = plot_comparison(published, "support", questions, ("2025", "2022"), lang=lang, synthetic=True)
    drawn = " ".join(t.get_text() for t in ax.texts)
    assert "2022" in drawn and "2025" in drawn  # the added and the dropped option each say which round lacks them
