"""Finnish-first chart theme: palettes, number formats, captions.

Labels come from the translation catalogue (:mod:`kuntalib.i18n`) in Finnish, Swedish and
English; numbers and dates follow each language's CLDR locale through Babel (fi_FI, sv_FI,
en_GB): ``58 %``, ``3 099``, ``1,5``, ``30.6.2022`` in Finnish.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import textwrap
from decimal import Decimal
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
from babel import Locale
from babel.dates import format_date
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from kuntalib.i18n import LANGS, LOCALES, Msg, check_lang, pick

__all__ = [
    "LANGS",
    "NBSP",
    "PALETTE",
    "ROLE",
    "TRAFFIC",
    "NOT_PUBLISHED_COLOR",
    "check_lang",
    "pick",
    "fmt_num",
    "fmt_pct",
    "fmt_date",
    "fmt_range",
    "fmt_eur",
    "pct_sign",
    "SEABORN_WHITEGRID",
    "KUNTALIB_RC",
    "percent_axis",
    "set_theme",
    "add_caption",
    "caption_texts",
    "caption_layout",
    "place_captions",
    "CAPTION_GAP",
    "mark_synthetic",
    "NOT_PUBLISHED",
    "SYNTHETIC",
    "new_axes",
]

NBSP = "\u00a0"

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
NOT_PUBLISHED_COLOR = "#BBBBBB"

#: What a colour means, the same on every chart of every notebook: draw by role, not by hue.
#: ``data`` the observed series (a share, a measurement); ``earlier`` the same measure at an earlier time or
#: round, or a reference beside it; ``second`` a second series with no value judgement; ``unfavourable``
#: only where the reading is bad (a barrier, behind target, a failed check, an alert, a decline);
#: ``favourable`` only where it is good (on target, passed); ``target`` a goal, plan or path (not data);
#: ``model`` a fitted line or forecast.
ROLE: dict[str, str] = {
    "data": PALETTE["blue"],
    "earlier": PALETTE["sky"],
    "second": PALETTE["orange"],
    "unfavourable": PALETTE["vermillion"],
    "favourable": PALETTE["green"],
    "target": PALETTE["purple"],
    "model": PALETTE["black"],
}

#: Traffic lights: colour-blind safe colours *and* a symbol, never colour alone.
TRAFFIC: dict[str, tuple[str, str]] = {
    "green": (PALETTE["green"], "✓"),
    "yellow": (PALETTE["yellow"], "!"),
    "red": (PALETTE["vermillion"], "✗"),
    "unknown": (NOT_PUBLISHED_COLOR, "?"),
    "not_estimable": ("#EEEEEE", "–"),
}

NOT_PUBLISHED: dict[str, str] = Msg("theme.not_published")
SYNTHETIC: dict[str, str] = Msg("theme.synthetic")


@functools.cache
def _locale(lang: str) -> Any:
    return Locale.parse(LOCALES[check_lang(lang)])


def _apply(pattern: Any, value: float, decimals: int, lang: str, **kwargs: Any) -> str:
    """Format with a CLDR pattern at exactly ``decimals`` decimals; a negative number with the true minus sign
    (U+2212) in every language (CLDR's en writes a hyphen: one page set, one minus)."""
    loc = _locale(lang)
    pat = copy.copy(pattern)
    pat.frac_prec = (decimals, decimals)
    text = pat.apply(Decimal(repr(float(value))), loc, **kwargs)
    if text.startswith("-"):
        digits = re.sub(r"\D", "", text)
        text = text[1:] if set(digits) <= {"0"} else "\u2212" + text[1:]
    return text


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt_num(value: float, decimals: int = 0, lang: str = "fi") -> str:
    """A number as ``lang`` writes it, from CLDR (Babel): fi/sv ``3 028``, ``20,25``; en ``3,028``, ``20.25``.

    fi and sv group thousands with a no-break space, use a decimal comma and a true minus
    sign (``−2``); en follows en_GB. None or NaN is "–".
    """
    if _missing(value):
        return "–"
    return _apply(_locale(lang).decimal_formats[None], value, decimals, lang)


def fmt_pct(value: float, decimals: int = 0, lang: str = "fi") -> str:
    """A percentage (``value`` in per cent) in ``lang``'s CLDR format: fi/sv ``58 %``, en ``58%``."""
    if _missing(value):
        return "–"
    return _apply(_locale(lang).percent_formats[None], value / 100, decimals, lang)


def fmt_eur(value: float, decimals: int = 0, lang: str = "fi") -> str:
    """An amount in euros in ``lang``'s CLDR currency format: fi/sv ``25 000 €``, en ``€25,000``."""
    if _missing(value):
        return "–"
    return _apply(_locale(lang).currency_formats["standard"], value, decimals, lang, currency="EUR", currency_digits=False)


def pct_sign(lang: str = "fi") -> str:
    """The percent sign as ``lang`` writes it after a number: fi and sv ``" %"`` (no-break space), en ``"%"``."""
    return fmt_pct(0, 0, lang).removeprefix("0")


def fmt_range(low: float, high: float, decimals: int = 0, lang: str = "fi", *, percent: bool = False) -> str:
    """A range with an en dash and the unit once: fi/sv ``10–45 %``, en ``10–45%``; numbers ``1,2–3,4``."""
    if percent:
        return f"{fmt_num(low, decimals, lang)}–{fmt_pct(high, decimals, lang)}"
    return f"{fmt_num(low, decimals, lang)}–{fmt_num(high, decimals, lang)}"


def fmt_date(value: Any, lang: str = "fi") -> str:
    """A date as ``lang`` writes it, from CLDR (Babel): fi and sv ``30.6.2022``, en ``30 June 2022`` (British usage
    writes the month in full in running text; CLDR's medium form abbreviates it, ``30 Jun 2022``, ``14 Sept 2022``)."""
    d = pd.Timestamp(value).date()
    return format_date(d, format="long" if lang == "en" else "short", locale=_locale(lang))


def percent_axis(ax: Axes, axis: str = "x", decimals: int = 0, lang: str = "fi") -> Axes:
    """Label an axis that holds percentages in ``lang``'s format."""
    fmt = FuncFormatter(lambda v, _pos: fmt_pct(v, decimals, lang))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)
    return ax


#: seaborn's ``set_theme(style="whitegrid")`` (notebook context) as the rcParams it sets. Applied
#: directly: importing seaborn costs about 3 s in every notebook (it imports scipy.stats), and
#: ``tests/test_theme_paths.py`` checks these equal what seaborn sets (but for its default colormap).
SEABORN_WHITEGRID: dict[str, Any] = {
    "axes.axisbelow": True, "axes.edgecolor": ".8", "axes.grid": True, "axes.labelcolor": ".15", "axes.labelsize": 12.0,
    "axes.linewidth": 1.25, "axes.titlesize": 12.0,
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 12.0, "grid.color": ".8", "grid.linewidth": 1.0, "legend.fontsize": 11.0, "legend.title_fontsize": 12.0,
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True, "text.color": ".15",
    "xtick.bottom": False, "xtick.color": ".15", "xtick.labelsize": 11.0, "xtick.major.size": 6.0,
    "xtick.major.width": 1.25, "xtick.minor.size": 4.0, "xtick.minor.width": 1.0, "ytick.color": ".15",
    "ytick.labelsize": 11.0, "ytick.left": False, "ytick.major.size": 6.0, "ytick.major.width": 1.25,
    "ytick.minor.size": 4.0, "ytick.minor.width": 1.0,
}


#: kuntalib's own settings on top of the whitegrid style.
KUNTALIB_RC: dict[str, Any] = {
    "svg.hashsalt": "kuntalib",
    "svg.fonttype": "none",  # text stays text: searchable, accessible, smaller
    "font.family": "DejaVu Sans",
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "axes.titleweight": "bold",
    "axes.titlesize": 12,
    "axes.titlelocation": "left",
    "figure.figsize": (9, 5.5),
}


def set_theme() -> None:
    """Apply kuntalib's style: seaborn's whitegrid, Okabe–Ito colours, fixed SVG ids.

    ``svg.hashsalt`` is fixed so that SVG element ids, and so the files, are
    byte-identical from run to run.
    """
    mpl.rcParams.update(SEABORN_WHITEGRID)
    mpl.rcParams["axes.prop_cycle"] = cycler("color", [to_rgb(c) for c in PALETTE.values()])
    mpl.rcParams.update(KUNTALIB_RC)


def add_caption(ax: Axes, lines: list[str], *, fontsize: float = 8, width: int | None = None) -> Axes:
    """Write caption lines (question, respondents, N, year, source) under the plot.

    A line longer than ``width`` characters, or than the figure is wide, is wrapped at spaces, never at
    hyphens (a long citation would otherwise widen the saved image far beyond the plot); a word longer
    than a line, a long address, is cut at the line's end. The lines as given are kept on the text as ``kuntalib_lines``: a page's caption
    (:func:`kuntalib.present.figure_text`) has them whole, not as the picture wraps them.
    """
    fig = ax.figure
    fit = int(fig.get_figwidth() * 72 / (fontsize * 0.5))  # characters of DejaVu Sans (about half an em each) that fit
    width = min(width or fit, fit)
    note = fig.text(
        0.01,
        -0.01,
        "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in lines),  # a word longer than a line (an address): cut
        ha="left",
        va="top",
        fontsize=fontsize,
        color="#333333",
        transform=fig.transFigure,
    )
    note.kuntalib_lines = [" ".join(line.split()) for line in lines if line.strip()]
    return ax


#: Space between the plot's lowest drawing (axis label, legend) and the caption's first line, in inches.
CAPTION_GAP = 0.08


def caption_texts(fig: Figure) -> list[Any]:
    """The figure's caption lines as drawn (the visible texts :func:`add_caption` wrote)."""
    return [t for t in fig.texts if getattr(t, "kuntalib_lines", None) and t.get_visible()]


def caption_layout(fig: Figure, dpi: float | None = None) -> tuple[Bbox, Bbox, float] | None:
    """Where the caption lines (:func:`add_caption`) sit against the rest of the figure, as ``savefig`` measures.

    Returns the tight box of the whole figure and of everything but the caption lines, in
    inches, and the top of the caption lines in inches; laid out at ``dpi`` (the figure's
    own by default). ``None`` when the figure has no caption lines.
    """
    notes = caption_texts(fig)
    if not notes:
        return None
    old = fig.get_dpi()
    fig.set_dpi(dpi or old)
    try:
        renderer = fig.canvas.get_renderer()
        whole = fig.get_tightbbox(renderer)
        top = max(t.get_window_extent(renderer).y1 for t in notes) / fig.get_dpi()
        for t in notes:
            t.set_visible(False)
        rest = fig.get_tightbbox(renderer)
    finally:
        for t in notes:
            t.set_visible(True)
        fig.set_dpi(old)
    return whole, rest, top


def place_captions(fig: Figure) -> Figure:
    """Move the caption lines down, when needed, so they start :data:`CAPTION_GAP` below everything else drawn.

    :func:`add_caption` puts them just under the figure's edge; an axis label or legend that
    reaches below that edge would otherwise touch or overlap them. Called before a figure is
    saved (:func:`kuntalib.outputs.save_figure`), once everything is drawn.
    """
    layout = caption_layout(fig)
    if layout is not None and (overlap := layout[2] - (layout[1].y0 - CAPTION_GAP)) > 0:
        for t in caption_texts(fig):
            t.set_y(t.get_position()[1] - overlap / fig.get_figheight())
    return fig


def mark_synthetic(ax: Axes, lang: str = "fi") -> Axes:
    """Stamp the figure as drawn from synthetic data, in the figure's language.

    The stamp sits above the plot area, so it never hides data.
    """
    ax.figure.text(
        0.99,
        1.0,
        SYNTHETIC[lang],
        ha="right",
        va="bottom",
        fontsize=9,
        fontweight="bold",
        color=PALETTE["vermillion"],
        bbox={"facecolor": "white", "edgecolor": PALETTE["vermillion"]},
        transform=ax.figure.transFigure,
    )
    return ax


def new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """The given Axes, or a new figure's Axes."""
    if ax is not None:
        return ax
    _fig, ax = plt.subplots(figsize=figsize)
    return ax
