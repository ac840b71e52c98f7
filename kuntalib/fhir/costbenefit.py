"""Cost-benefit of remote home measurement: avoided hospital days against the cost of the service.

The cited scenario (Smart Tampere, in ``data/raw/kotidigi/cost_benefit_projection.csv``):
4 000 home-care clients a year, 3 hospital days avoided for each, "almost 5 M EUR"
saved a year. The cost of a hospital day is not published; the projection implies
5 000 000 / (4 000 × 3) ≈ 417 EUR, which the model uses and labels as implied. The
cost of the service per client (devices, platform, staff time) is not published
either, so it is never taken as 0: results that depend on it are ranges over the
service-cost range the user gives.

    result = clients × days_avoided × cost_per_day − clients × cost_per_client

Sensitivity: one-way (tornado) over ranges that are kuntalib's assumptions, stated
with the result (:data:`DEFAULT_RANGES`), each evaluated over the whole unknown
service-cost range; and a two-way grid of clients × days avoided of the savings
before the service cost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CostBenefitSettings", "load_projection", "net_benefit", "tornado", "grid", "DEFAULT_RANGES"]

#: One-way sensitivity ranges as multiples of the base value: kuntalib's assumptions, not published. The
#: projection's client count and days avoided are its targets, so they are the upper ends (half the clients if
#: the roll-out reaches fewer; one avoided day of the three); the implied cost of a hospital day ranges from
#: three quarters to one and a half times the implied 417 EUR.
DEFAULT_RANGES = {"clients": (0.5, 1.0), "days_avoided": (1 / 3, 1.0), "cost_per_day": (0.75, 1.5)}


@dataclass(frozen=True)
class CostBenefitSettings:
    """Model inputs, with where each came from (``sources``: name -> 'cited', 'implied', 'not published', 'user')."""

    clients: float
    days_avoided: float
    cost_per_day: float
    cost_per_client: float = 0.0
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("clients", "days_avoided", "cost_per_day", "cost_per_client"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def source(self, name: str) -> str:
        return dict(self.sources).get(name, "user")


def load_projection(path: str | Path, *, cost_per_client: float | None = None) -> CostBenefitSettings:
    """Settings from the projection CSV: clients and days cited, cost per day implied by the savings."""
    df = pd.read_csv(path, encoding="utf-8").set_index("parameter")
    need = ["clients_per_year", "hospital_days_avoided_per_client", "annual_savings_eur"]
    missing = [n for n in need if n not in df.index]
    if missing:
        raise ValueError(f"{path}: missing parameter row {missing[0]!r}")
    clients = float(df.loc["clients_per_year", "value"])
    days = float(df.loc["hospital_days_avoided_per_client", "value"])
    savings = float(df.loc["annual_savings_eur", "value"])
    return CostBenefitSettings(
        clients=clients, days_avoided=days, cost_per_day=savings / (clients * days),
        cost_per_client=0.0 if cost_per_client is None else cost_per_client,
        sources=(("clients", "cited"), ("days_avoided", "cited"), ("cost_per_day", "implied"),
                 ("cost_per_client", "not published" if cost_per_client is None else "user")),
    )


def net_benefit(s: CostBenefitSettings) -> float:
    """The yearly result in EUR: savings minus the service cost (see module docstring)."""
    return s.clients * s.days_avoided * s.cost_per_day - s.clients * s.cost_per_client


def tornado(s: CostBenefitSettings, ranges: dict[str, tuple[float, float]] | None = None,
            absolute: dict[str, tuple[float, float]] | None = None,
            service_cost: tuple[float, float] | None = None) -> pd.DataFrame:
    """One-way sensitivity of the yearly result, with the unknown service cost as a range.

    Parameters
    ----------
    s
        The base settings.
    ranges
        Ranges as multiples of the base value (default :data:`DEFAULT_RANGES`).
    absolute
        Ranges in the input's own unit (e.g. ``{"clients": (1000, 4000)}``).
    service_cost
        The range of the unpublished service cost per client (EUR). Every result is
        evaluated at both ends; without it the settings' ``cost_per_client`` is used.

    Returns
    -------
    pandas.DataFrame
        One row per input, largest swing first: ``input``, ``source``, ``base_value``,
        ``low_value``, ``high_value``; ``net_low`` and ``net_high`` (the input at its low or high
        end, service cost at its midpoint); ``net_low_min``/``net_low_max`` and
        ``net_high_min``/``net_high_max`` over the service-cost range; ``swing``; and the base
        case ``base_min``–``base_max`` over the service-cost range. The service cost's own row
        has its ends as ``low_value``/``high_value``.
    """
    cost = tuple(service_cost) if service_cost is not None else (s.cost_per_client, s.cost_per_client)
    if cost[0] > cost[1] or cost[0] < 0:
        raise ValueError(f"service_cost must be a range low <= high of non-negative euros, got {cost}")
    mid = (cost[0] + cost[1]) / 2
    at = {c: net_benefit(replace(s, cost_per_client=c)) for c in cost}
    base_min, base_max = min(at.values()), max(at.values())
    rows = []
    spans = {k: (getattr(s, k) * lo, getattr(s, k) * hi) for k, (lo, hi) in (ranges or DEFAULT_RANGES).items()}
    spans.update(absolute or {})
    spans.pop("cost_per_client", None)
    for name, (lo, hi) in spans.items():
        ends = {}
        for tag, v in (("low", lo), ("high", hi)):
            nets = [net_benefit(replace(s, **{name: v, "cost_per_client": c})) for c in cost]
            ends[tag] = (net_benefit(replace(s, **{name: v, "cost_per_client": mid})), min(nets), max(nets))
        rows.append({"input": name, "source": s.source(name), "base_value": getattr(s, name), "low_value": lo,
                     "high_value": hi, "net_low": ends["low"][0], "net_high": ends["high"][0],
                     "net_low_min": ends["low"][1], "net_low_max": ends["low"][2],
                     "net_high_min": ends["high"][1], "net_high_max": ends["high"][2],
                     "swing": abs(ends["high"][0] - ends["low"][0]), "base_min": base_min, "base_max": base_max})
    if service_cost is not None:
        rows.append({"input": "cost_per_client", "source": s.source("cost_per_client"), "base_value": mid,
                     "low_value": cost[0], "high_value": cost[1], "net_low": at[cost[0]], "net_high": at[cost[1]],
                     "net_low_min": at[cost[0]], "net_low_max": at[cost[0]], "net_high_min": at[cost[1]],
                     "net_high_max": at[cost[1]], "swing": abs(at[cost[1]] - at[cost[0]]),
                     "base_min": base_min, "base_max": base_max})
    return pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def grid(s: CostBenefitSettings, clients: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """Savings before the service cost for every (clients, days avoided) pair: rows days, columns clients.

    The service cost is left out (it is not published), so the grid is gross savings, EUR a year.
    """
    c, d = np.meshgrid(np.asarray(clients, float), np.asarray(days, float))
    values = c * d * s.cost_per_day
    return pd.DataFrame(values, index=pd.Index(days, name="days_avoided"), columns=pd.Index(clients, name="clients"))
