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
from kuntalib.indicators.status import RULES, FollowUp, Forecast
from kuntalib.indicators.texts import actual_text, round_table, target_text
from kuntalib.theme import PALETTE, TRAFFIC, add_caption, fmt_date, fmt_num, fmt_pct, new_axes, pct_sign

__all__ = ["plot_dashboard", "plot_trajectory", "plot_bullet", "plot_backtest", "plot_impact_chain", "year_position", "source_line",
           "rules_line", "STATUS_TEXT", "RULE_TEXT"]

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
}


def year_position(dates: pd.Series | pd.DatetimeIndex | list) -> np.ndarray:
    """Where a date sits on a year axis whose tick ``Y`` is the end of year ``Y``.

    31.12.2016 → 2016.0 (a year-end value at its year), 30.6.2022 → about 2021.5 (mid-year
    2022), 31.12.2025 → 2025.0 (a 2025 target at 2025).
    """
    d = pd.DatetimeIndex(pd.to_datetime(dates))
    days = np.where(d.is_leap_year, 366, 365)
    return (d.year - 1 + d.day_of_year / days).to_numpy(float)


def _year_axis(ax: Axes, lang: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(lambda v, _p: str(int(round(v))))
    ax.set_xlabel(pick(_T["year_end"], lang), fontsize=8)


def _value_axis(axis: Any, ind: Indicator, lang: str, *, percent_sign: bool = False) -> None:
    """Ticks of an indicator's values: whole numbers for counts; percentages with a decimal where needed."""
    pct = pick(ind.unit, lang).strip() == "%"
    if not pct:  # counts of persons or jobs: whole numbers only
        axis.set_major_locator(MaxNLocator(integer=True))
    sign = pct_sign(lang) if pct and percent_sign else ""
    axis.set_major_formatter(lambda v, _p: fmt_num(v, 0 if float(v).is_integer() else 1, lang=lang) + sign)


def source_line(result: FollowUp, lang: str, keys: list[str] | None = None) -> str:
    """"Source: … Evaluated …" for a figure of this round (the sources its values cite)."""
    f = result.file
    keys = keys or sorted({k for ind in f.indicators for k in [ind.target.get("source"), *ind.observations.source]
                           if k})
    cited = "; ".join(f.source_text(k, lang) for k in dict.fromkeys(keys) if k in f.sources)
    if result.as_of is None:
        return pick(_T["source_all"], lang).format(s=cited)
    return pick(_T["source"], lang).format(s=cited, d=fmt_date(result.as_of, lang))


def rules_line(result: FollowUp, lang: str) -> str:
    """The three rules in one sentence, stated as kuntalib's method."""
    r = result.rules
    return pick(_T["rules"], lang).format(tol=fmt_num(100 * r.tolerance, 0, lang=lang), w=fmt_num(r.window_years, 0, lang=lang),
                                          g=fmt_num(100 * r.green_probability, 0, lang=lang))


def plot_dashboard(result: FollowUp, *, ax: Axes | None = None, lang: str = "fi") -> Axes:
    """Traffic-light table of one round, grouped by the strategy's aims: target, actual, one light per rule.

    Each light has a colour and a symbol. The table drawn is :func:`~kuntalib.indicators.texts.round_table`.
    """
    check_lang(lang)
    table = round_table(result, lang)
    aims = [a for a in dict.fromkeys(table.aim) if a]
    n_rows = len(table) + len(aims)
    ax = new_axes(ax, figsize=(11, 0.55 * n_rows + 2.2))
    cols = [0.0, 0.34, 0.58, 0.78, 0.87, 0.96]
    ax.set_xlim(0, 1.02)
    ax.set_ylim(n_rows + 0.2, -1.1)
    ax.axis("off")
    years = sorted({ind.target_date.year for ind in result.file.indicators})
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
    keys = [k for ind in result.file.indicators for k in [ind.target.get("source")]]
    keys += [a.source for a in result.actuals.values() if a is not None]
    keys += [k for i, fc in result.forecasts.items() for k in result.file.get(i).observations.source]
    lines.append(source_line(result, lang, keys))
    add_caption(ax, [textwrap.fill(line, 150) for line in lines], fontsize=7)
    return ax


def plot_trajectory(ind: Indicator, fc: Forecast | None = None, *, ax: Axes | None = None, lang: str = "fi",
                    prediction_level: float | None = None, result: FollowUp | None = None) -> Axes:
    """Observed series, baseline-to-target path, target and (if given) the forecast band, on an honest year axis.

    A year-end value sits at its year's tick, a 30 June value half a year before it, a target at its
    target year (:func:`year_position`). With ``result`` the caption gives the round's sources and date.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 4.5))
    obs = ind.observations
    if not obs.empty:
        ax.plot(year_position(obs.date), obs.value, "o-", color=PALETTE["blue"], label=pick(_T["obs"], lang), markersize=4)
    t = ind.target
    if t["kind"] != "at_most_above_reference":
        ax.plot(year_position([t["date"]]), [t["value"]], marker="*", markersize=14, color=PALETTE["vermillion"],
                linestyle="none", label=f"{pick(_T['target'], lang)} {t['date'].year}: {target_text(ind, lang)}")
        if ind.baseline is not None:
            ax.plot(year_position([ind.baseline["date"], t["date"]]), [ind.baseline["value"], t["value"]], "--",
                    color=PALETTE["orange"], label=pick(_T["path"], lang))
    elif ind.reference is not None and not ind.reference.empty:
        ref = ind.reference
        ax.plot(year_position(ref.date), ref.value + float(t["value"]), "s--", color=PALETTE["vermillion"], markersize=4,
                label=f"{pick(_T['target'], lang)}: {target_text(ind, lang)}")
    if fc is not None:
        pct = f" ({fmt_pct(round(100 * prediction_level), 0, lang)})" if prediction_level else ""
        x = year_position(fc.band.date)
        ax.fill_between(x, fc.band.lower, fc.band.upper, color=PALETTE["sky"], alpha=0.3, label=pick(_T["fc"], lang) + pct)
        ax.plot(x, fc.band["mean"], color=PALETTE["sky"])
    ax.set_title(pick(ind.label, lang), loc="left")
    ax.set_ylabel(pick(ind.unit, lang))
    _year_axis(ax, lang)
    _value_axis(ax.yaxis, ind, lang)
    ax.legend(fontsize=8, loc="best")
    if result is not None:
        keys = [t.get("source"), *obs.source]
        add_caption(ax, [textwrap.fill(source_line(result, lang, keys), 130)], fontsize=7)
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
        ax.axvline(goal, ymin=0.15, ymax=0.85, color="black", linewidth=2.5)
        ax.text(goal, 0.45, f"{pick(_T['target'], lang)} {ind.target_date.year}: {target_text(ind, lang)}  ", ha="right",
                va="bottom", fontsize=8.5)
    ax.set_xlim(0, top)
    ax.set_ylim(-0.6, 0.8)
    ax.set_yticks([])
    _value_axis(ax.xaxis, ind, lang, percent_sign=True)
    ax.set_title(pick(ind.label, lang), loc="left")
    keys = [ind.target.get("source")] + ([actual.source] if actual is not None else [])
    add_caption(ax, [textwrap.fill(source_line(result, lang, keys), 130)], fontsize=7)
    return ax


_BT = {
    "title": Msg("indicators.charts.backtest.title"),
    "x": Msg("indicators.charts.backtest.x"),
    "y": Msg("indicators.charts.backtest.y"),
    "nominal": Msg("indicators.charts.backtest.nominal"),
    "n": Msg("indicators.charts.backtest.n"),
    "used": Msg("indicators.charts.backtest.used"),
    "how": Msg("indicators.charts.backtest.how"),
}


def plot_backtest(windows: pd.DataFrame, *, used: float, horizon_years: float, result: FollowUp, ax: Axes | None = None,
                  lang: str = "fi") -> Axes:
    """Coverage of the forecast's prediction interval by fit window (from :func:`~kuntalib.indicators.steps.rounds`)."""
    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 4))
    w = windows.dropna(subset=["coverage"])
    pct = pct_sign(lang)
    colors = [PALETTE["blue"] if x == used else PALETTE["sky"] for x in w.window_years]
    ax.bar(w.window_years, 100 * w.coverage, width=3, color=colors, edgecolor="#333333", linewidth=0.5)
    for r in w.itertuples():
        label = pick(_BT["n"], lang).format(n=r.predictions) + (f"\n{pick(_BT['used'], lang)}" if r.window_years == used else "")
        ax.text(r.window_years, 100 * r.coverage + 2, label, ha="center", va="bottom", fontsize=8)
    nominal = 100 * float(windows.nominal.iloc[0])
    ax.axhline(nominal, color=PALETTE["vermillion"], ls="--", lw=1.2,
               label=pick(_BT["nominal"], lang).format(p=fmt_num(nominal, 0, lang=lang) + pct))
    ax.set_ylim(0, 115)
    ax.set_xticks(w.window_years, [fmt_num(x, 0, lang=lang) for x in w.window_years])
    ax.yaxis.set_major_formatter(lambda v, _p: fmt_num(v, 0, lang=lang) + pct)
    ax.set_xlabel(pick(_BT["x"], lang), fontsize=8)
    ax.set_ylabel(pick(_BT["y"], lang), fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(pick(_BT["title"], lang), loc="left")
    keys = sorted({k for ind in result.file.indicators for k in ind.observations.source})
    add_caption(ax, [textwrap.fill(pick(_BT["how"], lang).format(h=fmt_num(horizon_years, 0, lang=lang)), 130),
                     textwrap.fill(source_line(result, lang, keys), 130)], fontsize=7)
    return ax


def plot_impact_chain(chain: ImpactChain | dict[str, Any], *, ax: Axes | None = None, lang: str = "fi",
                      source: str | None = None, note: str | None = None) -> Axes:
    """Means → outputs → goals as three columns of boxes joined by arrows (an :class:`ImpactChain` or its dict).

    ``source`` (the public citation in ``lang``) and ``note`` (e.g. that the stage headings are
    kuntalib's, not the slide's) are written under the chart.
    """
    check_lang(lang)
    if isinstance(chain, ImpactChain):
        chain = chain.as_dict()
    stages = chain["stages"]
    ax = new_axes(ax, figsize=(11, 5.5))
    ax.set_xlim(0, len(stages))
    depth = max(len(s["items"]) for s in stages)
    ax.set_ylim(depth + 0.3, -1.2)
    ax.axis("off")
    colors = [PALETTE["sky"], PALETTE["orange"], PALETTE["green"]]
    for i, stage in enumerate(stages):
        ax.text(i + 0.5, -0.8, pick(stage["label"], lang), ha="center", fontweight="bold", fontsize=11)
        for j, item in enumerate(stage["items"]):
            ax.add_patch(FancyBboxPatch((i + 0.08, j - 0.35), 0.84, 0.7, boxstyle="round,pad=0.02",
                                        fc=colors[i % 3], ec="#333333", alpha=0.35, lw=0.8))
            ax.text(i + 0.5, j, textwrap.fill(pick(item, lang), 30), ha="center", va="center", fontsize=8.5)
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((i + 0.93, depth / 2 - 0.5), (i + 1.07, depth / 2 - 0.5),
                                         arrowstyle="-|>", mutation_scale=20, color="#333333"))
    ax.set_title(pick(chain["title"], lang), loc="left", fontsize=11)
    lines = ([note] if note else []) + (textwrap.wrap(text("cite.source", lang, source=source), 150) if source else [])
    if lines:
        add_caption(ax, lines, fontsize=7)
    return ax
