"""Finnish-first chart theme: palettes, number formats, captions.

Labels come in Finnish, Swedish and English (in that order); numbers are
written the Finnish way: ``58 %``, ``3 099``, ``1,5``.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from kuntalib.i18n import LANGS, check_lang, pick

__all__ = [
    "LANGS",
    "NBSP",
    "PALETTE",
    "TRAFFIC",
    "NOT_PUBLISHED_COLOR",
    "check_lang",
    "pick",
    "fmt_num",
    "fmt_pct",
    "fmt_date",
    "pct_sign",
    "SEABORN_WHITEGRID",
    "KUNTALIB_RC",
    "percent_axis",
    "set_theme",
    "add_caption",
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

#: Traffic lights: colour-blind safe colours *and* a symbol, never colour alone.
TRAFFIC: dict[str, tuple[str, str]] = {
    "green": (PALETTE["green"], "✓"),
    "yellow": (PALETTE["yellow"], "!"),
    "red": (PALETTE["vermillion"], "✗"),
    "unknown": (NOT_PUBLISHED_COLOR, "?"),
    "not_estimable": ("#EEEEEE", "–"),
}

NOT_PUBLISHED: dict[str, str] = {
    "fi": "ei julkaistu",
    "sv": "inte publicerad",
    "en": "not published",
}
SYNTHETIC: dict[str, str] = {
    "fi": "SYNTEETTINEN AINEISTO",
    "sv": "SYNTETISKA DATA",
    "en": "SYNTHETIC DATA",
}


def fmt_num(value: float, decimals: int = 0, lang: str = "fi") -> str:
    """Number format of ``lang``: fi and sv ``3 099``, ``1,5``; en ``3,099``, ``1.5``; negatives ``−2``.

    fi/sv separate thousands with a no-break space and use a decimal comma; every
    language takes a true minus sign. None or NaN is "–".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if lang == "en":
        text = f"{abs(value):,.{decimals}f}"
    else:
        text = f"{abs(value):,.{decimals}f}".replace(",", NBSP).replace(".", ",")
    if round(value, decimals) < 0:
        text = "−" + text
    return text


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt_date(value: Any, lang: str = "fi") -> str:
    """A date as ``lang`` writes it: fi and sv ``30.6.2022``, en ``30 Jun 2022``."""
    d = pd.Timestamp(value)
    if lang == "en":
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    return f"{d.day}.{d.month}.{d.year}"


def pct_sign(lang: str = "fi") -> str:
    """The percent sign as ``lang`` writes it after a number: fi and sv ``" %"`` (no-break space), en ``"%"``."""
    return "%" if lang == "en" else f"{NBSP}%"


def fmt_pct(value: float, decimals: int = 0, lang: str = "fi") -> str:
    """A percentage in ``lang``'s format: fi/sv ``58 %`` (no-break space before the sign), en ``58%``."""
    return f"{fmt_num(value, decimals, lang=lang)}{pct_sign(lang)}"


def percent_axis(ax: Axes, axis: str = "x", decimals: int = 0) -> Axes:
    """Label an axis that holds percentages in the Finnish format."""
    fmt = FuncFormatter(lambda v, _pos: fmt_pct(v, decimals))
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
    from cycler import cycler
    from matplotlib.colors import to_rgb

    mpl.rcParams.update(SEABORN_WHITEGRID)
    mpl.rcParams["axes.prop_cycle"] = cycler("color", [to_rgb(c) for c in PALETTE.values()])
    mpl.rcParams.update(KUNTALIB_RC)


def add_caption(ax: Axes, lines: list[str], *, fontsize: float = 8) -> Axes:
    """Write caption lines (question, respondents, N, year, source) under the plot."""
    fig = ax.figure
    fig.text(
        0.01,
        -0.01,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=fontsize,
        color="#333333",
        transform=fig.transFigure,
    )
    return ax


def mark_synthetic(ax: Axes, lang: str = "fi") -> Axes:
    """Stamp the figure as drawn from synthetic data (all three languages, ``lang`` first).

    The stamp sits above the plot area, so it never hides data.
    """
    order = [lang] + [x for x in LANGS if x != lang]
    text = " / ".join(SYNTHETIC[x] for x in order)
    ax.figure.text(
        0.99,
        1.0,
        text,
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
