"""The step of the barometer notebook (01): the figures, from the published file or from microdata.

:func:`figures` is one language-neutral step that the build runs once and stores
(``run_step(NOTEBOOK, steps.figures, figures_file=path, microdata=None)``): it reads the files
it is given and returns a dict of tables (DataFrames) and JSON values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuntalib.barometer.bounds import apply_bounds
from kuntalib.barometer.microdata import read_wide
from kuntalib.barometer.published import read_figures, read_questions
from kuntalib.barometer.report import breakdown_tables, figures_from_microdata, respondent_counts
from kuntalib.barometer.rounds import compare_rounds
from kuntalib.upstream import Upstream

__all__ = ["figures", "comparison"]


def figures(figures_file: Path, microdata: Path | None = None, mapping: Path | None = None, *, weighted: bool = False,
            synthetic: bool = False, frame_municipalities: int = 0, frame_joint_authorities: int = 0) -> dict[str, Any]:
    """The barometer's figures: the published ones with the tightest bounds, or estimates from microdata.

    Parameters
    ----------
    figures_file
        The published figures (:func:`~kuntalib.barometer.published.read_figures`).
    microdata
        A microdata file (CSV, Excel, SPSS) to estimate from, or None for the published figures.
    mapping
        Mapping file for an export with the survey tool's own headers (:func:`~kuntalib.barometer.microdata.load_mapping`).
    weighted
        Use the microdata's weight column.
    synthetic
        The sidecar of the file the figures come from (microdata, else the published figures) marks it synthetic.
    frame_municipalities, frame_joint_authorities
        Organisations in each stratum's population for the finite-population correction (0: none);
        responses are clustered by ``organisation_id``.

    Returns
    -------
    dict
        Published figures: table ``figures`` with the tightest bounds of unpublished shares
        (:func:`~kuntalib.barometer.bounds.apply_bounds`). Microdata: tables ``figures``, ``rejected_rows``
        (the rows refused, with line, column and reason), ``by_org_type`` and ``by_size_class``; values ``synthetic``, ``summary``, ``rows``, ``accepted``,
        ``rejected`` (data rows of the file) and the respondent counts of
        :func:`~kuntalib.barometer.report.respondent_counts`.
    """
    published = read_figures(figures_file)
    if microdata is None:
        return {"figures": apply_bounds(published), "synthetic": synthetic, "summary": "published figures"}
    parsed = read_wide(microdata, published, mapping=mapping)
    frames = {"kunta": frame_municipalities or None, "kuntayhtymä": frame_joint_authorities or None}
    est = figures_from_microdata(parsed.data, published, weighted=weighted, frames=frames, cluster="organisation_id")
    return {"figures": est, "rejected_rows": parsed.rejected, **breakdown_tables(parsed.data, published),
            "synthetic": bool(parsed.synthetic or synthetic), "summary": parsed.summary(), "rows": parsed.n_rows,
            "accepted": parsed.n_accepted_rows, "rejected": parsed.n_rows - parsed.n_accepted_rows,
            **respondent_counts(parsed.data)}


def comparison(current: Upstream, questions_file: Path, before_figures: Path, before_questions: Path,
               before_microdata: Path | None = None, *, years: list[str], weighted: bool = False, before_synthetic: bool = False,
               frame_municipalities: int = 0, frame_joint_authorities: int = 0) -> dict[str, Any]:
    """The round's figures (step ``current``, with its ``questions_file``) compared with an earlier round's.

    The earlier round's figures come from its published file, or from its microdata file
    ``before_microdata`` (estimated as :func:`figures` does, with the same frames and weighting) when the
    current round's are estimates too; ``years`` is (current, earlier).

    Returns
    -------
    dict
        Table ``comparison`` (:func:`~kuntalib.barometer.rounds.compare_rounds`); values ``questions``
        (compared, in the current round's order), ``synthetic`` (either round's data are synthetic) and
        ``before_summary``.
    """
    before = figures(before_figures, before_microdata, weighted=weighted, synthetic=before_synthetic,
                     frame_municipalities=frame_municipalities, frame_joint_authorities=frame_joint_authorities)
    table = compare_rounds(current["figures"], before["figures"], read_questions(questions_file), read_questions(before_questions),
                           (years[0], years[1]))
    return {"comparison": table, "questions": list(dict.fromkeys(table.question_id)),
            "synthetic": bool(current["synthetic"] or before["synthetic"]), "before_summary": before["summary"]}
