"""What an editor checks on the barometer page: each figure says what its text says, in the page's language."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize(("lang", "right", "left"), [("fi", "nollaviivasta oikealle edistäneiden osuus (sininen)",
                                                        "vasemmalle esteenä olleiden (oranssi)"),
                                                       ("sv", "till höger om nollan andelen som främjade (blått)",
                                                        "till vänster andelen som hindrade (orange)"),
                                                       ("en", "to the right of zero the share that promoted it (blue)",
                                                        "to the left of zero the share that hindered it (orange)")])
def test_the_promoters_text_says_which_side_and_colour_the_drawing_gives(shipped, lang, right, left):
    """The page's words for the promoters figure and the figure agree: promoted to the right of zero in blue,
    barrier to the left in orange (a hue between red and yellow), in every language."""
    import colorsys

    from babel.messages.pofile import read_po
    from matplotlib.colors import to_rgb

    from kuntalib.theme import ROLE
    from tests.conftest import REPO

    nb = json.loads((REPO / "notebooks" / "01_barometer.ipynb").read_text(encoding="utf-8"))
    [fi] = [t for c in nb["cells"] if c["cell_type"] == "markdown" and "nollaviivasta oikealle" in (t := "".join(c["source"]))]
    if lang == "fi":
        words = fi
    else:
        with (REPO / "notebooks" / "locale" / lang / "LC_MESSAGES" / "01_barometer.po").open("rb") as f:
            words = read_po(f)[fi].string
    assert right in words and left in words
    set_theme()
    pub, figures = shipped
    ax = plot_question("promoters", figures, pub.questions, lang=lang)
    bars = [p for p in ax.patches if not p.get_hatch() and p.get_width() != 0]
    promoted = [p for p in bars if p.get_facecolor()[:3] == to_rgb(ROLE["data"])]
    barrier = [p for p in bars if p.get_facecolor()[:3] == to_rgb(ROLE["unfavourable"])]
    assert promoted and barrier and len(promoted) + len(barrier) == len(bars)
    assert all(min(p.get_x(), p.get_x() + p.get_width()) >= 0 for p in promoted)
    assert all(max(p.get_x(), p.get_x() + p.get_width()) <= 0 for p in barrier)
    hue = {role: colorsys.rgb_to_hsv(*to_rgb(ROLE[role]))[0] * 360 for role in ("data", "unfavourable")}
    assert 180 <= hue["data"] <= 250 and 10 <= hue["unfavourable"] <= 45, hue  # blue; orange


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
