"""The follow-up as a web page section: each round's indicators with kuntalib's traffic lights.

The municipality's own platform, as the deck describes it, shows the progress of its *measures* with
traffic lights; the lights here are kuntalib's rules applied to the indicators, and the section says so.
:func:`followup_html` gives, for each round, the strategy's aims with their indicators (in a later round,
those with a new value): the light of each rule (colour *and* symbol, with its meaning as text for screen
readers), value, target, date, source and a small trend of the values known in that round. The notebook
displays it, so the site's no-code page carries it in each language. All text is escaped; the section
loads nothing from anywhere.
"""

from __future__ import annotations

import html

import numpy as np

from kuntalib.i18n import Msg, check_lang, pick, text
from kuntalib.indicators.charts import STATUS_TEXT, new_values, year_position
from kuntalib.indicators.model import Indicator
from kuntalib.indicators.status import RULES, FollowUp
from kuntalib.indicators.texts import round_table
from kuntalib.theme import TRAFFIC, fmt_date

__all__ = ["followup_html", "sparkline_svg"]

_T = {
    "round": Msg("indicators.page.round"),
    "evaluated": Msg("indicators.page.evaluated"),
    "no_trend": Msg("indicators.page.no_trend"),
    "trend": Msg("indicators.page.trend"),
    "grouping": Msg("indicators.page.grouping"),
    "only_new": Msg("indicators.charts.only_new"),
}
_COLS = ("indicator", "target", "actual", "date", "light_target", "light_trajectory", "light_forecast", "trend",
         "source")
def _linked(citation: str) -> str:
    """A citation already in HTML (:meth:`IndicatorFile.source_text` with ``markup``), its trailing address as a link."""
    head, _, url = citation.rpartition(" ")
    if url.startswith("https://"):
        return f'{head} <a href="{html.escape(url)}">{html.escape(url)}</a>'
    return citation


def _short(citation: str, number: int) -> str:
    """A table cell's pointer to the source list: the publisher and the source's number, e.g. "Kuntaliitto [1]"."""
    return f'{html.escape(citation.split(": ", 1)[0])} <a href="#kl-source-{number}">[{number}]</a>'


def _shown(results: list[FollowUp]) -> list[list[str] | None]:
    """The indicators each round shows: all in the first; in a later one those with a value the round before lacked."""
    return [None] + [new_values(before, after) for before, after in zip(results, results[1:], strict=False)]


def _sources(results: list[FollowUp], lang: str) -> tuple[dict[str, int], str]:
    """Number every source the rounds cite; the numbered list of their full citations as HTML."""
    f = results[0].file
    keys: dict[str, int] = {}
    for result, only in zip(results, _shown(results), strict=True):
        table = round_table(result, lang)
        if only is not None:
            table = table[table.indicator_id.isin(only)]
        for src in table["source"]:
            for k in src.split(", "):
                if k and k not in keys:
                    keys[k] = len(keys) + 1
    items = "".join(f'<li id="kl-source-{n}">{_linked(f.source_text(k, lang, markup=True))}</li>' for k, n in keys.items())
    return keys, f'<h3>{html.escape(text("xlsx.sources", lang))}</h3><ol class="sources">{items}</ol>'



#: The class is named twice so that these rules outweigh JupyterLab's own for tables (right-aligned cells), as
#: :func:`kuntalib.present.table_html` does.
_STYLE = (
    "<style>.kl-followup.kl-followup table{border-collapse:collapse;margin:.5em 0 1.5em}"
    ".kl-followup.kl-followup th,.kl-followup.kl-followup td{border-bottom:1px solid #ddd;padding:.25em .5em;"
    "text-align:left;vertical-align:middle}"
    ".kl-followup .light{display:inline-block;width:1.6em;height:1.6em;line-height:1.6em;border-radius:50%;"
    "text-align:center;font-weight:bold;border:1px solid #333;color:#000}"
    ".kl-followup.kl-followup caption{text-align:left;font-weight:bold;padding:.3em 0}</style>"
)


def sparkline_svg(ind: Indicator, *, width: int = 120, height: int = 28, label: str = "") -> str:
    """An inline SVG line of the indicator's values (empty when it has fewer than two)."""
    obs = ind.observations
    if len(obs) < 2:
        return ""

    x, y = year_position(obs.date), obs.value.to_numpy(float)
    sx = (x - x.min()) / (np.ptp(x) or 1) * (width - 4) + 2
    sy = height - 2 - (y - y.min()) / (np.ptp(y) or 1) * (height - 4)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx, sy, strict=True))
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{html.escape(label)}"><polyline fill="none" stroke="#0072B2" stroke-width="1.5" '
            f'points="{points}"/><circle cx="{sx[-1]:.1f}" cy="{sy[-1]:.1f}" r="2.5" fill="#0072B2"/></svg>')


def _light(status: str, lang: str) -> str:
    color, symbol = TRAFFIC[status]
    meaning = html.escape(pick(STATUS_TEXT[status], lang))
    return (f'<span class="light {status}" style="background:{color}" role="img" aria-label="{meaning}" '
            f'title="{meaning}">{html.escape(symbol)}</span>')


def _round(result: FollowUp, lang: str, numbers: dict[str, int], only: list[str] | None = None) -> str:
    t = round_table(result, lang)
    f = result.file
    left_out = [] if only is None else list(t[~t.indicator_id.isin(only)].indicator)
    if only is not None:
        t = t[t.indicator_id.isin(only)]
    heads = [text(f"indicators.page.col.{c}", lang) for c in _COLS]
    when = fmt_date(result.status_date, lang) if result.status_date is not None else ""
    title = pick(_T["round"], lang).format(d=when)
    if result.as_of is not None:
        title += f" ({pick(_T['evaluated'], lang).format(d=fmt_date(result.as_of, lang))})"
    parts = [f'<section class="round"><h3>{html.escape(title)}</h3>']
    for aim, rows in t.groupby(t["aim"], sort=False):
        parts.append("<table>")
        if aim:
            parts.append(f"<caption>{html.escape(aim)}</caption>")
        parts.append("<thead><tr>" + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in heads) + "</tr></thead><tbody>")
        for r in rows.itertuples():
            ind = f.get(r.indicator_id)
            obs = ind.observations
            trend_label = (pick(_T["trend"], lang).format(n=len(obs), a=obs.date.iloc[0].year, b=obs.date.iloc[-1].year)
                           if len(obs) > 1 else pick(_T["no_trend"], lang))
            spark = sparkline_svg(ind, label=trend_label) or html.escape(trend_label)
            name = html.escape(r.indicator) + ("" if r.aim_stated or not r.aim else f' <small>({html.escape(pick(_T["grouping"], lang))})</small>')
            sources = "; ".join(_short(f.source_text(k, lang), numbers[k]) for k in r.source.split(", ") if k)
            cells = [f'<th scope="row">{name}</th>', html.escape(r.target), html.escape(r.actual), html.escape(r.actual_date),
                     *(_light(getattr(r, f"{rule}_status"), lang) for rule in RULES), spark, f"<small>{sources}</small>"]
            parts.append("<tr>" + "".join(c if c.startswith("<th") else f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
    if left_out:
        parts.append(f"<p>{html.escape(pick(_T['only_new'], lang).format(names=', '.join(left_out)))}</p>")
    parts.append("</section>")
    return "".join(parts)


def followup_html(results: list[FollowUp], lang: str) -> str:
    """The follow-up of every round in ``results`` as one HTML section in ``lang``.

    The first round shows every indicator; a later round only those it has a new value for (the others
    are named under its table), so that a round of mostly "–" does not repeat the one before it.
    """
    check_lang(lang)
    numbers, listing = _sources(results, lang)
    rounds = "".join(_round(r, lang, numbers, only) for r, only in zip(results, _shown(results), strict=True))
    return f'<div class="kl-followup" lang="{lang}">{_STYLE}' + rounds + listing + "</div>"
