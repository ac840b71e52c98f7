"""What a notebook shows its reader, in the run's language: prose, figures with alt text, tables.

The published pages are the executed notebooks without their code. A notebook's prose is its
own Markdown cells (translated by :mod:`kuntalib.pipeline.translate`); what a run computes
passes through here: sentences with numbers from the translation catalogue (:func:`show`),
figures displayed with a short alt text about the picture (their title and caption go with them
for the page's figure caption), and tables formatted for reading (localised headers and numbers,
no index column, no truncation, no NaN).
"""

from __future__ import annotations

import html
import math
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from kuntalib.i18n import check_lang, messages, text
from kuntalib.outputs import in_words, save_figure
from kuntalib.theme import SYNTHETIC, caption_layout, fmt_date, fmt_num

__all__ = ["show", "say", "figure", "picture_box", "figure_alt", "figure_text", "figure_description", "ALT_LENGTH", "table_html", "table", "header", "missing_text", "value_text"]

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


def _titles(fig: Figure) -> list[str]:
    """The figure's suptitle, then each axes' titles (left, centre, right), whitespace normalised."""
    sup = getattr(fig, "_suptitle", None)
    parts = [sup.get_text()] if sup is not None else []
    parts += [ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center", "right")]
    return list(dict.fromkeys(p for p in map(_words, parts) if p))


def _note_texts(fig: Figure) -> list[Any]:
    """Every text the figure carries outside its axes (caption, source line, synthetic stamp), in drawing order."""
    sup = getattr(fig, "_suptitle", None)
    return [t for t in fig.texts if t.get_text().strip() and t is not sup]


def _notes(fig: Figure) -> list[str]:
    """The words of :func:`_note_texts`."""
    return [t.get_text().strip() for t in _note_texts(fig)]


def figure_alt(fig: Figure | Axes) -> str:
    """The figure's own words in full: its titles, then its caption and labels, one sentence each.

    Gathers the axes titles (left, centre, right), the figure's suptitle and every text the
    figure carries outside the axes (caption, source line, synthetic stamp), in drawing order.
    A page shows these words as the figure's caption (:func:`figure_text`); its alt text is the
    shorter :func:`figure_description`.
    """
    fig = fig.figure if isinstance(fig, Axes) else fig
    seen = list(dict.fromkeys(_titles(fig) + [" ".join(n.split()) for n in _notes(fig)]))
    # A title that the caption repeats in full (question wording) is said once.
    kept = [p for p in seen if not any(q != p and q.startswith(p) for q in seen)]
    return ". ".join(s.rstrip(".") for s in kept) + "."


def figure_text(fig: Figure | Axes) -> tuple[str, str]:
    """The figure's title and caption, for a page's ``<figcaption>``.

    The title is the figure's titles; where the caption's first line repeats the title with more
    (a survey question with its unit, "… (% vastanneista)"), that line is the title. The caption
    is the rest of the figure's texts (notes, respondents, sources with their addresses), one
    line per caption line: the lines :func:`kuntalib.theme.add_caption` was given, whole; in a text
    written otherwise, a line the chart wrapped is joined to the one before (it follows a line
    nearly as long as the longest, or a comma, or starts in lower case).
    """
    fig = fig.figure if isinstance(fig, Axes) else fig
    title, out = ". ".join(_titles(fig)), []
    for note in _note_texts(fig):
        given = getattr(note, "kuntalib_lines", None)
        lines = list(given) if given is not None else [_words(line) for line in note.get_text().strip().split("\n")]
        if title and not out and lines and lines[0].startswith(title):
            title = lines.pop(0)
        if given is not None:
            out += lines
            continue
        width, last = max(map(len, lines), default=0), None
        for line in filter(None, lines):
            wrapped = last is not None and (len(last) >= 0.85 * width or last[-1] in ",:;(-–" or not line[0].isupper() and not line[0].isdigit())
            out[-1:] = [f"{out[-1]} {line}"] if wrapped else [*out[-1:], line]
            last = line
    return title, "\n".join(out)


#: Longest alt text: the figure's title, its kind and its key content. Its caption (with the
#: sources and their addresses) is the figure's ``<figcaption>`` on the page.
ALT_LENGTH = 300

_URL = re.compile(r"\s*\(?https?://\S+")


def _kind(ax: Axes) -> str:
    """What kind of chart ``ax`` draws, as the catalogue key of its name (``site.chart.barh``, ...)."""
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    if not ax.axison:
        kind = "diagram"
    elif ax.images or any(isinstance(c, QuadMesh) for c in ax.collections):
        kind = "grid"
    elif bars:
        kind = "barh" if bars[0].orientation == "horizontal" else "bar"
    elif any(len(line.get_xdata()) > 2 for line in ax.lines):
        kind = "line"
    elif any(isinstance(c, PathCollection) for c in ax.collections):
        kind = "dots"
    else:
        kind = "chart"
    return f"site.chart.{kind}"


def _words(t: Any) -> str:
    """A text of the figure on one line: a name wrapped at its hyphen (``Varsinais-\\nSuomi``) joined again."""
    return " ".join(re.sub(r"-\n(?=[A-ZÅÄÖ])", "-", t if isinstance(t, str) else t.get_text()).split())


def _rows(ax: Axes, axis: str) -> list[tuple[str, list[str]]]:
    """Each category of a categorical axis (tick labels in words) with the values written on its row
    or column, in reading order (top to bottom, left to right); [] for an axis of numbers."""
    xy = 1 if axis == "y" else 0
    ticker = getattr(ax, f"{axis}axis")
    ticks = [(loc, _words(t)) for loc, t in zip(ticker.get_majorticklocs(), ticker.get_ticklabels(), strict=False) if _words(t)]
    if not any(ch.isalpha() for _, label in ticks for ch in label):
        return []
    half = min((abs(a[0] - b[0]) for a, b in zip(ticks, ticks[1:], strict=False)), default=1.0) / 2
    on_data = [t for t in ax.texts if t.get_transform() is ax.transData and _words(t)]
    rows = [(label, [_words(t) for t in on_data if abs(t.get_position()[xy] - loc) < half]) for loc, label in ticks]
    screen = [ax.transData.transform((loc, loc))[xy] for loc, _ in ticks]
    return [rows[i] for i in sorted(range(len(rows)), key=lambda i: -screen[i] if axis == "y" else screen[i])]


def _content(ax: Axes, kind: str, limit: int) -> list[str]:
    """What the picture of ``ax`` says, item by item (see :func:`figure_description`)."""
    legend = ", ".join(_words(t) for lg in (ax.get_legend(), *ax.figure.legends) if lg is not None for t in lg.get_texts())
    if kind == "site.chart.line":
        xs = np.concatenate([np.asarray(ln.get_xdata(), float) for ln in ax.lines if len(ln.get_xdata()) > 2])
        fmt = ax.xaxis.get_major_formatter()
        return [legend, f"{ax.get_xlabel()} {fmt(np.nanmin(xs), 0)}–{fmt(np.nanmax(xs), 0)}"]
    texts = [t for t in ax.texts if _words(t)]
    rows = (_rows(ax, "y") or _rows(ax, "x")) if ax.axison else []
    columns = [", ".join(label for label, _ in _rows(ax, "x"))] if kind == "site.chart.grid" and _rows(ax, "y") else []
    if rows and 2 * sum(len(values) for _, values in rows) >= len(texts):
        items = columns + [f"{label}: {' / '.join(values)}" if values else label for label, values in rows]
    else:  # the words of a diagram in drawing order, those drawn one after another on a line together
        lines: list[list[Any]] = []
        for t in texts:
            if lines and t.get_position()[1] == lines[-1][-1].get_position()[1] and t.get_transform() == lines[-1][-1].get_transform():
                lines[-1].append(t)
            else:
                lines.append([t])
        items = [", ".join(_words(t) for t in line) for line in lines]
    return [legend, *items] if len(legend) <= limit // 3 else [*items, legend]


def figure_description(fig: Figure | Axes, lang: str, *, limit: int = ALT_LENGTH) -> str:
    """Alt text about the picture: the kind of chart and its title, then its key content, at most ``limit`` characters.

    The content is what the picture shows: its series (the legend; last when it is long), for a
    line chart the span of its horizontal axis, else each category with the values written on its
    row (a colour-coded grid: after its column labels), or, for a diagram, its words in drawing
    order; as many whole items as fit, then "…". A synthetic-data stamp is kept; addresses (URLs) are
    left out: the page cites the sources in the figure's caption. Call it on a drawn figure (after
    saving it), so that numeric tick labels are known.
    """
    check_lang(lang)
    fig = fig.figure if isinstance(fig, Axes) else fig
    ax = next((a for a in fig.axes if a.get_title(loc="left") or a.get_title()), fig.axes[0] if fig.axes else None)
    kind = _kind(ax) if ax is not None else "site.chart.chart"
    head = f"{text(kind, lang)}: {figure_text(fig)[0]}"
    if any(SYNTHETIC[lang] in n for n in _notes(fig)):
        head += f". {SYNTHETIC[lang]}"
    items = [" ".join(_URL.sub("", i).split()).rstrip(".;, ") for i in (_content(ax, kind, limit) if ax is not None else [])]
    items = [i for i in items if i]
    out = " ".join(_URL.sub("", head).split()).rstrip(".") + "."
    if len(out) > limit:
        return out[: limit - 1].rsplit(" ", 1)[0] + "…"
    for n, item in enumerate(items):
        last = n == len(items) - 1
        if len(out) + len(item) + (2 if last else 4) > limit:  # whole items only: "…" says there is more
            return f"{out} …" if len(out) + 2 <= limit else out
        out += f" {item}{'.' if last else ';'}"
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def picture_box(fig: Figure, size: tuple[int, int], dpi: float,
                layout: tuple[Any, Any, float] | None = None) -> list[int] | None:
    """The part of the saved PNG that is the picture without its caption lines, as (left, top, right, bottom) pixels.

    The caption lines (:func:`kuntalib.theme.add_caption`) are a page's ``<figcaption>``, so the
    site's copy of the image leaves them out (:func:`kuntalib.pipeline.site._figures`); the PNG in
    ``outputs/figures`` keeps them, so a copied file still names its source. The box is everything
    else the figure draws, with the same margin as the saved image, measured as ``savefig`` lays
    the figure out (tight box at ``dpi``). ``None`` when the figure has no caption lines, or is not
    saved to its tight box (:func:`kuntalib.theme.set_theme` saves so; otherwise the caption, drawn
    below the figure's edge, is not in the image). ``layout``: the figure's
    :func:`kuntalib.theme.caption_layout` at ``dpi`` as the PNG was saved with it (measured here when not given).
    """
    import matplotlib as mpl

    if layout is None:
        layout = caption_layout(fig, dpi) if mpl.rcParams["savefig.bbox"] == "tight" else None
    if layout is None:
        return None
    (whole, rest, caption_top), pad, (width, height) = layout, mpl.rcParams["savefig.pad_inches"], size
    top = whole.y1 + pad  # the image's top edge, in the figure's inches

    def px(y: float) -> int:
        return math.floor((top - y) * dpi)

    return [max(0, math.floor((rest.x0 - whole.x0) * dpi)), max(0, px(rest.y1 + pad)),
            min(width, width - math.floor((whole.x1 - rest.x1) * dpi)), min(height, px(rest.y0 - pad), px(caption_top))]


def figure(ax: Figure | Axes, name: str, *, notebook: str, lang: str, about: str | None = None,
           **fields: Any) -> None:
    """Save a figure (PNG and SVG), show it with alt text, then its narrative.

    The image's display metadata carry its alt text (:func:`figure_description`) and, under
    ``kuntalib``, its name, title and caption (:func:`figure_text`) and the box of the picture
    without its caption lines (:func:`picture_box`): the site shows that part of the image as a
    numbered ``<figure>`` with the caption as text (:mod:`kuntalib.pipeline.site`); JupyterLab
    shows the whole image.

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
    png = save_figure(fig, name, notebook=notebook, lang=lang)[0]
    title, caption = figure_text(fig)
    data = png.read_bytes()
    width, height = _png_size(data)
    saved_dpi, layout = fig.kuntalib_layout  # the dpi save_figure saved the PNG at, and the box it cut it to
    meta = {"alt": figure_description(fig, lang), "kuntalib": {"name": name, "title": title, "caption": caption}}
    if caption and (box := picture_box(fig, (width, height), saved_dpi, layout)):
        meta["kuntalib"]["picture"] = box
    display(Image(data=data, format="png", width=round(width * DISPLAY_DPI / saved_dpi), metadata=meta))
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
        ``lang``, e.g. ``{"fault": "fhir.fault.{}"}``, besides :data:`kuntalib.outputs.VALUE_LABELS`
        (:func:`kuntalib.outputs.in_words`), which every table uses.
    """
    check_lang(lang)
    cols = list(columns) if columns is not None else list(df.columns)
    df = in_words(df[cols], lang, labels)
    heads = [header(str(c), lang, headers) for c in cols]

    def dec(c: str) -> int | None:
        return decimals.get(c) if isinstance(decimals, Mapping) else decimals

    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in cols}
    rows = []
    for rec in df[cols].itertuples(index=False, name=None):
        cells = []
        for c, v in zip(cols, rec, strict=True):
            style = ' class="num"' if numeric[c] else ""
            cells.append(f"<td{style}>{html.escape(_cell(v, lang, dec(c)))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in heads)
    # The class is named twice so that these rules outweigh JupyterLab's ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon
    # td {text-align: right}" (the same weight; this style comes later), in JupyterLab and on the site alike.
    return (
        '<div class="kl-table"><style>.kl-table.kl-table table{border-collapse:collapse;margin:.5em 0 1.5em}'
        ".kl-table.kl-table th,.kl-table.kl-table td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;"
        "vertical-align:top}.kl-table.kl-table td.num{text-align:right;white-space:nowrap}"
        ".kl-table.kl-table caption{text-align:left;font-weight:bold}</style>"
        f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def table(df: pd.DataFrame, lang: str, **kwargs: Any) -> None:
    """Display :func:`table_html` in a notebook."""
    from IPython.display import HTML, display

    display(HTML(table_html(df, lang, **kwargs)))
