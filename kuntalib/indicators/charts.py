"""Strategy follow-up figures: traffic-light dashboard, trajectory chart, impact chain."""

from __future__ import annotations

import textwrap
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from kuntalib.i18n import check_lang, pick
from kuntalib.indicators.chain import ImpactChain
from kuntalib.indicators.model import Indicator
from kuntalib.indicators.status import RULES, FollowUp, Forecast
from kuntalib.theme import PALETTE, TRAFFIC, fmt_num, new_axes

__all__ = ["plot_dashboard", "plot_trajectory", "plot_impact_chain", "STATUS_TEXT", "RULE_TEXT"]

STATUS_TEXT = {
    "green": {"fi": "tavoitteessa", "sv": "på målet", "en": "on target"},
    "yellow": {"fi": "lähellä", "sv": "nära", "en": "close"},
    "red": {"fi": "jäljessä", "sv": "efter", "en": "behind"},
    "unknown": {"fi": "ei tietoa", "sv": "okänd", "en": "unknown"},
}
RULE_TEXT = {
    "target": {"fi": "Tavoite", "sv": "Mål", "en": "Target"},
    "trajectory": {"fi": "Polku", "sv": "Bana", "en": "Trajectory"},
    "forecast": {"fi": "Ennuste", "sv": "Prognos", "en": "Forecast"},
}
_HEAD = {
    "indicator": {"fi": "Olosuhdetekijä", "sv": "Indikator", "en": "Indicator"},
    "target": {"fi": "Tavoite", "sv": "Mål", "en": "Target"},
    "actual": {"fi": "Toteutuma", "sv": "Utfall", "en": "Actual"},
}
_KIND = {
    "at_least": {"fi": "vähintään", "sv": "minst", "en": "at least"},
    "above": {"fi": "yli", "sv": "över", "en": "over"},
    "at_most": {"fi": "enintään", "sv": "högst", "en": "at most"},
    "below": {"fi": "alle", "sv": "under", "en": "under"},
    "at_most_above_reference": {"fi": "enintään +{v} %-yks. maan keskiarvosta", "sv": "högst +{v} %-enh. över riksgenomsnittet",
                                "en": "at most {v} pp above national average"},
}


_DASHBOARD_TITLE = {"fi": "{name}: strategian toteutuminen", "sv": "{name}: strategins genomförande",
                    "en": "{name}: strategy follow-up"}


def _target_text(ind: Indicator, lang: str) -> str:
    t = ind.target
    kind = pick(_KIND[t["kind"]], lang)
    if t["kind"] == "at_most_above_reference":
        return kind.format(v=fmt_num(t["value"], 0))
    return f"{kind} {fmt_num(t['value'])} ({t['date'].year})"


def _actual_text(ind: Indicator, lang: str) -> str:
    last = ind.latest()
    if last is None:
        return "–"
    return f"{fmt_num(last.value, 2 if last.value % 1 else 0)} ({last.date.day}.{last.date.month}.{last.date.year})"


def plot_dashboard(result: FollowUp, *, ax: Axes | None = None, lang: str = "fi") -> Axes:
    """Traffic-light table: one row per indicator, one light per rule (colour and symbol)."""
    check_lang(lang)
    inds = result.file.indicators
    table = result.table()
    ax = new_axes(ax, figsize=(11, 0.6 * len(inds) + 1.6))
    cols = [0.0, 0.36, 0.6, 0.78, 0.87, 0.96]
    ax.set_xlim(0, 1.02)
    ax.set_ylim(len(inds) + 0.2, -1.1)
    ax.axis("off")
    heads = [pick(_HEAD["indicator"], lang), pick(_HEAD["target"], lang), pick(_HEAD["actual"], lang)] + [pick(RULE_TEXT[r], lang) for r in RULES]
    for x, h in zip(cols, heads, strict=True):
        ax.text(x, -0.5, h, fontweight="bold", fontsize=9, ha="left" if x < 0.7 else "center", va="center")
    for y, ind in enumerate(inds):
        ax.axhline(y + 0.5, color="#dddddd", linewidth=0.6)
        ax.text(cols[0], y, textwrap.fill(pick(ind.label, lang), 34), fontsize=9, va="center")
        ax.text(cols[1], y, textwrap.fill(_target_text(ind, lang), 26), fontsize=8.5, va="center")
        ax.text(cols[2], y, _actual_text(ind, lang), fontsize=8.5, va="center")
        for x, rule in zip(cols[3:], RULES, strict=True):
            status = table.loc[ind.id, rule]
            color, symbol = TRAFFIC[status]
            ax.scatter([x], [y], s=420, color=color, edgecolors="#333333", linewidths=0.6, zorder=3)
            ax.text(x, y, symbol, ha="center", va="center", fontsize=9, fontweight="bold", color="black", zorder=4)
    legend = "   ".join(f"{TRAFFIC[s][1]} {pick(STATUS_TEXT[s], lang)}" for s in ("green", "yellow", "red", "unknown"))
    ax.text(0, len(inds) + 0.05, legend, fontsize=8, va="top", color="#333333")
    name = result.file.municipality.get("name", {}).get(lang, "")
    ax.set_title(pick(_DASHBOARD_TITLE, lang).format(name=name), loc="left")
    return ax


def plot_trajectory(ind: Indicator, fc: Forecast | None = None, *, ax: Axes | None = None, lang: str = "fi",
                    prediction_level: float | None = None) -> Axes:
    """Observed series, baseline-to-target path, target and (if given) the forecast band."""
    check_lang(lang)
    ax = new_axes(ax, figsize=(8, 4.5))
    obs = ind.observations
    labels = {
        "obs": {"fi": "havainnot", "sv": "observationer", "en": "observed"},
        "path": {"fi": "polku lähtötasosta tavoitteeseen", "sv": "bana från utgångsläge till mål", "en": "path from baseline to target"},
        "target": {"fi": "tavoite", "sv": "mål", "en": "target"},
        "fc": {"fi": "trendiennuste", "sv": "trendprognos", "en": "trend forecast"},
    }
    if not obs.empty:
        ax.plot(obs.date, obs.value, "o-", color=PALETTE["blue"], label=pick(labels["obs"], lang), markersize=4)
    t = ind.target
    if t["kind"] != "at_most_above_reference":
        ax.plot([t["date"]], [t["value"]], marker="*", markersize=14, color=PALETTE["vermillion"], linestyle="none",
                label=f"{pick(labels['target'], lang)} {_target_text(ind, lang)}")
        if ind.baseline is not None:
            ax.plot([ind.baseline["date"], t["date"]], [ind.baseline["value"], t["value"]], "--", color=PALETTE["orange"],
                    label=pick(labels["path"], lang))
    elif ind.reference is not None:
        ref = ind.reference
        ax.plot(ref.date, ref.value + float(t["value"]), "s--", color=PALETTE["vermillion"], markersize=4,
                label=f"{pick(labels['target'], lang)}: {_target_text(ind, lang)}")
    if fc is not None:
        pct = f" ({round(100 * prediction_level)} %)" if prediction_level else ""
        ax.fill_between(fc.band.date, fc.band.lower, fc.band.upper, color=PALETTE["sky"], alpha=0.3,
                        label=pick(labels["fc"], lang) + pct)
        ax.plot(fc.band.date, fc.band["mean"], color=PALETTE["sky"])
    ax.set_title(pick(ind.label, lang), loc="left")
    ax.set_ylabel(pick(ind.unit, lang))
    ax.yaxis.set_major_formatter(lambda v, _p: fmt_num(v, 1 if abs(v) < 100 else 0))
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_impact_chain(chain: ImpactChain | dict[str, Any], *, ax: Axes | None = None, lang: str = "fi") -> Axes:
    """Means → outputs → goals as three columns of boxes joined by arrows (an :class:`ImpactChain` or its dict)."""
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
    return ax
