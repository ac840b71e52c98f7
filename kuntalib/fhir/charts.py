"""Device-data charts: quality and conformance per vendor, adherence, alerts, BP trend, cost-benefit.

Every function takes ``ax=None`` and ``lang`` and returns the Axes. ``synthetic=True``
(the default: kuntalib ships only simulated device data) stamps the chart and writes the data line
"synthetic" under it; every chart has its N and source lines in one style, as notebook 01's captions
(``N = … · …``, then ``Aineisto: …`` or ``Lähde: …``). Colours follow :data:`kuntalib.theme.ROLE`.
Amounts of money are written in each language's CLDR currency format (:func:`~kuntalib.theme.fmt_eur`,
:func:`fmt_money_range`, :func:`fmt_meur`): fi/sv ``417 €``, ``0–300 €``, ``5,0 milj. €``; en
``€417``, ``€0–300``, ``€5.0m``; a negative number has the minus sign ``−`` in every language.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from kuntalib.fhir.analysis import TrendResult
from kuntalib.fhir.catalogue import BY_LOINC
from kuntalib.fhir.conformance import ConformanceReport
from kuntalib.fhir.costbenefit import CostBenefitSettings
from kuntalib.i18n import Msg, check_lang, pick, text
from kuntalib.theme import (
    NOT_PUBLISHED,
    NOT_PUBLISHED_COLOR,
    PALETTE,
    ROLE,
    add_caption,
    fmt_eur,
    fmt_num,
    fmt_pct,
    mark_synthetic,
    new_axes,
    percent_axis,
)

__all__ = ["vendor_label", "reason_label", "plot_quality", "plot_flags", "plot_conformance", "plot_adherence", "plot_alerts", "plot_trend",
           "plot_tornado", "fmt_money_range", "fmt_meur", "synthetic_line"]

_T = {
    "vendor": Msg("fhir.charts.vendor"),
    "quality": Msg("fhir.charts.quality"),
    "flags": Msg("fhir.charts.flags"),
    "conformance": Msg("fhir.charts.conformance"),
    "adherence": Msg("fhir.charts.adherence"),
    "week": Msg("fhir.charts.week"),
    "median": Msg("fhir.charts.median"),
    "iqr": Msg("fhir.charts.iqr"),
    "active": Msg("fhir.charts.active"),
    "alerts": Msg("fhir.charts.alerts"),
    "n_alerts": Msg("fhir.charts.n_alerts"),
    "trend": Msg("fhir.charts.trend"),
    "weekly_mean": Msg("fhir.charts.weekly_mean"),
    "fit": Msg("fhir.charts.fit"),
    "tornado": Msg("fhir.charts.tornado"),
    "net": Msg("fhir.charts.net"),
    "inputs": {
        "clients": Msg("fhir.charts.inputs.clients"),
        "days_avoided": Msg("fhir.charts.inputs.days_avoided"),
        "cost_per_day": Msg("fhir.charts.inputs.cost_per_day"),
        "cost_per_client": Msg("fhir.charts.inputs.cost_per_client"),
    },
    "sources": {
        "cited": Msg("fhir.charts.sources.cited"),
        "implied": Msg("fhir.charts.sources.implied"),
        "not published": NOT_PUBLISHED,
        "user": Msg("fhir.charts.sources.user"),
    },
    "base": Msg("fhir.charts.base"),
    "cb_caption": Msg("fhir.charts.cb_caption"),
}
_FLAGS = {
    "tz_assumed_pct": Msg("fhir.charts.flags.tz_assumed_pct"),
    "unit_translated_pct": Msg("fhir.charts.flags.unit_translated_pct"),
    "late_pct": Msg("fhir.charts.flags.late_pct"),
    "clock_ahead_pct": Msg("fhir.charts.flags.clock_ahead_pct"),
    "value_absent_pct": Msg("fhir.charts.flags.value_absent_pct"),
}
#: Categories with no value judgement (reasons, flags, rules): the roles of a neutral series first, never the
#: colours that mean something (unfavourable, favourable, target).
_CATEGORY_COLOURS = [ROLE["data"], ROLE["second"], ROLE["earlier"], "#777777", ROLE["model"], PALETTE["yellow"]]


def fmt_money_range(low: float, high: float, decimals: int = 0, lang: str = "fi") -> str:
    """A range of euros with the currency once, where ``lang`` writes it: fi/sv ``0–300 €``, en ``€0–300``."""
    number = fmt_num(high, decimals, lang)
    return fmt_eur(high, decimals, lang).replace(number, f"{fmt_num(low, decimals, lang)}–{number}", 1)


def fmt_meur(value: float, decimals: int = 1, lang: str = "fi", *, high: float | None = None) -> str:
    """Millions of euros (``value`` in millions) as CLDR's short form writes them: fi ``5,0 milj. €``, sv
    ``5,0 mn €``, en ``€5.0m``; with ``high`` a range, the unit once (``3,8–5,0 milj. €``, ``€3.8–5.0m``)."""
    number = fmt_num(value, decimals, lang)
    if high is not None:
        number = f"{number}–{fmt_num(high, decimals, lang)}"
    return text("unit.meur_amount", lang, v=number)


def synthetic_line(lang: str) -> str:
    """The data line of a chart of simulated device data: where the numbers come from."""
    return text("fhir.charts.synthetic_source", lang)


def reason_label(reason: str, lang: str) -> str:
    """A reject reason code (``duplicate``) in ``lang`` from the catalogue (``fhir.reason.<code>``)."""
    return text(f"fhir.reason.{reason}", lang)


def vendor_label(vendor: str, lang: str) -> str:
    """'vendor_a' -> 'Toimittaja A' (fi) / 'Leverantör A' / 'Vendor A'."""
    if vendor.startswith("vendor_"):
        return pick(_T["vendor"], lang).format(x=vendor.split("_", 1)[1].upper())
    return vendor


def _finish(ax: Axes, lang: str, synthetic: bool, caption: list[str] | None = None, *, n: str = "",
            source: str | list[str] = "") -> Axes:
    """Caption lines in notebook 01's order: what the chart says, ``N = …``, then where the data come from
    (synthetic: the simulator; ``source``: cited sources, each already "Lähde: …")."""
    lines = [*(caption or []), *([n] if n else [])]
    if synthetic:
        lines.append(synthetic_line(lang))
    lines += [x for x in ([source] if isinstance(source, str) else source) if x]
    if lines:
        add_caption(ax, lines)
    if synthetic:
        mark_synthetic(ax, lang)
    return ax


def _persons_note(key: str, min_persons: int | None, lang: str) -> list[str]:
    return [text(key, lang, k=fmt_num(min_persons, lang=lang))] if min_persons else []


def plot_quality(quality: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi", synthetic: bool = True,
                 min_persons: int | None = None) -> Axes:
    """Stacked bars: rejected lines per vendor as % of its lines, by reason; each bar says "1,1 % of 30 914 lines".

    ``min_persons`` (the suppression limit of the table drawn) is said under the chart.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(9, 1.5 + 0.6 * len(quality)))
    reasons = [c for c in quality.columns if c.startswith("rejected_") and c != "rejected_pct"]
    y = np.arange(len(quality))
    left = np.zeros(len(quality))
    for k, col in enumerate(reasons):
        share = 100 * quality[col].to_numpy() / quality["lines"].to_numpy()
        ax.barh(y, share, left=left, color=_CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)],
                label=reason_label(col.removeprefix("rejected_"), lang))
        left += share
    for yy, total, n in zip(y, left, quality["lines"], strict=True):
        ax.text(total, yy, "  " + text("fhir.charts.rejected_of", lang, pct=fmt_pct(total, 1, lang=lang), n=fmt_num(n, lang=lang)),
                va="center", fontsize=8)
    ax.set_yticks(y, [vendor_label(v, lang) for v in quality["vendor"]])
    ax.invert_yaxis()
    ax.set_xlim(0, max(left.max() * 1.6, 1))
    percent_axis(ax, "x", 1, lang=lang)
    ax.set_xlabel(text("fhir.charts.rejected_axis", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(pick(_T["quality"], lang), loc="left")
    n = text("fhir.charts.n_lines", lang, lines=fmt_num(quality["lines"].sum(), lang=lang), vendors=fmt_num(len(quality), lang=lang))
    return _finish(ax, lang, synthetic, _persons_note("fhir.charts.only_vendors", min_persons, lang), n=n)


def plot_flags(quality: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi", synthetic: bool = True,
               min_persons: int | None = None) -> Axes:
    """Grouped bars: quality flags of accepted lines per vendor (% of the vendor's accepted lines)."""
    check_lang(lang)
    flags = [f for f in _FLAGS if f in quality.columns]
    ax = new_axes(ax, figsize=(9, 4.8))
    x = np.arange(len(quality))
    w = 0.8 / len(flags)
    for k, f in enumerate(flags):
        vals = quality[f].to_numpy(float)
        ax.bar(x + (k - (len(flags) - 1) / 2) * w, vals, width=w, color=_CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)],
               label=pick(_FLAGS[f], lang))
    ax.set_xticks(x, [vendor_label(v, lang) for v in quality["vendor"]])
    percent_axis(ax, "y", 0, lang=lang)
    ax.set_ylabel(text("fhir.charts.flags_axis", lang))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(pick(_T["flags"], lang), loc="left")
    accepted = quality["accepted"].sum() if "accepted" in quality.columns else quality["lines"].sum() - quality["rejected"].sum()
    n = text("fhir.charts.n_accepted", lang, lines=fmt_num(accepted, lang=lang), vendors=fmt_num(len(quality), lang=lang))
    return _finish(ax, lang, synthetic, _persons_note("fhir.charts.only_vendors", min_persons, lang), n=n)


def plot_conformance(report: ConformanceReport, *, ax: Axes | None = None, lang: str = "fi", synthetic: bool = True) -> Axes:
    """Per vendor: % of the sample valid in R4B, meeting the profile rules, and both; passed or failed."""
    check_lang(lang)
    v = report.vendors
    ax = new_axes(ax, figsize=(9, 1.5 + 0.8 * len(v)))
    y = np.arange(len(v))
    cols = [("r4b_valid", "R4B", ROLE["earlier"]), ("profile_ok", Msg("fhir.charts.conformance.profile"), ROLE["second"]),
            ("conformant", Msg("fhir.charts.conformance.both"), ROLE["data"])]
    h = 0.25
    for k, (col, label, colour) in enumerate(cols):
        share = 100 * v[col].to_numpy() / v["checked"].to_numpy()
        ax.barh(y + (k - 1) * h, share, height=h, color=colour, label=label if isinstance(label, str) else pick(label, lang))
    for yy, r in zip(y, v.itertuples(), strict=True):
        verdict = text("nb.02_device_data.pass" if r.passed else "nb.02_device_data.fail", lang)
        ax.text(101, yy, f"{verdict} (n = {fmt_num(r.checked, lang=lang)})", va="center", fontsize=8, fontweight="bold",
                color=ROLE["favourable"] if r.passed else ROLE["unfavourable"])
    ax.axvline(100 * report.pass_share, color=ROLE["target"], lw=1.0, ls="--")
    ax.set_yticks(y, [vendor_label(x, lang) for x in v["vendor"]])
    ax.invert_yaxis()
    ax.set_xlim(0, 125)
    ax.set_xticks(range(0, 101, 20))
    percent_axis(ax, "x", lang=lang)
    handles, _labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color=ROLE["target"], lw=1.0, ls="--",
                          label=text("fhir.charts.pass_limit", lang, share=fmt_pct(100 * report.pass_share, lang=lang))))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_title(pick(_T["conformance"], lang), loc="left")
    checked = sorted(set(int(c) for c in v["checked"]))
    per = fmt_num(checked[0], lang=lang) if len(checked) == 1 else f"{fmt_num(checked[0], lang=lang)}–{fmt_num(checked[-1], lang=lang)}"
    n = text("fhir.charts.n_conformance", lang, n=per, vendors=fmt_num(len(v), lang=lang))
    return _finish(ax, lang, synthetic, n=n)


def measures_text(codes: list[str] | tuple[str, ...], lang: str) -> str:
    """LOINC codes as the measures they are: "Systolinen verenpaine (LOINC 8480-6)"."""
    def name(c: str) -> str:
        label = pick(BY_LOINC[c].label, lang)
        return f"{label[:1].lower()}{label[1:]} (LOINC {c})"  # inside a sentence

    return ", ".join(name(c) if c in BY_LOINC else f"LOINC {c}" for c in codes)


def plot_adherence(summary: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi", synthetic: bool = True,
                   codes: list[str] | tuple[str, ...] = (), min_persons: int | None = None) -> Axes:
    """Median share of days measured per week with its interquartile band, and the share still measuring.

    ``codes`` (the LOINC codes that make a measurement day) and ``min_persons`` are said under the chart.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(9, 4.8))
    s = summary.dropna(subset=["median_pct"])
    ax.fill_between(s["week"], s["q1_pct"], s["q3_pct"], color=ROLE["data"], alpha=0.18, lw=0, label=pick(_T["iqr"], lang))
    ax.plot(s["week"], s["median_pct"], color=ROLE["data"], marker="o", label=pick(_T["median"], lang))
    ax.plot(s["week"], s["active_pct"], color=ROLE["second"], marker="s", ls="--", label=pick(_T["active"], lang))
    ax.set_ylim(0, 105)
    percent_axis(ax, "y", lang=lang)
    ax.set_xlabel(pick(_T["week"], lang))
    ax.legend(loc="lower left", frameon=True, fontsize=8)
    ax.set_title(pick(_T["adherence"], lang), loc="left")
    lines = [text("fhir.charts.measurement_day", lang, measures=measures_text(codes, lang))] if codes else []
    lines += _persons_note("fhir.charts.weeks_dropped", min_persons, lang)
    persons = s["persons"].max() if "persons" in s.columns and len(s) else None
    n = text("fhir.charts.n_adherence", lang, persons=fmt_num(persons, lang=lang), weeks=fmt_num(len(s), lang=lang))
    return _finish(ax, lang, synthetic, lines, n=n)


def plot_alerts(summary: pd.DataFrame, thresholds: pd.DataFrame, *, ax: Axes | None = None, lang: str = "fi",
                synthetic: bool = True, min_persons: int = 5, source: str = "") -> Axes:
    """Stacked bars of alerts per week by rule; weeks with suppressed cells (< ``min_persons``) marked above the plot.

    The legend lists only the rules drawn (a published count above zero); under the chart, the rules whose
    every cell was suppressed and the rules that raised no alert at all are named. ``source`` is the
    thresholds' citation line.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(9, 5))
    labels = {r.rule_id: getattr(r, f"label_{lang}") for r in thresholds.itertuples()}
    weeks = np.sort(summary["week"].unique()) if len(summary) else np.array([])
    bottom = np.zeros(len(weeks))
    handles = []
    counts = summary.groupby("rule_id")["alerts"].sum(min_count=1) if len(summary) else pd.Series(dtype=float)
    drawn = [r for r in labels if counts.get(r, 0) > 0]
    for k, rule in enumerate(drawn):
        d = summary[summary["rule_id"] == rule].set_index("week").reindex(weeks)
        vals = d["alerts"].fillna(0).to_numpy(float)
        colour = _CATEGORY_COLOURS[k % len(_CATEGORY_COLOURS)]
        ax.bar(weeks, vals, bottom=bottom, color=colour, width=0.8)
        handles.append(Patch(color=colour, label=labels[rule]))
        bottom += vals
    hidden = [labels[r] for r in labels if r in set(summary["rule_id"]) and r not in drawn]
    silent = [labels[r] for r in labels if r not in set(summary["rule_id"])]
    sup = summary[summary.get("suppressed", pd.Series(False, index=summary.index)).astype(bool)]
    if len(sup):
        # A suppressed cell has no count to draw: mark its week in a strip above the plot, off the count scale.
        counts = sup.groupby("week").size().reindex(weeks, fill_value=0)
        marked = counts[counts > 0]
        ax.scatter(marked.index, np.full(len(marked), 1.04), transform=ax.get_xaxis_transform(), marker="s", s=36,
                   facecolor="white", edgecolor="#555555", hatch="////", clip_on=False, zorder=5)
        handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="////",
                             label=text("fhir.charts.suppressed_k", lang, k=fmt_num(min_persons, lang=lang))))
    ax.set_xlabel(pick(_T["week"], lang))
    ax.set_ylabel(pick(_T["n_alerts"], lang))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    if bottom.max(initial=0) > 0:
        ax.set_ylim(0, bottom.max() * 1.08)  # the tallest bar stays clear of the frame
    ax.set_title(pick(_T["alerts"], lang), loc="left", pad=28 if len(sup) else 12)  # above the strip of marks
    lines = []
    if hidden:
        lines.append(text("fhir.charts.alerts_hidden", lang, k=fmt_num(min_persons, lang=lang), rules=", ".join(hidden)))
    if silent:
        lines.append(text("fhir.charts.alerts_none", lang, rules=", ".join(silent)))
    published = summary["alerts"].sum() if len(summary) else 0
    n = text("fhir.charts.n_alerts_line", lang, alerts=fmt_num(published, lang=lang), weeks=fmt_num(len(weeks), lang=lang))
    return _finish(ax, lang, synthetic, lines, n=n, source=source)


def plot_trend(trend: TrendResult, *, ax: Axes | None = None, lang: str = "fi", synthetic: bool = True,
               min_span: float = 20.0) -> Axes:
    """Weekly mean of daily systolic means (dots) and the mixed model's fixed-effect line with its 95 % band.

    The band carries the uncertainty of both the intercept and the slope (:meth:`TrendResult.line`), and
    the value axis spans at least ``min_span`` mmHg, so that a change of a few tenths is not drawn as a slope.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(9, 4.8))
    d = trend.daily
    weekly = d.assign(w=(d["day"] // 7) + 0.5).groupby("w")["value"].mean()
    ax.scatter(weekly.index, weekly.to_numpy(), color=ROLE["data"], zorder=3, label=pick(_T["weekly_mean"], lang))
    line = trend.line(np.linspace(0, d["week"].max(), 50))
    ax.plot(line["week"], line["fit"], color=ROLE["model"], label=pick(_T["fit"], lang))
    ax.fill_between(line["week"], line["low"], line["high"], color=ROLE["model"], alpha=0.12, lw=0)
    lo = float(min(weekly.min(), line["low"].min()))
    hi = float(max(weekly.max(), line["high"].max()))
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    ax.set_ylim(lo, hi)
    ax.set_xlabel(pick(_T["week"], lang))
    ax.set_ylabel("mmHg")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(lambda v, _p: fmt_num(v, lang=lang))
    ax.legend(loc="upper right", frameon=True, fontsize=8)
    ax.set_title(pick(_T["trend"], lang), loc="left")
    slope = trend.fixed.set_index("term").loc["week"]
    caption = [text("fhir.charts.trend_caption", lang, slope=fmt_num(slope.coef, 2, lang=lang),
                    low=fmt_num(slope.ci_low, 2, lang=lang), high=fmt_num(slope.ci_high, 2, lang=lang))]
    n = text("fhir.charts.n_trend", lang, patients=fmt_num(trend.n_patients, lang=lang), days=fmt_num(trend.n_days, lang=lang))
    return _finish(ax, lang, synthetic, caption, n=n)


def plot_tornado(table: pd.DataFrame, settings: CostBenefitSettings, *, ax: Axes | None = None, lang: str = "fi",
                 synthetic: bool = False, source: str = "") -> Axes:
    """Tornado chart of one-way sensitivity (:func:`kuntalib.fhir.costbenefit.tornado`), the unknown service cost as a range.

    The base case is a grey band over the unpublished service cost, never a single "net benefit".
    Each input has a bar to its low end (``ROLE["second"]``) and to its high end (``ROLE["data"]``), taken at the middle
    of the service-cost range, with whiskers over the whole service-cost range. Input values are
    written at the bar ends; each input names where its base value comes from.
    """
    check_lang(lang)
    ax = new_axes(ax, figsize=(9.5, 2.2 + 0.8 * len(table)))
    m = 1e6
    base_min, base_max = table["base_min"].iloc[0] / m, table["base_max"].iloc[0] / m
    mid = (base_min + base_max) / 2
    ax.axvspan(base_min, base_max, color=NOT_PUBLISHED_COLOR, alpha=0.45, lw=0, zorder=0)
    ax.axvline(mid, color="black", lw=0.8, ls=":")
    y = np.arange(len(table))
    colours = {"low": ROLE["second"], "high": ROLE["data"]}
    for yy, r in zip(y, table.itertuples(), strict=True):
        for end, dy in (("low", -0.17), ("high", 0.17)):
            v = getattr(r, f"net_{end}") / m
            vmin, vmax = getattr(r, f"net_{end}_min") / m, getattr(r, f"net_{end}_max") / m
            ax.barh(yy + dy, v - mid, left=mid, height=0.32, color=colours[end])
            if vmax > vmin:
                ax.errorbar(v, yy + dy, xerr=[[v - vmin], [vmax - v]], fmt="none", ecolor="black", elinewidth=0.8, capsize=3)
            raw = getattr(r, f"{end}_value")
            label = _input_value(r.input, raw, lang)
            ax.text(vmax + 0.05 if v >= mid else vmin - 0.05, yy + dy, label, va="center",
                    ha="left" if v >= mid else "right", fontsize=7, color="#333333")
    names = [f"{pick(_T['inputs'][r.input], lang)}\n({_source_text(r, lang)})" for r in table.itertuples()]
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    lo = min(table[["net_low_min", "net_high_min"]].min().min() / m, base_min)
    hi = max(table[["net_low_max", "net_high_max"]].max().max() / m, base_max)
    pad = (hi - lo) * 0.22 or 1
    ax.set_xlim(lo - pad, hi + pad)
    ax.xaxis.set_major_formatter(lambda v, _p: fmt_num(v, 0 if float(v).is_integer() else 1, lang=lang))
    ax.set_xlabel(pick(_T["net"], lang))
    ax.set_title(pick(_T["tornado"], lang), loc="left", pad=8)
    cost = table.set_index("input").loc["cost_per_client"] if "cost_per_client" in set(table["input"]) else None
    base_text = fmt_meur(base_min, 1, lang, high=base_max) if base_max > base_min else fmt_meur(base_min, 1, lang)
    cost_text = fmt_money_range(cost.low_value, cost.high_value, 0, lang) if cost is not None else "–"
    handles = [Patch(color=colours["low"], label=text("fhir.charts.low_end", lang)),
               Patch(color=colours["high"], label=text("fhir.charts.high_end", lang)),
               Line2D([], [], color="black", lw=0.8, marker="|", markersize=6, label=text("fhir.charts.cost_spread", lang)),
               Patch(color=NOT_PUBLISHED_COLOR, alpha=0.45,
                     label=pick(_T["base"], lang).format(v=base_text, c=cost_text))]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=8)
    caption = [pick(_T["cb_caption"], lang).format(c=fmt_num(settings.clients, lang=lang), d=fmt_num(settings.days_avoided, lang=lang),
                                                   s=fmt_meur(settings.clients * settings.days_avoided * settings.cost_per_day / 1e6, 1, lang)),
               text("fhir.charts.ranges_note", lang)]
    ax.figure.subplots_adjust(bottom=0.3)
    return _finish(ax, lang, synthetic, caption, source=source)


def _input_value(name: str, value: float, lang: str) -> str:
    if name in ("cost_per_day", "cost_per_client"):
        return fmt_eur(value, 0, lang)
    return fmt_num(value, 0 if value >= 10 or float(value).is_integer() else 1, lang=lang)


def _source_text(r: object, lang: str) -> str:
    src = pick(_T["sources"][r.source], lang)  # type: ignore[attr-defined]
    if r.input == "cost_per_client":  # type: ignore[attr-defined]
        return f"{src}: {fmt_money_range(r.low_value, r.high_value, 0, lang)}"  # type: ignore[attr-defined]
    return f"{src}: {_input_value(r.input, r.base_value, lang)}"  # type: ignore[attr-defined]
