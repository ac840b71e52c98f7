"""Small-cell suppression that cannot be undone by differencing.

Blanking a cell of fewer than ``k`` persons is not enough when a total is also
published: the blanked cell is the total minus the other cells. This module
treats every published additive relation of a notebook's tables —
``parent = Σ children``, e.g. a vendor's row and its vendor × device rows, or
the ingest totals and the vendor rows — as linear equations, with the blanked
cells as the unknowns.

- :func:`exposed` is the differencing attack: a blanked cell is exposed when its
  value follows exactly from the published numbers, i.e. its unit vector lies in
  the row space of the equations restricted to the blanked cells.
- :func:`complementary_suppression` blanks further cells one at a time until nothing is
  exposed: of the cells nearest an exposed one in the web of equations, the one that
  leaves the fewest cells exposed, then the one of fewest persons.

The equations are the same for every additive column (lines, accepted, rejected
by reason, persons), so one audit per table structure covers them all. Bounds
that follow from non-negativity (a blanked pair summing to 7 persons) are the
usual residual risk of cell suppression and are not removed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Relation", "exposed", "complementary_suppression", "SuppressionError"]


class SuppressionError(RuntimeError):
    """No further cell can be blanked to protect an exposed one."""


@dataclass(frozen=True)
class Relation:
    """``parent = Σ children`` among published cells (cell names are the caller's)."""

    parent: str
    children: tuple[str, ...]


def _matrix(relations: Iterable[Relation], unknown: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(unknown)}
    rows = []
    for r in relations:
        row = np.zeros(len(unknown))
        if r.parent in index:
            row[index[r.parent]] += 1.0
        for c in r.children:
            if c in index:
                row[index[c]] -= 1.0
        if row.any():
            rows.append(row)
    return np.array(rows).reshape(len(rows), len(unknown))


def exposed(relations: Iterable[Relation], suppressed: Iterable[str]) -> list[str]:
    """Blanked cells whose value the published cells determine exactly (sorted).

    A cell in no relation with another blanked cell and a published parent or
    sibling set is exposed; two blanked siblings under a published parent are not
    (only their sum is known).
    """
    relations = list(relations)
    unknown = sorted(set(suppressed))
    if not unknown:
        return []
    m = _matrix(relations, unknown)
    if m.shape[0] == 0:
        return []
    rank = np.linalg.matrix_rank(m)
    out = []
    for i, cell in enumerate(unknown):
        e = np.zeros(len(unknown))
        e[i] = 1.0
        if np.linalg.matrix_rank(np.vstack([m, e])) == rank:
            out.append(cell)
    return out


def complementary_suppression(relations: Iterable[Relation], persons: Mapping[str, float], primary: Iterable[str], *,
                              fixed: Iterable[str] = ()) -> set[str]:
    """The primary cells plus the fewest-persons cells needed so that no blanked cell is exposed.

    Parameters
    ----------
    relations
        Every published additive relation among the cells.
    persons
        Persons per cell (the tie-break: the smallest cell is blanked first, then by name).
    primary
        Cells blanked for being small.
    fixed
        Cells that are published whatever happens (e.g. totals already stated in the text).

    Raises
    ------
    SuppressionError
        When an exposed cell shares no equation with a cell that may still be blanked.
    """
    relations = list(relations)
    fixed = set(fixed)
    suppressed = set(primary)
    if suppressed & fixed:
        raise SuppressionError(f"cells {sorted(suppressed & fixed)} are both small and fixed as published")
    while True:
        open_cells = exposed(relations, suppressed)
        if not open_cells:
            return suppressed
        options: set[str] = set()
        for cell in open_cells:
            near = _nearest(cell, relations, lambda c: c not in suppressed and c not in fixed and c in persons)
            if not near:
                raise SuppressionError(f"cell {cell!r} is exposed and no cell beside it may be blanked")
            options |= near
        # the option that leaves the fewest cells exposed, then the fewest persons, then by name
        best = min(options, key=lambda c: (len(exposed(relations, suppressed | {c})), persons[c], c))
        suppressed.add(best)


def _nearest(cell: str, relations: list[Relation], allowed) -> set[str]:
    """The blankable cells fewest equations away from ``cell`` (empty when there are none)."""
    seen, frontier = {cell}, [cell]
    while frontier:
        ring = set()
        for c in frontier:
            for r in relations:
                members = (r.parent, *r.children)
                if c in members:
                    ring.update(m for m in members if m not in seen)
        options = {c for c in ring if allowed(c)}
        if options:
            return options
        seen |= ring
        frontier = sorted(ring)
    return set()
