"""Kunta-alan innovaatiobarometri 2022: published figures, charts, microdata."""

from kuntalib.barometer.published import check_constraints, load_published, load_questions

__all__ = ["load_published", "load_questions", "check_constraints"]
