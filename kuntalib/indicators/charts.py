"""Strategy follow-up figures: traffic-light dashboard, trajectory chart, impact chain."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from kuntalib.i18n import Msg, check_lang, pick, text
from kuntalib.indicators.chain import ImpactChain
from kuntalib.indicators.model import Indicator
from kuntalib.indicators.register import key_citation
from kuntalib.indicators.status import RULES, FollowUp, Forecast
from kuntalib.indicators.texts import actual_text, round_table, target_text, value_text
from kuntalib.theme import ROLE, TRAFFIC, add_caption, fmt_date, fmt_num, fmt_pct, new_axes, pct_sign

__all__ = ["plot_dashboard", "plot_trajectory", "plot_bullet", "plot_backtest", "plot_impact_chain", "year_position", "source_line",
           "rules_line", "new_values", "reference_overlap", "years_text", "chain_notes", "STATUS_TEXT", "RULE_TEXT"]

STATUS_TEXT = {
    "green": Msg("indicators.charts.status_text.green"),
    "yellow": Msg("indicators.charts.status_text.yellow"),
    "red": Msg("indicators.charts.status_text.red"),
    "unknown": Msg("indicators.charts.status_text.unknown"),
    "not_estimable": Msg("indicators.charts.status_text.not_estimable"),
}
RULE_TEXT = {
    "target": Msg("indicators.charts.rule_text.target"),
    "trajectory": Msg("indicators.charts.rule_text.trajectory"),
    "forecast": Msg("indicators.charts.rule_text.forecast"),
}
_HEAD = {
    "indicator": Msg("indicators.charts.head.indicator"),
    "target": Msg("indicators.charts.head.target"),
    "actual": Msg("indicators.charts.head.actual"),
}
_T = {
    "title": Msg("indicators.charts.title"),
    "rules": Msg("indicators.charts.rules"),
    "source": Msg("indicators.charts.source"),
    "source_all": Msg("indicators.charts.source_all"),
    "grouping": Msg("indicators.charts.grouping"),
    "obs": Msg("indicators.charts.obs"),
    "path": Msg("indicators.charts.path"),
    "target": Msg("indicators.charts.target"),
    "fc": Msg("indicators.charts.fc"),
    "year_end": Msg("indicators.charts.year_end"),
    "year": Msg("indicators.charts.year"),
    "only_new": Msg("indicators.charts.only_new"),
    "reference": Msg("indicators.charts.reference"),
    "limit": Msg("indicators.charts.limit"),
    "no_overlap": Msg("indicators.charts.no_overlap"),
}


def year_position(dates: pd.Series | pd.DatetimeIndex | list) -> np.ndarray:
    """Where a date sits on a year axis whose tick ``Y`` is the end of year ``Y``.

    31.12.2016 → 2016.0 (a year-end value at its year), 30.6.2022 → about 2021.5 (mid-year
    2022), 31.12.2025 → 2025.0 (a 2025 target at 2025).
    """
    d = pd.DatetimeIndex(pd.to_datetime(dates))
    days = np.where(d.is_leap_year, 366, 365)
    return (d.year - 1 + d.day_of_year / days).to_numpy(float)


def yearly_line(x: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` with a gap (NaN) between values more than a year apart, so that a line joins a yearly
    series only where no year is missing (the national average of 2019 and of 2021 is not drawn across 2020)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    cut = np.flatnonzero(np.diff(x) > 1 + 1e-6) + 1
    return np.insert(x, cut, np.nan), np.insert(y, cut, np.nan)


def _year_axis(ax: Axes, lang: str, dates: Any = None) -> None:
    """Whole years on the x axis; the label says where a mid-year value sits only when the chart has one."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(lambda v, _p: str(int(round(v))))
    d = pd.DatetimeIndex(pd.to_datetime(list(dates))) if dates is not None else None
    year_end = d is not None and len(d) and bool(((d.month == 12) & (d.day == 31)).all())
    ax.set_xlabel(pick(_T["year" if year_end else "year_end"], lang), fontsize=8)


def _value_axis(axis: Any, ind: Indicator, lang: str, *, percent_sign: bool = False) -> None:
    """Ticks of an indicator's values: whole numbers for counts; percentages with a decimal where needed."""
    pct = pick(ind.unit, lang).strip() == "%"
    if not pct:  # counts of persons or jobs: whole numbers only
        axis.set_major_locator(MaxNLocator(integer=True))
    sign = pct_sign(lang) if pct and percent_sign else ""
    if pct:  # a rate: every tick with the same decimals (20,8 and 21,0, not 20,8 and 21)
        lo, hi = axis.get_view_interval()
        decimals = 1 if abs(hi - lo) < 10 else 0
        axis.set_major_formatter(lambda v, _p: fmt_num(v, decimals, lang=lang) + sign)
        return
    axis.set_major_formatter(lambda v, _p: fmt_num(v, 0 if float(v).is_integer() else 1, lang=lang) + sign)


def _caption(ax: Axes, lines: list[str], fontsize: float = 7.0) -> Axes:
    """Caption lines wrapped so that they end at the plot's right edge: a source block is never wider than the plot."""
    fig = ax.figure
    width = max(ax.get_position().x1 - 0.01, 0.3) * fig.get_figwidth()  # inches from the caption's start
    return add_caption(ax, lines, fontsize=fontsize, width=max(40, int(width * 72 / (fontsize * 0.56))))  # ~0.55 em a character


def source_line(result: FollowUp, lang: str, keys: list[str] | None = None) -> str:
    """"Source: … Evaluated …" for a figure of this round (the sources its values cite).

    Sources with the same publisher and publication are cited once, then each page the values were
    transcribed from (the citations of ``data/raw/sources/citations.yml`` say which, see
    :mod:`kuntalib.indicators.register`): the primary publisher first, however many pages.
    """
    f = result.file
    keys = keys or sorted({k for ind in f.indicators for k in [ind.target.get("source"), *ind.observations.source]
                           if k})
    groups: dict[tuple[str, str], list[Any]] = {}
    for k in dict.fromkeys(keys):
        if k not in f.sources:
            continue
        cit = key_citation(f.path, k)
        if cit is None:
            groups[("", k)] = [f.source_text(k, lang)]
        elif not any(c.id == cit.id for c in groups.get((cit.publisher[lang], cit.title[lang]), [])):
            groups.setdefault((cit.publisher[lang], cit.title[lang]), []).append(cit)
    parts = []
    for items in groups.values():
        if isinstance(items[0], str):
            parts.append(items[0])
            continue
        parts.append("; ".join([items[0].text(lang)] + [" ".join(x for x in (c.medium[lang], c.url) if x) for c in items[1:]]))
    cited = "; ".join(parts)
    if result.as_of is None:
        return pick(_T["source_all"], lang).format(s=cited)
    return pick(_T["source"], lang).format(s=cited, d=fmt_date(result.as_of, lang))


def new_values(first: FollowUp, later: FollowUp) -> list[str]:
    """Indicators whose actual in ``later`` is a value ``first`` did not have (a later date), in the file's order."""
    out = []
    for ind in later.file.indicators:
        b, a = later.actuals.get(ind.id), first.actuals.get(ind.id)
        if b is not None and (a is None or pd.Timestamp(b.date) != pd.Timestamp(a.date)):
            out.append(ind.id)
    return out


def years_text(years: list[int]) -> str:
    """Years as runs: [2016, 2017, 2018, 2021] → "2016–2018, 2021"."""
    runs: list[list[int]] = []
    for y in sorted(set(years)):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def reference_overlap(ind: Indicator) -> tuple[list[int], list[int], list[int]]:
    """A target relative to a reference series: (years observed, years of the reference, years in both)."""
    obs = sorted(set(pd.DatetimeIndex(ind.observations.date).year)) if not ind.observations.empty else []
    ref = ind.reference
    ref_years = sorted(set(pd.DatetimeIndex(ref.date).year)) if ref is not None and not ref.empty else []
    return obs, ref_years, sorted(set(obs) & set(ref_years))


def rules_line(result: FollowUp, lang: str) -> str:
    """The three rules in one sentence, stated as kuntalib's method."""
    r = result.rules
    return pick(_T["rules"], lang).format(tol=fmt_num(100 * r.tolerance, 0, lang=lang), w=fmt_num(r.window_years, 0, lang=lang),
                                          g=fmt_num(100 * r.green_probability, 0, lang=lang))


def plot_dashboard(result: FollowUp, *, ax: Axes | None = None, lang: str = "fi", only: list[str] | None = None) -> Axes:
    """Traffic-light table of one round, grouped by the strategy's aims: target, actual, one light per rule.

    Each light has a colour and a symbol. The table drawn is :func:`~kuntalib.indicators.texts.round_table`;
    ``only`` (indicator ids) draws those rows alone and names the others under the chart (a later round
    that has new values for a few indicators). The title and caption say that the lights are kuntalib's.
    """
    check_lang(lang)
    table = round_table(result, lang)
    left_out: list[str] = []
    if only is not None:
        left_out = list(table[~table.indicator_id.isin(only)].indicator)
        table = table[table.indicator_id.isin(only)].reset_index(drop=True)
    aims = [a for a in dict.fromkeys(table.aim) if a]
    n_rows = len(table) + len(aims)
    ax = new_axes(ax, figsize=(11, 0.55 * n_rows + 2.2))
    cols = [0.0, 0.34, 0.58, 0.78, 0.87, 0.96]
    ax.set_xlim(0, 1.02)
    ax.set_ylim(n_rows + 0.2, -1.1)
    ax.axis("off")
    years = sorted({ind.target_date.year for ind in result.file.indicators if ind.id in set(table.indicator_id)})
    heads = [pick(_HEAD["indicator"], lang), pick(_HEAD["target"], lang).format(y="/".join(map(str, years))),
             pick(_HEAD["actual"], lang)] + [pick(RULE_TEXT[r], lang) for r in RULES]
    for x, h in zip(cols, heads, strict=True):
        ax.text(x, -0.5, h, fontweight="bold", fontsize=9, ha="left" if x < 0.7 else "center", va="center")
    y, current = 0, None
    for r in table.itertuples():
        if r.aim and r.aim != current:
            ax.text(cols[0], y, r.aim.upper(), fontsize=8.5, fontweight="bold", color="#444444", va="center")
            current, y = r.aim, y + 1
        ax.axhline(y + 0.5, color="#dddddd", linewidth=0.6)
        label = r.indicator + ("" if r.aim_stated or not r.aim else " †")
        ax.text(cols[0] + (0.015 if r.aim else 0), y, textwrap.fill(label, 32), fontsize=9, va="center")
        ax.text(cols[1], y, textwrap.fill(r.target, 28), fontsize=8.5, va="center")
        same_date = result.status_date is not None and r.actual_date == fmt_date(result.status_date, lang)
        actual = r.actual if r.actual == "–" or same_date else f"{r.actual} ({r.actual_date})"
        ax.text(cols[2], y, textwrap.fill(actual, 24), fontsize=8.5, va="center")
        for x, rule in zip(cols[3:], RULES, strict=True):
            color, symbol = TRAFFIC[getattr(r, f"{rule}_status")]
            ax.scatter([x], [y], s=420, color=color, edgecolors="#333333", linewidths=0.6, zorder=3)
            ax.text(x, y, symbol, ha="center", va="center", fontsize=9, fontweight="bold", color="black", zorder=4)
        y += 1
    legend = "   ".join(f"{TRAFFIC[s][1]} {pick(STATUS_TEXT[s], lang)}" for s in STATUS_TEXT)
    ax.text(0, n_rows + 0.05, legend, fontsize=8, va="top", color="#333333")
    name = result.file.municipality.get("name", {}).get(lang, "")
    when = fmt_date(result.status_date, lang) if result.status_date is not None else ""
    ax.set_title(pick(_T["title"], lang).format(name=name, d=when).strip(), loc="left")
    lines = [rules_line(result, lang)]
    if not table.aim_stated.all() and table.aim.astype(bool).any():
        lines.append(pick(_T["grouping"], lang))
    if left_out:
        lines.append(pick(_T["only_new"], lang).format(names=", ".join(left_out)))
    shown = set(table.indicator_id)
    keys = [ind.target.get("source") for ind in result.file.indicators if ind.id in shown]
    keys += [a.source for i, a in result.actuals.items() if a is not None and i in shown]
    keys += [k for i in result.forecasts if i in shown for k in result.file.get(i).observations.source]
    lines.append(source_line(result, lang, keys))
    _caption(ax, lines)
    return ax


def plot_trajectory(ind: Indicator, fc: Forecast | None = None, *, ax: Axes | None = None, lang: str = "fi",
                    prediction_level: float | None = None, result: FollowUp | None = None) -> Axes:
    """Observed series, baseline-to-target path, target and (if given) the forecast band, on an honest year axis.

    A year-end value sits at its year's tick, a 30 June value half a year before it, a target at its
    target year (:func:`year_position`); the axis label mentions mid-year values only when there are some.
    A target relative to a reference series (at most 1 pp above the national average) is drawn as the
    reference and the limit it sets in the years the reference gives, with no line across a missing year
    (:func:`yearly_line`); where no observation falls in those
    years the chart says so, since it cannot then say whether the target was met. With ``result`` the
    caption gives the round's sources and date. Legends sit beside the plot, never on the data.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 4.5))
    obs = ind.observations
    dates = list(obs.date)
    if not obs.empty:
        ax.plot(year_position(obs.date), obs.value, "o-", color=ROLE["data"], label=pick(_T["obs"], lang), markersize=4)
    t = ind.target
    if t["kind"] != "at_most_above_reference":
        ax.plot(year_position([t["date"]]), [t["value"]], marker="*", markersize=14, color=ROLE["target"],
                linestyle="none", label=f"{pick(_T['target'], lang)} {t['date'].year}: {target_text(ind, lang)}")
        dates.append(t["date"])
        if ind.baseline is not None:
            ax.plot(year_position([ind.baseline["date"], t["date"]]), [ind.baseline["value"], t["value"]], "--",
                    color=ROLE["target"], label=pick(_T["path"], lang))
    elif ind.reference is not None and not ind.reference.empty:
        ref = ind.reference
        dates += list(ref.date)
        names = result.file.reference_labels if result is not None else {}
        ref_label = pick(names[t["reference"]], lang) if t.get("reference") in names else pick(_T["reference"], lang)
        ax.plot(*yearly_line(year_position(ref.date), ref.value), "s:", color=ROLE["earlier"], markersize=4, label=ref_label)
        limit = ind.target_text(lang) or value_text(float(t["value"]), ind, lang)
        ax.plot(*yearly_line(year_position(ref.date), ref.value + float(t["value"])), "s--", color=ROLE["target"],
                markersize=4, label=pick(_T["limit"], lang).format(t=limit))
        observed, referenced, both = reference_overlap(ind)
        if observed and not both:  # the chart cannot answer whether the target was met: say so on it
            gap = (max(observed) + min(referenced)) / 2 if max(observed) < min(referenced) else float(np.mean(referenced))
            note = pick(_T["no_overlap"], lang).format(obs=years_text(observed), ref=years_text(referenced))
            ax.text(gap, 0.5, textwrap.fill(note, 26), transform=ax.get_xaxis_transform(), ha="center", va="center",
                    fontsize=8, color="#333333", bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": "#999999"})
    if fc is not None:
        pct = f" ({fmt_pct(round(100 * prediction_level), 0, lang)})" if prediction_level else ""
        x = year_position(fc.band.date)
        ax.fill_between(x, fc.band.lower, fc.band.upper, color=ROLE["model"], alpha=0.12, linewidth=0,
                        label=pick(_T["fc"], lang) + pct)
        ax.plot(x, fc.band["mean"], color=ROLE["model"], linewidth=1)
    ax.set_title(pick(ind.label, lang), loc="left")
    unit = pick(ind.unit, lang)
    ax.set_ylabel(f"{pick(ind.label, lang)}, %" if unit.strip() == "%" else unit)
    _year_axis(ax, lang, dates)
    _value_axis(ax.yaxis, ind, lang)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, [textwrap.fill(x, 30) for x in labels], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    if result is not None:
        keys = [t.get("source"), *obs.source]
        if ind.reference is not None:
            keys += list(ind.reference.source)
        _caption(ax, [source_line(result, lang, keys)])
    return ax


def plot_bullet(ind: Indicator, result: FollowUp, *, ax: Axes | None = None, lang: str = "fi") -> Axes:
    """A one-value indicator: the round's actual as a bar against its target (a line), with both worded."""
    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 2.2))
    actual = result.actuals.get(ind.id)
    goal = float(ind.target["value"]) if ind.target["kind"] != "at_most_above_reference" else None
    values = [v for v in (goal, None if actual is None else actual.value) if v is not None]
    top = max(values) * 1.25 if values else 1.0
    if actual is not None:
        color, symbol = TRAFFIC[result.status(ind.id, "target").status]
        ax.barh([0], [actual.value], height=0.5, color=color, edgecolor="#333333", linewidth=0.6)
        ax.text(actual.value, 0, f"  {symbol} {actual_text(result, ind, lang)} ({fmt_date(actual.date, lang)})",
                va="center", fontsize=9)
    else:
        ax.text(0, 0, f"  {pick(_HEAD['actual'], lang)}: –", va="center", fontsize=9)
    if goal is not None:
        ax.axvline(goal, ymin=0.15, ymax=0.85, color=ROLE["target"], linewidth=2.5)
        ax.text(goal, 0.45, f"{pick(_T['target'], lang)} {ind.target_date.year}: {target_text(ind, lang)}  ", ha="right",
                va="bottom", fontsize=8.5)
    ax.set_xlim(0, top)
    ax.set_ylim(-0.6, 0.8)
    ax.set_yticks([])
    _value_axis(ax.xaxis, ind, lang, percent_sign=True)
    ax.set_title(pick(ind.label, lang), loc="left")
    keys = [ind.target.get("source")] + ([actual.source] if actual is not None else [])
    _caption(ax, [source_line(result, lang, keys)])
    return ax


_BT = {
    "title": Msg("indicators.charts.backtest.title"),
    "x": Msg("indicators.charts.backtest.x"),
    "y": Msg("indicators.charts.backtest.y"),
    "nominal": Msg("indicators.charts.backtest.nominal"),
    "used": Msg("indicators.charts.backtest.used"),
    "others": Msg("indicators.charts.backtest.others"),
    "inside": Msg("indicators.charts.backtest.inside"),
    "none": Msg("indicators.charts.backtest.none"),
    "tested": Msg("indicators.charts.backtest.tested"),
    "how": Msg("indicators.charts.backtest.how"),
}


def plot_backtest(windows: pd.DataFrame, *, used: float, horizon_years: float, result: FollowUp, ax: Axes | None = None,
                  lang: str = "fi", tested: list[str] | None = None) -> Axes:
    """Coverage of the forecast's prediction interval by fit window (from :func:`~kuntalib.indicators.steps.rounds`).

    One bar per window with predictions, the window in use filled and the others hollow; inside each bar at
    its foot, how many later values fell inside the interval out of how many were predicted; the nominal
    level as a dashed line. The legend sits beside the plot and no label is near the nominal line. A window
    without predictions is named under the chart; ``tested`` (indicator ids) names the indicators whose
    values the test used, and the caption cites only their sources.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 4.2))
    w = windows.dropna(subset=["coverage"]).reset_index(drop=True)
    pct = pct_sign(lang)
    x = np.arange(len(w))
    is_used = [float(v) == float(used) for v in w.window_years]
    ax.bar(x, 100 * w.coverage, width=0.62, color=[ROLE["data"] if u else "white" for u in is_used],
           edgecolor=ROLE["data"], linewidth=1.2)
    for i, r in enumerate(w.itertuples()):
        label = pick(_BT["inside"], lang).format(k=int(r.inside), n=int(r.predictions),
                                                 p=fmt_num(100 * r.coverage, 0, lang=lang) + pct)
        dark = is_used[i] and 100 * r.coverage >= 12
        ax.text(i, 1.5, label, ha="center", va="bottom", fontsize=8, color="white" if dark else "#222222")
    nominal = 100 * float(windows.nominal.iloc[0])
    ax.axhline(nominal, color=ROLE["target"], ls="--", lw=1.4, zorder=3)
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.6, len(w) - 0.4)
    ax.set_xticks(x, [fmt_num(v, 0, lang=lang) for v in w.window_years])
    ax.yaxis.set_major_formatter(lambda v, _p: fmt_num(v, 0, lang=lang) + pct)
    ax.set_xlabel(pick(_BT["x"], lang), fontsize=8)
    ax.set_ylabel(pick(_BT["y"], lang), fontsize=8)
    ax.grid(axis="x", visible=False)
    handles = [Patch(facecolor=ROLE["data"], edgecolor=ROLE["data"],
                     label=pick(_BT["used"], lang).format(w=fmt_num(used, 0, lang=lang))),
               Patch(facecolor="white", edgecolor=ROLE["data"], label=pick(_BT["others"], lang)),
               Line2D([], [], color=ROLE["target"], ls="--", lw=1.4,
                      label=pick(_BT["nominal"], lang).format(p=fmt_num(nominal, 0, lang=lang) + pct))]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(pick(_BT["title"], lang), loc="left")
    lines = [pick(_BT["how"], lang).format(h=fmt_num(horizon_years, 0, lang=lang))]
    empty = windows[windows.coverage.isna()]
    if len(empty):
        lines.append(pick(_BT["none"], lang).format(w=", ".join(fmt_num(v, 0, lang=lang) for v in empty.window_years),
                                                    m=result.rules.min_points))
    inds = [result.file.get(i) for i in tested] if tested is not None else list(result.file.indicators)
    if tested is not None:
        lines.append(pick(_BT["tested"], lang).format(names=", ".join(pick(i.label, lang) for i in inds)))
    keys = sorted({k for ind in inds for k in ind.observations.source})
    lines.append(source_line(result, lang, keys))
    _caption(ax, lines)
    return ax


_CH = {
    "reading": Msg("indicators.chain.reading"),
    "our_headings": Msg("indicators.chain.our_headings"),
    "our_links": Msg("indicators.chain.our_links"),
    "project": Msg("indicators.chain.project"),
    "funder": Msg("indicators.chain.funder"),
    "funder_reading": Msg("indicators.chain.funder_reading"),
    "translated": Msg("indicators.chain.translated"),
}


def chain_notes(chain: ImpactChain | dict[str, Any], lang: str) -> list[str]:
    """What a chart of the chain says besides its boxes: the project, its funder, and what is kuntalib's reading.

    The project with its organisation; the funder, marked as kuntalib's reading where the source names it
    without saying it funds; the stage headings and arrows where the source does not draw them; and, in sv
    and en, that the texts are kuntalib's translation of the Finnish source.
    """
    check_lang(lang)
    c = chain.as_dict() if isinstance(chain, ImpactChain) else chain
    out = []
    org = c.get("organisation")
    if c.get("project"):
        out.append(pick(_CH["project"], lang).format(project=c["project"], organisation=pick(org, lang)) if org else c["project"])
    f = c.get("funder")
    if f:
        out.append(pick(_CH["funder" if f.get("stated") else "funder_reading"], lang).format(funder=pick(f["name"], lang)))
    draws = c.get("source_draws") or {"headings": False, "links": False}
    if not draws.get("headings") and not draws.get("links"):
        out.append(pick(_CH["reading"], lang))
    elif not draws.get("headings"):
        out.append(pick(_CH["our_headings"], lang))
    elif not draws.get("links"):
        out.append(pick(_CH["our_links"], lang))
    if lang != "fi":
        out.append(pick(_CH["translated"], lang))
    return out


def plot_impact_chain(chain: ImpactChain | dict[str, Any], *, ax: Axes | None = None, lang: str = "fi",
                      source: str | None = None, note: str | None = None) -> Axes:
    """Means → outputs → goals as three columns of boxes (an :class:`ImpactChain` or its dict).

    The arrows between the columns are solid where the source draws the links, dashed and grey where they
    are kuntalib's reading; the boxes carry no colour of meaning. Under the chart: :func:`chain_notes`,
    ``note`` and ``source`` (the public citation in ``lang``).
    """
    check_lang(lang)
    c = chain.as_dict() if isinstance(chain, ImpactChain) else chain
    stages = c["stages"]
    drawn = bool((c.get("source_draws") or {}).get("links"))
    ax = new_axes(ax, figsize=(11, 5.0))
    ax.set_xlim(0, len(stages))
    depth = max(len(s["items"]) for s in stages)
    ax.set_ylim(depth - 0.4, -1.2)
    ax.axis("off")
    for i, stage in enumerate(stages):
        ax.text(i + 0.5, -0.8, pick(stage["label"], lang), ha="center", fontweight="bold", fontsize=11)
        for j, item in enumerate(stage["items"]):
            ax.add_patch(FancyBboxPatch((i + 0.08, j - 0.35), 0.84, 0.7, boxstyle="round,pad=0.02",
                                        fc="#F2F2F2", ec="#666666", lw=0.8))
            ax.text(i + 0.5, j, textwrap.fill(pick(item, lang), 30), ha="center", va="center", fontsize=8.5)
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((i + 0.93, (depth - 1) / 2), (i + 1.07, (depth - 1) / 2),
                                         arrowstyle="-|>", mutation_scale=20, color="#333333" if drawn else "#888888",
                                         linestyle="-" if drawn else "--", lw=1.2))
    ax.set_title(pick(c["title"], lang), loc="left", fontsize=11)
    lines = chain_notes(c, lang) + ([note] if note else []) + ([text("cite.source", lang, source=source)] if source else [])
    _caption(ax, lines)
    return ax
