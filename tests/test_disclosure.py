"""Suppression that holds: no blanked cell can be recovered from published totals or other rows."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuntalib.disclosure import Relation, SuppressionError, complementary_suppression, exposed
from kuntalib.fhir.analysis import suppress_hierarchy, suppress_small

ADDITIVE = ["lines", "accepted", "rejected"]


def differencing_attack(parent: pd.DataFrame, child: pd.DataFrame, totals: dict[str, float] | None, *, key: str = "vendor") -> list[str]:
    """What an attacker recovers by subtraction: each blank cell alone in a published sum (repeated until nothing new)."""
    p = parent.set_index(key)[ADDITIVE].copy()
    c = child.copy()
    recovered = []
    changed = True
    while changed:
        changed = False
        for v in p.index:
            kids = c[c[key] == v]
            blank = kids[kids[ADDITIVE[0]].isna()]
            if pd.notna(p.loc[v, ADDITIVE[0]]) and len(blank) == 1:
                i = blank.index[0]
                c.loc[i, ADDITIVE] = (p.loc[v, ADDITIVE] - kids.drop(index=i)[ADDITIVE].sum()).to_numpy()
                recovered.append(f"{v}/{c.loc[i, 'device_type']}")
                changed = True
            if pd.isna(p.loc[v, ADDITIVE[0]]) and len(kids) and not kids[ADDITIVE[0]].isna().any():
                p.loc[v, ADDITIVE] = kids[ADDITIVE].sum().to_numpy()
                recovered.append(str(v))
                changed = True
        if totals is not None:
            blank = p[p[ADDITIVE[0]].isna()]
            if len(blank) == 1:
                v = blank.index[0]
                p.loc[v, ADDITIVE] = [totals[a] - p.drop(index=v)[a].sum() for a in ADDITIVE]
                recovered.append(str(v))
                changed = True
    return recovered


def _tables(persons_by_device: dict[str, dict[str, int]]):
    prow, crow = [], []
    for v, devs in persons_by_device.items():
        for d, n in devs.items():
            crow.append({"vendor": v, "device_type": d, "lines": 10 * n + 3, "accepted": 9 * n + 3, "rejected": n, "persons": n})
        prow.append({"vendor": v, **{a: sum(r[a] for r in crow if r["vendor"] == v) for a in ("lines", "accepted", "rejected", "persons")}})
    parent, child = pd.DataFrame(prow), pd.DataFrame(crow)
    totals = {a: float(parent[a].sum()) for a in ADDITIVE}
    return parent, child, totals


def test_the_issue_case_per_table_suppression_is_undone_and_the_joint_one_is_not():
    parent, child, totals = _tables({"vendor_a": {"bp_monitor": 40, "scale": 38}, "vendor_c": {"cgm": 4, "glucometer": 36}})
    naive_p, naive_c = suppress_small(parent, "persons"), suppress_small(child, "persons")
    assert differencing_attack(naive_p, naive_c, totals) == ["vendor_c/cgm"]
    p, c = suppress_hierarchy(parent, child)
    assert differencing_attack(p, c, totals) == []
    assert c.set_index("device_type").suppression.to_dict() == {"bp_monitor": "", "scale": "", "cgm": "primary",
                                                                "glucometer": "complementary"}
    assert not p.suppressed.any()  # the vendor's total stays: only the sum of its two blanked rows is known


def test_a_small_vendor_needs_a_second_vendor_blanked_against_the_totals():
    parent, child, totals = _tables({"a": {"x": 50}, "b": {"x": 3}, "c": {"x": 20, "y": 30}})
    p, c = suppress_hierarchy(parent, child)
    assert differencing_attack(p, c, totals) == []
    kinds = p.set_index("vendor").suppression
    assert kinds["b"] == "primary" and sorted([kinds["a"], kinds["c"]]) == ["", "complementary"]
    second = kinds[kinds == "complementary"].index[0]
    # the second vendor's own rows must not give it back: one of them is blanked too
    assert c[c.vendor == second].suppressed.sum() >= 1


def test_min_persons_below_five_is_refused():
    parent, child, _ = _tables({"a": {"x": 50}})
    for k in (0, -1, 4):
        with pytest.raises(ValueError, match="at least 5"):
            suppress_hierarchy(parent, child, k=k)


def test_exposed_is_the_linear_algebra_of_the_attack():
    rel = [Relation("v", ("v/a", "v/b", "v/c")), Relation("total", ("v", "w"))]
    assert exposed(rel, {"v/a"}) == ["v/a"]
    assert exposed(rel, {"v/a", "v/b"}) == []
    assert exposed(rel, {"v"}) == ["v"]  # the total minus w
    assert exposed(rel, {"v", "w"}) == ["v", "w"]  # each is the sum of its published children
    with pytest.raises(SuppressionError, match="no cell beside it"):
        complementary_suppression([Relation("t", ("a",))], {"a": 1}, {"a"}, fixed={"t"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=4), min_size=1, max_size=5), st.integers(5, 8))
def test_no_blanked_cell_is_ever_recoverable(groups, k):
    """Any two-level table with published totals: after suppression nothing is exposed and nothing small shows."""
    spec = {f"v{i}": {f"d{j}": n for j, n in enumerate(g)} for i, g in enumerate(groups)}
    parent, child, totals = _tables(spec)
    try:
        p, c = suppress_hierarchy(parent, child, k=k)
    except SuppressionError:
        # only when every cell is small (nothing left to blank beside the fixed totals)
        assert (parent.persons < k).all() or len(parent) == 1
        return
    assert differencing_attack(p, c, totals) == []
    assert p.loc[parent.persons < k, "suppressed"].all() and c.loc[child.persons < k, "suppressed"].all()
    shown = pd.concat([p, c])
    assert (shown.loc[~shown.suppressed, "persons"] >= k).all()
    assert np.isnan(shown.loc[shown.suppressed, "lines"]).all()


@pytest.mark.slow
def test_the_differencing_attack_fails_on_the_default_build(shipped):
    """The shipped 02 tables: nothing blanked in quality_by_vendor(_device) follows from published rows and totals."""
    import json

    for lang in ("fi", "sv", "en"):
        tables = shipped.outputs / "tables" / "02_device_data" / lang
        parent = pd.read_csv(tables / "quality_by_vendor.csv")
        child = pd.read_csv(tables / "quality_by_vendor_device.csv")
        meta = json.loads((shipped.processed / "02_device_data" / "tidy" / "metadata.json").read_text(encoding="utf-8"))
        totals = {"lines": meta["values"]["lines"], "accepted": meta["values"]["accepted"], "rejected": meta["values"]["rejected"]}
        by_reason = pd.read_csv(tables / "ingest_rejected_by_reason.csv")
        assert by_reason["lines"].sum() == totals["rejected"]
        assert differencing_attack(parent, child, totals) == [], lang
        # the naive per-table blanking this replaces would have been undone where a vendor has one small device row
        assert (child.suppressed == (child.suppression.fillna("") != "")).all()
        assert (child.loc[child.suppression == "primary", "lines"].isna()).all()
