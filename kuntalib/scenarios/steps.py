"""The step of the scenario notebook (03): the cross-consistency assessment with its morphological field.

:func:`consistency` is one language-neutral step that the build runs once and stores
(``run_step(NOTEBOOK, steps.consistency, scenario_file=path, max_field=5_000_000)``); it reads the
scenario file itself and returns a dict of tables (DataFrames) and JSON values.
:func:`consistency_result` rebuilds the :class:`~kuntalib.scenarios.analysis.ConsistencyResult` in a
page's language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuntalib.scenarios import analysis
from kuntalib.scenarios.analysis import ConsistencyResult
from kuntalib.scenarios.model import load_model
from kuntalib.upstream import Upstream

__all__ = ["consistency", "consistency_result"]


def consistency(scenario_file: Path, *, max_field: int = 5_000_000) -> dict[str, Any]:
    """Cross-consistency of every scenario of the file (:func:`~kuntalib.scenarios.analysis.consistency`).

    Tables ``scores`` and ``pairs`` (reasons in every language); values ``field_size``,
    ``field_enumerated``, ``field_consistent`` and ``field_best``.
    """
    result = analysis.consistency(load_model(scenario_file), max_field=max_field)
    return {"scores": result.scores, "pairs": result.pairs, "field_size": int(result.field_size),
            "field_enumerated": bool(result.field_enumerated), "field_consistent": result.field_consistent,
            "field_best": result.field_best}


def consistency_result(step: Upstream, lang: str = "fi") -> ConsistencyResult:
    """The result :func:`consistency` stored, with its reasons in ``lang``."""
    return ConsistencyResult(step["scores"], step["pairs"], int(step["field_size"]), bool(step["field_enumerated"]),
                             step["field_consistent"], step["field_best"]).in_language(lang)
