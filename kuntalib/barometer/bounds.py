"""The tightest bounds the published text allows for every unpublished share, by linear programming.

Each unpublished share is a variable; every published share is a constant. The
constraints are everything the source states or its charts show, all at once:

``range``
    a share lies in 0–100 %;
``stated``
    the bounds the text states for the row (``lower``/``upper`` of
    ``published_figures.csv``, e.g. "more than half", "by far the largest barrier");
``order``
    in an ascending chart a row is at most the row drawn above it (:data:`ORDERED`);
``sum``
    the three answers of a promoter factor (promoted, not relevant, barrier) sum to at most 100 %;
``promoted_over_barrier``
    every factor promoted more often than it was a barrier ("Kaikki tarkastellut
    tekijät pikemmin edistivät kuin olivat esteenä").

For each variable :func:`tight_bounds` minimises and maximises it with
``scipy.optimize.linprog`` (HiGHS) and names the constraint that binds. The
name comes from the dual certificate of the optimum: the bound equals a sum of
constraints weighted by their dual values, and the one that brings the number
in (a published share or a stated value) is named. Stated bounds are named only
where the chart structure alone gives a looser bound, so "chart order below
45 %" is preferred to the stated row bound when both give 45 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ORDERED", "Constraint", "BoundsError", "build_constraints", "tight_bounds", "apply_bounds", "RULES"]

#: Charts drawn in ascending order of their share, with the answer that orders them.
ORDERED = {"support": "yes", "partners": "yes", "motivators": "yes", "promoters": "promoted", "achievements": "yes"}
#: Constraint kinds, in the order they are preferred when naming a binding constraint.
RULES = ("range", "order", "sum", "promoted_over_barrier", "stated")
_STRUCTURAL = {"range", "order", "sum", "promoted_over_barrier"}
_TOL = 1e-7

Key = tuple[str, str, str]


class BoundsError(ValueError):
    """The published figures and the constraints contradict each other (no share can satisfy them)."""


@dataclass(frozen=True)
class Constraint:
    """``Σ coef·share ≤ rhs`` over (question, category, answer) keys, with what it says.

    ``ref`` is the key of the row the constraint compares with (the neighbour in
    the chart, the factor whose answers sum), empty for ``range`` and ``stated``.
    """

    rule: str
    coefs: dict[Key, float]
    rhs: float
    ref: tuple[str, ...] = ()
    about: Key | None = None
    note: str = field(default="", compare=False)


def _key(r) -> Key:
    return (str(r.question_id), str(r.category_id), str(r.answer))


def build_constraints(figures: pd.DataFrame, *, ordered: dict[str, str] | None = None) -> list[Constraint]:
    """Every constraint of :mod:`this module <kuntalib.barometer.bounds>` for the figures table."""
    ordered = ORDERED if ordered is None else ordered
    out: list[Constraint] = []
    for r in figures.itertuples():
        if pd.notna(r.share):
            continue
        k = _key(r)
        out += [Constraint("range", {k: -1.0}, 0.0), Constraint("range", {k: 1.0}, 100.0)]
        note = str(getattr(r, "note", "") or "")
        if pd.notna(r.lower) and r.lower > 0:
            out.append(Constraint("stated", {k: -1.0}, -float(r.lower), note))
        if pd.notna(r.upper) and r.upper < 100:
            out.append(Constraint("stated", {k: 1.0}, float(r.upper), note))
    for q, answer in ordered.items():
        rows = figures[(figures.question_id == q) & (figures.answer == answer)].sort_values("chart_order")
        keys = [_key(r) for r in rows.itertuples()]
        for below, above in zip(keys, keys[1:], strict=False):
            out.append(Constraint("order", {below: 1.0, above: -1.0}, 0.0))
    pro = figures[figures.question_id == "promoters"]
    for cat, g in pro.groupby("category_id", sort=True):
        answers = set(g.answer)
        if {"promoted", "barrier", "not_relevant"} <= answers:
            keys = {a: ("promoters", str(cat), a) for a in ("promoted", "not_relevant", "barrier")}
            out.append(Constraint("sum", {k: 1.0 for k in keys.values()}, 100.0))
        if {"promoted", "barrier"} <= answers:
            out.append(Constraint("promoted_over_barrier", {("promoters", str(cat), "barrier"): 1.0,
                                                            ("promoters", str(cat), "promoted"): -1.0}, 0.0))
    return out


def _system(figures: pd.DataFrame, constraints: Iterable[Constraint]) -> tuple[list[Key], np.ndarray, np.ndarray, list[Constraint]]:
    known = {_key(r): float(r.share) for r in figures.itertuples() if pd.notna(r.share)}
    unknown = [_key(r) for r in figures.itertuples() if pd.isna(r.share)]
    index = {k: i for i, k in enumerate(unknown)}
    rows, rhs, kept = [], [], []
    for c in constraints:
        missing = [k for k in c.coefs if k not in index and k not in known]
        if missing:
            raise KeyError(f"constraint {c.rule} refers to {missing[0]}, which is not in the figures table")
        row = np.zeros(len(unknown))
        b = c.rhs
        for k, coef in c.coefs.items():
            if k in index:
                row[index[k]] += coef
            else:
                b -= coef * known[k]
        if not row.any():
            if b < -_TOL:
                raise BoundsError(f"published shares break the {c.rule} constraint on {sorted(c.coefs)}")
            continue
        rows.append(row)
        rhs.append(b)
        kept.append(c)
    return unknown, np.array(rows).reshape(len(rows), len(unknown)), np.array(rhs), kept


def _solve(a: np.ndarray, b: np.ndarray, i: int, sense: float):
    from scipy.optimize import linprog  # ~1 s to import: only when bounds are computed, not when read

    cost = np.zeros(a.shape[1])
    cost[i] = sense
    res = linprog(cost, A_ub=a, b_ub=b, bounds=[(None, None)] * a.shape[1], method="highs")
    if res.status == 2:
        raise BoundsError("the stated constraints contradict each other: no shares satisfy them all")
    if res.status != 0:
        raise BoundsError(f"linear program failed: {res.message}")
    return sense * res.fun, -res.ineqlin.marginals


def _binding(value: float, duals: np.ndarray, kept: list[Constraint], b: np.ndarray, *, upper: bool) -> Constraint | None:
    """The constraint that brings ``value`` into the certificate: largest dual × rhs, ties by :data:`RULES`."""
    if (upper and abs(value - 100) < _TOL) or (not upper and abs(value) < _TOL):
        return None  # the share's own range
    best, score = None, 0.0
    for y, c, rhs in zip(duals, kept, b, strict=True):
        if y > _TOL and c.rule != "range" and abs(y * rhs) > score + _TOL:
            best, score = c, abs(y * rhs)
    if best is None:  # a chain of zero-rhs rows ending in the range
        cands = [c for y, c in zip(duals, kept, strict=True) if y > _TOL and c.rule != "range"]
        best = min(cands, key=lambda c: RULES.index(c.rule)) if cands else None
    return best


def _ref(c: Constraint, key: Key, known: set[Key]) -> str:
    """The row a binding constraint compares with: its published keys, else its other keys ("q/c/a;…")."""
    if c.rule in {"range", "stated"}:
        return ""
    keys = [k for k in c.coefs if k in known] or [k for k in c.coefs if k != key]
    return ";".join("/".join(k) for k in keys)


def tight_bounds(figures: pd.DataFrame, constraints: list[Constraint] | None = None) -> pd.DataFrame:
    """The tightest lower and upper bound of every unpublished share, with the constraint that binds each.

    Parameters
    ----------
    figures
        The published figures table (``share`` NaN where not published).
    constraints
        The constraints to use; default :func:`build_constraints` of ``figures``. Tests add or
        drop one to see a bound move.

    Returns
    -------
    pandas.DataFrame
        One row per unpublished share: question_id, category_id, answer, lower, upper and, for
        each side, ``<side>_rule`` (one of :data:`RULES`), ``<side>_ref`` (the compared row as
        ``question/category/answer`` or ``question/category``, "" if none) and ``<side>_note``
        (the row's note for a stated bound).

    Raises
    ------
    BoundsError
        When the published shares and the constraints cannot all hold.
    """
    constraints = build_constraints(figures) if constraints is None else constraints
    unknown, a_all, b_all, kept_all = _system(figures, constraints)
    known = {_key(r) for r in figures.itertuples() if pd.notna(r.share)}
    structural = [c for c in constraints if c.rule in _STRUCTURAL]
    _u, a_st, b_st, kept_st = _system(figures, structural)
    rows = []
    for i, key in enumerate(unknown):
        rec: dict[str, object] = dict(zip(("question_id", "category_id", "answer"), key, strict=True))
        for side, sense in (("lower", 1.0), ("upper", -1.0)):
            value, duals = _solve(a_all, b_all, i, sense)
            st_value, st_duals = _solve(a_st, b_st, i, sense)
            if abs(st_value - value) < 1e-6:
                bind = _binding(value, st_duals, kept_st, b_st, upper=sense < 0)
            else:
                stated = [(y, c) for y, c in zip(duals, kept_all, strict=True) if y > _TOL and c.rule == "stated"]
                bind = max(stated, key=lambda t: t[0])[1] if stated else _binding(value, duals, kept_all, b_all, upper=sense < 0)
            rec[side] = round(value, 9) + 0.0
            rec[f"{side}_rule"] = bind.rule if bind else "range"
            rec[f"{side}_ref"] = _ref(bind, key, known) if bind else ""
            rec[f"{side}_note"] = bind.note if bind and bind.rule == "stated" else ""
        rows.append(rec)
    cols = ["question_id", "category_id", "answer", "lower", "upper", "lower_rule", "lower_ref", "lower_note",
            "upper_rule", "upper_ref", "upper_note"]
    return pd.DataFrame(rows, columns=cols)


def apply_bounds(figures: pd.DataFrame, constraints: list[Constraint] | None = None) -> pd.DataFrame:
    """The figures table with every unpublished row's ``lower``/``upper`` replaced by its tightest bounds.

    Adds ``lower_rule``, ``lower_ref``, ``upper_rule`` and ``upper_ref`` (empty for published rows), so
    that each chart and table can say which constraint sets each end of a band.
    """
    tb = tight_bounds(figures, constraints).set_index(["question_id", "category_id", "answer"])
    out = figures.copy()
    for col in ("lower_rule", "lower_ref", "upper_rule", "upper_ref"):
        out[col] = ""
    for i, r in out.iterrows():
        key = _key(r)
        if key in tb.index:
            t = tb.loc[key]
            out.loc[i, ["lower", "upper"]] = [t.lower, t.upper]
            out.loc[i, ["lower_rule", "lower_ref", "upper_rule", "upper_ref"]] = [t.lower_rule, t.lower_ref, t.upper_rule, t.upper_ref]
    return out
