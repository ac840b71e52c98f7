"""Barometer charts: horizontal bars in the deck's order, and diverging promoter/barrier bars.

Unpublished values are never drawn as bars: their row shows a hatched grey
band over the range the text allows, marked "ei julkaistu" / "not published".
"""

from __future__ import annotations

import textwrap

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from kuntalib.i18n import Msg, check_lang, text
from kuntalib.theme import (
    NOT_PUBLISHED,
    NOT_PUBLISHED_COLOR,
    PALETTE,
    add_caption,
    fmt_pct,
    fmt_range,
    mark_synthetic,
    new_axes,
    percent_axis,
)

__all__ = ["plot_bars", "plot_diverging", "caption_lines", "add_barometer_caption", "RESPONDENTS", "SOURCE"]

RESPONDENTS = Msg("barometer.charts.respondents")
SOURCE = Msg("barometer.charts.source")
SYNTHETIC_SOURCE = Msg("barometer.charts.synthetic_source")
ANSWERS = {
    "promoted": Msg("barometer.charts.answers.promoted"),
    "barrier": Msg("barometer.charts.answers.barrier"),
    "not_relevant": Msg("barometer.charts.answers.not_relevant"),
}


def caption_lines(question: pd.Series, *, lang: str, year: int, press: pd.DataFrame | None = None, synthetic: bool = False,
                  source: str | None = None) -> list[str]:
    """Question wording, respondents, N, year and source, as the Danish barometer prints them.

    ``source`` is the public citation in ``lang`` (:func:`kuntalib.sources.cite`); without it the
    caption names the publisher and the survey only.
    """
    lines = [str(question[f"title_{lang}"])]
    if press is not None:
        lines.append(
            RESPONDENTS[lang].format(
                responses=int(press.loc["responses", "value"]),
                municipalities=int(press.loc["responding_municipalities", "value"]),
                joint=int(press.loc["responding_joint_authorities", "value"]),
            )
        )
    lines.append(f"N = {question['n_text']} · {year}")
    if synthetic:
        lines.append(SYNTHETIC_SOURCE[lang])
    elif source:
        lines += textwrap.wrap(text("cite.source", lang, source=source) + " " + text("barometer.charts.reference_years", lang), 150)
    else:
        lines.append(SOURCE[lang].format(year=year))
    return lines


def _label(row: pd.Series, lang: str, width: int = 48) -> str:
    return textwrap.fill(str(row[f"label_{lang}"]), width)


def _band(ax: Axes, y: float, lo: float, hi: float, height: float = 0.7) -> None:
    """The hatched grey band over the range an unpublished value may take."""
    ax.barh(y, hi - lo, left=lo, height=height, color="white", edgecolor=NOT_PUBLISHED_COLOR, hatch="///", linewidth=0.8)


def _unpublished(ax: Axes, y: float, lo: float, hi: float, lang: str, height: float = 0.7) -> None:
    _band(ax, y, lo, hi, height)
    ax.text(
        (lo + hi) / 2, y, f"{NOT_PUBLISHED[lang]} ({fmt_range(lo, hi, lang=lang, percent=True)})",
        ha="center", va="center", fontsize=7.5, color="#555555",
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
    )


def plot_bars(
    figures: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "fi",
    color: str = PALETTE["blue"],
    synthetic: bool = False,
) -> Axes:
    """Horizontal bars of one question's rows, chart order 1 at the bottom.

    Parameters
    ----------
    figures
        Rows of one question with ``chart_order``, ``label_<lang>``, ``share``,
        ``lower`` and ``upper`` (share NaN = not published).
    synthetic
        Stamp the chart as drawn from synthetic data.
    """
    check_lang(lang)
    rows = figures.sort_values("chart_order").reset_index(drop=True)
    ax = new_axes(ax, figsize=(9, 0.45 * len(rows) + 1.5))
    for y, r in rows.iterrows():
        if pd.notna(r.share):
            ax.barh(y, r.share, color=color, height=0.7)
            ax.text(r.share + 1, y, fmt_pct(r.share, lang=lang), va="center", fontsize=9)
        else:
            _unpublished(ax, y, r.lower, r.upper, lang)
    ax.set_yticks(range(len(rows)), [_label(r, lang) for _, r in rows.iterrows()], fontsize=8.5)
    ax.set_xlim(0, 105)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    percent_axis(ax, "x", lang=lang)
    if synthetic:
        mark_synthetic(ax, lang)
    return ax


def plot_diverging(
    figures: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "fi",
    synthetic: bool = False,
) -> Axes:
    """Promoted to the right, barrier to the left, one row per factor in chart order.

    'Not relevant' is printed at the right edge where it is known (published
    or derived as 100 − promoted − barrier).
    """
    check_lang(lang)
    factors = figures.sort_values("chart_order")["category_id"].drop_duplicates().tolist()
    by = figures.set_index(["category_id", "answer"])
    ax = new_axes(ax, figsize=(10, 0.45 * len(factors) + 2))
    colors = {"promoted": PALETTE["blue"], "barrier": PALETTE["vermillion"]}
    for y, cat in enumerate(factors):
        for answer, sign in (("promoted", 1), ("barrier", -1)):
            r = by.loc[(cat, answer)]
            if pd.notna(r.share):
                ax.barh(y, sign * r.share, color=colors[answer], height=0.7)
                ax.text(sign * (r.share + 1), y, fmt_pct(r.share, lang=lang), va="center", ha="left" if sign > 0 else "right", fontsize=8.5)
            else:
                lo, hi = sorted((sign * r.lower, sign * r.upper))
                _band(ax, y, lo, hi)
        if (cat, "not_relevant") in by.index:
            nr = by.loc[(cat, "not_relevant")]
            if pd.notna(nr.share):
                tag = "*" if bool(nr.get("derived", False)) else ""
                ax.text(101, y, f"{fmt_pct(nr.share, lang=lang)}{tag}", va="center", fontsize=8, color="#555555")
    labels = [textwrap.fill(str(by.loc[(c, "promoted")][f"label_{lang}"]), 46) for c in factors]
    ax.set_yticks(range(len(factors)), labels, fontsize=8.5)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-60, 112)
    ax.set_ylim(-0.6, len(factors) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_pct(abs(v), lang=lang))
    handles = [
        Patch(color=colors["barrier"], label=ANSWERS["barrier"][lang]),
        Patch(color=colors["promoted"], label=ANSWERS["promoted"][lang]),
        Patch(facecolor="white", edgecolor=NOT_PUBLISHED_COLOR, hatch="///", label=NOT_PUBLISHED[lang]),
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    derived_note = Msg("barometer.charts.derived_note")
    ax.text(1.0, -0.08, derived_note[lang], transform=ax.transAxes, ha="right", va="top", fontsize=7.5, color="#555555")
    if synthetic:
        mark_synthetic(ax, lang)
    return ax


def add_barometer_caption(ax: Axes, question: pd.Series, *, lang: str, year: int, press: pd.DataFrame | None, synthetic: bool = False,
                          source: str | None = None) -> Axes:
    """Put the caption lines under the chart (separate from drawing the bars)."""
    return add_caption(ax, caption_lines(question, lang=lang, year=year, press=press, synthetic=synthetic, source=source))
