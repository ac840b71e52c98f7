"""Barometer rounds: a round is a folder, and two rounds' figures are compared question by question.

A round is ``data/raw/barometer/<year>/`` with files named by convention:

- ``published_figures.csv`` and ``questions.csv`` (required; see :mod:`kuntalib.barometer.published`);
- ``press_releases.csv`` and ``cases.yml`` (optional);
- the round's microdata, if there is one: ``microdata.csv``, ``.xlsx`` or ``.sav`` (``synthetic_microdata.*``
  for made-up data), in the field names of :func:`~kuntalib.barometer.microdata.read_wide`.

Questions and options are matched across rounds by their declared keys, ``question_id`` and
``category_id``; nothing is matched by wording. What differs is said, not guessed: an option in one
round's figures only, a reworded option (its label differs) and a reworded question (its title differs
other than by the round's own year).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from kuntalib import paths

__all__ = ["REQUIRED", "OPTIONAL", "MICRODATA", "Round", "RoundError", "find_round", "compare_rounds", "reworded_title"]

#: The files every round folder holds, by role.
REQUIRED = {"figures": "published_figures.csv", "questions": "questions.csv"}
#: Files a round may hold, by role.
OPTIONAL = {"press": "press_releases.csv", "cases": "cases.yml"}
#: Names a round's microdata file may have (at most one of them).
MICRODATA = tuple(f"{prefix}microdata.{ext}" for prefix in ("", "synthetic_") for ext in ("csv", "xlsx", "sav"))
_YEAR = re.compile(r"\d{4}")


class RoundError(ValueError):
    """A round that cannot be used as one: no folder, a missing file, two microdata files."""


@dataclass(frozen=True)
class Round:
    """One round's files, as paths under data/raw (None where the round has none)."""

    year: str
    figures: str
    questions: str
    press: str | None = None
    cases: str | None = None
    microdata: str | None = None

    def source_file(self, source: str) -> str | None:
        """The microdata file a notebook's ``source`` names: None for "published", the round's own for
        "microdata" (:class:`RoundError` when it has none), else ``source`` itself (a path under data/raw)."""
        if source == "published":
            return None
        if source == "microdata":
            if self.microdata is None:
                raise RoundError(f"round {self.year} has no microdata file (one of {', '.join(MICRODATA)} in its folder)")
            return self.microdata
        return source


def find_round(year: str, topic: str = "barometer") -> Round:
    """The round folder ``data/raw/<topic>/<year>/`` and its files.

    Raises
    ------
    RoundError
        ``year`` is not four digits, the folder is missing (the message lists the rounds there are), a
        required file is missing (named), or more than one microdata file is present.
    """
    where = f"data/raw/{topic}/{year}/"
    if not _YEAR.fullmatch(str(year)):
        raise RoundError(f"barometer round {year!r}: a round is a year, e.g. '2022'")
    folder = paths.data_raw() / topic / year
    if not folder.is_dir():
        there = sorted(p.name for p in (paths.data_raw() / topic).iterdir() if p.is_dir() and _YEAR.fullmatch(p.name))
        raise RoundError(f"barometer round {year}: no folder {where} (rounds: {', '.join(there) or 'none'})")
    missing = [name for name in REQUIRED.values() if not (folder / name).is_file()]
    if missing:
        raise RoundError(f"{where} lacks {' and '.join(missing)}: a round folder holds {' and '.join(REQUIRED.values())}")
    micro = [name for name in MICRODATA if (folder / name).is_file()]
    if len(micro) > 1:
        raise RoundError(f"{where} holds {len(micro)} microdata files ({', '.join(micro)}): keep one")

    def rel(name: str | None) -> str | None:
        return f"{topic}/{year}/{name}" if name and (folder / name).is_file() else None

    return Round(year, f"{topic}/{year}/{REQUIRED['figures']}", f"{topic}/{year}/{REQUIRED['questions']}",
                 rel(OPTIONAL["press"]), rel(OPTIONAL["cases"]), rel(micro[0] if micro else None))


def _words(text: str, year: str) -> str:
    return " ".join(str(text).replace(year, "").split()).casefold()


def reworded_title(now: pd.Series, before: pd.Series, years: tuple[str, str]) -> bool:
    """The Finnish question titles differ other than by each round's own year (and spacing, case)."""
    return _words(now["title_fi"], years[0]) != _words(before["title_fi"], years[1])


def _side(figures: pd.DataFrame) -> pd.DataFrame:
    """A round's rows keyed by question, option and answer, with 'estimate' where the share has an interval."""
    out = figures.set_index(["question_id", "category_id", "answer"])
    est = out.share.notna() & out.lower.notna() & out.upper.notna() & ~out.published.astype(bool)
    return out.assign(estimate=est, n=out.n_max, n_low=out.n_min)


def compare_rounds(now: pd.DataFrame, before: pd.DataFrame, questions_now: pd.DataFrame,
                   questions_before: pd.DataFrame, years: tuple[str, str]) -> pd.DataFrame:
    """Each option of every question asked in both rounds, with both rounds' shares and their difference.

    Parameters
    ----------
    now, before
        The rounds' figures (the ``figures`` table of :func:`kuntalib.barometer.steps.figures`): a
        published share, an unpublished one with its bounds, or a microdata estimate with its 95 % interval.
    questions_now, questions_before
        The rounds' questions, indexed by ``question_id``.
    years
        (now, before), e.g. ("2022", "2018").

    Returns
    -------
    pandas.DataFrame
        One row per (question, option, answer) in either round's figures of a question in both rounds:
        ``share``, ``lower``, ``upper``, ``n_low`` and ``n`` (the option's N range), ``published``, ``estimate`` for each round (suffix
        ``_now``, ``_before``; NaN where the round's figures lack the option), the labels of the newer round
        that has the option, ``reworded_option`` and ``label_before_fi/sv/en`` (the earlier wording),
        ``reworded_question``, ``difference`` (percentage points, where both shares are known) and
        ``diff_lower``/``diff_upper``: its 95 % interval where both are microdata estimates, by Newcombe's
        method from each round's design-based interval (the rounds are independent samples), NaN otherwise.
    """
    a, b = _side(now), _side(before)
    asked = [q for q in questions_now.index if q in set(questions_before.index)]
    keys = [k for k in dict.fromkeys([*a.index, *b.index]) if k[0] in asked]
    cols = ["share", "lower", "upper", "n_low", "n", "published", "estimate"]
    rows = []
    for key in keys:
        here, there = (key in a.index), (key in b.index)
        ra, rb = (a.loc[key] if here else None), (b.loc[key] if there else None)
        label = ra if ra is not None else rb
        row = {"question_id": key[0], "category_id": key[1], "answer": key[2],
               "chart_order": label.chart_order, "in_now": here, "in_before": there,
               **{f"label_{lang}": label[f"label_{lang}"] for lang in ("fi", "sv", "en")},
               **{f"label_before_{lang}": rb[f"label_{lang}"] if there else "" for lang in ("fi", "sv", "en")},
               "reworded_option": bool(here and there and _words(ra.label_fi, "") != _words(rb.label_fi, "")),
               "reworded_question": reworded_title(questions_now.loc[key[0]], questions_before.loc[key[0]], years)}
        for suffix, r in (("now", ra), ("before", rb)):
            row.update({f"{c}_{suffix}": (r[c] if r is not None else math.nan) for c in cols})
        row["difference"] = row["share_now"] - row["share_before"]
        row["diff_lower"] = row["diff_upper"] = math.nan
        if here and there and ra.estimate and rb.estimate:
            up, down = math.hypot(ra.upper - ra.share, rb.share - rb.lower), math.hypot(ra.share - ra.lower, rb.upper - rb.share)
            row["diff_lower"], row["diff_upper"] = row["difference"] - down, row["difference"] + up
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("in_now", "in_before", "published_now", "published_before", "estimate_now", "estimate_before"):
        out[c] = out[c].astype("boolean")
    return out
