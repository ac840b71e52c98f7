"""Barometer bounds: the tightest bounds the published text allows, by linear programming."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.barometer import steps
from kuntalib.barometer.bounds import BoundsError, Constraint, apply_bounds, build_constraints, tight_bounds
from kuntalib.barometer.published import load_published
from kuntalib.barometer.report import bounds_table, plot_question
from kuntalib.theme import fmt_pct

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def pub():
    return load_published()


@pytest.fixture(scope="module")
def bounds(pub):
    return tight_bounds(pub.figures).set_index(["question_id", "category_id", "answer"])


def test_barrier_of_a_strong_promoter_is_capped_by_the_sum(bounds):
    """Promoted by 78 % leaves at most 22 % for 'barrier' (75 → 25, 70 → 30), not the stated 34 %."""
    for cat, cap in (("new_technology", 22), ("staff_competence", 25), ("unit_cooperation", 30)):
        row = bounds.loc[("promoters", cat, "barrier")]
        assert (row.lower, row.upper) == (0, cap)
        assert row.upper_rule == "sum" and row.upper_ref == f"promoters/{cat}/promoted"
    # where the sum allows more, the stated "largest barrier 34 %" binds
    row = bounds.loc[("promoters", "companies", "barrier")]
    assert row.upper == 34 and row.upper_rule == "stated"


def test_achievements_lie_between_more_than_half_and_the_top_bar(bounds):
    for cat in ("better_quality", "productivity", "satisfied_users"):
        row = bounds.loc[("achievements", cat, "yes")]
        assert (row.lower, row.upper) == (50, 72)
        assert row.lower_rule == "stated" and row.upper_rule == "order"
        assert row.upper_ref == "achievements/functional_processes/yes"


def test_chart_order_is_named_before_a_stated_bound_that_says_the_same(bounds):
    row = bounds.loc[("support", "rnd", "yes")]
    assert (row.lower, row.upper) == (10, 45)
    assert (row.lower_rule, row.upper_rule) == ("order", "order")
    assert row.upper_ref == "support/needs_knowledge/yes" and row.lower_ref == "support/not_supported/yes"
    # an unpublished 'promoted' share: "only the six named were promoted by over half" (50) beats chart order (52)
    row = bounds.loc[("promoters", "legislation", "promoted")]
    assert row.upper == 50 and row.upper_rule == "stated"


def test_removing_or_adding_a_constraint_moves_the_bound(pub):
    figs = pub.figures
    cons = build_constraints(figs)
    key = ("promoters", "new_technology", "barrier")

    def upper(cs):
        return tight_bounds(figs, cs).set_index(["question_id", "category_id", "answer"]).loc[key].upper

    no_sum = [c for c in cons if not (c.rule == "sum" and key in c.coefs)]
    assert upper(no_sum) == 34  # back to the stated bound
    tighter = [*cons, Constraint("stated", {key: 1.0}, 15.0, "a test statement")]
    assert upper(tighter) == 15
    no_order = [c for c in cons if not (c.rule == "order" and ("achievements", "functional_processes", "yes") in c.coefs)]
    tb = tight_bounds(figs, no_order).set_index(["question_id", "category_id", "answer"])
    assert tb.loc[("achievements", "better_quality", "yes")].upper == 100


def test_contradictions_are_reported(pub):
    bad = [*build_constraints(pub.figures), Constraint("stated", {("achievements", "better_quality", "yes"): 1.0}, 40.0)]
    with pytest.raises(BoundsError, match="contradict"):
        tight_bounds(pub.figures, bad)
    figs = pub.figures.copy()
    i = figs.index[(figs.category_id == "staff_competence") & (figs.answer == "barrier")][0]
    figs.loc[i, ["share", "lower", "upper", "published"]] = [80.0, np.nan, np.nan, True]
    with pytest.raises(BoundsError, match="published shares break"):
        tight_bounds(figs)


def _consistent_table(data, figs: pd.DataFrame) -> pd.DataFrame:
    """A full table of true shares obeying every structural constraint, drawn by hypothesis."""
    from kuntalib.barometer.bounds import ORDERED

    true = {}
    pct = st.floats(0, 100, allow_nan=False)
    for q, answer in ORDERED.items():
        rows = figs[(figs.question_id == q) & (figs.answer == answer)].sort_values("chart_order")
        values = sorted(data.draw(st.lists(pct, min_size=len(rows), max_size=len(rows))))
        true.update({(q, c, answer): v for c, v in zip(rows.category_id, values, strict=True)})
    for cat in figs[figs.question_id == "promoters"].category_id.unique():
        p = true[("promoters", cat, "promoted")]
        b = data.draw(st.floats(0, min(p, 100 - p)))
        true[("promoters", cat, "barrier")] = b
        true[("promoters", cat, "not_relevant")] = data.draw(st.floats(0, 100 - p - b))
    for r in figs.itertuples():
        true.setdefault((r.question_id, r.category_id, r.answer), data.draw(pct))
    return true


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_true_values_always_lie_within_their_bounds(pub, data):
    """Soundness: hide any shares of a table that obeys the constraints; each hidden value lies within its bounds."""
    figs = pub.figures[pub.figures.question_id.isin(["achievements", "promoters"])].copy()
    true = _consistent_table(data, figs)
    keys = [(r.question_id, r.category_id, r.answer) for r in figs.itertuples()]
    hidden = set(data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=6, unique=True)))
    figs["share"] = [np.nan if k in hidden else true[k] for k in keys]
    figs["lower"] = [0.0 if k in hidden else np.nan for k in keys]
    figs["upper"] = [100.0 if k in hidden else np.nan for k in keys]
    tb = tight_bounds(figs)
    assert len(tb) == len(hidden)
    for r in tb.itertuples():
        v = true[(r.question_id, r.category_id, r.answer)]
        assert r.lower - 1e-6 <= v <= r.upper + 1e-6, (r, v)


def test_step_and_table_carry_the_bounds_in_every_language(pub):
    figs = steps.figures(pub.provenance.path)["figures"]
    row = figs[(figs.category_id == "new_technology") & (figs.answer == "barrier")].iloc[0]
    assert (row.lower, row.upper, row.upper_rule) == (0, 22, "sum")
    for lang, word in (("fi", "100 %"), ("sv", "100 %"), ("en", "100%")):
        t = bounds_table(figs, pub.questions, lang)
        # every unpublished option is in exactly one row; options with the same bounds for the same reasons share it
        assert sum(len(o.split("; ")) for o in t.option) == int(figs.share.isna().sum()) > len(t)
        assert not t.duplicated(["question", "bound_range", "lower_by", "upper_by"]).any()
        line = t[t["option"].str.contains(str(row[f"label_{lang}"]), regex=False)]
        assert any(word in v and "78" in v for v in line.upper_by), line
        derived = t[t.bound_range.str.endswith("*")]  # what the chart prints as derived, the table gives the same way
        assert list(derived.bound_range) == [fmt_pct(11, lang=lang) + "*"], derived


def test_partial_charts_say_what_they_leave_out(pub):
    figs = apply_bounds(pub.figures)
    for q, partial in (("partners", True), ("motivators", True), ("achievements", True), ("support", False)):
        for lang, label in (("fi", "Muut vastausvaihtoehdot"), ("en", "Other answer options")):
            ax = plot_question(q, figs, pub.questions, lang=lang)
            labels = [t.get_text() for t in ax.get_yticklabels()]
            assert (label in labels) is partial, (q, lang, labels)
            matplotlib.pyplot.close(ax.figure)
