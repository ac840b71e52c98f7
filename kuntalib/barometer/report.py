"""One call per barometer chart, for the notebook: data, title, caption, stamp."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from kuntalib.barometer.charts import ANSWERS, WIDE_BOUNDS, add_barometer_caption, plot_bars, plot_diverging
from kuntalib.barometer.estimates import add_derived_items, compare_groups, estimate_shares
from kuntalib.barometer.published import YEAR, derive_not_relevant, promoters_table
from kuntalib.i18n import text
from kuntalib.theme import fmt_num, fmt_pct, fmt_range

__all__ = ["CHARTS", "DEFAULT_FRAMES", "bounds_table", "interval_text", "plot_question", "figures_from_microdata", "respondent_counts",
           "breakdown_tables"]

#: Charts in the order of the deck.
CHARTS = ("key_figures", "support", "partners", "types", "motivators", "promoters", "achievements")


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
    counts: dict[str, int] | None = None,
    intervals: str | None = None,
    year: int | str = YEAR,
) -> Axes:
    """Draw one barometer chart with its question, respondents, N, year (the round's) and source.

    ``counts`` (from microdata, :func:`respondent_counts`) puts the file's own respondents and N in
    the caption; ``intervals`` says there how the interval lines were computed.
    """
    if question_id not in CHARTS:
        raise ValueError(f"unknown barometer chart {question_id!r}; one of {', '.join(CHARTS)}")
    if question_id not in questions.index:
        raise ValueError(f"this round's questions.csv has no question {question_id!r} (it has {', '.join(questions.index)}): "
                         "a round drawn as `round` needs the charts' questions; any round can be a `compare` round")
    q = questions.loc[question_id]
    rows = figures[figures.question_id == question_id]
    if question_id == "promoters":
        ax = plot_diverging(promoters_table(figures), ax=ax, lang=lang, synthetic=synthetic)
    else:
        rows = rows[rows.answer == "yes"]
        partial = str(q.get("other_categories", "none")) == "not_published"
        ax = plot_bars(rows, ax=ax, lang=lang, synthetic=synthetic, other_categories=partial)
    ax.set_title(str(q[f"title_{lang}"]).split(" (")[0], loc="left", pad=22 if question_id == "promoters" else 6)
    n_range = (float(rows.n_min.min()), float(rows.n_max.max())) if counts is not None else None
    drawn = rows.share.isna() & ((rows.upper - rows.lower < WIDE_BOUNDS) | (question_id == "promoters"))
    bounds = counts is None and bool((~rows.published & drawn).any())
    return add_barometer_caption(ax, q, lang=lang, year=year, press=press, synthetic=synthetic, source=source,
                                 counts=counts, n_range=n_range, intervals=intervals, bounds=bounds, rows=rows)


def interval_text(frames: dict[str, float | None] | None, population: float | None, lang: str) -> str:
    """How the interval lines were computed, for the caption of a microdata chart."""
    if frames is None:
        if population:
            return text("barometer.intervals.one_frame", lang, frame=fmt_num(population, lang=lang))
        return text("barometer.intervals.no_frame", lang)
    parts = []
    for kind, key in (("kunta", "barometer.intervals.municipalities"), ("kuntayhtymä", "barometer.intervals.joint")):
        size = frames.get(kind)
        fpc = text("barometer.intervals.fpc", lang, frame=fmt_num(size, lang=lang)) if size else text("barometer.intervals.no_fpc", lang)
        parts.append(text(key, lang, fpc=fpc))
    return text("barometer.intervals.strata", lang, municipalities=parts[0], joint=parts[1])


def bounds_table(figures: pd.DataFrame, questions: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Unpublished shares with their tightest bounds and the constraint that sets each end, in ``lang``.

    ``figures`` is the step's table (:func:`~kuntalib.barometer.bounds.apply_bounds` output).
    """
    by = figures.set_index(["question_id", "category_id", "answer"])

    def ref_text(ref: str) -> str:
        out = []
        for part in filter(None, ref.split(";")):
            q, c, a = (part.split("/") + ["", ""])[:3]
            row = by.loc[(q, c, a)] if (q, c, a) in by.index else None
            label = str(row[f"label_{lang}"]) if row is not None else c
            if q == "promoters" and a in ANSWERS:
                label += f" ({ANSWERS[a][lang]})"
            value = f" {fmt_pct(row.share, lang=lang)}" if row is not None and pd.notna(row.share) else ""
            out.append(f"{label}{value}")
        return "; ".join(out)

    def rule_text(rule: str, ref: str, side: str, value: float) -> str:
        return text(f"barometer.bounds.{rule}.{side}", lang, ref=ref_text(ref), value=fmt_pct(value, lang=lang))

    derived = {("promoters", c, "not_relevant"): v for c, v in zip(*derive_not_relevant(figures)[["category_id", "share"]].T.values,
                                                                      strict=True)}
    rows = []
    for r in figures[figures.share.isna() & figures.lower.notna()].itertuples():
        answer = ANSWERS[r.answer][lang] if r.answer in ANSWERS else ""
        key = (r.question_id, r.category_id, r.answer)
        rows.append({
            "question": str(questions.loc[r.question_id, f"title_{lang}"]).split(" (")[0],
            "option": f"{getattr(r, f'label_{lang}')}" + (f" ({answer})" if answer else ""),
            # what the chart prints as derived (100 − promoted − barrier), the table says the same way
            "bound_range": f"{fmt_pct(derived[key], lang=lang)}*" if key in derived else fmt_range(r.lower, r.upper, lang=lang, percent=True),
            "lower_by": text("barometer.bounds.derived", lang) if key in derived else rule_text(r.lower_rule or "range", r.lower_ref, "lower", r.lower),
            "upper_by": "" if key in derived else rule_text(r.upper_rule or "range", r.upper_ref, "upper", r.upper),
        })
    table = pd.DataFrame(rows, columns=["question", "option", "bound_range", "lower_by", "upper_by"])
    # options with the same bounds for the same reasons are one row (the constraint is said once)
    return table.groupby(["question", "bound_range", "lower_by", "upper_by"], sort=False, as_index=False).agg(
        option=("option", "; ".join))[["question", "option", "bound_range", "lower_by", "upper_by"]]


#: Organisations in each stratum's population: 309 municipalities in 2022 (press_releases.csv); the number
#: of joint authorities is not in the sources, so they get no finite-population correction.
DEFAULT_FRAMES: dict[str, float | None] = {"kunta": 309, "kuntayhtymä": None}


def figures_from_microdata(long: pd.DataFrame, figures: pd.DataFrame, *, population: float | None = None, weighted: bool = False,
                           frames: dict[str, float | None] | None = None, cluster: str | None = None) -> pd.DataFrame:
    """The published table's rows with shares estimated from microdata.

    ``share`` is the estimate, ``lower``/``upper`` its 95 % Wilson interval (per-stratum FPC and
    clustering with ``frames``/``cluster``, see :func:`~kuntalib.barometer.estimates.estimate_shares`),
    ``n_min``/``n_max`` the item's N and ``deff`` its design effect; rows the microdata does not
    cover keep a NaN share (drawn as not available).
    """
    est = estimate_shares(add_derived_items(long), population=population, weighted=weighted, frames=frames, cluster=cluster)
    est = est.set_index(["question_id", "category_id", "answer"])
    out = figures.copy()
    out["deff"] = float("nan")
    for i, r in out.iterrows():
        key = (r.question_id, r.category_id, r.answer)
        if key in est.index:
            e = est.loc[key]
            out.loc[i, ["share", "lower", "upper", "n_min", "n_max"]] = [e.share, e.lower, e.upper, e.n, e.n]
            out.loc[i, "deff"] = e.get("deff", float("nan"))
        else:
            out.loc[i, ["share", "lower", "upper"]] = float("nan")
    out["published"] = False
    return out


def respondent_counts(long: pd.DataFrame) -> dict[str, int]:
    """Responses and organisations by type in accepted microdata (for captions)."""
    resp = long.drop_duplicates("respondent_id")
    org_col = "organisation_id" if "organisation_id" in resp.columns else "respondent_id"
    out = {"responses": len(resp), "organisations": int(resp[org_col].nunique())}
    for key, kind in (("municipalities", "kunta"), ("joint", "kuntayhtymä")):
        sub = resp[resp.org_type == kind]
        out[f"responses_{key}"] = len(sub)
        out[key] = int(sub[org_col].nunique())
    return out


def breakdown_tables(long: pd.DataFrame, figures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Municipality vs joint authority (Newcombe difference) and municipal size classes, yes/no items.

    ``by_org_type``: :func:`~kuntalib.barometer.estimates.compare_groups` of every yes/no item the
    figures table holds. ``by_size_class``: shares of each yes/no item by ``size_class`` among
    municipalities (Wilson, no FPC: the frame per class is not in the sources); empty when the file
    has fewer than two known classes.
    """
    items = figures[figures.answer == "yes"][["question_id", "category_id"]].drop_duplicates()
    full = add_derived_items(long).merge(items, on=["question_id", "category_id"])
    cmp = compare_groups(full)
    muni = full[(full.org_type == "kunta") & (full.size_class != "ei tiedossa")]
    by_size = pd.DataFrame(columns=["question_id", "category_id", "size_class", "answer", "n", "n_eff", "share", "lower", "upper"])
    if muni.size_class.nunique() >= 2:
        by_size = estimate_shares(muni, by="size_class")
        by_size = by_size[by_size.answer == "yes"].reset_index(drop=True)
    return {"by_org_type": cmp, "by_size_class": by_size}
