"""One call per barometer chart, for the notebook: data, title, caption, stamp."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.axes import Axes

from kuntalib.barometer.charts import add_barometer_caption, plot_bars, plot_diverging
from kuntalib.barometer.estimates import add_derived_items, estimate_shares
from kuntalib.barometer.published import YEAR, promoters_table

if TYPE_CHECKING:
    from kuntalib.pipeline.steps import StepData

__all__ = ["CHARTS", "plot_question", "figures_from_microdata", "figures_step"]

#: Charts in the order of the deck.
CHARTS = ("key_figures", "support", "partners", "types", "motivators", "promoters", "achievements")
_COLORS = {"key_figures": "#009E73", "support": "#0072B2", "partners": "#56B4E9", "types": "#E69F00",
           "motivators": "#CC79A7", "achievements": "#0072B2"}


def plot_question(
    question_id: str,
    figures: pd.DataFrame,
    questions: pd.DataFrame,
    *,
    ax: Axes | None = None,
    lang: str = "fi",
    press: pd.DataFrame | None = None,
    synthetic: bool = False,
    source: str | None = None,
) -> Axes:
    """Draw one barometer chart with its question, respondents, N, year and source."""
    if question_id not in CHARTS:
        raise ValueError(f"unknown barometer chart {question_id!r}; one of {', '.join(CHARTS)}")
    if question_id == "promoters":
        ax = plot_diverging(promoters_table(figures), ax=ax, lang=lang, synthetic=synthetic)
    else:
        rows = figures[(figures.question_id == question_id) & (figures.answer == "yes")]
        ax = plot_bars(rows, ax=ax, lang=lang, color=_COLORS[question_id], synthetic=synthetic)
    q = questions.loc[question_id]
    ax.set_title(str(q[f"title_{lang}"]).split(" (")[0], loc="left", pad=22 if question_id == "promoters" else 6)
    return add_barometer_caption(ax, q, lang=lang, year=YEAR, press=press, synthetic=synthetic, source=source)


def figures_from_microdata(long: pd.DataFrame, figures: pd.DataFrame, *, population: float | None = None, weighted: bool = False) -> pd.DataFrame:
    """The published table's rows with shares estimated from microdata.

    ``share`` is the estimate, ``lower``/``upper`` its Wilson–FPC interval and
    ``n_min``/``n_max`` the item's N; rows the microdata does not cover keep
    a NaN share (drawn as not available).
    """
    est = estimate_shares(add_derived_items(long), population=population, weighted=weighted)
    est = est.set_index(["question_id", "category_id", "answer"])
    out = figures.copy()
    for i, r in out.iterrows():
        key = (r.question_id, r.category_id, r.answer)
        if key in est.index:
            e = est.loc[key]
            out.loc[i, ["share", "lower", "upper", "n_min", "n_max"]] = [e.share, e.lower, e.upper, e.n, e.n]
        else:
            out.loc[i, "share"] = float("nan")
    out["published"] = False
    return out


def figures_step(figures: pd.DataFrame, microdata: str | Path | None = None, *, population: float | None = None,
                 weighted: bool = False, synthetic: bool = False) -> StepData:
    """The language-neutral step of the barometer notebook (for :func:`kuntalib.pipeline.steps.run_step`).

    Parameters
    ----------
    figures
        The published figures (:func:`~kuntalib.barometer.published.load_published`).
    microdata
        A microdata file (CSV, Excel, SPSS) to estimate from, or None for the published figures.
    population, weighted
        As in :func:`figures_from_microdata`.
    synthetic
        The microdata file's sidecar marks it synthetic.

    Returns
    -------
    StepData
        Tables ``figures`` (and ``rejected`` with microdata); values ``synthetic``, ``summary`` and, with
        microdata, ``rows``, ``accepted`` and ``rejected`` (data rows of the file).
    """
    from kuntalib.barometer.microdata import read_wide
    from kuntalib.pipeline.steps import StepData

    if microdata is None:
        return StepData({"figures": figures}, {"synthetic": False, "summary": "published figures"})
    parsed = read_wide(microdata, figures)
    est = figures_from_microdata(parsed.data, figures, population=population, weighted=weighted)
    return StepData({"figures": est, "rejected": parsed.rejected},
                    {"synthetic": bool(parsed.synthetic or synthetic), "summary": parsed.summary(), "rows": parsed.n_rows,
                     "accepted": parsed.n_accepted_rows, "rejected": parsed.n_rows - parsed.n_accepted_rows})
