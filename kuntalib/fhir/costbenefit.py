"""Cost-benefit of remote home measurement: avoided hospital days against the cost of the service.

The cited scenario (Smart Tampere, in ``data/raw/kotidigi/cost_benefit_projection.csv``):
4 000 home-care clients a year, 3 hospital days avoided for each, "almost 5 M EUR"
saved a year. The cost of a hospital day is not published; the projection implies
5 000 000 / (4 000 × 3) ≈ 417 EUR, which the model uses and labels as implied. The
cost of the service per client (devices, platform, staff time) is not published
either: it defaults to 0 and is shown as "not published" until a user sets it.

    net benefit = clients × days_avoided × cost_per_day − clients × cost_per_client

Sensitivity: one-way (tornado) over ranges that are kuntalib's assumptions, stated
with the result (default ±50 % around the cited value; the service cost over a range
the user gives), and a two-way grid of clients × days avoided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CostBenefitSettings", "load_projection", "net_benefit", "tornado", "grid", "DEFAULT_RANGES"]

#: One-way sensitivity ranges as multiples of the base value (kuntalib's assumption, not published).
DEFAULT_RANGES = {"clients": (0.5, 1.5), "days_avoided": (0.5, 1.5), "cost_per_day": (0.5, 1.5)}


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
    """Net benefit in EUR a year (see module docstring)."""
    return s.clients * s.days_avoided * s.cost_per_day - s.clients * s.cost_per_client


def tornado(s: CostBenefitSettings, ranges: dict[str, tuple[float, float]] | None = None,
            absolute: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """One-way sensitivity: net benefit at the low and high end of each input's range.

    ``ranges`` are multiples of the base value (default :data:`DEFAULT_RANGES`); ``absolute``
    gives ranges in the input's own unit (e.g. ``{"cost_per_client": (0, 300)}``). Rows are
    sorted by swing, largest first.
    """
    base = net_benefit(s)
    rows = []
    spans = {k: (getattr(s, k) * lo, getattr(s, k) * hi) for k, (lo, hi) in (ranges or DEFAULT_RANGES).items()}
    spans.update(absolute or {})
    for name, (lo, hi) in spans.items():
        low, high = net_benefit(replace(s, **{name: lo})), net_benefit(replace(s, **{name: hi}))
        rows.append({"input": name, "source": s.source(name), "base_value": getattr(s, name), "low_value": lo, "high_value": hi,
                     "net_low": low, "net_high": high, "swing": abs(high - low), "base_net": base})
    return pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def grid(s: CostBenefitSettings, clients: np.ndarray, days: np.ndarray) -> pd.DataFrame:
    """Net benefit for every (clients, days avoided) pair: rows days, columns clients."""
    c, d = np.meshgrid(np.asarray(clients, float), np.asarray(days, float))
    values = c * d * s.cost_per_day - c * s.cost_per_client
    return pd.DataFrame(values, index=pd.Index(days, name="days_avoided"), columns=pd.Index(clients, name="clients"))
