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
from kuntalib.scenarios.analysis import (
    NOT_STATED,
    ConsistencyResult,
    scenario_distance,
    scenario_name,
    score_matrix,
    sector_profile,
)
from kuntalib.scenarios.competence import CompetenceProfile, level_overlap, skill_matrix
from kuntalib.scenarios.context import Budget, population_change
from kuntalib.scenarios.model import ForesightModel
from kuntalib.theme import (
    NOT_PUBLISHED,
    NOT_PUBLISHED_COLOR,
    PALETTE,
    ROLE,
    add_caption,
    fmt_date,
    fmt_eur,
    fmt_num,
    fmt_pct,
    mark_synthetic,
    new_axes,
)

__all__ = [
    "SCORE_CMAP",
    "SCENARIO_COLOURS",
    "JUDGEMENT_COLOURS",
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
#: A scenario is a name, not a reading: its colour is never the unfavourable or favourable one
#: (:data:`kuntalib.theme.ROLE`), so no scenario looks good or bad by its colour; markers differ too.
SCENARIO_COLOURS = [PALETTE[k] for k in ("blue", "orange", "purple", "black", "sky", "yellow")]
#: Cross-consistency judgements on the futures table's scale: vermillion inconsistent … blue reinforcing,
#: the milder judgements as tints, pairs not judged (neutral) light grey.
JUDGEMENT_COLOURS = {-2: PALETTE["vermillion"], -1: "#EAAF80", 1: "#80B8D8", 2: PALETTE["blue"], 0: "#E4E4E4"}

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
    "not_judged": Msg("scenarios.charts.not_judged"),
    "pairs_all": Msg("scenarios.charts.pairs_all"),
    "pairs_note": Msg("scenarios.charts.pairs_note"),
    "competence": Msg("scenarios.charts.competence"),
    "competence_title": Msg("scenarios.charts.competence_title"),
    "n_levels": Msg("scenarios.charts.n_levels"),
    "overlap": Msg("scenarios.charts.overlap"),
    "budget": Msg("scenarios.charts.budget"),
    "planned": Msg("scenarios.charts.planned"),
    "actual": Msg("scenarios.charts.actual"),
    "total": Msg("scenarios.charts.total"),
    "derived": Msg("scenarios.charts.derived"),
    "budget_plan": Msg("scenarios.charts.budget_plan"),
    "actual_not_known": Msg("scenarios.charts.actual_not_known"),
    "budget_not_started": Msg("scenarios.charts.budget_not_started"),
    "population": Msg("scenarios.charts.population"),
    "change": Msg("scenarios.charts.change"),
    "share": Msg("scenarios.charts.share"),
}


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def _caption(ax: Axes, source: str, lang: str, extra: list[str] | None = None) -> None:
    add_caption(ax, [*(extra or []), f"{pick(_T['source'], lang)}: {source}"], width=150)


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
    ax.set_xticks(range(n_cols), [_wrap(scenario_name(model, s, lang), 16) for s in m.columns], fontsize=9, fontweight="bold")
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
        ax.scatter(rows["mean_score"], y, marker=_MARKERS[k % len(_MARKERS)], s=70,
                   color=SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)], label=scenario_name(model, sc.id, lang), zorder=3,
                   edgecolor="white")
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
    names = [scenario_name(model, sc.id, lang) for sc in model.scenarios]
    ax.xaxis.tick_top()
    ax.set_xticks(range(n), [textwrap.fill(name, 14, break_long_words=False, break_on_hyphens=False) for name in names], fontsize=9)
    ax.set_yticks(range(n), names)
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_title(f"{pick(_T['distance'], lang)}: {pick(model.title, lang)}", loc="left", pad=36)
    return _finish(ax, model, lang, caption, [pick(_T["distance_note"], lang).format(span=fmt_num(span, lang=lang))],
                   source=source)


def plot_consistency(result: ConsistencyResult, model: ForesightModel, *, ax: Axes | None = None, lang: str = "fi",
                     caption: bool = True, source: str | None = None) -> Axes:
    """Every pair of stated states within each scenario as one bar: the judged pairs by judgement, the rest grey.

    A bar is as long as the scenario's pairs (``n_pairs``): judged pairs first (inconsistent, unlikely,
    supportive, reinforcing), each segment with its count, then the pairs not judged (neutral, 0). So the
    chart shows how few pairs carry a judgement, and the caption says how many of all pairs that is.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(10, 1.6 + 0.7 * len(model.scenarios)))
    scores = result.scores.set_index("scenario_id")
    counts = {sc.id: result.pairs[result.pairs["scenario_id"] == sc.id]["value"].value_counts() for sc in model.scenarios}
    longest = max([int(scores.loc[sc.id, "n_pairs"]) for sc in model.scenarios] + [1])
    for i, sc in enumerate(model.scenarios):
        c, n_pairs = counts[sc.id], int(scores.loc[sc.id, "n_pairs"])
        left = 0.0
        for v in (-2, -1, 1, 2):
            w = float(c.get(v, 0))
            if w:
                ax.barh(i, w, left=left, height=0.6, color=JUDGEMENT_COLOURS[v], edgecolor="white", linewidth=0.8)
                ax.text(left + w / 2, i, str(int(w)), ha="center", va="center", fontsize=8,
                        color="white" if abs(v) == 2 else "black")
            left += w
        rest = n_pairs - left
        if rest > 0:
            ax.barh(i, rest, left=left, height=0.6, color=JUDGEMENT_COLOURS[0], edgecolor="white", linewidth=0.8)
        ax.text(n_pairs + longest * 0.012, i, pick(_T["judged"], lang).format(j=int(scores.loc[sc.id, "n_judged"]), n=n_pairs),
                va="center", fontsize=8)
    ax.set_yticks(range(len(model.scenarios)), [scenario_name(model, s.id, lang) for s in model.scenarios])
    ax.invert_yaxis()
    ax.set_xlim(0, longest * 1.2)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if longest / s <= 8) if longest < 8000 else longest
    ax.set_xticks(range(0, longest + 1, step))
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_num(v, lang=lang))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(pick(_T["pairs_all"], lang))
    handles = [Patch(color=JUDGEMENT_COLOURS[v], label=pick(_T["values"][v], lang)) for v in (-2, -1, 1, 2)]
    handles.append(Patch(color=JUDGEMENT_COLOURS[0], label=pick(_T["not_judged"], lang)))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(f"{pick(_T['consistency'], lang)}: {pick(model.title, lang)}", loc="left")
    total, judged = int(scores["n_pairs"].sum()), int(scores["n_judged"].sum())
    extra = [pick(_T["pairs_note"], lang).format(total=fmt_num(total, lang=lang), judged=fmt_num(judged, lang=lang))]
    if result.field_enumerated:
        extra.append(pick(_T["field"], lang).format(size=fmt_num(result.field_size, lang=lang), ok=fmt_num(result.field_consistent, lang=lang)))
    return _finish(ax, model, lang, caption, extra, source=source)


def plot_competence_matrix(profile: CompetenceProfile, *, model: ForesightModel | None = None, ax: Axes | None = None,
                           lang: str = "fi", caption: bool = True, source: str | None = None) -> Axes:
    """Dot matrix of skills × job levels, grouped by skill type (a heading row each); shared skills first.

    The last column counts the levels that name each skill. With ``model``, the title names the scenario
    as every other chart of the page does (:func:`~kuntalib.scenarios.analysis.scenario_name`) and the
    profile's year; without it, the profile's own title.
    """
    check_lang(lang)
    m = skill_matrix(profile, lang)
    levels = list(m.columns)
    types = list(m.index.get_level_values("type"))
    rows: list[tuple[str, pd.Series | None]] = []
    for i, (key, row) in enumerate(m.iterrows()):
        if i == 0 or types[i] != types[i - 1]:
            rows.append((types[i].upper(), None))
        rows.append((key[2], row))
    own = ax is None
    ax = new_axes(ax, figsize=(8.5, 1.4 + 0.29 * len(rows)))
    if own:  # a tall figure: no wide empty band between the matrix and its caption
        ax.figure.subplots_adjust(bottom=0.4 / ax.figure.get_figheight(), top=1 - 0.9 / ax.figure.get_figheight())
    count_x = len(levels) + 0.1
    for i, (_label, row) in enumerate(rows):
        if row is None:
            if i:
                ax.axhline(i - 0.5, color="#555555", lw=0.8)
            continue
        for j, lv in enumerate(levels):
            if row[lv]:
                ax.scatter(j, i, s=80, color=ROLE["data"], zorder=3)
        ax.text(count_x, i, str(int(row.sum())), ha="center", va="center", fontsize=8, color="#333333")
    ax.set_xticks([*range(len(levels)), count_x],
                  [_wrap(pick(dict(profile.levels)[lv], lang), 14) for lv in levels] + [pick(_T["n_levels"], lang)], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), [_wrap(label, 40) for label, _ in rows], fontsize=7.5)
    for tick, (_, row) in zip(ax.get_yticklabels(), rows, strict=True):
        if row is None:
            tick.set_fontweight("bold")
            tick.set_fontsize(8)
    ax.set_xlim(-0.6, count_x + 0.6)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", visible=False)
    ax.axvline(len(levels) - 0.45, color="#BBBBBB", lw=0.8)
    if model is not None and profile.scenario in {sc.id for sc in model.scenarios}:
        title = pick(_T["competence_title"], lang).format(scenario=scenario_name(model, profile.scenario, lang),
                                                          year=profile.year)
    else:
        title = pick(profile.title, lang)
    ax.set_title(title, loc="left", pad=28)
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
    """Planned (a plan: the target colour) vs actual (data) euros per cost line and in total.

    Derived actuals are marked ``*``; a zero actual, which has no bar, is marked at zero with its value
    beside the mark. A budget whose year had not begun at its source's date (:meth:`Budget.as_of`) draws
    the plan only and says on the chart that no realisation was known then: no actual, not even 0 €.
    """
    check_lang(lang)
    items = budget.to_frame(lang)
    labels = [_wrap(t, 38) for t in items["item"]] + [pick(_T["total"], lang)]
    planned = [*items["planned_eur"], budget.planned_total]
    actual = [*items["actual_eur"], budget.actual_total]
    derived = [*items["actual_derived"], False]
    known = budget.actual_known
    ax = new_axes(ax, figsize=(9, 1.5 + (0.6 if known else 0.45) * len(labels)))
    y = np.arange(len(labels))
    h = 0.38 if known else 0.55
    off = h / 2 if known else 0.0
    ax.barh(y - off, planned, height=h, color=ROLE["target"], label=pick(_T["planned"], lang))
    top = np.nanmax(planned)
    for yy, p in zip(y, planned, strict=False):
        if not np.isnan(p):
            ax.annotate(fmt_eur(p, lang=lang), (p, yy - off), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=8)
    if known:
        ax.barh(y + off, [0 if np.isnan(a) else a for a in actual], height=h, color=ROLE["data"], label=pick(_T["actual"], lang))
        for yy, a, d in zip(y, actual, derived, strict=False):
            text = pick(NOT_PUBLISHED, lang) if np.isnan(a) else fmt_eur(a, lang=lang) + ("*" if d else "")
            x, shift = (0 if np.isnan(a) else a), 4
            if not np.isnan(a) and a == 0:  # a zero bar has no width: mark the value so 0 € is seen, not missed
                ax.plot([0], [yy + off], marker="D", markersize=6, color=ROLE["data"], markeredgecolor="black",
                        markeredgewidth=0.6, clip_on=False, zorder=5)
                shift = 9  # the value beside the mark, not under it
            ax.annotate(text, (x, yy + off), xytext=(shift, 0), textcoords="offset points", va="center", fontsize=8)
        ax.legend(loc="center right", frameon=False)
    else:
        when = fmt_date(budget.published, lang) if budget.published else ""
        ax.annotate(pick(_T["actual_not_known"], lang).format(date=when), (0, y[-1] + off + h / 2), xytext=(4, -3),
                    textcoords="offset points", va="top", fontsize=8, style="italic", color="#555555")
        ax.legend(loc="center right", frameon=False)
    ax.axhline(len(labels) - 1.5, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_ylim(len(labels) - 0.5 + (0.35 if not known else 0), -0.6)
    ax.set_xlim(0, top * 1.18)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_eur(v, lang=lang))
    shown_year = budget.year if budget.year is not None else year
    ax.set_title(pick(_T["budget" if known else "budget_plan"], lang).format(year=shown_year).replace(" :", ":"), loc="left")
    extra = [pick(_T["derived"], lang)] if known and any(derived) else []
    if not known:
        extra.append(pick(_T["budget_not_started"], lang).format(date=fmt_date(budget.published, lang), year=shown_year))
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
