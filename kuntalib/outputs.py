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

__all__ = ["save_figure", "save_table", "check_publishable", "IDENTIFIER_COLUMNS"]

#: Columns that identify a person or a device; no published table may have one.
IDENTIFIER_COLUMNS = ("patient", "device", "observation_id", "identifier", "client", "respondent_id")


def _check_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith(".") or any(ord(ch) < 32 for ch in name):
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


def check_publishable(df: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """Return ``df`` if it has no identifier column; raise ``ValueError`` naming the column otherwise."""
    bad = [c for c in df.columns if c in IDENTIFIER_COLUMNS]
    if bad:
        raise ValueError(f"{name}: column {bad[0]!r} identifies persons or devices and must not be published")
    return df


def save_table(df: pd.DataFrame, name: str, *, notebook: str, lang: str, synthetic: bool = False,
               index: bool = False) -> Path:
    """Write a published table as UTF-8 CSV with ``\\n`` line ends; return the path.

    Parameters
    ----------
    df
        The table. A column that identifies persons or devices (:data:`IDENTIFIER_COLUMNS`)
        is refused with ``ValueError``.
    name, notebook, lang
        The file is ``outputs/tables/<notebook>/<lang>/<name>.csv``.
    synthetic
        Drawn from synthetic data: the table gets a ``synthetic`` column set to true, so the
        label travels with every copy of the file.
    index
        Write the index as a column.
    """
    check_lang(lang)
    check_publishable(df, name)
    if synthetic:
        df = df.assign(synthetic=True)
    out = paths.tables_dir(notebook, lang)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{_check_name(name)}.csv"
    df.to_csv(path, index=index, lineterminator="\n", encoding="utf-8")
    return path
