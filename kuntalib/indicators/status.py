"""Status rules for strategy indicators: on target, on trajectory, forecast.

Each rule gives ``green``, ``yellow``, ``red`` or ``unknown`` (missing data), with
the reason in words:

- **target** — the latest observation against the target itself. Green when it
  meets the target; yellow when it misses by at most ``tolerance`` (relative);
  red otherwise. A target relative to a reference series (e.g. tax at most
  1 pp above the national average) needs both on the same year, else unknown.
- **trajectory** — against the straight path from baseline to target at the
  latest observation's date, with the same tolerance. Needs a baseline.
- **forecast** — an OLS linear trend (statsmodels) on the observations in the
  last ``window_years``; the 1 − ``alpha`` prediction interval at the target
  date and the probability that the target is met there (Student t). Green when
  that probability ≥ ``green_probability``, yellow when ≥
  ``yellow_probability``, red below. Needs ``min_points`` observations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kuntalib.indicators.model import Indicator, IndicatorFile

__all__ = ["StatusRules", "Status", "FollowUp", "meets", "evaluate", "forecast", "RULES", "STATUSES"]

RULES = ("target", "trajectory", "forecast")
STATUSES = ("green", "yellow", "red", "unknown")


@dataclass(frozen=True)
class StatusRules:
    """Settings of the status rules (validated, immutable)."""

    tolerance: float = 0.02
    min_points: int = 5
    window_years: float = 15.0
    alpha: float = 0.2
    green_probability: float = 0.8
    yellow_probability: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3 (a trend and its error need them)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.yellow_probability <= self.green_probability <= 1:
            raise ValueError("need 0 ≤ yellow_probability ≤ green_probability ≤ 1")


@dataclass(frozen=True)
class Status:
    """One rule's verdict on one indicator."""

    indicator: str
    rule: str
    status: str
    reason: str
    value: float | None = None
    goal: float | None = None
    probability: float | None = None


def _years(dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    return (d.year + (d.day_of_year - 1) / 365.25).to_numpy(float)


def meets(value: float, goal: float, kind: str) -> bool:
    """Whether ``value`` satisfies ``goal`` under the target ``kind``."""
    return {
        "at_least": value >= goal,
        "above": value > goal,
        "at_most": value <= goal,
        "below": value < goal,
        "at_most_above_reference": value <= goal,
    }[kind]


def _kind_sense(kind: str) -> str:
    return "lower" if kind in ("at_most", "below", "at_most_above_reference") else "higher"


def _grade(value: float, goal: float, kind: str, tol: float) -> str:
    if meets(value, goal, kind):
        return "green"
    miss = (goal - value) if _kind_sense(kind) == "higher" else (value - goal)
    return "yellow" if miss <= tol * abs(goal) else "red"


def _goal_at(ind: Indicator, when: pd.Timestamp) -> tuple[float | None, str]:
    """The target value that applies at ``when`` (resolving a reference series)."""
    t = ind.target
    if t["kind"] != "at_most_above_reference":
        return float(t["value"]), ""
    ref = ind.reference
    same = ref[ref.date.dt.year == when.year] if ref is not None else ref
    if same is None or same.empty:
        return None, f"no reference value for {when.year}"
    return float(same.value.iloc[-1]) + float(t["value"]), ""


def rule_target(ind: Indicator, rules: StatusRules) -> Status:
    last = ind.latest()
    if last is None:
        return Status(ind.id, "target", "unknown", "no observations")
    goal, why = _goal_at(ind, last.date)
    if goal is None:
        return Status(ind.id, "target", "unknown", why, value=last.value)
    st = _grade(last.value, goal, ind.target["kind"], rules.tolerance)
    return Status(ind.id, "target", st, f"{last.date.date()}: {last.value:g} vs target {goal:g}", last.value, goal)


def rule_trajectory(ind: Indicator, rules: StatusRules) -> Status:
    last, base = ind.latest(), ind.baseline
    if base is None:
        return Status(ind.id, "trajectory", "unknown", "no baseline")
    if last is None or last.date <= base["date"]:
        return Status(ind.id, "trajectory", "unknown", "no observation after the baseline")
    goal, why = _goal_at(ind, ind.target_date)
    if goal is None:
        return Status(ind.id, "trajectory", "unknown", why)
    frac = (last.date - base["date"]) / (ind.target_date - base["date"])
    expected = base["value"] + min(1.0, frac) * (goal - base["value"])
    kind = "at_least" if _kind_sense(ind.target["kind"]) == "higher" else "at_most"
    st = _grade(last.value, expected, kind, rules.tolerance)
    return Status(ind.id, "trajectory", st, f"{last.date.date()}: {last.value:g} vs path {expected:.0f}", last.value, expected)


@dataclass(frozen=True)
class Forecast:
    """Trend forecast: fitted points, prediction band, probability at the target date."""

    indicator: str
    band: pd.DataFrame  # date, mean, lower, upper
    at_target: float
    probability: float
    n: int


def forecast(ind: Indicator, rules: StatusRules, goal: float | None = None) -> Forecast | None:
    """OLS linear trend with prediction intervals to the target date (None if too few points)."""
    import statsmodels.api as sm

    obs = ind.observations
    if obs.empty:
        return None
    obs = obs[obs.date >= obs.date.iloc[-1] - pd.DateOffset(days=int(rules.window_years * 365.25))]
    if len(obs) < rules.min_points:
        return None
    x = _years(obs.date)
    fit = sm.OLS(obs.value.to_numpy(float), sm.add_constant(x)).fit()
    dates = pd.date_range(obs.date.iloc[-1], ind.target_date, periods=12)
    pred = fit.get_prediction(sm.add_constant(_years(dates), has_constant="add")).summary_frame(alpha=rules.alpha)
    band = pd.DataFrame({"date": dates, "mean": pred["mean"].to_numpy(), "lower": pred["obs_ci_lower"].to_numpy(),
                         "upper": pred["obs_ci_upper"].to_numpy()})
    last = fit.get_prediction(sm.add_constant(_years(pd.DatetimeIndex([ind.target_date])), has_constant="add"))
    mean = float(last.predicted_mean[0])
    se = float(np.sqrt(last.var_pred_mean[0] + fit.scale))
    prob = float("nan")
    if goal is not None:
        t = (mean - goal) / se
        from scipy import stats  # imported here: scipy.stats costs seconds at notebook start

        p_higher = float(stats.t.cdf(t, df=fit.df_resid))
        prob = p_higher if _kind_sense(ind.target["kind"]) == "higher" else 1 - p_higher
    return Forecast(ind.id, band, mean, prob, len(obs))


def rule_forecast(ind: Indicator, rules: StatusRules) -> tuple[Status, Forecast | None]:
    goal, why = _goal_at(ind, ind.target_date)
    fc = forecast(ind, rules, goal)
    if fc is None:
        return Status(ind.id, "forecast", "unknown", f"fewer than {rules.min_points} observations in {rules.window_years:g} years"), None
    if goal is None:
        return Status(ind.id, "forecast", "unknown", why), fc
    p = fc.probability
    st = "green" if p >= rules.green_probability else "yellow" if p >= rules.yellow_probability else "red"
    return Status(ind.id, "forecast", st, f"{ind.target_date.date()}: forecast {fc.at_target:.0f}, P(target met) {p:.0%}",
                  fc.at_target, goal, p), fc


@dataclass(frozen=True)
class FollowUp:
    """Statuses of every indicator under every rule, and the forecasts made."""

    file: IndicatorFile
    rules: StatusRules
    statuses: tuple[Status, ...]
    forecasts: dict[str, Forecast] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per (indicator, rule)."""
        return pd.DataFrame([vars(s) for s in self.statuses])

    def table(self) -> pd.DataFrame:
        """Indicators × rules, the status in each cell."""
        return self.to_frame().pivot(index="indicator", columns="rule", values="status").reindex(
            index=[i.id for i in self.file.indicators], columns=list(RULES))

    def summary(self) -> str:
        return self.table().to_string()

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """Language-neutral tables: ``status`` (one row per indicator and rule), ``forecasts``
        (indicator, at_target, probability, n) and ``forecast_bands`` (indicator, date, mean, lower, upper)."""
        fcs = list(self.forecasts.values())
        forecasts = pd.DataFrame([{"indicator": f.indicator, "at_target": f.at_target, "probability": f.probability, "n": f.n}
                                  for f in fcs], columns=["indicator", "at_target", "probability", "n"])
        bands = [f.band.assign(indicator=f.indicator) for f in fcs]
        cols = ["indicator", "date", "mean", "lower", "upper"]
        band = pd.concat(bands, ignore_index=True)[cols] if bands else pd.DataFrame(columns=cols)
        return {"status": self.to_frame(), "forecasts": forecasts, "forecast_bands": band}

    @classmethod
    def from_tables(cls, file: IndicatorFile, rules: StatusRules, tables: Mapping[str, pd.DataFrame]) -> FollowUp:
        """Rebuild a result from :meth:`to_tables` (as a render step reads it back)."""

        def opt(v: Any) -> float | None:
            return None if v is None or pd.isna(v) else float(v)

        statuses = tuple(Status(str(r.indicator), str(r.rule), str(r.status), str(r.reason), opt(r.value), opt(r.goal),
                                opt(r.probability)) for r in tables["status"].itertuples())
        bands = tables["forecast_bands"]
        fcs = {}
        for r in tables["forecasts"].itertuples():
            band = bands[bands["indicator"] == r.indicator].drop(columns="indicator").reset_index(drop=True)
            fcs[str(r.indicator)] = Forecast(str(r.indicator), band, float(r.at_target), float(r.probability), int(r.n))
        return cls(file, rules, statuses, fcs)


def evaluate(file: IndicatorFile, rules: StatusRules | None = None) -> FollowUp:
    """Apply every rule to every indicator."""
    rules = rules or StatusRules()
    out: list[Status] = []
    fcs: dict[str, Forecast] = {}
    for ind in file.indicators:
        out.append(rule_target(ind, rules))
        out.append(rule_trajectory(ind, rules))
        st, fc = rule_forecast(ind, rules)
        out.append(st)
        if fc is not None:
            fcs[ind.id] = fc
    return FollowUp(file, rules, tuple(out), fcs)
