"""Barometer 2022: the published table, its constraints, charts, microdata and synthetic data."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from kuntalib.barometer.charts import plot_bars
from kuntalib.barometer.estimates import add_derived_items, compare_groups, estimate_shares, poststratify, wilson_fpc
from kuntalib.barometer.microdata import MicrodataError, item_columns, read_wide
from kuntalib.barometer.published import check_constraints, load_published, promoters_table
from kuntalib.barometer.report import CHARTS, plot_question
from kuntalib.barometer.synthetic import count_for, generate_synthetic, reproduction_errors
from kuntalib.provenance import open_raw

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seeds" / "000_9036ed6640ce4509.txt"


@pytest.fixture(scope="module")
def figures() -> pd.DataFrame:
    return load_published().figures


def test_every_published_share_is_quoted_in_the_seed(figures):
    if not SEED.exists():
        pytest.skip("shared/seeds not beside the checkout")
    text = SEED.read_text(encoding="utf-8")
    quoted = {int(m) for m in re.findall(r"(\d{1,2})\s*%", text)}
    for r in figures[figures.published].itertuples():
        assert int(r.share) in quoted, f"{r.question_id}/{r.category_id}: {r.share} % not in the seed"


def test_seed_numbers_are_exactly_there(figures):
    f = figures.set_index(["question_id", "category_id", "answer"]).share
    assert f["support", "user_ideas", "yes"] == 70 and f["support", "not_supported", "yes"] == 10
    assert f["partners", "municipalities", "yes"] == 79 and f["motivators", "process_development", "yes"] == 81
    assert f["promoters", "new_technology", "promoted"] == 78 and f["promoters", "financial_resources", "barrier"] == 34
    assert f["achievements", "functional_processes", "yes"] == 72 and f["key_figures", "established", "yes"] == 58
    assert figures[figures.question_id == "support"].n_max.eq(185).all()
    assert len(figures[(figures.question_id == "promoters")].category_id.unique()) == 15
    assert len(figures[(figures.question_id == "support")]) == 12


def test_unpublished_values_stay_unpublished(figures):
    unpublished = figures[~figures.published]
    assert unpublished.share.isna().all() and len(unpublished) > 0
    assert (unpublished.lower <= unpublished.upper).all()


def test_constraints_hold_and_breaches_are_caught(figures):
    assert check_constraints(figures) == []
    bad = figures.copy()
    i = bad.index[(bad.category_id == "financial_resources") & (bad.answer == "barrier")][0]
    bad.loc[i, "share"] = 60
    assert any("not below promoted" in p for p in check_constraints(bad))
    bad = figures.copy()
    i = bad.index[(bad.question_id == "support") & (bad.category_id == "experiments")][0]
    bad.loc[i, "share"] = 80
    assert any("ascending chart order" in p for p in check_constraints(bad))


def test_not_relevant_is_derived_only_where_it_follows(figures):
    pro = promoters_table(figures)
    nr = pro[(pro.answer == "not_relevant") & pro.share.notna()]
    assert nr.category_id.tolist() == ["financial_resources"] and nr.share.iloc[0] == 11 and nr.derived.all()


def test_bars_draw_no_bar_for_unpublished_values(figures):
    rows = figures[figures.question_id == "support"]
    ax = plot_bars(rows, lang="en")
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == (~rows.published).sum() == 8
    labels = [t.get_text() for t in ax.texts]
    assert sum("not published" in t for t in labels) == 8 and "70%" in labels
    assert ax.get_yticklabels()[-1].get_text().startswith("By collecting ideas")


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_chart_has_caption_and_source(figures, lang):
    pub = load_published()
    for chart in CHARTS:
        ax = plot_question(chart, figures, pub.questions, lang=lang)
        caption = "\n".join(t.get_text() for t in ax.figure.texts)
        assert "N = " in caption and "2022" in caption
        assert {"fi": "Lähde", "sv": "Källa", "en": "Source"}[lang] in caption


def test_wilson_matches_statsmodels_and_fpc_narrows():
    slo, shi = proportion_confint(round(0.7 * 185), 185, method="wilson")
    p = round(0.7 * 185) / 185
    lo, hi = wilson_fpc(p, 185)
    assert lo == pytest.approx(slo) and hi == pytest.approx(shi)
    flo, fhi = wilson_fpc(p, 185, population=309)
    assert flo > lo and fhi < hi
    assert wilson_fpc(p, 309, population=309) == (p, p)
    with pytest.raises(ValueError, match="exceeds population"):
        wilson_fpc(0.5, 400, population=309)


def test_synthetic_reproduces_every_published_share_and_n(figures):
    for seed in (2022, 7):
        wide = generate_synthetic(figures, rng=seed)
        parsed = read_wide_frame(wide, figures)
        est = estimate_shares(add_derived_items(parsed.data))
        assert reproduction_errors(figures, est) == []
        assert parsed.synthetic


def read_wide_frame(wide, figures):
    from kuntalib.barometer.microdata import wide_to_long

    return wide_to_long(wide.astype(str), item_columns(figures), source="frame")


def test_shipped_synthetic_file_is_what_the_generator_writes(figures, tmp_path):
    from kuntalib.barometer.synthetic import write_synthetic

    path, prov = open_raw("barometer", "2022", "synthetic_microdata.csv")
    assert prov.synthetic and "SYNTHETIC" in prov.source
    write_synthetic(tmp_path / "s.csv", figures, rng=2022)
    assert (tmp_path / "s.csv").read_bytes() == path.read_bytes()


def test_count_for_rounds_like_the_report():
    assert count_for(10, 185) in (18, 19)
    assert round(100 * count_for(58, 195) / 195) == 58
    with pytest.raises(ValueError):
        count_for(33, 2)


def _export(tmp_path, figures, name="export.csv", encoding="utf-8", sep=";"):
    cols = item_columns(figures)
    rows = [
        {"respondent_id": "r1", "org_type": "Kunta", "weight": "1,5", "support__user_ideas": "kyllä", "promoters__legislation": "OLI ESTEENÄ"},
        {"respondent_id": "r2", "org_type": "kuntayhtymä", "weight": "0,5", "support__user_ideas": "ei", "promoters__legislation": "2"},
        {"respondent_id": "r3", "org_type": "kunta", "weight": "1", "support__user_ideas": "ehkä", "promoters__legislation": "1"},
        {"respondent_id": "r4", "org_type": "yhdistys", "weight": "1", "support__user_ideas": "1", "promoters__legislation": ""},
    ]
    df = pd.DataFrame(rows, columns=["respondent_id", "org_type", "weight", *[c for c in cols if c in rows[0]]])
    path = tmp_path / name
    if path.suffix == ".xlsx":
        df.to_excel(path, index=False)
    else:
        df.to_csv(path, sep=sep, index=False, encoding=encoding)
    return path


@pytest.mark.parametrize("encoding, sep", [("utf-8", ";"), ("cp1252", ";"), ("utf-8", ",")])
def test_csv_export_parses_and_rejects_with_reasons(tmp_path, figures, encoding, sep):
    if sep == ",":
        path = tmp_path / "e.csv"
        pd.DataFrame({"respondent_id": ["r1"], "org_type": ["kunta"], "support__user_ideas": ["1"]}).to_csv(path, index=False)
    else:
        path = _export(tmp_path, figures, encoding=encoding, sep=sep)
    res = read_wide(path, figures)
    if sep == ",":
        assert res.n_rows == 1 and len(res.data) == 1
        return
    assert res.n_rows == 4 and res.n_accepted_rows == 2 and res.n_accepted_rows + res.rejected.line.nunique() == res.n_rows
    assert set(res.rejected.line) == {4, 5}
    assert set(res.rejected.column) == {"support__user_ideas", "org_type"}
    d = res.data.set_index(["respondent_id", "category_id"])
    assert d.loc[("r1", "legislation"), "answer"] == "barrier" and d.loc[("r1", "user_ideas"), "weight"] == 1.5
    assert d.loc[("r2", "legislation"), "answer"] == "not_relevant"
    assert set(res.data.org_type) == {"kunta", "kuntayhtymä"}


def test_excel_and_spss_exports(tmp_path, figures):
    import pyreadstat

    res = read_wide(_export(tmp_path, figures, name="e.xlsx"), figures)
    assert res.n_accepted_rows == 2 and set(res.rejected.line) == {4, 5}
    df = pd.DataFrame({"respondent_id": ["a", "b"], "org_type": ["kunta", "kuntayhtymä"],
                       "promoters__legislation": [1.0, 3.0], "support__user_ideas": [1.0, 0.0]})
    path = tmp_path / "e.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels={"promoters__legislation": {1.0: "EDISTI", 2.0: "ei merkityksellinen", 3.0: "OLI ESTEENÄ"}})
    res = read_wide(path, figures)
    assert res.rejected.empty
    assert res.data.set_index(["respondent_id", "category_id"]).loc[("b", "legislation"), "answer"] == "barrier"


def test_unknown_column_names_the_column(tmp_path, figures):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"respondent_id": ["r1"], "org_type": ["kunta"], "support__magic": ["1"]}).to_csv(path, sep=";", index=False)
    with pytest.raises(MicrodataError, match=r"bad.csv: column 'support__magic'"):
        read_wide(path, figures)
    pd.DataFrame({"respondent_id": ["r1"]}).to_csv(path, index=False)
    with pytest.raises(MicrodataError, match="required column 'org_type'"):
        read_wide(path, figures)


def test_weights_and_group_comparison(figures):
    wide = generate_synthetic(figures, rng=1)
    long = read_wide_frame(wide, figures).data
    strata = long.drop_duplicates("respondent_id").groupby(["org_type", "size_class"]).size()
    pop = {h: 3.0 * n for h, n in strata.items()}
    weighted = poststratify(long, pop)
    assert np.allclose(weighted.weight, 3.0)
    est_w = estimate_shares(weighted, weighted=True)
    est_u = estimate_shares(long)
    assert np.allclose(est_w.share, est_u.share)
    with pytest.raises(ValueError, match="no population count"):
        poststratify(long, {})
    cmp = compare_groups(long)
    row = cmp[(cmp.question_id == "support") & (cmp.category_id == "user_ideas")].iloc[0]
    assert row.difference == pytest.approx(row.share_kunta - row["share_kuntayhtymä"])
    assert row.lower <= row.difference <= row.upper and 0 <= row.p_value <= 1
