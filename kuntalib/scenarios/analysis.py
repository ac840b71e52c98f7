"""Comparing scenarios: futures table, PESTE profiles, distances and cross-consistency.

Cross-consistency assessment (CCA) follows general morphological analysis
(Zwicky; Ritchey 2011, *Wicked Problems – Social Messes*, ch. 2): every pair of
states of two different variables is judged for whether they can coexist. Here
a judgement is an integer from −2 (inconsistent: cannot coexist) through −1
(unlikely together) and +1 (supportive) to +2 (reinforcing); unjudged pairs are
neutral (0). For each scenario, :func:`consistency` collects the judgements of
every pair of states the scenario states and reports

* ``n_pairs`` — pairs of stated variables, ``n_judged`` — of these, judged pairs;
* ``n_inconsistent`` (−2), ``n_unlikely`` (−1), ``n_supportive`` (+1 or +2);
* ``score`` — the sum of the judged values, ``mean`` — score / n_pairs;
* ``consistent`` — no pair judged inconsistent.

It also enumerates the whole morphological field (every combination of one
state per variable) when it has at most ``max_field`` configurations and counts
those with no inconsistent pair, so a scenario's score can be ranked against
every configuration the judgements allow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kuntalib.i18n import LANGS, Msg, check_lang, pick
from kuntalib.scenarios.model import ForesightModel

__all__ = [
    "scenario_name",
    "scenario_names",
    "futures_table",
    "score_matrix",
    "sector_profile",
    "scenario_distance",
    "ConsistencyResult",
    "consistency",
    "NOT_STATED",
]

NOT_STATED = Msg("scenarios.analysis.not_stated")


def scenario_name(model: ForesightModel, scenario_id: str, lang: str = "fi", *, gloss: bool = False) -> str:
    """The scenario's name in ``lang``, the one every table and chart of a page uses.

    A name given in Finnish only is a proper name, the same in every language. With ``gloss``, the
    name is followed by its translation in brackets where the file gives one for ``lang`` (a page
    does this once, where it first names the scenario).
    """
    check_lang(lang)
    sc = model.scenario(scenario_id)
    name = pick(sc.name, lang)
    if gloss and sc.gloss.get(lang) and sc.gloss[lang] != name:
        return f"{name} ({sc.gloss[lang]})"
    return name


def scenario_names(model: ForesightModel, lang: str = "fi", *, gloss: bool = False) -> list[str]:
    """Every scenario's name (:func:`scenario_name`) in the file's order."""
    return [scenario_name(model, sc.id, lang, gloss=gloss) for sc in model.scenarios]


def futures_table(model: ForesightModel, lang: str = "fi") -> pd.DataFrame:
    """The futures table (tulevaisuustaulukko) in long form, one row per variable and scenario.

    Columns: sector_id, sector, variable_id, variable, scenario_id, scenario, state_id,
    state, score, quote. A variable the scenario does not state has empty state_id, score
    and quote, and ``state`` reads "not stated" in ``lang``.
    """
    check_lang(lang)
    rows = []
    for var in _ordered_variables(model):
        for sc in model.scenarios:
            sid = sc.states.get(var.id)
            st = var.state(sid) if sid else None
            rows.append(
                {
                    "sector_id": var.sector,
                    "sector": pick(model.sector_label(var.sector), lang),
                    "variable_id": var.id,
                    "variable": pick(var.label, lang),
                    "scenario_id": sc.id,
                    "scenario": scenario_name(model, sc.id, lang),
                    "state_id": sid,
                    "state": pick(st.label, lang) if st else pick(NOT_STATED, lang),
                    "score": float(st.score) if st else np.nan,
                    "quote": sc.quotes.get(var.id),
                }
            )
    return pd.DataFrame(rows)


def _ordered_variables(model: ForesightModel) -> list:
    order = {s: i for i, (s, _) in enumerate(model.sectors)}
    return sorted(model.variables, key=lambda v: order[v.sector])  # stable within a sector


def score_matrix(model: ForesightModel, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Scores as a variables × scenarios frame (NaN where a scenario does not state the variable).

    ``table`` is a futures table already made (:func:`futures_table`), else it is made from ``model``.
    """
    ft = futures_table(model) if table is None else table
    out = ft.pivot(index="variable_id", columns="scenario_id", values="score")
    return out.loc[[v.id for v in _ordered_variables(model)], [s.id for s in model.scenarios]]


def sector_profile(model: ForesightModel, lang: str = "fi") -> pd.DataFrame:
    """Mean score per scenario and sector over the variables the scenario states.

    Columns: scenario_id, scenario, sector_id, sector, mean_score, n_stated, n_variables.
    ``mean_score`` is NaN where the scenario states none of the sector's variables.
    """
    ft = futures_table(model, lang)
    g = ft.groupby(["scenario_id", "sector_id"], sort=False)
    out = g.agg(
        scenario=("scenario", "first"),
        sector=("sector", "first"),
        mean_score=("score", "mean"),
        n_stated=("score", "count"),
        n_variables=("variable_id", "size"),
    ).reset_index()
    return out[["scenario_id", "scenario", "sector_id", "sector", "mean_score", "n_stated", "n_variables"]]


def scenario_distance(model: ForesightModel) -> pd.DataFrame:
    """Mean absolute score difference between two scenarios over variables both state.

    Scenarios of a good set differ; a small distance flags two scenarios that tell
    nearly the same story. NaN where two scenarios share no stated variable.
    """
    m = score_matrix(model)
    ids = list(m.columns)
    out = pd.DataFrame(np.nan, index=ids, columns=ids)
    for a, b in itertools.product(ids, ids):
        if a == b:
            out.loc[a, b] = 0.0 if m[a].notna().any() else np.nan
            continue
        both = m[[a, b]].dropna()
        if len(both):
            out.loc[a, b] = float((both[a] - both[b]).abs().mean())
    return out


@dataclass(frozen=True)
class ConsistencyResult:
    """Cross-consistency of each scenario (see module docstring).

    Attributes
    ----------
    scores : DataFrame
        One row per scenario: n_stated, n_pairs, n_judged, n_inconsistent, n_unlikely,
        n_supportive, score, mean, consistent, field_rank.
    pairs : DataFrame
        Every judged pair within each scenario: scenario_id, a, b, value, reason (in ``lang``).
    field_size : int
        Configurations in the morphological field (product of state counts).
    field_enumerated : bool
        Whether the field was small enough to enumerate.
    field_consistent : int | None
        Configurations with no inconsistent pair (None if not enumerated).
    field_best : int | None
        The highest score any configuration reaches (None if not enumerated).
    """

    scores: pd.DataFrame
    pairs: pd.DataFrame
    field_size: int
    field_enumerated: bool
    field_consistent: int | None
    field_best: int | None

    def to_frame(self) -> pd.DataFrame:
        """Per-scenario scores (a copy)."""
        return self.scores.copy()

    def in_language(self, lang: str) -> ConsistencyResult:
        """The same result with ``pairs.reason`` in ``lang`` (the reasons in every language stay as
        ``reason_fi``, ``reason_sv``, ``reason_en``)."""
        check_lang(lang)
        return replace(self, pairs=self.pairs.assign(reason=self.pairs[f"reason_{lang}"]))

    def summary(self) -> str:
        """A few lines of plain text for a notebook or log."""
        lines = [f"Morphological field: {self.field_size:,} configurations".replace(",", " ")]
        if self.field_enumerated:
            lines.append(f"  without an inconsistent pair: {self.field_consistent:,}".replace(",", " "))
            lines.append(f"  best score of any configuration: {self.field_best}")
        else:
            lines.append("  (too large to enumerate; raise max_field to count it)")
        for r in self.scores.itertuples():
            verdict = "consistent" if r.consistent else f"{r.n_inconsistent} inconsistent pair(s)"
            lines.append(
                f"{r.scenario_id}: {verdict}; {r.n_judged}/{r.n_pairs} pairs judged, score {r.score:+d}, "
                f"{r.n_unlikely} unlikely"
            )
        return "\n".join(lines)


def _judgement_lookup(model: ForesightModel) -> dict[frozenset[tuple[str, str]], tuple[int, dict[str, str]]]:
    return {frozenset((j.a, j.b)): (j.value, j.reason) for j in model.judgements}


def _enumerate_field(model: ForesightModel, max_field: int) -> tuple[int, bool, np.ndarray | None]:
    sizes = [len(v.states) for v in model.variables]
    size = int(np.prod(sizes, dtype=object))
    if size > max_field:
        return size, False, None
    grid = np.indices(sizes, dtype=np.int16).reshape(len(sizes), -1).T  # configurations × variables
    col = {v.id: i for i, v in enumerate(model.variables)}
    idx = {v.id: {s.id: k for k, s in enumerate(v.states)} for v in model.variables}
    score = np.zeros(len(grid), dtype=np.int32)
    bad = np.zeros(len(grid), dtype=bool)
    for j in model.judgements:
        hit = (grid[:, col[j.a[0]]] == idx[j.a[0]][j.a[1]]) & (grid[:, col[j.b[0]]] == idx[j.b[0]][j.b[1]])
        score += j.value * hit
        if j.value == -2:
            bad |= hit
    return size, True, score[~bad]


def consistency(model: ForesightModel, *, lang: str = "fi", max_field: int = 5_000_000) -> ConsistencyResult:
    """Cross-consistency assessment of every scenario (see module docstring)."""
    check_lang(lang)
    lookup = _judgement_lookup(model)
    size, enumerated, ok_scores = _enumerate_field(model, max_field)
    rows, pair_rows = [], []
    for sc in model.scenarios:
        stated = [(v, sc.states[v]) for v in [x.id for x in model.variables] if v in sc.states]
        values = []
        for (va, sa), (vb, sb) in itertools.combinations(stated, 2):
            hit = lookup.get(frozenset(((va, sa), (vb, sb))))
            if hit is None:
                continue
            values.append(hit[0])
            pair_rows.append(
                {"scenario_id": sc.id, "a": f"{va}.{sa}", "b": f"{vb}.{sb}", "value": hit[0], "reason": pick(hit[1], lang),
                 **{f"reason_{x}": pick(hit[1], x) for x in LANGS}}
            )
        n_pairs = len(stated) * (len(stated) - 1) // 2
        score = int(sum(values))
        rank = None
        if enumerated and ok_scores is not None and len(ok_scores):
            rank = float((ok_scores > score).mean())
        rows.append(
            {
                "scenario_id": sc.id,
                "n_stated": len(stated),
                "n_pairs": n_pairs,
                "n_judged": len(values),
                "n_inconsistent": sum(v == -2 for v in values),
                "n_unlikely": sum(v == -1 for v in values),
                "n_supportive": sum(v > 0 for v in values),
                "score": score,
                "mean": score / n_pairs if n_pairs else np.nan,
                "consistent": not any(v == -2 for v in values),
                "share_of_field_scoring_higher": rank,
            }
        )
    pairs = pd.DataFrame(pair_rows, columns=["scenario_id", "a", "b", "value", "reason", *(f"reason_{x}" for x in LANGS)])
    return ConsistencyResult(
        scores=pd.DataFrame(rows),
        pairs=pairs,
        field_size=size,
        field_enumerated=enumerated,
        field_consistent=None if ok_scores is None else int(len(ok_scores)),
        field_best=None if ok_scores is None or not len(ok_scores) else int(ok_scores.max()),
    )
