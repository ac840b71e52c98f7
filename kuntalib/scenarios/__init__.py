"""Foresight scenarios: futures tables, PESTE profiles, cross-consistency, competence profiles, budget.

Public API::

    load_model, ForesightModel, ScenarioFileError      # the YAML foresight-model format
    scenario_name, scenario_names                      # how a page names a scenario
    futures_table, sector_profile, scenario_distance, consistency
    load_profile, skill_matrix, level_overlap, shared_skills, type_counts
    load_budget, load_population, population_change

Charts are in :mod:`kuntalib.scenarios.charts`.
"""

from kuntalib.scenarios.analysis import (
    ConsistencyResult,
    consistency,
    futures_table,
    scenario_distance,
    scenario_name,
    scenario_names,
    score_matrix,
    sector_profile,
)
from kuntalib.scenarios.competence import level_overlap, load_profile, shared_skills, skill_matrix, type_counts
from kuntalib.scenarios.context import load_budget, load_population, population_change
from kuntalib.scenarios.model import ForesightModel, ScenarioFileError, load_model

__all__ = [
    "ForesightModel",
    "ScenarioFileError",
    "load_model",
    "scenario_name",
    "scenario_names",
    "futures_table",
    "score_matrix",
    "sector_profile",
    "scenario_distance",
    "consistency",
    "ConsistencyResult",
    "load_profile",
    "skill_matrix",
    "level_overlap",
    "shared_skills",
    "type_counts",
    "load_budget",
    "load_population",
    "population_change",
]
