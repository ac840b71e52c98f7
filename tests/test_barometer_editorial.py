"""What an editor checks on the barometer page: each figure says what its text says, in the page's language."""

from __future__ import annotations

import pytest

from kuntalib.barometer import steps
from kuntalib.barometer.charts import WIDE_BOUNDS
from kuntalib.barometer.published import load_published
from kuntalib.barometer.report import plot_question
from kuntalib.deck import case_table, load_deck_file
from kuntalib.provenance import open_raw
from kuntalib.theme import set_theme


@pytest.fixture(scope="module")
def shipped():
    pub = load_published()
    return pub, steps.figures(pub.provenance.path)["figures"]


def _caption(ax) -> str:
    return " ".join(t.get_text() for t in ax.figure.texts)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_no_finnish_words_in_a_foreign_caption(shipped, lang):
    set_theme()
    pub, figures = shipped
    for q in ("key_figures", "types", "promoters"):
        caption = _caption(plot_question(q, figures, pub.questions, lang=lang))
        for word in ("julkaistu", "vakiintuneisuus", "Viitevuodet", "Kuntaliittos"):
            assert word not in caption, (q, word, caption)


def test_a_share_the_text_leaves_open_is_said_not_drawn(shipped):
    """types: three shares anywhere in 0–96 % are sentences in their rows, not three full-width bands."""
    set_theme()
    pub, figures = shipped
    rows = figures[(figures.question_id == "types") & figures.share.isna()]
    assert len(rows) == 3 and ((rows.upper - rows.lower) >= WIDE_BOUNDS).all()
    ax = plot_question("types", figures, pub.questions, lang="en")
    assert not [p for p in ax.patches if p.get_hatch()]
    assert sum("not published" in t.get_text() for t in ax.texts) == 3
    assert "hatched" not in _caption(ax)  # no band is drawn, so the caption does not explain one
    ax = plot_question("support", figures, pub.questions, lang="en")
    assert len([p for p in ax.patches if p.get_hatch()]) == 8 and "hatched" in _caption(ax).lower()


def test_cases_name_the_option_they_are_matched_to(shipped):
    pub, figures = shipped
    path, _ = open_raw("barometer/2022/cases.yml")
    table = case_table(load_deck_file(path), figures, "en")
    labels = set(figures[figures.question_id == "support"].label_en)
    assert len(table) == 4 and set(table.option) <= labels
