"""Shares with Wilson intervals and finite-population correction, weights, group comparisons.

statsmodels' ``proportion_confint(method="wilson")`` has no finite-population
correction. Here the Wilson interval is computed with an effective sample size.

- One frame for everyone (``population=N``): ``n_eff = n · (N − 1) / (N − n)``, i.e. the
  variance ``p(1−p)/n`` shrunk by the FPC factor ``(N − n)/(N − 1)``; with weights, ``n`` is
  Kish's effective size ``(Σw)² / Σw²``. When ``n = N`` the interval collapses to the estimate.
- One frame per stratum (``frames={"kunta": 309, "kuntayhtymä": None}``) and responses
  clustered by organisation (``cluster="organisation_id"``): the design-based variance of the
  ratio estimator ``p = Σwy / Σw`` by linearisation, strata independent, organisations as
  primary units drawn without replacement from the stratum's frame::

      var(p) = Σ_h (1 − f_h) · m_h / (m_h − 1) · Σ_c (z_hc − z̄_h)²,
      z_hc = Σ_{i∈c} w_i (y_i − p) / Σw,   f_h = m_h / N_h

  with ``m_h`` organisations responding in stratum ``h`` and ``f_h = 0`` where the frame is
  unknown (no correction, stated). The design effect is ``deff = var(p) / (p(1−p)/n)`` and the
  Wilson interval uses ``n_eff = p(1−p) / var(p)``. A stratum with one organisation adds no
  variance term (its between-unit spread cannot be estimated); :func:`estimate_shares` reports it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from kuntalib.barometer.microdata import DERIVED_ITEMS

__all__ = ["wilson_fpc", "wilson_neff", "design_variance", "estimate_shares", "poststratify", "compare_groups", "add_derived_items"]


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
    return wilson_neff(p, n, alpha=alpha)


def wilson_neff(p: float, n_eff: float, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval from an effective sample size (corrections already in ``n_eff``).

    ``n_eff = inf`` (a census: no sampling variance) gives ``(p, p)``.
    """
    if not n_eff > 0:
        return (float("nan"), float("nan"))
    if np.isinf(n_eff):
        return (p, p)
    n = n_eff
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
    extra = [c for c in ("organisation_id",) if c in long.columns]
    base = long[["respondent_id", "org_type", "size_class", "weight", *extra]].drop_duplicates("respondent_id")
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


def design_variance(y: np.ndarray, w: np.ndarray, strata: np.ndarray, clusters: np.ndarray,
                    frames: dict[str, float | None]) -> tuple[float, float]:
    """Share ``p = Σwy/Σw`` and its design-based variance (see the module text).

    Parameters
    ----------
    y, w
        0/1 answers and weights, one per response.
    strata, clusters
        Each response's stratum (a key of ``frames``) and organisation.
    frames
        Organisations in each stratum's population, None where not known (no correction).
    """
    total = w.sum()
    p = float((w * y).sum() / total)
    z = w * (y - p) / total
    frame = pd.DataFrame({"h": strata, "c": clusters, "z": z})
    var = 0.0
    for h, g in frame.groupby("h", sort=True):
        zc = g.groupby("c", sort=True)["z"].sum().to_numpy()
        m = len(zc)
        if m < 2:
            continue
        size = frames.get(str(h))
        if size is not None and m > size:
            raise ValueError(f"{m} organisations responded in stratum {h!r}, more than its frame of {size}")
        f = m / size if size else 0.0
        var += (1 - f) * m / (m - 1) * float(((zc - zc.mean()) ** 2).sum())
    return p, var


def estimate_shares(
    long: pd.DataFrame,
    *,
    population: float | None = None,
    weighted: bool = False,
    alpha: float = 0.05,
    by: str | None = None,
    frames: dict[str, float | None] | None = None,
    strata: str = "org_type",
    cluster: str | None = None,
) -> pd.DataFrame:
    """Share (%) of each answer of each item with its Wilson interval.

    Shares are of the respondents who answered the item.

    Parameters
    ----------
    population
        One frame for all respondents (the simple FPC of :func:`wilson_fpc`); ignored with ``frames``.
    frames
        Organisations in the population per stratum (values of column ``strata``); None for a
        stratum whose frame is not known. With ``frames`` the variance is design-based
        (:func:`design_variance`): per-stratum FPC and, with ``cluster``, responses clustered by
        organisation.
    cluster
        Column naming each response's organisation (default: each response its own).

    Returns
    -------
    pandas.DataFrame
        question_id, category_id, answer, [by], n, n_eff, share, lower, upper and, with ``frames``,
        ``deff`` (design effect; NaN where the share is 0 or 100 %) and ``organisations``.
    """
    keys = ["question_id", "category_id"] + ([by] if by else [])
    # every answer given to a question is estimated for each of its items, 0 % included
    options = long.groupby("question_id")["answer"].agg(lambda a: sorted(set(a))).to_dict()
    rows = []
    for key, g in long.groupby(keys, sort=True):
        w = g["weight"].to_numpy(float) if weighted else np.ones(len(g))
        n = len(g)
        n_kish = w.sum() ** 2 / (w**2).sum()
        orgs = g[cluster].to_numpy() if cluster and cluster in g.columns else g["respondent_id"].to_numpy()
        for answer in options[key[0]]:
            y = (g["answer"] == answer).to_numpy(float)
            extra: dict[str, float] = {}
            if frames is None:
                p = w[y == 1].sum() / w.sum()
                n_eff = n_kish
                lo, hi = wilson_fpc(p, n_eff, population=population, alpha=alpha)
            else:
                p, var = design_variance(y, w, g[strata].astype(str).to_numpy(), orgs, frames)
                srs = p * (1 - p) / n_kish
                if srs > 0:
                    n_eff = p * (1 - p) / var if var > 0 else float("inf")
                    deff = var / srs
                else:
                    n_eff, deff = n_kish, float("nan")
                lo, hi = wilson_neff(p, n_eff, alpha=alpha)
                extra = {"deff": deff, "organisations": float(len(set(orgs)))}
            rows.append(dict(zip(keys, key, strict=True)) | {"answer": answer, "n": n, "n_eff": n_eff,
                        "share": 100 * p, "lower": 100 * lo, "upper": 100 * hi} | extra)
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
    and ``test_proportions_2indep`` (score test), unweighted, responses taken as independent.
    ``significant`` is True where the interval excludes 0.
    """
    # ~2 s to import: only microdata is compared, and a stored step is read without it
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
                     "difference": 100 * (ka / len(ga) - kb / len(gb)), "lower": 100 * lo, "upper": 100 * hi, "p_value": pval,
                     "significant": bool(lo > 0 or hi < 0)})
    return pd.DataFrame(rows)
