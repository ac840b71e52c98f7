"""Saving figures and tables: separate from drawing them.

Figures go to ``outputs/figures/<notebook>/<lang>/<name>.{png,svg}``, tables to
``outputs/tables/<notebook>/<lang>/<name>.csv``. Files carry no dates, so a
rerun writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kuntalib import paths
from kuntalib.theme import check_lang

__all__ = ["save_figure", "save_table"]


def _check_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"output name must be a plain file stem, got {name!r}")
    return name


def save_figure(fig: Figure | Axes, name: str, *, notebook: str, lang: str) -> list[Path]:
    """Write ``fig`` as PNG and SVG without date metadata; return the paths."""
    check_lang(lang)
    figure = fig.figure if isinstance(fig, Axes) else fig
    out = paths.figures_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{_check_name(name)}.png"
    svg = out / f"{name}.svg"
    figure.savefig(png, format="png", metadata={"Software": None})
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return [png, svg]


def save_table(df: pd.DataFrame, name: str, *, notebook: str, lang: str, index: bool = False) -> Path:
    """Write ``df`` as UTF-8 CSV with ``\\n`` line ends; return the path."""
    check_lang(lang)
    out = paths.tables_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{_check_name(name)}.csv"
    df.to_csv(path, index=index, lineterminator="\n", encoding="utf-8")
    return path
