"""Device-data analysis: quality per vendor, adherence, alerts, blood-pressure trend, privacy.

All functions take the tidy table of :mod:`kuntalib.fhir.ingest` (pandas) and
return pandas frames; none of them reads files.

Published tables must not identify anyone: :func:`suppress_small` blanks every
cell that counts fewer than ``k`` persons (default 5) and :func:`check_publishable`
refuses a table with an identifier column.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kuntalib.disclosure import Relation, complementary_suppression
from kuntalib.outputs import IDENTIFIER_COLUMNS, check_publishable

__all__ = [
    "quality_table",
    "quality_partial",
    "quality_finish",
    "bp_daily_means",
    "fit_trend",
    "adherence",
    "adherence_summary",
    "load_thresholds",
    "alerts",
    "alert_summary",
    "TrendResult",
    "fit_bp_trend",
    "suppress_small",
    "suppress_hierarchy",
    "publishable",
    "fault_outcomes",
    "check_publishable",
    "IDENTIFIER_COLUMNS",
]



def _study_day(times: pd.Series, start: str | pd.Timestamp, tz: str) -> pd.Series:
    """Local calendar day in ``tz`` counted from ``start`` (0 = the start date)."""
    return (times.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize() - pd.Timestamp(start)).dt.days


_FLAG_COLUMNS = ("tz_assumed", "unit_translated", "late", "clock_ahead", "value_absent")


def quality_partial(obs: pd.DataFrame, *, by: tuple[str, ...] = ("vendor",), late_hours: float = 24.0,
                    ahead_minutes: float = 5.0) -> pd.DataFrame:
    """Per ``by`` group (vendor, or vendor and device type): accepted lines and how many carry each flag.

    Sums, so partials add up: exact on any split of the tidy table that keeps a line's rows
    together (the ingest's patient buckets do).
    """
    per_line = obs.assign(value_absent=obs["absent_reason"].notna()).groupby(["source", "line"], sort=False).agg(
        vendor=("vendor", "first"), device_type=("device_type", "first"), patient=("patient", "first"), time_utc=("time_utc", "first"),
        issued_utc=("issued_utc", "first"), tz_assumed=("tz_assumed", "first"), unit_translated=("unit_translated", "any"),
        value_absent=("value_absent", "any"))
    lag = (per_line["issued_utc"] - per_line["time_utc"]).dt.total_seconds()
    per_line["late"] = lag > late_hours * 3600
    per_line["clock_ahead"] = lag < -ahead_minutes * 60
    flags = per_line[list(_FLAG_COLUMNS)].astype(np.int64)
    flags["accepted"] = 1
    for col in by:
        flags[col] = per_line[col].to_numpy()
    out = flags.groupby(list(by))[["accepted", *_FLAG_COLUMNS]].sum()
    out["persons"] = per_line.groupby(list(by))["patient"].nunique()  # additive: a patient is in one partition
    return out


def quality_finish(partial: pd.DataFrame, rejects: pd.DataFrame) -> pd.DataFrame:
    """The quality table from summed :func:`quality_partial` results and the rejects (grouped the same way).

    ``persons`` counts the patients with accepted lines in the group: suppress small groups
    (:func:`suppress_small`) before publishing.
    """
    by = list(partial.index.names)
    acc = partial.copy()
    for c in _FLAG_COLUMNS:
        acc[f"{c}_pct"] = 100 * acc.pop(c) / acc["accepted"]
    rej = rejects.drop_duplicates(["source", "line"]).pivot_table(index=by, columns="reason", values="line",
                                                                  aggfunc="count", fill_value=0)
    rej.columns = [f"rejected_{c}" for c in rej.columns]
    out = acc.join(rej, how="outer").fillna(0)
    rcols = [c for c in out.columns if c.startswith("rejected_")]
    out["rejected"] = out[rcols].sum(axis=1)
    out["lines"] = out["accepted"] + out["rejected"]
    out["rejected_pct"] = 100 * out["rejected"] / out["lines"]
    lead = ["lines", "accepted", "rejected", "rejected_pct"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    for c in ["lines", "accepted", "rejected", "persons", *rcols]:
        out[c] = out[c].astype(int)
    return out.reset_index()


def quality_table(obs: pd.DataFrame, rejects: pd.DataFrame, *, by: tuple[str, ...] = ("vendor",), late_hours: float = 24.0,
                  ahead_minutes: float = 5.0) -> pd.DataFrame:
    """Data quality per vendor (or ``by=("vendor", "device_type")``): lines, accepted, rejected by reason, flag shares (%).

    Flags: ``tz_assumed`` (time without offset), ``unit_translated``, ``late`` (issued more
    than ``late_hours`` after the measurement), ``clock_ahead`` (measurement time more than
    ``ahead_minutes`` after arrival: the device clock runs ahead), ``value_absent``
    (dataAbsentReason). Rejected lines count under the vendor and device type their device
    reference or ``meta.source`` names ("unknown" otherwise).
    """
    return quality_finish(quality_partial(obs, by=by, late_hours=late_hours, ahead_minutes=ahead_minutes), rejects)


def adherence(obs: pd.DataFrame, *, start: str | pd.Timestamp, days: int, tz: str = "Europe/Helsinki",
              codes: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Per patient and study week: days with at least one measurement, share of the week's days.

    Weeks count from ``start`` (week 1 = days 1–7) in local time ``tz``; ``codes`` limits the
    measurements counted (default all). Patients with no measurement in a week get 0 for it,
    from their first week on.
    """
    d = obs if codes is None else obs[obs["code"].isin(codes)]
    d = pd.DataFrame({"patient": d["patient"].to_numpy(), "day": _study_day(d["time_utc"], start, tz).to_numpy()})
    d = d[(d["day"] >= 0) & (d["day"] < days)].drop_duplicates()
    d["week"] = d["day"] // 7 + 1
    counts = d.groupby(["patient", "week"]).size().rename("days_measured")
    weeks = np.arange(1, -(-days // 7) + 1)
    first = d.groupby("patient")["week"].min()
    grid = pd.MultiIndex.from_tuples([(p, w) for p, f in first.items() for w in weeks if w >= f], names=["patient", "week"])
    out = counts.reindex(grid, fill_value=0).reset_index()
    week_len = np.minimum(7, days - (out["week"] - 1) * 7)
    out["share"] = out["days_measured"] / week_len
    return out


def adherence_summary(adh: pd.DataFrame, *, good: float = 0.8) -> pd.DataFrame:
    """Per week: persons, median and quartiles of the share of days measured, % of persons at ≥ ``good``, % active."""
    g = adh.groupby("week")["share"]
    out = pd.DataFrame({
        "persons": g.size(),
        "median_pct": 100 * g.median(),
        "q1_pct": 100 * g.quantile(0.25),
        "q3_pct": 100 * g.quantile(0.75),
        "good_pct": 100 * g.apply(lambda s: (s >= good).mean()),
        "active_pct": 100 * g.apply(lambda s: (s > 0).mean()),
    })
    return out.reset_index()


def load_thresholds(path) -> pd.DataFrame:
    """Read the alert-threshold CSV (rule_id, code, kind, threshold, window_days, unit, labels, source)."""
    df = pd.read_csv(path, dtype={"code": str}, encoding="utf-8")
    kinds = {"above", "above_or_equal", "below", "below_or_equal", "gain_within"}
    bad = df.index[~df["kind"].isin(kinds)]
    if len(bad):
        raise ValueError(f"{path}: line {bad[0] + 2}, column 'kind': {df.loc[bad[0], 'kind']!r} is not one of {sorted(kinds)}")
    return df


def alerts(obs: pd.DataFrame, thresholds: pd.DataFrame, *, tz: str = "Europe/Helsinki") -> pd.DataFrame:
    """Alerts: patient, time_utc, rule_id, value. Thresholds compare values in the catalogue unit.

    At most one alert per patient, rule and local day (the first): a CGM reading every
    15 minutes below the threshold is one alert that day, not dozens.

    ``gain_within``: the value rose by more than ``threshold`` over the lowest value of the
    preceding ``window_days`` days (e.g. weight gain > 2 kg in 3 days); one alert per
    patient and day.
    """
    out = []
    values = obs[obs["value"].notna()]
    for r in thresholds.itertuples():
        d = values[values["code"] == r.code]
        if r.kind == "gain_within":
            for patient, g in d.sort_values("time_utc").groupby("patient"):
                s = g.set_index("time_utc")["value"]
                low = s.rolling(f"{int(r.window_days)}D", closed="both").min()
                hit = s[(s - low) > r.threshold]
                hit = hit[~hit.index.normalize().duplicated()]
                out.append(pd.DataFrame({"patient": patient, "time_utc": hit.index, "rule_id": r.rule_id, "value": hit.to_numpy()}))
            continue
        op = {"above": np.greater, "above_or_equal": np.greater_equal, "below": np.less, "below_or_equal": np.less_equal}[r.kind]
        hit = d[op(d["value"], r.threshold)]
        out.append(pd.DataFrame({"patient": hit["patient"], "time_utc": hit["time_utc"], "rule_id": r.rule_id, "value": hit["value"]}))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["patient", "time_utc", "rule_id", "value"])
    res = res.sort_values(["time_utc", "patient", "rule_id"], kind="stable")
    day = res["time_utc"].dt.tz_convert(tz).dt.date
    return res[~pd.DataFrame({"p": res["patient"], "r": res["rule_id"], "d": day}).duplicated()].reset_index(drop=True)


def alert_summary(al: pd.DataFrame, *, start: str | pd.Timestamp, tz: str = "Europe/Helsinki") -> pd.DataFrame:
    """Per rule and study week: alerts and persons with an alert (identifiers dropped)."""
    if al.empty:
        return pd.DataFrame(columns=["rule_id", "week", "alerts", "persons"])
    d = al.assign(week=_study_day(al["time_utc"], start, tz) // 7 + 1)
    return d.groupby(["rule_id", "week"]).agg(alerts=("patient", "size"), persons=("patient", "nunique")).reset_index()


@dataclass(frozen=True)
class TrendResult:
    """Mixed-model trend of daily mean systolic blood pressure.

    Model (statsmodels MixedLM, REML): sbp_ij = β0 + β1·week_ij + u0_i + u1_i·week_ij + ε_ij,
    with a random intercept and slope per patient. ``fixed`` holds β with 95 % intervals.
    """

    fixed: pd.DataFrame
    n_patients: int
    n_days: int
    converged: bool
    random_sd: dict[str, float]
    daily: pd.DataFrame
    #: Covariance of the intercept and slope estimates (for the band of the fitted line).
    cov_intercept_week: float = 0.0

    def to_frame(self) -> pd.DataFrame:
        return self.fixed.copy()

    def line(self, weeks: np.ndarray, z: float = 1.959963984540054) -> pd.DataFrame:
        """The fitted line at ``weeks`` with its pointwise confidence band (intercept and slope uncertainty).

        var(β0 + β1·w) = se0² + w²·se1² + 2w·cov(β0, β1).
        """
        b = self.fixed.set_index("term")
        w = np.asarray(weeks, float)
        fit = b.loc["Intercept", "coef"] + b.loc["week", "coef"] * w
        var = b.loc["Intercept", "se"] ** 2 + w**2 * b.loc["week", "se"] ** 2 + 2 * w * self.cov_intercept_week
        half = z * np.sqrt(np.maximum(var, 0.0))
        return pd.DataFrame({"week": w, "fit": fit, "low": fit - half, "high": fit + half})

    def summary(self) -> str:
        b = self.fixed.set_index("term")
        slope = b.loc["week"]
        return (f"SBP trend {slope.coef:+.2f} mmHg/week (95 % CI {slope.ci_low:+.2f} to {slope.ci_high:+.2f}); "
                f"{self.n_patients} patients, {self.n_days} patient-days; converged={self.converged}")


def bp_daily_means(obs: pd.DataFrame, *, start: str | pd.Timestamp, tz: str = "Europe/Helsinki",
                   code: str = "8480-6") -> pd.DataFrame:
    """Daily mean of ``code`` per patient and study day (patient, day, value); exact per patient partition."""
    d = obs[(obs["code"] == code) & obs["value"].notna()]
    daily = pd.DataFrame({"patient": d["patient"].to_numpy(), "day": _study_day(d["time_utc"], start, tz).to_numpy(),
                          "value": d["value"].to_numpy()})
    return daily.groupby(["patient", "day"], as_index=False)["value"].mean()


def fit_trend(daily: pd.DataFrame, *, min_days: int = 7) -> TrendResult:
    """Fit the mixed model of :class:`TrendResult` to daily means of patients with ≥ ``min_days`` days."""
    import statsmodels.formula.api as smf  # ~4-5 s to import: only when the model is fitted

    daily = daily.sort_values(["patient", "day"], kind="stable").reset_index(drop=True)
    keep = daily.groupby("patient")["day"].transform("size") >= min_days
    daily = daily[keep].copy()
    daily["week"] = daily["day"] / 7.0
    if daily["patient"].nunique() < 3:
        raise ValueError(f"too few patients with {min_days}+ days for a mixed model")
    model = smf.mixedlm("value ~ week", daily, groups=daily["patient"], re_formula="~week")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported in the result, not as a warning
        fit = model.fit(reml=True, method=["lbfgs", "powell"])
    ci = fit.conf_int().loc[["Intercept", "week"]]
    fixed = pd.DataFrame({"term": ["Intercept", "week"], "coef": fit.fe_params.loc[["Intercept", "week"]].to_numpy(),
                          "se": fit.bse_fe.loc[["Intercept", "week"]].to_numpy(), "ci_low": ci[0].to_numpy(),
                          "ci_high": ci[1].to_numpy()})
    cov = fit.cov_re
    sd = {"intercept": float(np.sqrt(cov.iloc[0, 0])), "week": float(np.sqrt(cov.iloc[1, 1])), "residual": float(np.sqrt(fit.scale))}
    cov_fe = float(fit.cov_params().loc["Intercept", "week"])
    return TrendResult(fixed, int(daily["patient"].nunique()), len(daily), bool(fit.converged), sd, daily, cov_fe)


def fit_bp_trend(obs: pd.DataFrame, *, start: str | pd.Timestamp, tz: str = "Europe/Helsinki", min_days: int = 7,
                 code: str = "8480-6") -> TrendResult:
    """Daily means (:func:`bp_daily_means`) and the mixed model (:func:`fit_trend`) in one call."""
    return fit_trend(bp_daily_means(obs, start=start, tz=tz, code=code), min_days=min_days)


def _blank(df: pd.DataFrame, small: pd.Series, persons: str, columns: list[str] | None, kind: pd.Series | None = None) -> pd.DataFrame:
    out = df.copy()
    cols = columns if columns is not None else [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and c != "week"]
    cols = list(dict.fromkeys([*cols, persons]))
    for c in cols:
        out[c] = out[c].astype(float)
    out.loc[small, cols] = np.nan
    out["suppressed"] = small
    if kind is not None:
        out["suppression"] = kind
    return out


def suppress_small(df: pd.DataFrame, persons: str, *, k: int = 5, columns: list[str] | None = None) -> pd.DataFrame:
    """Blank (NaN) ``columns`` (default: every numeric column) in rows where ``persons`` < ``k``.

    The ``persons`` column itself is blanked too and a ``suppressed`` column says which rows
    were. Use for every published table of counts about people that no published total
    covers; where one does, use :func:`suppress_hierarchy`.
    """
    if k < 5:
        raise ValueError(f"k must be at least 5 (cells of fewer persons could identify them), got {k}")
    return _blank(df, df[persons] < k, persons, columns)


def suppress_hierarchy(parent: pd.DataFrame, child: pd.DataFrame, *, key: str = "vendor", persons: str = "persons", k: int = 5,
                       total_published: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Suppress a table and its breakdown together so that no blanked cell can be derived by differencing.

    ``parent`` has one row per ``key`` (e.g. vendor); ``child`` breaks each down (vendor × device
    type), and its rows sum to the parent's in every additive column. With ``total_published``
    the parent rows also sum to totals stated elsewhere (the ingest's lines, accepted, rejected
    by reason). Rows of fewer than ``k`` persons are blanked (``suppression`` = ``primary``), then
    the fewest-persons rows that stop the differencing attack (``complementary``), by
    :func:`kuntalib.disclosure.complementary_suppression`.
    """
    if k < 5:
        raise ValueError(f"k must be at least 5 (cells of fewer persons could identify them), got {k}")
    pcell = {i: f"p:{v}" for i, v in parent[key].items()}
    ccell = {i: f"c:{i}" for i in child.index}
    people = {pcell[i]: float(parent.loc[i, persons]) for i in parent.index} | {ccell[i]: float(child.loc[i, persons]) for i in child.index}
    relations = [Relation(pcell[i], tuple(ccell[j] for j in child.index[child[key] == parent.loc[i, key]])) for i in parent.index]
    if total_published:
        relations.append(Relation("total", tuple(pcell.values())))
    primary = {c for c, n in people.items() if n < k}
    blanked = complementary_suppression(relations, people, primary, fixed={"total"})

    def kinds(cells: dict) -> pd.Series:
        return pd.Series({i: "primary" if c in primary else "complementary" if c in blanked else "" for i, c in cells.items()})

    pk, ck = kinds(pcell), kinds(ccell)
    return (_blank(parent, pk != "", persons, None, pk.reindex(parent.index)),
            _blank(child, ck != "", persons, None, ck.reindex(child.index)))


def publishable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a suppressed table that may be drawn (not suppressed)."""
    if "suppressed" not in table.columns:
        return table
    return table[~table["suppressed"].astype(bool)]


def fault_outcomes(measurements: pd.DataFrame, rejects: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """What the ingest did with each fault the simulator injected: resources sent, accepted, rejected by reason.

    Parameters
    ----------
    measurements
        The simulator's truth, one row per resource sent (``obs_no``, ``fault``; no fault is ``""``).
    rejects
        The ingest's rejected lines (``source``, ``line``, ``reason``).
    source
        The Observation NDJSON as the ingest names it. Its line ``n`` is the simulator's resource
        ``obs_no == n - 1`` (the writer keeps that order); a resource whose line was not rejected was
        accepted, since the ingest accounts for every line. A line rejected for two reasons counts
        under its first.

    Returns
    -------
    DataFrame
        One row per fault, most resources first (as the simulator's own fault table): ``fault``,
        ``resources``, ``accepted``, then ``rejected_<reason>`` per rejection reason, most lines first.
    """
    from kuntalib.fhir.simulate import FAULTS

    rej = rejects.loc[rejects["source"] == source].drop_duplicates("line")
    fault = measurements.set_index("obs_no")["fault"].replace("", "none")
    outside = rej.loc[~(rej["line"] - 1).isin(fault.index), "line"]
    if len(outside):
        raise ValueError(f"{source}: line {int(outside.iloc[0])} is not a resource the simulator sent ({len(fault)} lines)")
    outcome = pd.Series("accepted", index=fault.index)
    outcome.loc[rej["line"].to_numpy() - 1] = rej["reason"].to_numpy()
    table = pd.crosstab(fault, outcome)
    reasons = [c for c in table.sum().sort_values(ascending=False, kind="stable").index if c != "accepted"]
    order = [f for f in ("none", *FAULTS) if f in table.index] + sorted(set(table.index) - {"none", *FAULTS})
    table = table.reindex(index=order, columns=["accepted", *reasons], fill_value=0)
    table.insert(0, "resources", table.sum(axis=1))
    table = table.sort_values("resources", ascending=False, kind="stable")
    table.columns = [c if c in ("resources", "accepted") else f"rejected_{c}" for c in table.columns]
    return table.rename_axis(index="fault", columns=None).reset_index()
