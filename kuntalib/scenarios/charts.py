"""Scenario-comparison charts: futures table, PESTE profile, consistency, competences, budget, population.

Every function takes ``ax=None`` and ``lang`` and returns the Axes; saving is
separate (:func:`kuntalib.outputs.save_figure`). Charts drawn from a synthetic
model or profile are stamped synthetic by the function itself.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Patch, Rectangle

from kuntalib.i18n import Msg, check_lang, pick
from kuntalib.scenarios.analysis import NOT_STATED, ConsistencyResult, scenario_distance, score_matrix, sector_profile
from kuntalib.scenarios.competence import CompetenceProfile, level_overlap, skill_matrix
from kuntalib.scenarios.context import Budget, population_change
from kuntalib.scenarios.model import ForesightModel
from kuntalib.theme import (
    NOT_PUBLISHED,
    NOT_PUBLISHED_COLOR,
    PALETTE,
    add_caption,
    fmt_eur,
    fmt_num,
    fmt_pct,
    mark_synthetic,
    new_axes,
)

__all__ = [
    "SCORE_CMAP",
    "plot_futures_table",
    "plot_sector_profile",
    "plot_distance",
    "plot_consistency",
    "plot_competence_matrix",
    "plot_level_overlap",
    "plot_budget",
    "plot_population",
]

#: Diverging, colour-blind safe: vermillion (unfavourable) – white – blue (favourable).
SCORE_CMAP = LinearSegmentedColormap.from_list("kuntalib_score", [PALETTE["vermillion"], "#FFFFFF", PALETTE["blue"]])
_MARKERS = ["o", "s", "D", "^", "v", "P", "X"]
_COLOURS = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black")]

_T = {
    "futures": Msg("scenarios.charts.futures"),
    "coding": Msg("scenarios.charts.coding"),
    "source": Msg("scenarios.charts.source"),
    "profile": Msg("scenarios.charts.profile"),
    "distance": Msg("scenarios.charts.distance"),
    "distance_note": Msg("scenarios.charts.distance_note"),
    "mean": Msg("scenarios.charts.mean"),
    "consistency": Msg("scenarios.charts.consistency"),
    "pairs": Msg("scenarios.charts.pairs"),
    "judged": Msg("scenarios.charts.judged"),
    "values": {
        -2: Msg("scenarios.charts.consistency.m2"),
        -1: Msg("scenarios.charts.consistency.m1"),
        1: Msg("scenarios.charts.consistency.p1"),
        2: Msg("scenarios.charts.consistency.p2"),
    },
    "field": Msg("scenarios.charts.field"),
    "competence": Msg("scenarios.charts.competence"),
    "overlap": Msg("scenarios.charts.overlap"),
    "budget": Msg("scenarios.charts.budget"),
    "planned": Msg("scenarios.charts.planned"),
    "actual": Msg("scenarios.charts.actual"),
    "total": Msg("scenarios.charts.total"),
    "derived": Msg("scenarios.charts.derived"),
    "population": Msg("scenarios.charts.population"),
    "change": Msg("scenarios.charts.change"),
    "share": Msg("scenarios.charts.share"),
}


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _caption(ax: Axes, source: str, lang: str, extra: list[str] | None = None) -> None:
    add_caption(ax, [*(extra or []), *textwrap.wrap(f"{pick(_T['source'], lang)}: {source}", 150)])


def _finish(ax: Axes, model: ForesightModel, lang: str, caption: bool, extra: list[str] | None = None,
            source: str | None = None) -> Axes:
    """Caption (coding note, extra lines, source) and the synthetic stamp for a synthetic model.

    ``source`` is the public citation in ``lang`` (:func:`kuntalib.sources.cite`); the model's own
    ``source`` line is the fallback.
    """
    if caption:
        _caption(ax, source or model.source, lang, [pick(_T["coding"], lang), *(extra or [])])
    if model.synthetic:
        mark_synthetic(ax, lang)
    return ax


def plot_futures_table(model: ForesightModel, *, table: pd.DataFrame | None = None, ax: Axes | None = None,
                       lang: str = "fi", caption: bool = True, source: str | None = None) -> Axes:
    """Heatmap of the futures table: variables (grouped by sector) × scenarios, coloured by score.

    Each cell names the state; a variable the scenario does not state is hatched grey
    and reads "not stated". ``table`` is the published futures table
    (:func:`~kuntalib.scenarios.analysis.futures_table`); without it the scores come from ``model``.
    """
    check_lang(lang)
    m = score_matrix(model, table)
    n_rows, n_cols = m.shape
    ax = new_axes(ax, figsize=(3.0 + 2.3 * n_cols, 1.2 + 0.62 * n_rows))
    img = ax.imshow(np.ma.masked_invalid(m.to_numpy(float)), cmap=SCORE_CMAP, vmin=model.score_min, vmax=model.score_max,
                    aspect="auto")
    for i, var_id in enumerate(m.index):
        var = model.variable(var_id)
        for j, sc_id in enumerate(m.columns):
            state_id = model.scenario(sc_id).states.get(var_id)
            if state_id is None:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#EEEEEE", edgecolor=NOT_PUBLISHED_COLOR, hatch="///", lw=0))
                ax.text(j, i, pick(NOT_STATED, lang), ha="center", va="center", fontsize=7, color="#555555", style="italic")
            else:
                st = var.state(state_id)
                dark = abs(st.score) >= 0.75 * max(abs(model.score_min), model.score_max)
                ax.text(j, i, _wrap(pick(st.label, lang), 22), ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    ax.set_xticks(range(n_cols), [_wrap(pick(model.scenario(s).name, lang), 16) for s in m.columns], fontsize=9, fontweight="bold")
    ax.xaxis.tick_top()
    ax.set_yticks(range(n_rows), [_wrap(pick(model.variable(v).label, lang), 30) for v in m.index], fontsize=8)
    ax.grid(False)
    sectors = [model.variable(v).sector for v in m.index]
    start = 0
    for i in range(1, n_rows + 1):
        if i == n_rows or sectors[i] != sectors[start]:
            if i < n_rows:
                ax.axhline(i - 0.5, color="black", lw=1.2)
            ax.text(n_cols - 0.45, (start + i - 1) / 2, pick(model.sector_label(sectors[start]), lang).upper(), rotation=270,
                    ha="left", va="center", fontsize=7, color="#333333", clip_on=False)
            start = i
    for j in range(1, n_cols):
        ax.axvline(j - 0.5, color="white", lw=2)
    cbar = ax.figure.colorbar(img, ax=ax, orientation="horizontal", fraction=0.035, pad=0.02, aspect=40)
    cbar.set_ticks(range(model.score_min, model.score_max + 1), labels=[fmt_num(v, lang=lang) for v in range(model.score_min, model.score_max + 1)])
    if model.score_description:
        cbar.set_label(pick(model.score_description, lang), fontsize=8)
    ax.set_title(f"{pick(_T['futures'], lang)}: {pick(model.title, lang)}", loc="left", pad=30)
    return _finish(ax, model, lang, caption, source=source)


def plot_sector_profile(model: ForesightModel, *, profile: pd.DataFrame | None = None, ax: Axes | None = None,
                        lang: str = "fi", caption: bool = True, source: str | None = None) -> Axes:
    """Mean score of each scenario in each sector (dots), with the number of stated variables.

    ``profile`` is the table :func:`~kuntalib.scenarios.analysis.sector_profile` made (the published
    one); without it the chart computes it from ``model``.
    """
    check_lang(lang)
    prof = sector_profile(model, lang) if profile is None else profile
    ax = new_axes(ax, figsize=(9, 1.2 + 0.9 * len(model.sectors)))
    sector_ids = [s for s, _ in model.sectors]
    n = len(model.scenarios)
    for k, sc in enumerate(model.scenarios):
        rows = prof[prof["scenario_id"] == sc.id].set_index("sector_id").loc[sector_ids]
        y = np.arange(len(sector_ids)) + (k - (n - 1) / 2) * 0.16
        ax.scatter(rows["mean_score"], y, marker=_MARKERS[k % len(_MARKERS)], s=70, color=_COLOURS[k % len(_COLOURS)],
                   label=pick(sc.name, lang), zorder=3, edgecolor="white")
        for yy, r in zip(y, rows.itertuples(), strict=False):
            if np.isnan(r.mean_score):
                ax.text(0, yy, pick(NOT_STATED, lang), fontsize=6.5, color="#777777", ha="center", va="center", style="italic")
            else:
                ax.text(r.mean_score + 0.09, yy, f"{r.n_stated}/{r.n_variables}", fontsize=6.5, va="center", color="#444444")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(model.score_min - 0.3, model.score_max + 0.5)
    ax.set_yticks(range(len(sector_ids)), [pick(model.sector_label(s), lang) for s in sector_ids])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_num(v, 0 if float(v).is_integer() else 1, lang=lang))
    ax.set_xlabel(pick(_T["mean"], lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(f"{pick(_T['profile'], lang)}: {pick(model.title, lang)}", loc="left")
    return _finish(ax, model, lang, caption, source=source)


def plot_distance(model: ForesightModel, *, distance: pd.DataFrame | None = None, ax: Axes | None = None,
                  lang: str = "fi", caption: bool = True, source: str | None = None) -> Axes:
    """Heatmap of the distance between each two scenarios: the mean absolute score difference over the
    variables both state (:func:`~kuntalib.scenarios.analysis.scenario_distance`).

    ``distance`` is the published table; without it the chart computes it from ``model``. A pair that
    states no variable in common reads "–". The scale runs from 0 (the same story) to the score range.
    """
    check_lang(lang)
    ids = [sc.id for sc in model.scenarios]
    values = (scenario_distance(model) if distance is None else distance).loc[ids, ids].to_numpy(float)
    span = model.score_max - model.score_min
    n = len(ids)
    ax = new_axes(ax, figsize=(9, 2.6 + 0.75 * n))
    ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=span)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "–" if np.isnan(v) else fmt_num(v, 2, lang=lang), ha="center", va="center", fontsize=9,
                color="white" if v > span / 2 else "black")
    names = [pick(sc.name, lang) for sc in model.scenarios]
    ax.xaxis.tick_top()
    ax.set_xticks(range(n), [textwrap.fill(name, 14) for name in names], fontsize=9)
    ax.set_yticks(range(n), names)
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_title(f"{pick(_T['distance'], lang)}: {pick(model.title, lang)}", loc="left", pad=36)
    return _finish(ax, model, lang, caption, [pick(_T["distance_note"], lang).format(span=fmt_num(span, lang=lang))],
                   source=source)


def plot_consistency(result: ConsistencyResult, model: ForesightModel, *, ax: Axes | None = None, lang: str = "fi",
                     caption: bool = True, source: str | None = None) -> Axes:
    """Diverging stacked bars: judged pairs of states within each scenario, by judgement."""
    check_lang(lang)
    ax = new_axes(ax, figsize=(9, 1.5 + 0.7 * len(model.scenarios)))
    colours = {-2: PALETTE["vermillion"], -1: PALETTE["orange"], 1: PALETTE["sky"], 2: PALETTE["blue"]}
    counts = {sc.id: result.pairs[result.pairs["scenario_id"] == sc.id]["value"].value_counts() for sc in model.scenarios}
    for i, sc in enumerate(model.scenarios):
        c = counts[sc.id]
        left = 0.0
        for v in (-1, -2):
            w = float(c.get(v, 0))
            if w:
                ax.barh(i, -w, left=left, color=colours[v], edgecolor="white")
                ax.text(left - w / 2, i, str(int(w)), ha="center", va="center", fontsize=8, color="white" if v == -2 else "black")
            left -= w
        right = 0.0
        for v in (1, 2):
            w = float(c.get(v, 0))
            if w:
                ax.barh(i, w, left=right, color=colours[v], edgecolor="white")
                ax.text(right + w / 2, i, str(int(w)), ha="center", va="center", fontsize=8, color="white" if v == 2 else "black")
            right += w
        row = result.scores.set_index("scenario_id").loc[sc.id]
        ax.text(right + 0.15, i, pick(_T["judged"], lang).format(j=int(row.n_judged), n=int(row.n_pairs)), va="center", fontsize=7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(model.scenarios)), [pick(s.name, lang) for s in model.scenarios])
    ax.invert_yaxis()
    lo = min(-1.0, -max((counts[s].loc[counts[s].index < 0].sum() for s in counts), default=0) - 0.5)
    hi = max((counts[s].loc[counts[s].index > 0].sum() for s in counts), default=0) + 3
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_num(abs(v), lang=lang))
    ax.set_xlabel(pick(_T["pairs"], lang))
    ax.legend(handles=[Patch(color=colours[v], label=pick(_T["values"][v], lang)) for v in (-2, -1, 1, 2)],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(f"{pick(_T['consistency'], lang)}: {pick(model.title, lang)}", loc="left")
    extra = []
    if result.field_enumerated:
        extra.append(pick(_T["field"], lang).format(size=fmt_num(result.field_size, lang=lang), ok=fmt_num(result.field_consistent, lang=lang)))
    return _finish(ax, model, lang, caption, extra, source=source)


def plot_competence_matrix(profile: CompetenceProfile, *, ax: Axes | None = None, lang: str = "fi", caption: bool = True,
                           source: str | None = None) -> Axes:
    """Dot matrix of skills × job levels, grouped by skill type; shared skills come first."""
    check_lang(lang)
    m = skill_matrix(profile, lang)
    levels = list(m.columns)
    ax = new_axes(ax, figsize=(8, 1.5 + 0.3 * len(m)))
    types = m.index.get_level_values("type")
    type_ids = [t for t, _ in profile.skill_types]
    type_label = {pick(lab, lang): t for t, lab in profile.skill_types}
    for i, (key, row) in enumerate(m.iterrows()):
        colour = _COLOURS[type_ids.index(type_label[key[0]]) % len(_COLOURS)]
        for j, lv in enumerate(levels):
            if row[lv]:
                ax.scatter(j, i, s=90, color=colour, zorder=3)
        ax.text(len(levels) - 0.4, i, str(int(row.sum())), va="center", fontsize=7, color="#444444")
    start = 0
    for i in range(1, len(m) + 1):
        if i == len(m) or types[i] != types[start]:
            if i < len(m):
                ax.axhline(i - 0.5, color="black", lw=1)
            ax.text(len(levels) - 0.12, (start + i - 1) / 2, types[start].upper(), fontsize=8, fontweight="bold", rotation=270,
                    ha="left", va="center", clip_on=False)
            start = i
    ax.set_xticks(range(len(levels)), [_wrap(pick(dict(profile.levels)[lv], lang), 14) for lv in levels], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(m)), [_wrap(s, 40) for s in m.index.get_level_values("skill")], fontsize=7.5)
    ax.set_xlim(-0.6, len(levels) - 0.1)
    ax.set_ylim(len(m) - 0.5, -0.5)
    ax.set_title(pick(profile.title, lang), loc="left", pad=28)
    if caption:
        _caption(ax, source or ("Varsinais-Suomen Ennakointiakatemia, Kuntamarkkinat 14.9.2022" if not profile.synthetic else profile.id),
                 lang)
    if profile.synthetic:
        mark_synthetic(ax, lang)
    return ax


def plot_level_overlap(profile: CompetenceProfile, *, ax: Axes | None = None, lang: str = "fi",
                       source: str | None = None) -> Axes:
    """Heatmap of the Jaccard overlap of skill sets between job levels, labelled in per cent."""
    check_lang(lang)
    ov = level_overlap(profile)
    labels = [_wrap(pick(dict(profile.levels)[lv], lang), 14) for lv in ov.index]
    ax = new_axes(ax, figsize=(6.5, 5.5))
    ax.imshow(ov.to_numpy(float), cmap=LinearSegmentedColormap.from_list("k_seq", ["#FFFFFF", PALETTE["blue"]]), vmin=0, vmax=1)
    for i in range(len(ov)):
        for j in range(len(ov)):
            v = ov.iloc[i, j]
            ax.text(j, i, fmt_pct(100 * v, lang=lang), ha="center", va="center", fontsize=9, color="white" if v > 0.6 else "black")
    ax.set_xticks(range(len(ov)), labels, fontsize=8)
    ax.set_yticks(range(len(ov)), labels, fontsize=8)
    ax.grid(False)
    ax.set_title(pick(_T["overlap"], lang), loc="left")
    if source:
        _caption(ax, source, lang)
    if profile.synthetic:
        mark_synthetic(ax, lang)
    return ax


def plot_budget(budget: Budget, *, ax: Axes | None = None, lang: str = "fi", year: int | str = "", source: str = "",
                synthetic: bool = False) -> Axes:
    """Planned vs actual euros per cost line and in total; derived actuals are marked ``*``."""
    check_lang(lang)
    items = budget.to_frame(lang)
    labels = [_wrap(t, 38) for t in items["item"]] + [pick(_T["total"], lang)]
    planned = [*items["planned_eur"], budget.planned_total]
    actual = [*items["actual_eur"], budget.actual_total]
    derived = [*items["actual_derived"], False]
    ax = new_axes(ax, figsize=(9, 1.5 + 0.6 * len(labels)))
    y = np.arange(len(labels))
    h = 0.38
    ax.barh(y - h / 2, planned, height=h, color=PALETTE["blue"], label=pick(_T["planned"], lang))
    ax.barh(y + h / 2, [0 if np.isnan(a) else a for a in actual], height=h, color=PALETTE["orange"], label=pick(_T["actual"], lang))
    top = np.nanmax(planned)
    for yy, p, a, d in zip(y, planned, actual, derived, strict=False):
        if not np.isnan(p):
            ax.text(p + top * 0.01, yy - h / 2, fmt_eur(p, lang=lang), va="center", fontsize=8)
        text = pick(NOT_PUBLISHED, lang) if np.isnan(a) else fmt_eur(a, lang=lang) + ("*" if d else "")
        if not np.isnan(a) and a == 0:  # a zero bar has no width: mark the value so 0 € is seen, not missed
            ax.plot([0], [yy + h / 2], marker="D", markersize=6, color=PALETTE["orange"], markeredgecolor="black",
                    markeredgewidth=0.6, clip_on=False, zorder=5)
        ax.text((0 if np.isnan(a) else a) + top * 0.01, yy + h / 2, text, va="center", fontsize=8)
    ax.axhline(len(labels) - 1.5, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.18)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_eur(v, lang=lang))
    ax.legend(loc="center right", frameon=False)
    ax.set_title(pick(_T["budget"], lang).format(year=year).replace(" :", ":"), loc="left")
    extra = [pick(_T["derived"], lang)] if any(derived) else []
    if source:
        _caption(ax, source, lang, extra)
    elif extra:
        add_caption(ax, extra)
    if synthetic:
        mark_synthetic(ax, lang)
    return ax


def plot_population(pop: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi", source: str = "",
                    synthetic: bool = False) -> Axes:
    """Population change by sub-region between the first and last year, with the largest sub-region's share."""
    check_lang(lang)
    ch = population_change(pop, lang)
    first, last = int(pop["year"].min()), int(pop["year"].max())
    ax = new_axes(ax, figsize=(9, 1.5 + 0.55 * len(ch)))
    y = np.arange(len(ch))
    colours = [PALETTE["blue"] if v >= 0 else PALETTE["vermillion"] for v in ch["change_pct"]]
    hatches = ["" if k == "subregion" else "//" for k in ch["kind"]]
    for yy, v, c, hh in zip(y, ch["change_pct"], colours, hatches, strict=False):
        ax.barh(yy, v, color=c, hatch=hh, edgecolor="white")
    span = float(ch["change_pct"].abs().max())
    for yy, r in zip(y, ch.itertuples(), strict=False):
        v = r.change_pct
        label = f"{fmt_pct(v, 1, lang=lang)} ({fmt_num(getattr(r, f'population_{first}'), lang=lang)} → {fmt_num(getattr(r, f'population_{last}'), lang=lang)})"
        ax.text(v + (0.02 if v >= 0 else -0.02) * span, yy, label, va="center", ha="left" if v >= 0 else "right", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, ch["subregion"])
    ax.invert_yaxis()
    ax.set_xlim(-span * 2.2, span * 2.2)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_pct(v, lang=lang))
    ax.set_xlabel(f"{pick(_T['change'], lang)} {first}–{last}")
    ax.set_title(pick(_T["population"], lang).format(a=first, b=last), loc="left")
    sub = ch[ch["kind"] == "subregion"].sort_values(f"population_{last}", ascending=False).iloc[0]
    note = pick(_T["share"], lang).format(name=sub.subregion, a=fmt_pct(sub[f"share_{first}_pct"], 1, lang=lang), b=fmt_pct(sub[f"share_{last}_pct"], 1, lang=lang))
    if source:
        _caption(ax, source, lang, [note])
    else:
        add_caption(ax, [note])
    if synthetic:
        mark_synthetic(ax, lang)
    return ax
