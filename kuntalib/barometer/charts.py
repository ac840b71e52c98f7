"""Barometer charts: horizontal bars in the deck's order, diverging promoter/barrier bars,
breakdowns of microdata estimates, and the 2018 → 2022 comparison.

Unpublished values are never drawn as bars: their row shows a hatched grey
band over the range the text allows (the tightest bounds of
:mod:`kuntalib.barometer.bounds`), marked "ei julkaistu" / "not published".
Estimates from microdata carry their 95 % interval as a line over the bar.
A chart of which the source names only some options says so in a row of its own.
"""

from __future__ import annotations

import textwrap
from datetime import date

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from kuntalib.i18n import Msg, check_lang, text
from kuntalib.theme import (
    NOT_PUBLISHED,
    NOT_PUBLISHED_COLOR,
    PALETTE,
    ROLE,
    add_caption,
    fmt_date,
    fmt_num,
    fmt_pct,
    fmt_range,
    mark_synthetic,
    new_axes,
    percent_axis,
)

__all__ = ["plot_bars", "plot_diverging", "plot_breakdown", "plot_by_size", "plot_rounds", "plot_comparison", "caption_lines", "n_text",
           "add_barometer_caption", "RESPONDENTS", "SOURCE", "SIZE_CLASSES"]

#: Municipal size classes of the survey files, with their catalogue keys (other values are shown as written).
SIZE_CLASSES = {"alle 5 000": "barometer.size.under_5000", "5 000–20 000": "barometer.size.5000_20000",
                "yli 20 000": "barometer.size.over_20000"}

#: An unpublished share whose bounds are at least this wide (percentage points) is said in its row, not drawn as a band.
WIDE_BOUNDS = 50
RESPONDENTS = Msg("barometer.charts.respondents")
SOURCE = Msg("barometer.charts.source")
SYNTHETIC_SOURCE = Msg("barometer.charts.synthetic_source")
ANSWERS = {
    "promoted": Msg("barometer.charts.answers.promoted"),
    "barrier": Msg("barometer.charts.answers.barrier"),
    "not_relevant": Msg("barometer.charts.answers.not_relevant"),
}


def respondents_line(press: pd.DataFrame, lang: str) -> str:
    """The respondents as the press release counts them, and why responses exceed organisations."""
    responses = int(press.loc["responses", "value"])
    muni = int(press.loc["responding_municipalities", "value"])
    joint = int(press.loc["responding_joint_authorities", "value"])
    share = fmt_pct(float(press.loc["responding_municipalities_share", "value"]), lang=lang)
    return text("barometer.charts.respondents", lang, responses=responses, municipalities=muni, joint=joint, share=share,
                extra=responses - muni - joint)


def caption_lines(question: pd.Series, *, lang: str, year: int, press: pd.DataFrame | None = None, synthetic: bool = False,
                  source: str | None = None, counts: dict[str, int] | None = None, n_range: tuple[float, float] | None = None,
                  intervals: str | None = None, bounds: bool = False, rows: pd.DataFrame | None = None) -> list[str]:
    """Question wording, respondents, N, year and source, as the Danish barometer prints them.

    ``source`` is the public citation in ``lang`` (:func:`kuntalib.sources.cite`); without it the
    caption names the publisher and the survey only. From microdata, ``counts``
    (:func:`~kuntalib.barometer.report.respondent_counts`) and ``n_range`` (the items' N in the
    file) replace the published respondents and N, and ``intervals`` says how the interval lines
    were computed. ``bounds`` adds the line explaining the hatched bands. ``rows`` (the chart's rows) give the
    published N in ``lang`` (:func:`n_text`); without them the questions file's ``n_text`` is printed as written.
    """
    lines = [str(question[f"title_{lang}"])]
    if counts is not None:
        lines.append(text("barometer.charts.respondents_file", lang, **counts))
        lo, hi = n_range if n_range else (float("nan"), float("nan"))
        n = fmt_num(lo, lang=lang) if lo == hi else fmt_range(lo, hi, lang=lang)
        lines.append(text("barometer.charts.n_file", lang, n=n, year=year))
        if intervals:
            lines.append(intervals)
    else:
        if press is not None:
            lines.append(respondents_line(press, lang))
        lines.append(f"N = {n_text(rows, lang) if rows is not None else question['n_text']} · {year}")
    if bounds:
        lines.append(text("barometer.charts.bounds_note", lang))
    if synthetic:
        lines.append(SYNTHETIC_SOURCE[lang])
    elif source:
        lines.append(text("cite.source", lang, source=source))
    else:
        lines.append(SOURCE[lang].format(year=year))
    return lines


def n_text(rows: pd.DataFrame, lang: str) -> str:
    """The published N of a chart's rows in ``lang``: one number, a range, and whether some options have none."""
    low, high = rows.n_min.min(), rows.n_max.max()
    if pd.isna(high):
        return NOT_PUBLISHED[lang]
    out = fmt_num(high, lang=lang) if low == high else fmt_range(low, high, lang=lang)
    return out + (" " + text("barometer.charts.n_partly", lang) if rows.n_max.isna().any() else "")


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


def _interval(ax: Axes, y: float, lo: float, hi: float, *, sign: float = 1.0) -> None:
    """A 95 % interval as a black line with end ticks over a bar."""
    ax.errorbar(sign * (lo + hi) / 2, y, xerr=(hi - lo) / 2, fmt="none", ecolor="#222222", elinewidth=1.1, capsize=3)


def _has_interval(r) -> bool:
    return pd.notna(r.share) and pd.notna(r.lower) and pd.notna(r.upper)


def plot_bars(
    figures: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "fi",
    color: str = ROLE["data"],
    synthetic: bool = False,
    other_categories: bool = False,
) -> Axes:
    """Horizontal bars of one question's rows, chart order 1 at the bottom.

    Parameters
    ----------
    figures
        Rows of one question with ``chart_order``, ``label_<lang>``, ``share``,
        ``lower`` and ``upper`` (share NaN = not published: a band over lower–upper;
        share with lower/upper = an estimate with its interval, drawn over the bar).
    synthetic
        Stamp the chart as drawn from synthetic data.
    other_categories
        The source names only some of the question's options: a row at the bottom says the
        others are not published.
    """
    check_lang(lang)
    rows = figures.sort_values("chart_order").reset_index(drop=True)
    offset = 1 if other_categories else 0
    ax = new_axes(ax, figsize=(9, 0.45 * (len(rows) + offset) + 1.5))
    for i, r in rows.iterrows():
        y = i + offset
        if pd.notna(r.share):
            ax.barh(y, r.share, color=color, height=0.7)
            right = r.upper if _has_interval(r) else r.share
            if _has_interval(r):
                _interval(ax, y, r.lower, r.upper)
            ax.text(right + 1, y, fmt_pct(r.share, lang=lang), va="center", fontsize=9)
        elif pd.notna(r.lower) and pd.notna(r.upper) and r.upper - r.lower < WIDE_BOUNDS:
            _unpublished(ax, y, r.lower, r.upper, lang)
        elif pd.notna(r.lower) and pd.notna(r.upper):  # the text allows almost anything: said, not drawn
            ax.text(1, y, text("barometer.charts.not_published_wide", lang, range=fmt_range(r.lower, r.upper, lang=lang, percent=True)),
                    va="center", fontsize=8, color="#555555", style="italic")
        else:  # an estimate the file cannot give (no answers to the item): no bar, no band
            ax.text(1, y, text("barometer.charts.not_in_file", lang), va="center", fontsize=8, color="#555555")
    labels = [_label(r, lang) for _, r in rows.iterrows()]
    if other_categories:
        ax.text(1, 0, text("barometer.charts.other_categories_text", lang), va="center", fontsize=8, color="#555555",
                style="italic")
        labels = [_label(pd.Series({f"label_{lang}": text("barometer.charts.other_categories_label", lang)}), lang), *labels]
    ax.set_yticks(range(len(labels)), labels, fontsize=8.5)
    ax.set_xlim(0, 105)
    ax.set_ylim(-0.6, len(labels) - 0.4)
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
    colors = {"promoted": ROLE["data"], "barrier": ROLE["unfavourable"]}
    for y, cat in enumerate(factors):
        for answer, sign in (("promoted", 1), ("barrier", -1)):
            r = by.loc[(cat, answer)]
            if pd.notna(r.share):
                ax.barh(y, sign * r.share, color=colors[answer], height=0.7)
                end = r.share
                if _has_interval(r) and not bool(r.get("derived", False)):
                    _interval(ax, y, r.lower, r.upper, sign=sign)
                    end = r.upper
                ax.text(sign * (end + 1), y, fmt_pct(r.share, lang=lang), va="center", ha="left" if sign > 0 else "right", fontsize=8.5)
            elif pd.isna(r.lower):
                continue
            else:
                lo, hi = sorted((sign * r.lower, sign * r.upper))
                _band(ax, y, lo, hi)
        if (cat, "not_relevant") in by.index:
            nr = by.loc[(cat, "not_relevant")]
            if pd.notna(nr.share):
                tag = "*" if bool(nr.get("derived", False)) else ""
                ax.text(101, y, f"{fmt_pct(nr.share, lang=lang)}{tag}", va="center", fontsize=8, color="#555555")
            elif pd.notna(nr.lower) and pd.notna(nr.upper):  # not published: the range the figures allow
                ax.text(101, y, fmt_range(nr.lower, nr.upper, lang=lang, percent=True), va="center", fontsize=7.5, color="#555555",
                        style="italic")
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
                          source: str | None = None, **kwargs) -> Axes:
    """Put the caption lines under the chart (separate from drawing the bars); ``kwargs`` as :func:`caption_lines`."""
    return add_caption(ax, caption_lines(question, lang=lang, year=year, press=press, synthetic=synthetic, source=source, **kwargs),
                       width=150)


def _item_label(figures: pd.DataFrame, q: str, c: str, lang: str, width: int = 52) -> str:
    row = figures[(figures.question_id == q) & (figures.category_id == c)].iloc[0]
    return textwrap.fill(str(row[f"label_{lang}"]), width)


def plot_breakdown(comparison: pd.DataFrame, figures: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi",
                   synthetic: bool = False, counts: dict[str, int] | None = None) -> Axes:
    """Municipalities minus joint authorities, per item: difference in percentage points with its Newcombe interval.

    ``comparison`` is :func:`~kuntalib.barometer.estimates.compare_groups` output. Items whose
    interval excludes 0 are drawn filled and marked "*"; the others hollow.
    """
    check_lang(lang)
    order = {q: i for i, q in enumerate(("key_figures", "support", "partners", "types", "motivators", "achievements"))}
    rows = comparison.assign(_o=comparison.question_id.map(order).fillna(99)).sort_values(["_o", "difference"], ascending=[False, True])
    rows = rows.reset_index(drop=True)
    ax = new_axes(ax, figsize=(10, 0.3 * len(rows) + 2))
    for y, r in rows.iterrows():
        sig = bool(r.significant)
        color = PALETTE["vermillion"] if sig else PALETTE["blue"]
        ax.plot([r.lower, r.upper], [y, y], color=color, linewidth=1.4)
        ax.plot(r.difference, y, "o", color=color, markerfacecolor=color if sig else "white", markersize=5)
        if sig:
            ax.text(r.upper + 1, y, "*", va="center", fontsize=10, color=color)
    ax.axvline(0, color="black", linewidth=0.8)
    labels = [f"{_item_label(figures, r.question_id, r.category_id, lang, 60)}" for r in rows.itertuples()]
    ax.set_yticks(range(len(rows)), labels, fontsize=7.5)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_num(v, lang=lang))
    ax.set_xlabel(text("barometer.breakdown.xlabel", lang))
    handles = [
        Line2D([], [], color=PALETTE["vermillion"], marker="o", label=text("barometer.breakdown.significant", lang)),
        Line2D([], [], color=PALETTE["blue"], marker="o", markerfacecolor="white", label=text("barometer.breakdown.not_significant", lang)),
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    extra = [text("barometer.charts.respondents_file", lang, **counts)] if counts else []
    return _finish(ax, text("barometer.breakdown.title", lang), text("barometer.breakdown.caption", lang), lang, synthetic, extra)


def _finish(ax: Axes, title: str, caption: str, lang: str, synthetic: bool, extra: list[str] | None = None) -> Axes:
    """Title, caption (and ``extra`` lines) and, for synthetic data, the stamp and source line of a breakdown chart."""
    ax.set_title(title, loc="left", pad=22)
    lines = textwrap.wrap(caption, 150) + (extra or [])
    if synthetic:
        mark_synthetic(ax, lang)
        lines.append(SYNTHETIC_SOURCE[lang])
    return add_caption(ax, lines)


def plot_by_size(by_size: pd.DataFrame, figures: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi",
                 synthetic: bool = False, question: str = "key_figures") -> Axes:
    """Shares of one question's items by municipal size class, each with its 95 % Wilson interval."""
    check_lang(lang)
    sub = by_size[by_size.question_id == question]
    items = sub.category_id.drop_duplicates().tolist()
    classes = [c for c in SIZE_CLASSES if c in set(sub.size_class)] + sorted(set(sub.size_class) - set(SIZE_CLASSES))
    ax = new_axes(ax, figsize=(9, 0.9 * len(items) + 1.8))
    colors = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["vermillion"], PALETTE["sky"]]
    step = 0.8 / max(len(classes), 1)
    labelled: set[str] = set()
    for j, cls in enumerate(classes):
        g = sub[sub.size_class == cls].set_index("category_id")
        for i, c in enumerate(items):
            if c not in g.index:
                continue
            r = g.loc[c]
            y = i - 0.4 + step * (j + 0.5)
            ax.plot([r.lower, r.upper], [y, y], color=colors[j % len(colors)], linewidth=1.4)
            # the legend names each class once, at the first item it has (not only when it has the first item)
            label = f"{_size_label(cls, lang)} (n = {fmt_num(r.n, lang=lang)})" if cls not in labelled else None
            labelled.add(cls)
            ax.plot(r.share, y, "o", color=colors[j % len(colors)], markersize=5, label=label)
    ax.set_yticks(range(len(items)), [_item_label(figures, question, c, lang, 40) for c in items], fontsize=8.5)
    ax.set_xlim(0, 105)
    ax.grid(axis="y", visible=False)
    percent_axis(ax, "x", lang=lang)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    return _finish(ax, text("barometer.size.title", lang), text("barometer.size.caption", lang), lang, synthetic)


def _size_label(cls: str, lang: str) -> str:
    return text(SIZE_CLASSES[cls], lang) if cls in SIZE_CLASSES else cls


#: Press-release metrics published for both rounds: (2022 metric, 2018 metric, catalogue key of the label).
ROUND_METRICS = (("adopted_any", "adopted_any_2018", "barometer.rounds.adopted_any"),
                 ("responding_municipalities_share", "responding_municipalities_share_2018", "barometer.rounds.response_rate"))


def plot_rounds(press: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi") -> Axes:
    """The figures Kuntaliitto published for both the 2018 and the 2022 round, side by side.

    Only metrics with a value for both rounds in ``press`` are drawn (:data:`ROUND_METRICS`); each
    bar is labelled with its value, and the press releases are named under the chart.
    """
    check_lang(lang)
    metrics = [m for m in ROUND_METRICS if m[0] in press.index and m[1] in press.index]
    if not metrics:
        raise ValueError("press releases hold no metric published for both rounds")
    ax = new_axes(ax, figsize=(9, 1.3 * len(metrics) + 2.2))
    colors = {"2018": ROLE["earlier"], "2022": ROLE["data"]}
    for i, (new, old, _key) in enumerate(metrics):
        y = len(metrics) - 1 - i
        for dy, year, metric in ((0.18, "2018", old), (-0.18, "2022", new)):
            v = float(press.loc[metric, "value"])
            ax.barh(y + dy, v, height=0.34, color=colors[year], label=year if i == 0 else None)
            ax.text(v + 1, y + dy, f"{year}: {fmt_pct(v, lang=lang)}", va="center", fontsize=9)
    ax.set_yticks([len(metrics) - 1 - i for i in range(len(metrics))],
                  [textwrap.fill(text(m[2], lang), 34) for m in metrics], fontsize=9)
    ax.set_xlim(0, 112)
    ax.grid(axis="y", visible=False)
    percent_axis(ax, "x", lang=lang)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title(text("barometer.rounds.title", lang), loc="left", pad=22)
    responses = fmt_num(float(press.loc["responses", "value"]), lang=lang) if "responses" in press.index else NOT_PUBLISHED[lang]
    lines = [text("barometer.rounds.caption", lang, responses=responses)]
    for year, col in (("2018", 1), ("2022", 0)):
        for m in metrics:
            row = press.loc[m[col]]
            lines.append(text("barometer.rounds.source", lang, year=year, what=text(m[2], lang), date=_press_date(str(row["date"]), lang),
                              address=str(row["address"])))
    return add_caption(ax, lines)


def _press_date(value: str, lang: str) -> str:
    """A press-release date as ``lang`` writes it; a bare year stays a year."""
    if len(value) == 4 and value.isdigit():
        return value
    return fmt_date(date.fromisoformat(value), lang)


def _signed(value: float, lang: str) -> str:
    """A difference in percentage points with its sign: ``+3``, ``−5``, ``±0``."""
    return ("+" if value > 0 else "−" if value < 0 else "±") + fmt_num(abs(value), lang=lang)


def plot_comparison(comparison: pd.DataFrame, question: str, questions: tuple[pd.DataFrame, pd.DataFrame], years: tuple[str, str], *,
                    ax: Axes | None = None, lang: str = "fi", synthetic: bool = False,
                    sources: tuple[str, str] | None = None) -> Axes:
    """One question of two rounds side by side: each option's share in both, and their difference on the right.

    Parameters
    ----------
    comparison
        :func:`~kuntalib.barometer.rounds.compare_rounds` (rows of other questions are ignored; promoters:
        the 'promoted' answer).
    questions, years
        The rounds' questions tables and years, (current, earlier).
    sources
        Each round's public citation in ``lang`` (current, earlier); None when the data are synthetic.

    The earlier round is the lighter bar. A share one round does not publish is a hatched band over its
    bounds; an option in one round's figures only says so. The difference carries its 95 % interval
    where both rounds are microdata estimates; otherwise the caption says its uncertainty cannot be assessed.
    Reworded questions and options are named in the caption with both wordings (option: †).
    """
    check_lang(lang)
    now, before = years
    rows = comparison[(comparison.question_id == question)
                      & (comparison.answer == ("promoted" if question == "promoters" else "yes"))].sort_values("chart_order")
    rows = rows.reset_index(drop=True)
    ax = new_axes(ax, figsize=(9.5, 0.55 * len(rows) + 1.6))
    colors = {before: ROLE["earlier"], now: ROLE["data"]}
    for i, r in rows.iterrows():
        for dy, year, key in ((0.19, before, "before"), (-0.19, now, "now")):
            share, lo, hi = r[f"share_{key}"], r[f"lower_{key}"], r[f"upper_{key}"]
            if not r[f"in_{key}"]:
                ax.text(1, i + dy, text("barometer.compare.only", lang, year=year), va="center", fontsize=7.5, color="#555555",
                        style="italic")
            elif pd.notna(share):
                ax.barh(i + dy, share, height=0.36, color=colors[year])
                if bool(r[f"estimate_{key}"]):
                    _interval(ax, i + dy, lo, hi)
                ax.text((hi if bool(r[f"estimate_{key}"]) else share) + 1, i + dy, fmt_pct(share, lang=lang), va="center", fontsize=8)
            else:
                _unpublished(ax, i + dy, lo, hi, lang, height=0.36)
        if pd.notna(r.difference):
            diff = _signed(r.difference, lang)
            if pd.notna(r.diff_lower):
                diff += f" ({_signed(r.diff_lower, lang)}…{_signed(r.diff_upper, lang)})"
            ax.text(1.02, i, diff, transform=ax.get_yaxis_transform(), va="center", fontsize=8.5)
    labels = [textwrap.fill(str(r[f"label_{lang}"]) + (" †" if r.reworded_option else ""), 44) for _, r in rows.iterrows()]
    ax.set_yticks(range(len(rows)), labels, fontsize=8.5)
    ax.set_xlim(0, 105)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    percent_axis(ax, "x", lang=lang)
    ax.text(1.02, 1.0, text("barometer.compare.difference", lang), transform=ax.transAxes, va="bottom", fontsize=8, fontweight="bold")
    ax.legend(handles=[Patch(color=colors[before], label=before), Patch(color=colors[now], label=now)],
              loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=8, frameon=False)
    q_now, q_before = questions[0].loc[question], questions[1].loc[question]
    question_text = " ".join(str(q_now[f"title_{lang}"]).split(" (")[0].replace(now, "").split()).replace(" :", ":")
    ax.set_title(text("barometer.compare.title", lang, question=question_text, before=before, now=now), loc="left", pad=24)
    lines = [text("barometer.compare.n", lang, before=before, now=now,
                  **{f"n_{k}": n_text(rows.rename(columns={f"n_low_{k}": "n_min", f"n_{k}": "n_max"}), lang) for k in ("before", "now")})]
    if question == "promoters":
        lines.append(text("barometer.compare.promoters", lang))
    if bool(rows.reworded_question.any()):
        lines.append(text("barometer.compare.reworded_question", lang, before=before, now=now, old=str(q_before[f"title_{lang}"]).split(" (")[0],
                          new=str(q_now[f"title_{lang}"]).split(" (")[0]))
    lines += [text("barometer.compare.reworded_option", lang, year=before, old=r[f"label_before_{lang}"])
              for _, r in rows[rows.reworded_option.astype(bool)].iterrows()]
    both = bool((rows.estimate_now.fillna(False) & rows.estimate_before.fillna(False)).any())
    lines.append(text("barometer.compare.interval" if both else "barometer.compare.no_interval", lang))
    if synthetic:
        mark_synthetic(ax, lang)
        lines.append(SYNTHETIC_SOURCE[lang])
    if sources:
        lines += [text("barometer.compare.source", lang, year=y, source=s) for y, s in zip(years, sources, strict=True)]
    return add_caption(ax, lines)
