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
  ``yellow_probability``, red below. Needs ``min_points`` observations in the
  window; with fewer the light is ``not_estimable``, never a number.

Evaluation rounds: :func:`evaluate` with ``as_of`` (the evaluation date) sees only
values published by then (:meth:`~kuntalib.indicators.model.Indicator.known_at`).
The round's *status date* is the latest reference date among those values; an
indicator's actual in the round is its latest value no older than
``actual_within_days`` before the status date, else there is none ("–") and the
target and trajectory lights are ``unknown``. Older values are history: they feed
the forecast, never the round's actual.

These are kuntalib's rules, not the municipality's own method: figures say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from kuntalib.indicators.model import Indicator, IndicatorFile

__all__ = ["StatusRules", "Status", "FollowUp", "meets", "evaluate", "forecast", "backtest", "round_actuals", "parse_as_of",
           "RULES", "STATUSES"]

RULES = ("target", "trajectory", "forecast")
STATUSES = ("green", "yellow", "red", "unknown", "not_estimable")


@dataclass(frozen=True)
class StatusRules:
    """Settings of the status rules (validated, immutable)."""

    tolerance: float = 0.02
    min_points: int = 5
    window_years: float = 15.0
    alpha: float = 0.2
    green_probability: float = 0.8
    yellow_probability: float = 0.5
    actual_within_days: int = 366

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")
        if self.min_points < 3:
            raise ValueError("min_points must be at least 3 (a trend and its error need them)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.yellow_probability <= self.green_probability <= 1:
            raise ValueError("need 0 ≤ yellow_probability ≤ green_probability ≤ 1")
        if not 0 < self.window_years <= 100:
            raise ValueError(f"window_years must be in (0, 100], got {self.window_years}")
        if self.actual_within_days < 1:
            raise ValueError(f"actual_within_days must be at least 1, got {self.actual_within_days}")


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


def rule_target(ind: Indicator, rules: StatusRules, last: pd.Series | None = None) -> Status:
    """The actual (default: the latest observation) against the target."""
    last = ind.latest() if last is None else last
    if last is None:
        return Status(ind.id, "target", "unknown", "no value in this round")
    goal, why = _goal_at(ind, last.date)
    if goal is None:
        return Status(ind.id, "target", "unknown", why, value=last.value)
    st = _grade(last.value, goal, ind.target["kind"], rules.tolerance)
    return Status(ind.id, "target", st, f"{last.date.date()}: {last.value:g} vs target {goal:g}", last.value, goal)


def rule_trajectory(ind: Indicator, rules: StatusRules, last: pd.Series | None = None) -> Status:
    """The actual (default: the latest observation) against the straight path from baseline to target."""
    last, base = (ind.latest() if last is None else last), ind.baseline
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


def _window(obs: pd.DataFrame, rules: StatusRules) -> pd.DataFrame:
    """The observations a trend is fitted to: the last ``window_years`` up to the latest one."""
    if obs.empty:
        return obs
    return obs[obs.date >= obs.date.iloc[-1] - pd.DateOffset(months=round(12 * rules.window_years))]


def _fit(obs: pd.DataFrame):
    import statsmodels.api as sm  # ~4 s to import: only when a trend is fitted, not when a stored step is read

    return sm.OLS(obs.value.to_numpy(float), sm.add_constant(_years(obs.date))).fit()


def _predict(fit, dates: pd.DatetimeIndex, alpha: float) -> pd.DataFrame:
    import statsmodels.api as sm  # ~4 s to import: only when a trend is fitted, not when a stored step is read

    pred = fit.get_prediction(sm.add_constant(_years(dates), has_constant="add")).summary_frame(alpha=alpha)
    return pd.DataFrame({"date": dates, "mean": pred["mean"].to_numpy(), "lower": pred["obs_ci_lower"].to_numpy(),
                         "upper": pred["obs_ci_upper"].to_numpy()})


def forecast(ind: Indicator, rules: StatusRules, goal: float | None = None) -> Forecast | None:
    """OLS linear trend on the last ``window_years`` with prediction intervals to the target date.

    None when the window holds fewer than ``min_points`` observations.
    """
    obs = _window(ind.observations, rules)
    if len(obs) < rules.min_points:
        return None
    fit = _fit(obs)
    band = _predict(fit, pd.date_range(obs.date.iloc[-1], ind.target_date, periods=12), rules.alpha)
    last = _predict(fit, pd.DatetimeIndex([ind.target_date]), rules.alpha)
    mean = float(last["mean"].iloc[0])
    x = _years(pd.DatetimeIndex([ind.target_date]))
    import statsmodels.api as sm  # ~4 s to import: only when a trend is fitted, not when a stored step is read

    var_mean = float(fit.get_prediction(sm.add_constant(x, has_constant="add")).var_pred_mean[0])
    se = float(np.sqrt(var_mean + fit.scale))
    prob = float("nan")
    if goal is not None:
        t = (mean - goal) / se
        from scipy import stats  # imported here: scipy.stats costs seconds at notebook start

        p_higher = float(stats.t.cdf(t, df=fit.df_resid))
        prob = p_higher if _kind_sense(ind.target["kind"]) == "higher" else 1 - p_higher
    return Forecast(ind.id, band, mean, prob, len(obs))


def backtest(ind: Indicator, rules: StatusRules, *, horizon_years: float = 3.0) -> pd.DataFrame:
    """Rolling-origin backtest of the forecast rule on an indicator's own history.

    For every observation as origin whose window holds ``min_points`` observations, the
    trend is fitted on the window up to the origin and each later observation at most
    ``horizon_years`` ahead is predicted. Returns one row per prediction: origin, date,
    horizon (years), observed, mean, lower, upper, inside (the observed value lies in the
    1 − ``alpha`` prediction interval). The share of ``inside`` is the interval's coverage.
    """
    obs = ind.observations.reset_index(drop=True)
    rows = []
    for i in range(len(obs)):
        window = _window(obs.iloc[: i + 1], rules)
        if len(window) < rules.min_points:
            continue
        origin = obs.date.iloc[i]
        ahead = obs[(obs.date > origin) & (obs.date <= origin + pd.DateOffset(months=round(12 * horizon_years)))]
        if ahead.empty:
            continue
        pred = _predict(_fit(window), pd.DatetimeIndex(ahead.date), rules.alpha)
        for (_, o), (_, p) in zip(ahead.iterrows(), pred.iterrows(), strict=True):
            rows.append({"indicator": ind.id, "origin": origin, "date": o.date,
                         "horizon": round((o.date - origin).days / 365.25, 2), "observed": o.value,
                         "mean": p["mean"], "lower": p["lower"], "upper": p["upper"],
                         "inside": bool(p["lower"] <= o.value <= p["upper"])})
    cols = ["indicator", "origin", "date", "horizon", "observed", "mean", "lower", "upper", "inside"]
    return pd.DataFrame(rows, columns=cols)


def rule_forecast(ind: Indicator, rules: StatusRules) -> tuple[Status, Forecast | None]:
    goal, why = _goal_at(ind, ind.target_date)
    fc = forecast(ind, rules, goal)
    if fc is None:
        n = len(_window(ind.observations, rules))
        return Status(ind.id, "forecast", "not_estimable",
                      f"{n} observation(s) in {rules.window_years:g} years; a trend needs {rules.min_points}"), None
    if goal is None:
        return Status(ind.id, "forecast", "unknown", why), fc
    p = fc.probability
    st = "green" if p >= rules.green_probability else "yellow" if p >= rules.yellow_probability else "red"
    return Status(ind.id, "forecast", st, f"{ind.target_date.date()}: forecast {fc.at_target:.0f}, P(target met) {p:.0%}",
                  fc.at_target, goal, p), fc


def round_actuals(file: IndicatorFile, rules: StatusRules) -> tuple[pd.Timestamp | None, dict[str, pd.Series | None]]:
    """The round's status date and each indicator's actual (see the module docstring)."""
    latest = [ind.latest().date for ind in file.indicators if ind.latest() is not None]
    status_date = max(latest) if latest else None
    actuals: dict[str, pd.Series | None] = {}
    for ind in file.indicators:
        last = ind.latest()
        recent = last is not None and last.date > status_date - pd.Timedelta(days=rules.actual_within_days)
        actuals[ind.id] = last if recent else None
    return status_date, actuals


@dataclass(frozen=True)
class FollowUp:
    """Statuses of every indicator under every rule, and the forecasts made, in one evaluation round.

    ``file`` is the indicator file as known on ``as_of`` (None: everything in the file);
    ``status_date`` is the round's reference date and ``actuals`` each indicator's value in
    the round (None where there is none).
    """

    file: IndicatorFile
    rules: StatusRules
    statuses: tuple[Status, ...]
    forecasts: dict[str, Forecast] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    status_date: pd.Timestamp | None = None
    actuals: dict[str, pd.Series | None] = field(default_factory=dict)

    def status(self, indicator: str, rule: str) -> Status:
        """The verdict of ``rule`` on ``indicator``."""
        return next(s for s in self.statuses if s.indicator == indicator and s.rule == rule)

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
        rnd = pd.DataFrame({"as_of": [self.as_of], "status_date": [self.status_date]})
        return {"status": self.to_frame(), "forecasts": forecasts, "forecast_bands": band, "round": rnd}

    @classmethod
    def from_tables(cls, file: IndicatorFile, rules: StatusRules, tables: Mapping[str, pd.DataFrame]) -> FollowUp:
        """Rebuild a result from :meth:`to_tables` (as a render step reads it back); ``file`` is the whole file."""
        as_of = None
        if "round" in tables and len(tables["round"]) and pd.notna(tables["round"]["as_of"].iloc[0]):
            as_of = pd.Timestamp(tables["round"]["as_of"].iloc[0])
        if as_of is not None:
            file = replace(file, indicators=[ind.known_at(as_of) for ind in file.indicators])
        status_date, actuals = round_actuals(file, rules)

        def opt(v: Any) -> float | None:
            return None if v is None or pd.isna(v) else float(v)

        statuses = tuple(Status(str(r.indicator), str(r.rule), str(r.status), str(r.reason), opt(r.value), opt(r.goal),
                                opt(r.probability)) for r in tables["status"].itertuples())
        bands = tables["forecast_bands"]
        fcs = {}
        for r in tables["forecasts"].itertuples():
            band = bands[bands["indicator"] == r.indicator].drop(columns="indicator").reset_index(drop=True)
            fcs[str(r.indicator)] = Forecast(str(r.indicator), band, float(r.at_target), float(r.probability), int(r.n))
        return cls(file, rules, statuses, fcs, as_of, status_date, actuals)


def parse_as_of(value: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """An evaluation date given as a literal ``YYYY-MM-DD`` (never "now" or "today": a build must not
    depend on when it runs). ``ValueError`` otherwise."""
    if isinstance(value, pd.Timestamp | dt.date):
        return pd.Timestamp(value)
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value).strip()))
    except ValueError as exc:
        raise ValueError(f"evaluation date must be a literal date YYYY-MM-DD, got {value!r}") from exc


def evaluate(file: IndicatorFile, rules: StatusRules | None = None, *, as_of: str | pd.Timestamp | None = None) -> FollowUp:
    """Apply every rule to every indicator, in the round evaluated on ``as_of`` (None: all values)."""
    rules = rules or StatusRules()
    when = None if as_of is None else parse_as_of(as_of)
    if when is not None:
        file = replace(file, indicators=[ind.known_at(when) for ind in file.indicators])
    status_date, actuals = round_actuals(file, rules)
    out: list[Status] = []
    fcs: dict[str, Forecast] = {}
    for ind in file.indicators:
        actual = actuals[ind.id]
        if actual is None and ind.latest() is not None:
            why = f"no value within {rules.actual_within_days} days of the round's date {status_date.date()}"
            out.append(Status(ind.id, "target", "unknown", why))
            out.append(Status(ind.id, "trajectory", "unknown", why))
        else:
            out.append(rule_target(ind, rules, actual))
            out.append(rule_trajectory(ind, rules, actual))
        st, fc = rule_forecast(ind, rules)
        out.append(st)
        if fc is not None:
            fcs[ind.id] = fc
    return FollowUp(file, rules, tuple(out), fcs, when, status_date, actuals)
