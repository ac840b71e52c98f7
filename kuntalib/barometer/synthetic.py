"""A synthetic respondent-level barometer data set that reproduces every published share and N.

The real answers are Kuntaliitto's and not public. This seeded generator
writes respondents whose answers, tabulated like the report, give exactly the
published (rounded) shares and Ns; values the seed does not publish are drawn
within their bounds and order, so they mean nothing. Every row says
``synthetic = 1`` and every chart drawn from it is stamped.

Construction, per question:

- ``support`` / ``partners``: ``k₀`` respondents choose the "none" category;
  every other category is chosen only among the rest.
- ``types``: 183 respondents answer (item Ns drawn in 171–183, nested);
  ``adopted`` respondents choose at least one type, the others none.
- unpublished shares are drawn within the tightest bounds of
  :func:`kuntalib.barometer.bounds.apply_bounds`, in chart order.
- ``promoters``: each factor answered by 156–159 of the 159 respondents with a
  most significant innovation; counts for promoted / barrier from the
  published shares, unpublished shares drawn ascending in chart order with
  barrier < promoted.
- ``key_figures/established``: answered by all respondents (its N is not
  published).
- ``organisation_id``: the 195 responses come from 121 municipalities and 40
  joint authorities (the press release's counts), so some organisations
  answered more than once; repeat responses share their organisation's size
  class. Drawn after everything else, so the answers do not depend on it.

:func:`webropol_export` rewrites the same answers the way a survey tool exports
them (its own Finnish headers "N. Kysymys – Vaihtoehto", option words) with the
mapping file that reads it back.

A count ``k`` for share ``s`` of ``n`` is the integer nearest ``s·n/100`` whose
rounded percentage is ``s``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kuntalib.barometer.bounds import apply_bounds

__all__ = ["generate_synthetic", "write_synthetic", "count_for", "round_half_up", "reproduction_errors", "webropol_export",
           "write_webropol_export", "QUESTION_NUMBERS", "ROUND_2025", "synthetic_round", "write_synthetic_round"]

#: Question numbers of the synthetic survey-tool export (as the questionnaire might number them).
QUESTION_NUMBERS = {"key_figures": 1, "support": 2, "partners": 3, "types": 4, "motivators": 5, "promoters": 6, "achievements": 7}


def round_half_up(x: float) -> int:
    """Round as reports do: 0.5 goes up."""
    return int(math.floor(x + 0.5))


def count_for(share: float, n: int) -> int:
    """The count out of ``n`` whose percentage rounds to ``share``; ValueError if none."""
    k0 = round_half_up(share * n / 100)
    for k in sorted(range(max(0, k0 - 2), min(n, k0 + 2) + 1), key=lambda k: abs(k - k0)):
        if round_half_up(100 * k / n) == round_half_up(share):
            return k
    raise ValueError(f"no count out of {n} rounds to {share} %")


def _rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _shares(rows: pd.DataFrame, gen: np.random.Generator, ordered: bool) -> dict[str, float]:
    """Published shares, and draws within bounds (ascending in chart order if ``ordered``)."""
    rows = rows.sort_values("chart_order")
    out = {r.category_id: float(r.share) for r in rows.itertuples() if pd.notna(r.share)}
    unknown = rows[rows.share.isna()]
    if len(unknown):
        lo, hi = unknown.lower.to_numpy(float), unknown.upper.to_numpy(float)
        draws = lo + 1 + gen.random(len(unknown)) * np.maximum(hi - lo - 2, 0)
        if ordered:
            draws = np.sort(draws)
        out.update(dict(zip(unknown.category_id, draws, strict=True)))
    return out


def generate_synthetic(figures: pd.DataFrame, *, rng: int | np.random.Generator | None = 2022, n_respondents: int = 195) -> pd.DataFrame:
    """Wide synthetic export (strings, as a survey tool writes) for :func:`read_wide`.

    Parameters
    ----------
    figures
        The published figures table.
    rng
        Seed or generator; the default reproduces the shipped file.
    n_respondents
        Respondents in all (the 2022 round had 195 responses).
    """
    gen = _rng(rng)
    figures = apply_bounds(figures) if figures.share.isna().any() else figures  # draws within the tightest bounds
    ids = np.array([f"s{i:04d}" for i in range(1, n_respondents + 1)])
    n_kunta = round_half_up(n_respondents * 121 / 161)
    org = np.array(["kunta"] * n_kunta + ["kuntayhtymä"] * (n_respondents - n_kunta))
    size = np.where(org == "kunta", gen.choice(["alle 5 000", "5 000–20 000", "yli 20 000"], n_respondents, p=[0.45, 0.35, 0.2]), "kuntayhtymä")
    wide = pd.DataFrame({"respondent_id": ids, "org_type": org, "size_class": size, "synthetic": "1"})
    cols: dict[str, np.ndarray] = {}

    def item(q: str, c: str) -> np.ndarray:
        return cols.setdefault(f"{q}__{c}", np.full(n_respondents, "", dtype=object))

    def choose(pool: np.ndarray, k: int) -> np.ndarray:
        if k > len(pool):
            raise ValueError(f"cannot choose {k} of {len(pool)}")
        return gen.choice(pool, size=k, replace=False)

    all_idx = np.arange(n_respondents)
    for q, none_cat in (("support", "not_supported"), ("partners", "no_collaboration"), ("motivators", None), ("achievements", None)):
        rows = figures[figures.question_id == q]
        n = int(rows.n_max.iloc[0])
        answerers = choose(all_idx, n)
        shares = _shares(rows, gen, ordered=True)
        pool = answerers
        if none_cat:
            nones = choose(answerers, count_for(shares[none_cat], n))
            pool = np.setdiff1d(answerers, nones)
            col = item(q, none_cat)
            col[answerers] = "0"
            col[nones] = "1"
        for c, s in shares.items():
            if c == none_cat:
                continue
            col = item(q, c)
            col[answerers] = "0"
            col[choose(pool, count_for(s, n))] = "1"

    # innovation types: nested answerer sets, adopters choose at least one type
    rows = figures[figures.question_id == "types"]
    n_max, n_min = int(rows.n_max.iloc[0]), int(rows.n_min.iloc[0])
    answerers = choose(all_idx, n_max)
    adopters = choose(answerers, count_for(float(rows.set_index("category_id").share["any"]), n_max))
    types = ["service", "product", "process"]
    sizes = [n_max, int(gen.integers(n_min, n_max + 1)), n_min]
    primary = dict(zip(adopters, gen.integers(0, 1, len(adopters)), strict=True))  # service: answered by all
    for t, n_t in zip(types, sizes, strict=True):
        ans_t = np.concatenate([adopters, np.setdiff1d(answerers, adopters)])[:n_t] if t == "service" else choose(answerers, n_t)
        col = item("types", t)
        col[ans_t] = "0"
        p = 0.3 + 0.5 * gen.random()
        for i in ans_t:
            if i in primary and (types[primary[i]] == t or gen.random() < p):
                col[i] = "1"

    # promoters: 159 respondents with a most significant innovation
    rows = figures[figures.question_id == "promoters"]
    pool = choose(np.asarray(adopters), int(rows.n_max.max()))
    promoted = _shares(rows[rows.answer == "promoted"], gen, ordered=True)
    barrier_rows = rows[rows.answer == "barrier"].set_index("category_id")
    for c, p_share in promoted.items():
        n_f = int(gen.integers(int(rows.n_min.min()), int(rows.n_max.max()) + 1))
        ans = choose(pool, n_f)
        k_p = count_for(p_share, n_f)
        b = barrier_rows.loc[c]
        b_share = float(b.share) if pd.notna(b.share) else float(gen.uniform(b.lower, min(b.upper, p_share) - 1))
        k_b = count_for(b_share, n_f)
        order = gen.permutation(ans)
        col = item("promoters", c)
        col[order] = "2"
        col[order[:k_p]] = "1"
        col[order[k_p:k_p + k_b]] = "3"

    est = item("key_figures", "established")
    est[:] = "0"
    k = figures[(figures.question_id == "key_figures") & (figures.category_id == "established")].share.iloc[0]
    est[choose(all_idx, count_for(float(k), n_respondents))] = "1"
    wide.insert(1, "organisation_id", _organisations(org, size, n_respondents, gen))
    return pd.concat([wide, pd.DataFrame(dict(sorted(cols.items())))], axis=1)


def _organisations(org: np.ndarray, size: np.ndarray, n_respondents: int, gen: np.random.Generator) -> np.ndarray:
    """Organisation ids: 121 municipalities and 40 joint authorities per 195 responses; repeats keep their size class."""
    out = np.empty(n_respondents, dtype=object)
    for kind, n_org_195, prefix in (("kunta", 121, "k"), ("kuntayhtymä", 40, "y")):
        idx = np.flatnonzero(org == kind)
        n_org = min(len(idx), max(1, round_half_up(n_respondents * n_org_195 / 195)))
        firsts = [int(idx[size[idx] == s][0]) for s in dict.fromkeys(size[idx])]
        rest = np.setdiff1d(idx, firsts)
        primary = sorted(firsts + gen.choice(rest, size=max(0, n_org - len(firsts)), replace=False).tolist())
        ids = {i: f"{prefix}{n:03d}" for n, i in enumerate(primary, 1)}
        for i in idx:
            if i not in ids:
                same = [j for j in primary if size[j] == size[i]]
                ids[int(i)] = ids[int(same[int(gen.integers(len(same)))])]
            out[i] = ids[int(i)]
    return out


def reproduction_errors(figures: pd.DataFrame, estimates: pd.DataFrame) -> list[str]:
    """Each published share or N that ``estimates`` (from :func:`estimate_shares`) does not reproduce."""
    est = estimates.set_index(["question_id", "category_id", "answer"])
    errors = []
    for r in figures[figures.share.notna()].itertuples():
        key = (r.question_id, r.category_id, r.answer)
        if key not in est.index:
            errors.append(f"{key}: not estimated")
            continue
        e = est.loc[key]
        if round_half_up(e.share) != round_half_up(r.share):
            errors.append(f"{key}: {e.share:.2f} % does not round to {r.share} %")
        if pd.notna(r.n_min) and not r.n_min <= e.n <= r.n_max:
            errors.append(f"{key}: N {e.n} outside {r.n_min:.0f}–{r.n_max:.0f}")
    return errors


def write_synthetic(path, figures: pd.DataFrame, *, rng: int = 2022) -> None:
    """Write the synthetic export as UTF-8 CSV with ';' separators (as Finnish survey tools do)."""
    generate_synthetic(figures, rng=rng).to_csv(path, sep=";", index=False, lineterminator="\n", encoding="utf-8")


_ORG_WORDS = {"kunta": "Kunta", "kuntayhtymä": "Kuntayhtymä"}
_PROMOTER_WORDS = {"1": "EDISTI innovaatiota", "2": "ei merkityksellinen tässä yhteydessä", "3": "OLI ESTEENÄ innovaatiolle"}
_ID_HEADERS = {"respondent_id": "Vastaajan tunnus", "organisation_id": "Organisaatio", "org_type": "Organisaation tyyppi",
               "size_class": "Kunnan kokoluokka", "synthetic": "Synteettinen aineisto (ei todellisia vastauksia)"}


def webropol_export(wide: pd.DataFrame, figures: pd.DataFrame, questions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic answers as a survey tool exports them, and the mapping file that reads them back.

    Headers are Finnish, "N. Kysymys – Vaihtoehto" (question wording from ``questions``, option
    from ``label_fi``); organisation types and promoter answers are words; a response-time
    column is added and mapped to ``-`` (not read).

    Returns
    -------
    (export, mapping)
        The export frame (strings) and a frame with columns ``header`` and ``field``.
    """
    labels = figures.drop_duplicates(["question_id", "category_id"]).set_index(["question_id", "category_id"])["label_fi"]
    heads: dict[str, str] = {}
    for col in wide.columns:
        if col in _ID_HEADERS:
            heads[col] = _ID_HEADERS[col]
            continue
        q, c = col.split("__", 1)
        title = str(questions.loc[q, "title_fi"]).split(" (")[0]
        label = str(labels[(q, c)])
        heads[col] = f"{QUESTION_NUMBERS[q]}. {label}" if q == "key_figures" else f"{QUESTION_NUMBERS[q]}. {title} – {label}"
    export = wide.copy()
    export["org_type"] = export["org_type"].map(_ORG_WORDS)
    for col in [c for c in export.columns if c.startswith("promoters__")]:
        export[col] = export[col].map(lambda v: _PROMOTER_WORDS.get(v, v))
    times = pd.date_range("2022-05-02 09:00", periods=len(export), freq="37min")
    export.insert(1, "time", [f"{t.day}.{t.month}.{t.year} {t:%H:%M}" for t in times])
    heads["time"] = "Vastausaika"
    mapping = pd.DataFrame({"header": [heads[c] for c in export.columns],
                            "field": ["-" if c == "time" else c for c in export.columns]})
    return export.rename(columns=heads), mapping


def write_webropol_export(export_path, mapping_path, figures: pd.DataFrame, questions: pd.DataFrame, *, rng: int = 2022) -> None:
    """Write :func:`webropol_export` of the seeded synthetic data: export as ';' CSV, mapping as CSV (UTF-8)."""
    export, mapping = webropol_export(generate_synthetic(figures, rng=rng), figures, questions)
    export.to_csv(export_path, sep=";", index=False, lineterminator="\n", encoding="utf-8")
    mapping.to_csv(mapping_path, index=False, lineterminator="\n", encoding="utf-8")


#: How the synthetic 2025 round differs from 2022 by design: an option dropped and one added (support), an option
#: and two question titles reworded. Its sidecar says so.
ROUND_2025 = {
    "year": "2025", "reference_years": ("2020–2021", "2023–2024"),
    "drop": ("support", "idea_competitions"),
    "add": ("support", "ai_tools", "Hyödyntämällä tekoälyä", "Genom att använda artificiell intelligens",
            "By using artificial intelligence", 0.35),
    "reword_options": {("partners", "companies"): ("Yritykset ja yrittäjät", "Företag och företagare", "Companies and entrepreneurs")},
    "reword_questions": {
        "motivators": ("Mikä innovaatiotoimintaanne motivoi? (% vastanneista)", "Vad motiverar er innovationsverksamhet? (% av de svarande)",
                       "What motivates your innovation activity? (% of respondents)"),
        "partners": ("Kenen kanssa teitte innovaatioyhteistyötä? (% vastanneista)",
                     "Med vem samarbetade ni kring innovationer? (% av de svarande)",
                     "Who did you collaborate with on innovation? (% of respondents)")},
}
_NONE = {"support": "not_supported", "partners": "no_collaboration"}


def synthetic_round(figures: pd.DataFrame, questions: pd.DataFrame, *, rng: int = 2025, base_rng: int = 2022, drift: int = 8,
                    design: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A whole synthetic next round: microdata, the figures tabulated from it, and its questions.

    Starts from :func:`generate_synthetic` of ``figures`` (2022's) with seed ``base_rng`` (the shipped 2022
    synthetic microdata, so the rounds differ by the drift, not by two draws of what 2022 does not publish); with
    seed ``rng`` it moves each yes/no
    item by up to ``drift`` percentage points (flipping answers of respondents who answered it, never a
    "none" answer or a respondent who chose "none"); then applies ``design`` (default :data:`ROUND_2025`):
    drops an option, adds one, rewords options and question titles. The figures are the microdata
    tabulated as the report does (every share published, rounded half up, with its N; ordered charts
    re-sorted by share), so the microdata reproduce them exactly.

    Returns
    -------
    (wide, figures, questions)
        The microdata (strings, as :func:`generate_synthetic`), the published-figures table and the
        questions table (indexed by question_id) of the new round.
    """
    from kuntalib.barometer.bounds import ORDERED
    from kuntalib.barometer.estimates import add_derived_items, estimate_shares
    from kuntalib.barometer.microdata import item_columns, wide_to_long

    d = design or ROUND_2025
    wide, gen = generate_synthetic(figures, rng=base_rng), np.random.default_rng(rng)
    for col in [c for c in wide.columns if "__" in c and not c.startswith("promoters__")]:
        q, c = col.split("__", 1)
        if c == _NONE.get(q):
            continue
        chose_none = wide[f"{q}__{_NONE[q]}"].eq("1") if q in _NONE else pd.Series(False, index=wide.index)
        n, yes = int(wide[col].ne("").sum()), int(wide[col].eq("1").sum())
        shift = int(np.clip(yes + int(gen.integers(-drift, drift + 1)) * n // 100, 0.03 * n, 0.97 * n)) - yes  # 3–97 %
        pool = np.flatnonzero(wide[col].eq("1" if shift < 0 else "0") & ~chose_none)
        flip = gen.choice(pool, size=min(abs(shift), len(pool)), replace=False)
        wide.loc[flip, col] = "0" if shift < 0 else "1"
    dq, dc = d["drop"]
    aq, ac, *labels, p = d["add"]
    answered = wide[f"{aq}__{_NONE[aq]}"]
    new = np.where(answered.eq(""), "", np.where(answered.eq("0") & (gen.random(len(wide)) < p), "1", "0"))
    wide = wide.drop(columns=f"{dq}__{dc}").assign(**{f"{aq}__{ac}": new})
    wide = wide[[*wide.columns[:5], *sorted(wide.columns[5:])]]

    template = figures[~((figures.question_id == dq) & (figures.category_id == dc))].copy()
    added = template[template.question_id == aq].iloc[[0]].assign(category_id=ac, label_fi=labels[0], label_sv=labels[1],
                                                                   label_en=labels[2])
    template = pd.concat([template, added], ignore_index=True)
    year, (old_ref, new_ref) = d["year"], d["reference_years"]
    for lang in ("fi", "sv", "en"):
        template[f"label_{lang}"] = template[f"label_{lang}"].str.replace(old_ref, new_ref)
    for (q, c), words in d["reword_options"].items():
        template.loc[(template.question_id == q) & (template.category_id == c), ["label_fi", "label_sv", "label_en"]] = words
    parsed = wide_to_long(wide, item_columns(template), source="synthetic round")
    est = estimate_shares(add_derived_items(parsed.data)).set_index(["question_id", "category_id", "answer"])
    keys = list(zip(template.question_id, template.category_id, template.answer, strict=True))
    template["share"] = [round_half_up(est.loc[k, "share"]) for k in keys]
    template["n_min"] = template["n_max"] = [int(est.loc[k, "n"]) for k in keys]
    template[["lower", "upper"]] = np.nan
    template = template.assign(published="yes", source_slide="SYNTHETIC", note="synthetic round: tabulated from synthetic_microdata.csv")
    for q, answer in ORDERED.items():
        mask = template.question_id == q
        by = template[mask & (template.answer == answer)].sort_values(["share", "chart_order"], kind="stable")
        rank = dict(zip(by.category_id, range(1, len(by) + 1), strict=True))
        template.loc[mask, "chart_order"] = template.loc[mask, "category_id"].map(rank)
    template = template.sort_values(["question_id", "chart_order"], key=lambda s: s.map(
        {q: i for i, q in enumerate(QUESTION_NUMBERS)}) if s.name == "question_id" else s, kind="stable")

    new_q = questions.copy()
    for lang in ("fi", "sv", "en"):
        new_q[f"title_{lang}"] = new_q[f"title_{lang}"].str.replace("2022", year).str.replace(old_ref, new_ref)
    for q, words in d["reword_questions"].items():
        new_q.loc[q, ["title_fi", "title_sv", "title_en"]] = words
    for q in new_q.index:
        n = template[template.question_id == q]
        lo, hi = int(n.n_min.min()), int(n.n_max.max())
        new_q.loc[q, "n_text"] = str(lo) if lo == hi else f"{lo}–{hi}"
    new_q["other_categories"] = "none"
    return wide, template.reset_index(drop=True), new_q


def write_synthetic_round(folder, figures: pd.DataFrame, questions: pd.DataFrame, *, rng: int = 2025) -> None:
    """Write :func:`synthetic_round` to ``folder``: synthetic_microdata.csv (';'), published_figures.csv, questions.csv."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wide, figs, qs = synthetic_round(figures, questions, rng=rng)
    wide.to_csv(folder / "synthetic_microdata.csv", sep=";", index=False, lineterminator="\n", encoding="utf-8")
    figs.to_csv(folder / "published_figures.csv", index=False, lineterminator="\n", encoding="utf-8")
    qs.reset_index().to_csv(folder / "questions.csv", index=False, lineterminator="\n", encoding="utf-8")
