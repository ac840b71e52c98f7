"""Shares with Wilson intervals and finite-population correction, weights, group comparisons.

statsmodels' ``proportion_confint(method="wilson")`` has no finite-population
correction. Here the Wilson interval is computed with the effective sample
size ``n_eff = n · (N − 1) / (N − n)``, i.e. the variance ``p(1−p)/n`` shrunk by
the FPC factor ``(N − n)/(N − 1)``; with weights, ``n`` is Kish's effective
size ``(Σw)² / Σw²``. When ``n = N`` the interval collapses to the estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kuntalib.barometer.microdata import DERIVED_ITEMS

__all__ = ["wilson_fpc", "estimate_shares", "poststratify", "compare_groups", "add_derived_items"]


def wilson_fpc(p: float, n: float, *, population: float | None = None, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` from (effective) sample size ``n``.

    Parameters
    ----------
    p
        Estimated proportion (0–1).
    n
        Sample size (or Kish effective size with weights).
    population
        Size of the finite population (e.g. 309 municipalities); None for none.
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    if population is not None:
        if n > population:
            raise ValueError(f"sample size {n} exceeds population {population}")
        if n >= population:
            return (p, p)
        n = n * (population - 1) / (population - n)
    from scipy.stats import norm  # imported here: scipy.stats costs seconds at notebook start

    z = norm.ppf(1 - alpha / 2)
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def add_derived_items(long: pd.DataFrame) -> pd.DataFrame:
    """Append the items computed from others (e.g. 'supported' = not 'not_supported').

    Rules: ``any`` — yes if any source item is yes; ``not`` — the opposite of
    the one source item; ``same`` — a copy. Items are computed in the order of
    ``DERIVED_ITEMS`` so that one may build on another.
    """
    base = long[["respondent_id", "org_type", "size_class", "weight"]].drop_duplicates("respondent_id")
    out = long
    for (q, c), (src_q, src_c, rule) in DERIVED_ITEMS.items():
        src = out[(out.question_id == src_q) & out.category_id.isin(src_c)]
        if src.empty:
            continue
        if rule == "any":
            vals = src.groupby("respondent_id")["answer"].agg(lambda s: "yes" if (s == "yes").any() else "no")
        else:
            vals = src.set_index("respondent_id")["answer"]
            if rule == "not":
                vals = vals.map({"yes": "no", "no": "yes"})
        frame = vals.rename("answer").reset_index().merge(base, on="respondent_id")
        out = pd.concat([out, frame.assign(question_id=q, category_id=c)[long.columns]], ignore_index=True)
    return out


def estimate_shares(
    long: pd.DataFrame,
    *,
    population: float | None = None,
    weighted: bool = False,
    alpha: float = 0.05,
    by: str | None = None,
) -> pd.DataFrame:
    """Share (%) of each answer of each item with its Wilson–FPC interval.

    Shares are of the respondents who answered the item. Returns columns
    question_id, category_id, answer, [by], n, n_eff, share, lower, upper.
    """
    keys = ["question_id", "category_id"] + ([by] if by else [])
    rows = []
    for key, g in long.groupby(keys, sort=True):
        w = g["weight"].to_numpy(float) if weighted else np.ones(len(g))
        n = len(g)
        n_eff = w.sum() ** 2 / (w**2).sum()
        for answer in sorted(g["answer"].unique()):
            p = w[(g["answer"] == answer).to_numpy()].sum() / w.sum()
            lo, hi = wilson_fpc(p, n_eff, population=population, alpha=alpha)
            rows.append(dict(zip(keys, key, strict=True)) | {"answer": answer, "n": n, "n_eff": n_eff,
                        "share": 100 * p, "lower": 100 * lo, "upper": 100 * hi})
    return pd.DataFrame(rows)


def poststratify(long: pd.DataFrame, population_counts: dict[tuple[str, str], float], *, on: tuple[str, str] = ("org_type", "size_class")) -> pd.DataFrame:
    """Weights so that respondents represent known population counts per stratum.

    Each respondent in stratum h gets ``N_h / n_h``. A stratum with respondents
    but no population count raises ``ValueError`` naming it.
    """
    resp = long.drop_duplicates("respondent_id")
    n_h = resp.groupby(list(on)).size()
    missing = [h for h in n_h.index if h not in population_counts]
    if missing:
        raise ValueError(f"no population count for stratum {missing[0]!r}")
    w = {h: population_counts[h] / n for h, n in n_h.items()}
    out = long.copy()
    out["weight"] = [w[tuple(r)] for r in out[list(on)].itertuples(index=False)]
    return out


def compare_groups(long: pd.DataFrame, *, by: str = "org_type", groups: tuple[str, str] = ("kunta", "kuntayhtymä"), answer: str = "yes") -> pd.DataFrame:
    """Difference in the share answering ``answer`` between two groups, per item.

    Uses statsmodels' ``confint_proportions_2indep`` (Newcombe score interval)
    and ``test_proportions_2indep`` (score test), unweighted.
    """
    import warnings

    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    a, b = groups
    rows = []
    for (q, c), g in long.groupby(["question_id", "category_id"], sort=True):
        ga, gb = g[g[by] == a], g[g[by] == b]
        if len(ga) == 0 or len(gb) == 0:
            continue
        ka, kb = int((ga.answer == answer).sum()), int((gb.answer == answer).sum())
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = confint_proportions_2indep(ka, len(ga), kb, len(gb), method="newcomb")
            pval = test_proportions_2indep(ka, len(ga), kb, len(gb), method="score").pvalue
        rows.append({"question_id": q, "category_id": c, f"n_{a}": len(ga), f"n_{b}": len(gb),
                     f"share_{a}": 100 * ka / len(ga), f"share_{b}": 100 * kb / len(gb),
                     "difference": 100 * (ka / len(ga) - kb / len(gb)), "lower": 100 * lo, "upper": 100 * hi, "p_value": pval})
    return pd.DataFrame(rows)
