"""What a notebook shows its reader, in the run's language: prose, figures with alt text, tables.

The published pages are the executed notebooks without their code. A notebook's prose is its
own Markdown cells (translated by :mod:`kuntalib.pipeline.translate`); what a run computes
passes through here: sentences with numbers from the translation catalogue (:func:`show`),
figures displayed with their title and caption as alt text, and tables formatted for
reading (localised headers and numbers, no index column, no truncation, no NaN).
"""

from __future__ import annotations

import html
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kuntalib.i18n import check_lang, messages, text
from kuntalib.outputs import save_figure
from kuntalib.theme import fmt_date, fmt_num

__all__ = ["show", "say", "figure", "figure_alt", "table_html", "table", "header", "missing_text", "value_text"]

#: Width at which notebooks show a figure, in pixels per inch of figure size (the PNG is saved at more).
DISPLAY_DPI = 100


def value_text(value: Any, lang: str) -> str:
    """A field value as ``lang`` writes it: whole numbers grouped (``3 028``), other numbers with one or two
    decimals, dates as dates; text as it is."""
    if isinstance(value, bool):
        return text("table.yes" if value else "table.no", lang)
    if isinstance(value, int | np.integer):
        return fmt_num(int(value), 0, lang)
    if isinstance(value, float | np.floating):
        v = float(value)
        return fmt_num(v, 0 if v.is_integer() else (1 if abs(v) >= 10 else 2), lang)
    if isinstance(value, pd.Timestamp):
        return fmt_date(value, lang)
    return str(value)


def say(key: str, lang: str, /, **fields: Any) -> str:
    """The catalogue's text ``key`` in ``lang`` with ``fields`` formatted by :func:`value_text`."""
    return text(key, lang, **{k: value_text(v, lang) for k, v in fields.items()})


def show(key: str, lang: str, /, **fields: Any) -> None:
    """Display :func:`say` as Markdown in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(say(key, lang, **fields)))


def figure_alt(fig: Figure | Axes) -> str:
    """The figure's own words as alt text: its titles, then its caption and labels, one sentence each.

    Gathers the axes titles (left, centre, right), the figure's suptitle and every text the
    figure carries outside the axes (caption, source line, synthetic stamp), in drawing order.
    """
    fig = fig.figure if isinstance(fig, Axes) else fig
    parts: list[str] = []
    for ax in fig.axes:
        for loc in ("left", "center", "right"):
            t = ax.get_title(loc=loc).strip()
            if t:
                parts.append(t)
    if getattr(fig, "_suptitle", None) is not None and fig._suptitle.get_text().strip():
        parts.insert(0, fig._suptitle.get_text().strip())
    parts += [t.get_text().strip() for t in fig.texts if t.get_text().strip() and t is not getattr(fig, "_suptitle", None)]
    seen: list[str] = []
    for p in (" ".join(p.split()) for p in parts):
        if p not in seen:
            seen.append(p)
    # A title that the caption repeats in full (question wording) is said once.
    kept = [p for p in seen if not any(q != p and q.startswith(p) for q in seen)]
    return ". ".join(s.rstrip(".") for s in kept) + "."


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def figure(ax: Figure | Axes, name: str, *, notebook: str, lang: str, about: str | None = None,
           **fields: Any) -> None:
    """Save a figure (PNG and SVG), show it with alt text, then its narrative.

    Parameters
    ----------
    ax
        The chart.
    name, notebook, lang
        Where :func:`kuntalib.outputs.save_figure` writes it.
    about
        Catalogue key of the figure's narrative (what it shows, how to read it, its caveat),
        shown under the figure in ``lang``; ``fields`` fill its ``{}`` fields.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    check_lang(lang)
    fig = ax.figure if isinstance(ax, Axes) else ax
    alt = figure_alt(fig)
    png = save_figure(fig, name, notebook=notebook, lang=lang)[0]
    data = png.read_bytes()
    width, _height = _png_size(data)
    dpi = float(fig.get_dpi()) if fig.get_dpi() else DISPLAY_DPI
    saved_dpi = float(plt.rcParams["savefig.dpi"]) if plt.rcParams["savefig.dpi"] != "figure" else dpi
    display(Image(data=data, format="png", width=round(width * DISPLAY_DPI / saved_dpi), metadata={"alt": alt}))
    plt.close(fig)
    if about:
        show(about, lang, **fields)


def missing_text(lang: str) -> str:
    """What a table cell without a value says: fi "ei tietoa", sv "uppgift saknas", en "no data"."""
    return text("table.missing", lang)


def header(column: str, lang: str, headers: Mapping[str, str] | None = None) -> str:
    """A column's header in ``lang``: from ``headers``, else the catalogue's ``col.<column>``.

    Raises
    ------
    KeyError
        If neither has it, so that no untranslated header reaches a page.
    """
    if headers and column in headers:
        return headers[column]
    key = f"col.{column}"
    if key not in messages(lang):
        raise KeyError(f"no {lang} header for column {column!r}: add {key!r} to the catalogue or pass headers=")
    return text(key, lang)


def _cell(value: Any, lang: str, decimals: int | None) -> str:
    """A table cell: missing as :func:`missing_text`, floats at ``decimals`` (or a table's default), the rest as :func:`value_text`."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return missing_text(lang)
    if isinstance(value, float):
        if decimals is None:
            decimals = 0 if float(value).is_integer() else (1 if abs(value) >= 100 else 2)
        return fmt_num(value, decimals, lang)
    return value_text(value, lang)


def table_html(df: pd.DataFrame, lang: str, *, headers: Mapping[str, str] | None = None,
               decimals: Mapping[str, int] | int | None = None, caption: str | None = None,
               columns: Sequence[str] | None = None, labels: Mapping[str, str] | None = None) -> str:
    """A table as HTML for reading: headers and numbers in ``lang``, every row, no index, no NaN.

    Parameters
    ----------
    df
        The table; its index is not shown (reset it first if it holds data).
    headers
        Header text per column; other columns take the catalogue's ``col.<name>``.
    decimals
        Decimals for every numeric column, or per column; by default whole numbers get none
        and others one (100 and over) or two.
    caption
        Shown above the table (already in ``lang``).
    columns
        The columns to show, in order (default: all).
    labels
        Columns whose values are codes, each with the catalogue key pattern that names them in
        ``lang``, e.g. ``{"fault": "fhir.fault.{}"}``.
    """
    check_lang(lang)
    cols = list(columns) if columns is not None else list(df.columns)
    heads = [header(str(c), lang, headers) for c in cols]

    def dec(c: str) -> int | None:
        return decimals.get(c) if isinstance(decimals, Mapping) else decimals

    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in cols}
    rows = []
    for rec in df[cols].itertuples(index=False, name=None):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            if labels and c in labels and isinstance(v, str):
                v = text(labels[c].format(v), lang)
            style = ' class="num"' if numeric[c] else ""
            cells.append(f"<td{style}>{html.escape(_cell(v, lang, dec(c)))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in heads)
    return (
        '<div class="kl-table"><style>.kl-table table{border-collapse:collapse;margin:.5em 0 1.5em}'
        ".kl-table th,.kl-table td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}"
        ".kl-table td.num{text-align:right;white-space:nowrap}.kl-table caption{text-align:left;font-weight:bold}</style>"
        f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def table(df: pd.DataFrame, lang: str, **kwargs: Any) -> None:
    """Display :func:`table_html` in a notebook."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, lang, **kwargs)))
