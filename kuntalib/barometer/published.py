"""The barometer's published figures as a tidy table, and the constraints they obey.

``data/raw/barometer/2022/published_figures.csv`` holds one row per
(question, category, answer): the share when the seed quotes it, otherwise a
blank share with the bounds the text implies. Nothing is filled in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kuntalib.barometer.bounds import ORDERED
from kuntalib.provenance import Provenance, open_raw

__all__ = ["YEAR", "Published", "load_published", "read_figures", "load_questions", "read_questions", "load_press", "ROUND_DIR", "check_constraints", "derive_not_relevant", "promoters_table"]

YEAR = 2022
#: The shipped round's folder under data/raw; every loader takes its own file instead.
ROUND_DIR = "barometer/2022"


@dataclass(frozen=True)
class Published:
    """Figures with the provenance of the file they came from."""

    figures: pd.DataFrame
    questions: pd.DataFrame
    provenance: Provenance


def load_questions(file: str = f"{ROUND_DIR}/questions.csv") -> pd.DataFrame:
    """Question wording (fi, sv, en), N as printed, chart kind; indexed by question_id.

    ``file`` is a path under data/raw (read with :func:`~kuntalib.provenance.open_raw`).
    """
    return read_questions(open_raw(file)[0])


def read_questions(path: str | Path) -> pd.DataFrame:
    """The questions file at ``path``, indexed by question_id (see :func:`load_questions`)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index("question_id")


def load_press(file: str = f"{ROUND_DIR}/press_releases.csv") -> pd.DataFrame:
    """Figures from Kuntaliitto's press releases, each with its address (``file`` under data/raw)."""
    path, _ = open_raw(file)
    return pd.read_csv(path, dtype={"metric": str, "unit": str, "date": str}).set_index("metric")


def read_figures(path: str | Path) -> pd.DataFrame:
    """The published figures file at ``path`` as a table, checked (``share`` is NaN where not published).

    Raises
    ------
    ValueError
        A ``published`` cell that is not yes or no, or that disagrees with ``share``; the message
        names the file and line.
    """
    df = pd.read_csv(path, keep_default_na=True, dtype=dict.fromkeys(("share", "lower", "upper", "n_min", "n_max"), float))
    df["published"] = df["published"].map({"yes": True, "no": False})
    if df["published"].isna().any():
        bad = df.index[df["published"].isna()][0] + 2
        raise ValueError(f"{path}: line {bad}: column 'published' must be yes or no")
    mismatch = df["published"] != df["share"].notna()
    if mismatch.any():
        bad = df.index[mismatch][0] + 2
        raise ValueError(f"{path}: line {bad}: 'published' says yes exactly when 'share' has a value")
    return df


def load_published(file: str = f"{ROUND_DIR}/published_figures.csv",
                   questions_file: str = f"{ROUND_DIR}/questions.csv") -> Published:
    """Load the published figures (``file``) and the questions (``questions_file``), paths under data/raw.

    ``share`` is NaN where not published (:func:`read_figures`).
    """
    path, prov = open_raw(file)
    return Published(read_figures(path), load_questions(questions_file), prov)


def derive_not_relevant(figures: pd.DataFrame) -> pd.DataFrame:
    """Promoter rows where 'promoted' and 'barrier' are both published: not relevant = 100 − both.

    The three answers are exclusive and shares are of those who answered the
    item, so the third follows. Returned rows have ``derived=True``.
    """
    pro = figures[figures["question_id"] == "promoters"]
    wide = pro.pivot_table(index="category_id", columns="answer", values="share", aggfunc="first")
    rows = []
    for cat, r in wide.iterrows():
        if pd.notna(r.get("promoted")) and pd.notna(r.get("barrier")):
            rows.append({"category_id": cat, "answer": "not_relevant", "share": 100 - r["promoted"] - r["barrier"]})
    return pd.DataFrame(rows, columns=["category_id", "answer", "share"]).assign(derived=True)


def check_constraints(figures: pd.DataFrame) -> list[str]:
    """Every way the table breaks what the seed says; empty when all hold.

    - published shares within 0–100 and within their stated bounds (if any);
    - in each ascending chart, published shares do not decrease with chart order
      (promoters: by the 'promoted' share);
    - bounds of unpublished values lie between their published neighbours;
    - every factor is promoted more often than it is a barrier (where both known,
      and the barrier bound is below the published 'promoted');
    - the three promoter answers of a factor sum to at most 100.
    """
    problems: list[str] = []
    for _, r in figures.iterrows():
        tag = f"{r.question_id}/{r.category_id}/{r.answer}"
        if pd.notna(r.share) and not 0 <= r.share <= 100:
            problems.append(f"{tag}: share {r.share} outside 0–100")
        if pd.isna(r.share) and (pd.isna(r.lower) or pd.isna(r.upper)):
            problems.append(f"{tag}: unpublished value needs lower and upper bounds")
    # the achievements' rows state the text's bounds ("more than half", ≤ 100), not bounds between their
    # neighbours: kuntalib.barometer.bounds tightens them by the same chart order
    ordered = {q: a for q, a in ORDERED.items() if q != "achievements"}
    for q, answer in ordered.items():
        sub = figures[(figures.question_id == q) & (figures.answer == answer)].sort_values("chart_order")
        last_known = -1.0
        for _, r in sub.iterrows():
            if pd.notna(r.share):
                if r.share < last_known:
                    problems.append(f"{q}/{r.category_id}: {r.share} breaks the ascending chart order")
                last_known = r.share
            elif r.lower < last_known:
                problems.append(f"{q}/{r.category_id}: lower bound {r.lower} below preceding {last_known}")
        known = sub[sub.share.notna()]
        for _, r in sub[sub.share.isna()].iterrows():
            after = known[known.chart_order > r.chart_order]
            if len(after) and r.upper > after.share.iloc[0]:
                problems.append(f"{q}/{r.category_id}: upper bound {r.upper} above following {after.share.iloc[0]}")
    pro = figures[figures.question_id == "promoters"]
    for cat, g in pro.groupby("category_id"):
        by = g.set_index("answer")
        p, b = by.loc["promoted"], by.loc["barrier"]
        p_low = p.share if pd.notna(p.share) else p.lower
        b_high = b.share if pd.notna(b.share) else b.upper
        if pd.notna(p.share) and pd.notna(b.share) and not p.share > b.share:
            problems.append(f"promoters/{cat}: barrier {b.share} not below promoted {p.share}")
        if pd.notna(p.share) and pd.isna(b.share) and b_high > p_low:
            problems.append(f"promoters/{cat}: barrier bound {b_high} not below promoted {p_low}")
        known_sum = g.share.sum(min_count=1)
        if pd.notna(known_sum) and known_sum > 100:
            problems.append(f"promoters/{cat}: published answers sum to {known_sum} > 100")
    return problems


def promoters_table(figures: pd.DataFrame) -> pd.DataFrame:
    """Promoter rows with 'not relevant' filled in where it follows (``derived=True``)."""
    pro = figures[figures["question_id"] == "promoters"].copy()
    pro["derived"] = False
    for _, d in derive_not_relevant(figures).iterrows():
        mask = (pro.category_id == d.category_id) & (pro.answer == "not_relevant") & pro.share.isna()
        pro.loc[mask, ["share", "derived"]] = [d.share, True]
    return pro
