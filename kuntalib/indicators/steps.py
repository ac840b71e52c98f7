"""The step of the strategy follow-up notebook (04): the evaluation rounds and the forecast backtest.

:func:`rounds` is one language-neutral step that the build runs once and stores
(``run_step(NOTEBOOK, steps.rounds, indicator_file=path, rounds=["2022-09-14"], ...)``); it reads the
indicator file itself and returns a dict of tables (DataFrames) and JSON values.
:func:`rounds_result` rebuilds each round's :class:`~kuntalib.indicators.status.FollowUp` for rendering.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from kuntalib.indicators.load import load_indicator_file
from kuntalib.indicators.model import IndicatorFile
from kuntalib.indicators.status import FollowUp, StatusRules, backtest, evaluate
from kuntalib.upstream import Upstream

__all__ = ["rounds", "rounds_result", "WINDOWS"]

#: Fit windows (years) whose forecast coverage the backtest compares.
WINDOWS = (5.0, 10.0, 15.0, 20.0, 25.0)


def rounds(indicator_file: Path, *, rounds: list[str], evaluated_on: str, tolerance: float = 0.02, window_years: float = 20.0,
           min_points: int = 5, prediction_level: float = 0.8, backtest_years: float = 3.0) -> dict[str, Any]:
    """Every evaluation round of the file under the status rules, and the rolling-origin backtest of the forecast.

    Parameters
    ----------
    indicator_file
        The indicator file (:func:`~kuntalib.indicators.load.load_indicator_file`).
    rounds
        Evaluation dates ``YYYY-MM-DD``, one round each.
    evaluated_on
        The date the follow-up is made: no value in the file may be dated or published later.
    tolerance, window_years, min_points, prediction_level
        The status rules (:class:`~kuntalib.indicators.status.StatusRules`; ``alpha`` = 1 − ``prediction_level``).
    backtest_years
        Horizon of the backtest.

    Returns
    -------
    dict
        Tables ``r<k>_status``, ``r<k>_forecasts``, ``r<k>_forecast_bands``, ``r<k>_round`` for the round
        evaluated on ``rounds[k - 1]``; ``backtest`` (every indicator under the rules) and
        ``backtest_windows`` (coverage of the prediction interval by fit window, :data:`WINDOWS`); value
        ``rounds``.
    """
    file = load_indicator_file(indicator_file, evaluation_date=evaluated_on)
    rules = StatusRules(tolerance=tolerance, window_years=window_years, min_points=min_points, alpha=1 - prediction_level)
    out: dict[str, Any] = {}
    for k, as_of in enumerate(rounds, 1):
        for name, table in evaluate(file, rules, as_of=as_of).to_tables().items():
            out[f"r{k}_{name}"] = table
    out["backtest"] = pd.concat([backtest(ind, rules, horizon_years=backtest_years) for ind in file.indicators],
                                ignore_index=True)
    rows = []
    for w in WINDOWS:
        bt = pd.concat([backtest(ind, replace(rules, window_years=w), horizon_years=backtest_years)
                        for ind in file.indicators], ignore_index=True)
        rows.append({"window_years": w, "predictions": len(bt), "inside": int(bt["inside"].sum()),
                     "coverage": float(bt["inside"].mean()) if len(bt) else float("nan"), "nominal": 1 - rules.alpha})
    out["backtest_windows"] = pd.DataFrame(rows)
    out["rounds"] = list(rounds)
    return out


def rounds_result(step: Upstream, file: IndicatorFile, rules: StatusRules) -> list[FollowUp]:
    """The rounds :func:`rounds` stored, rebuilt for rendering (``file`` the whole file, ``rules`` as in the step)."""
    out = []
    for k in range(1, len(step["rounds"]) + 1):
        tables = {name: step[f"r{k}_{name}"] for name in ("status", "forecasts", "forecast_bands", "round")}
        out.append(FollowUp.from_tables(file, rules, tables))
    return out
