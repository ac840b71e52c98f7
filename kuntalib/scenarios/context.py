"""Context figures for a foresight programme: its budget and the region's population.

Budget CSV columns: ``item_id, kind, label_fi, label_sv, label_en, planned_eur,
actual_eur, note`` with ``kind`` one of ``cost`` (a cost line), ``total`` (the
printed sum of costs), ``funding`` and ``remaining``. An empty amount is "not
published". Costs cannot be negative, so when the printed actual total is 0 every
unpublished actual cost line must be 0: :func:`load_budget` fills those in and
marks them ``derived`` — it derives nothing else.

A budget is a plan for a year; what its actual column means depends on the date the source was
published. :meth:`Budget.as_of` says: before the budget year began no realisation was known (a
printed 0 is then a column not yet filled in, not money spent, and the actuals are left empty);
during the year the actuals are to that date; after it they are the year's.

Population CSV columns: ``subregion_id, kind, municipalities, label_fi,
label_sv, label_en, year, population`` with ``kind`` ``subregion`` or ``region``;
the sub-regions of each year must add up to the region.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kuntalib.i18n import check_lang
from kuntalib.scenarios.model import ScenarioFileError

__all__ = ["Budget", "load_budget", "load_population", "population_change", "BUDGET_KINDS", "REALISATION"]

BUDGET_KINDS = ("cost", "total", "funding", "remaining")
#: What a budget's actual column is at the source's date: ``unknown`` (no date or year given: read as
#: printed), ``not_started`` (before the budget year: no realisation known), ``in_year`` (to that date),
#: ``closed`` (after the year).
REALISATION = ("unknown", "not_started", "in_year", "closed")
_BUDGET_COLUMNS = ["item_id", "kind", "label_fi", "label_sv", "label_en", "planned_eur", "actual_eur", "note"]
_POP_COLUMNS = ["subregion_id", "kind", "municipalities", "label_fi", "label_sv", "label_en", "year", "population"]


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ScenarioFileError(f"{path}: cannot read as UTF-8 CSV: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ScenarioFileError(f"{path}: missing column {missing[0]!r}")
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise ScenarioFileError(f"{path}: unknown column {extra[0]!r}")
    return df


def _numbers(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    out = []
    for i, v in enumerate(df[col]):
        v = v.strip().replace("\u00a0", "").replace(" ", "")
        if v == "":
            out.append(np.nan)
            continue
        try:
            out.append(float(v.replace(",", ".")))
        except ValueError:
            raise ScenarioFileError(f"{path}: line {i + 2}, column {col!r}: {v!r} is not a number") from None
    return pd.Series(out, index=df.index, dtype=float)


@dataclass(frozen=True)
class Budget:
    """A programme budget: cost lines plus printed totals, checked against each other.

    Attributes
    ----------
    items : DataFrame
        Cost lines: item_id, label_fi/sv/en, planned_eur, actual_eur, actual_derived, note.
    planned_total, actual_total, funding_planned, funding_actual, remaining : float
        The printed figures (NaN where not printed).
    """

    path: Path
    items: pd.DataFrame
    planned_total: float
    actual_total: float
    funding_planned: float
    funding_actual: float
    remaining: float
    realisation: str = "unknown"
    published: dt.date | None = None
    year: int | None = None
    printed_actual_total: float = float("nan")

    def to_frame(self, lang: str = "fi") -> pd.DataFrame:
        """Cost lines with the label in ``lang``, planned and actual euros and the derived flag."""
        check_lang(lang)
        df = self.items.rename(columns={f"label_{lang}": "item"})
        return df[["item_id", "item", "planned_eur", "actual_eur", "actual_derived"]].copy()

    @property
    def actual_known(self) -> bool:
        """Whether the actuals say anything at the source's date (False before the budget year began)."""
        return self.realisation != "not_started"

    def as_of(self, published: str | dt.date, year: int) -> Budget:
        """This budget for ``year`` as its source stood on ``published``.

        Before 1 January of ``year`` no realisation was known: every actual (lines, total, remaining)
        becomes empty and the printed actual total is kept as ``printed_actual_total``; otherwise the
        actuals stay, ``in_year`` up to 31 December of ``year`` and ``closed`` after it.
        """
        when = dt.date.fromisoformat(str(published)) if not isinstance(published, dt.date) else published
        if when < dt.date(year, 1, 1):
            items = self.items.assign(actual_eur=np.nan, actual_derived=False)
            return replace(self, items=items, actual_total=float("nan"), funding_actual=float("nan"),
                           remaining=float("nan"), realisation="not_started", published=when, year=year,
                           printed_actual_total=self.actual_total)
        state = "in_year" if when <= dt.date(year, 12, 31) else "closed"
        return replace(self, realisation=state, published=when, year=year, printed_actual_total=self.actual_total)

    @property
    def utilisation(self) -> float:
        """Actual costs as a share of planned costs (0–1)."""
        return self.actual_total / self.planned_total if self.planned_total else float("nan")


def load_budget(path: str | Path) -> Budget:
    """Read a budget CSV, check its printed totals and derive what the totals force (see module doc)."""
    path = Path(path)
    df = _read(path, _BUDGET_COLUMNS)
    for i, kind in enumerate(df["kind"]):
        if kind not in BUDGET_KINDS:
            raise ScenarioFileError(f"{path}: line {i + 2}, column 'kind': {kind!r} is not one of {', '.join(BUDGET_KINDS)}")
    df["planned_eur"] = _numbers(df, "planned_eur", path)
    df["actual_eur"] = _numbers(df, "actual_eur", path)
    for col in ("planned_eur", "actual_eur"):
        neg = df.index[(df["kind"] == "cost") & (df[col] < 0)]
        if len(neg):
            raise ScenarioFileError(f"{path}: line {neg[0] + 2}, column {col!r}: a cost cannot be negative")

    def one(kind: str, col: str) -> float:
        rows = df[df["kind"] == kind]
        if len(rows) > 1:
            raise ScenarioFileError(f"{path}: more than one {kind!r} row")
        return float(rows[col].iloc[0]) if len(rows) else float("nan")

    items = df[df["kind"] == "cost"].drop(columns="kind").reset_index(drop=True)
    planned_total, actual_total = one("total", "planned_eur"), one("total", "actual_eur")
    if not np.isnan(planned_total) and items["planned_eur"].notna().all():
        if not np.isclose(items["planned_eur"].sum(), planned_total, rtol=0, atol=0.5):
            raise ScenarioFileError(
                f"{path}: planned cost lines sum to {items['planned_eur'].sum():g}, the total row says {planned_total:g}"
            )
    items["actual_derived"] = False
    if actual_total == 0:
        missing = items["actual_eur"].isna()
        items.loc[missing, "actual_eur"] = 0.0
        items.loc[missing, "actual_derived"] = True
    if items["actual_eur"].notna().all() and not np.isnan(actual_total):
        if not np.isclose(items["actual_eur"].sum(), actual_total, rtol=0, atol=0.5):
            raise ScenarioFileError(f"{path}: actual cost lines sum to {items['actual_eur'].sum():g}, the total row says {actual_total:g}")
    funding_actual = one("funding", "actual_eur")
    remaining = one("remaining", "actual_eur")
    if not any(np.isnan([funding_actual, actual_total, remaining])) and not np.isclose(funding_actual - actual_total, remaining, rtol=0, atol=0.5):
        raise ScenarioFileError(f"{path}: remaining {remaining:g} ≠ funding {funding_actual:g} − actual costs {actual_total:g}")
    return Budget(path, items, planned_total, actual_total, one("funding", "planned_eur"), funding_actual, remaining)


def load_population(path: str | Path) -> pd.DataFrame:
    """Read a population-by-sub-region CSV and check that sub-regions add up to the region each year."""
    path = Path(path)
    df = _read(path, _POP_COLUMNS)
    df["population"] = _numbers(df, "population", path)
    years = _numbers(df, "year", path)
    if years.isna().any():
        raise ScenarioFileError(f"{path}: line {int(years.isna().idxmax()) + 2}, column 'year': empty")
    df["year"] = years.astype(int)
    bad = df.index[~df["kind"].isin(["subregion", "region"])]
    if len(bad):
        raise ScenarioFileError(f"{path}: line {bad[0] + 2}, column 'kind': {df.loc[bad[0], 'kind']!r} is not subregion or region")
    for year, g in df.groupby("year"):
        region = g.loc[g["kind"] == "region", "population"]
        if len(region) != 1:
            raise ScenarioFileError(f"{path}: year {year}: expected one region row, found {len(region)}")
        total = g.loc[g["kind"] == "subregion", "population"].sum()
        if not np.isclose(total, region.iloc[0], rtol=0, atol=0.5):
            raise ScenarioFileError(f"{path}: year {year}: sub-regions sum to {total:g}, the region row says {region.iloc[0]:g}")
    return df


def population_change(pop: pd.DataFrame, lang: str = "fi") -> pd.DataFrame:
    """Per sub-region: first and last population, change %, share of the region first and last year."""
    check_lang(lang)
    first, last = pop["year"].min(), pop["year"].max()
    wide = pop.pivot_table(index="subregion_id", columns="year", values="population", sort=False)
    region_id = pop.loc[pop["kind"] == "region", "subregion_id"].iloc[0]
    labels = pop.drop_duplicates("subregion_id").set_index("subregion_id")
    out = pd.DataFrame(
        {
            "subregion_id": wide.index,
            "subregion": labels.loc[wide.index, f"label_{lang}"].to_numpy(),
            "kind": labels.loc[wide.index, "kind"].to_numpy(),
            f"population_{first}": wide[first].to_numpy(),
            f"population_{last}": wide[last].to_numpy(),
            "change_pct": (100 * (wide[last] / wide[first] - 1)).to_numpy(),
            f"share_{first}_pct": (100 * wide[first] / wide.loc[region_id, first]).to_numpy(),
            f"share_{last}_pct": (100 * wide[last] / wide.loc[region_id, last]).to_numpy(),
        }
    )
    return out.reset_index(drop=True)
