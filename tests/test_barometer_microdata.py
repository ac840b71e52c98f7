"""Barometer microdata: survey-tool exports through a mapping, design-based intervals, breakdowns, captions, rounds."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from kuntalib.barometer import steps
from kuntalib.barometer.charts import caption_lines, plot_rounds
from kuntalib.barometer.estimates import add_derived_items, estimate_shares, wilson_fpc
from kuntalib.barometer.microdata import MicrodataError, load_mapping, read_wide
from kuntalib.barometer.published import load_press, load_published
from kuntalib.barometer.report import DEFAULT_FRAMES, respondent_counts
from kuntalib.barometer.synthetic import generate_synthetic, webropol_export
from kuntalib.provenance import open_raw

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def pub():
    return load_published()


@pytest.fixture(scope="module")
def shipped_export():
    export, _ = open_raw("barometer/2022/synthetic_webropol_export.csv")
    mapping, _ = open_raw("barometer/2022/webropol_mapping.csv")
    return export, mapping


def test_shipped_export_reads_through_its_mapping_like_the_microdata(pub, shipped_export):
    export, mapping = shipped_export
    res = read_wide(export, pub.figures, mapping=mapping)
    plain, _ = open_raw("barometer/2022/synthetic_microdata.csv")
    ref = read_wide(plain, pub.figures)
    assert res.n_rows == 195 and res.rejected.empty and res.synthetic
    pd.testing.assert_frame_equal(res.data, ref.data)
    assert respondent_counts(res.data) == {"responses": 195, "organisations": 161, "responses_municipalities": 147,
                                           "municipalities": 121, "responses_joint": 48, "joint": 40}


def test_shipped_export_files_are_what_the_generator_writes(pub, shipped_export, tmp_path):
    from kuntalib.barometer.synthetic import write_webropol_export

    write_webropol_export(tmp_path / "e.csv", tmp_path / "m.csv", pub.figures, pub.questions)
    assert (tmp_path / "e.csv").read_bytes() == shipped_export[0].read_bytes()
    assert (tmp_path / "m.csv").read_bytes() == shipped_export[1].read_bytes()


def _small_export(pub, n=12):
    export, mapping = webropol_export(generate_synthetic(pub.figures, rng=5).head(n), pub.figures, pub.questions)
    return export, mapping


def test_every_unmapped_and_doubly_mapped_column_is_named(pub, tmp_path):
    export, mapping = _small_export(pub)
    path = tmp_path / "export.csv"
    export.to_csv(path, sep=";", index=False)
    cut = mapping[~mapping.header.isin([export.columns[2], export.columns[9]])]
    cut.to_csv(tmp_path / "cut.csv", index=False)
    with pytest.raises(MicrodataError) as err:
        read_wide(path, pub.figures, mapping=tmp_path / "cut.csv")
    msg = str(err.value)
    assert "export.csv: 2 column(s) not in the mapping" in msg
    assert f"'{export.columns[2]}' (3)" in msg and f"'{export.columns[9]}' (10)" in msg
    double = mapping.copy()
    double.loc[double.header == export.columns[9], "field"] = double.loc[double.header == export.columns[8], "field"].iloc[0]
    double.to_csv(tmp_path / "double.csv", index=False)
    with pytest.raises(MicrodataError, match=r"doubly mapped: .*\(9\).*\(10\)"):
        read_wide(path, pub.figures, mapping=tmp_path / "double.csv")
    bad = pd.concat([mapping, pd.DataFrame({"header": ["Uusi sarake", export.columns[3]], "field": ["support__magic", "weight"]})])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MicrodataError) as err:
        load_mapping(tmp_path / "bad.csv", pub.figures)
    assert "'support__magic'" in str(err.value) and "mapped twice" in str(err.value)
    assert f"line {len(mapping) + 2}" in str(err.value)


def test_yaml_mapping_and_header_spelling(pub, tmp_path):
    import yaml

    export, mapping = _small_export(pub)
    # an export whose headers use a hyphen and double spaces where the mapping has an en dash
    export.columns = [c.replace(" – ", "  -  ") if " – " in c else c for c in export.columns]
    path = tmp_path / "export.csv"
    export.to_csv(path, sep=";", index=False)
    ymap = tmp_path / "map.yml"
    ymap.write_text(yaml.safe_dump(dict(zip(mapping.header, mapping.field, strict=True)), allow_unicode=True), encoding="utf-8")
    res = read_wide(path, pub.figures, mapping=ymap)
    assert res.n_rows == 12 and res.rejected.empty


def test_excel_with_a_two_row_header_reads_directly(pub, tmp_path):
    export, mapping = _small_export(pub)
    top, second = [], []
    last_q = None
    for col in export.columns:
        q, _, option = col.partition(" – ")
        if option:
            top.append(q if q != last_q else "")  # merged cells: the question only over its first option
            second.append(option)
            last_q = q
        else:
            top.append(col)
            second.append("")
            last_q = None
    rows = [top, second, *export.astype(str).values.tolist()]
    path = tmp_path / "export.xlsx"
    pd.DataFrame(rows).to_excel(path, header=False, index=False)
    mpath = tmp_path / "m.csv"
    mapping.to_csv(mpath, index=False)
    for header_rows in (None, 2):
        res = read_wide(path, pub.figures, mapping=mpath, header_rows=header_rows)
        assert res.n_rows == 12 and res.rejected.empty
    ref = read_wide_csv(export, tmp_path, pub, mpath)
    pd.testing.assert_frame_equal(res.data, ref.data)
    # a bad value's line is the sheet's row: two header rows, then data from row 3
    rows[3][6] = "ehkä"
    pd.DataFrame(rows).to_excel(path, header=False, index=False)
    res = read_wide(path, pub.figures, mapping=mpath)
    assert res.rejected.line.tolist() == [4]


def read_wide_csv(export, tmp_path, pub, mpath):
    path = tmp_path / "flat.csv"
    export.to_csv(path, sep=";", index=False)
    return read_wide(path, pub.figures, mapping=mpath)


def _long(n_org: int, yes: int, org_type: str, copies: int = 1) -> pd.DataFrame:
    rows = []
    for i in range(n_org):
        for k in range(copies):
            rows.append({"respondent_id": f"{org_type}{i}_{k}", "organisation_id": f"{org_type}{i}", "org_type": org_type,
                         "size_class": "x", "weight": 1.0, "question_id": "support", "category_id": "rnd",
                         "answer": "yes" if i < yes else "no"})
    return pd.DataFrame(rows)


def test_fpc_is_per_stratum_and_counts_organisations():
    one = _long(100, 40, "kunta")
    est = estimate_shares(one, frames={"kunta": 309}, cluster="organisation_id")
    row = est[est.answer == "yes"].iloc[0]
    lo, hi = wilson_fpc(0.4, 100, population=309)
    # linearised variance with m/(m−1): the same interval up to that factor
    assert row.lower == pytest.approx(100 * lo, abs=0.3) and row.upper == pytest.approx(100 * hi, abs=0.3)
    # a census of the municipalities has no sampling error; an unknown frame gets no correction
    census = estimate_shares(_long(20, 5, "kunta"), frames={"kunta": 20}, cluster="organisation_id")
    yes = census[census.answer == "yes"].iloc[0]
    assert yes.lower == yes.share == yes.upper == 25
    unknown = estimate_shares(one, frames={"kunta": None}, cluster="organisation_id")
    plain = estimate_shares(one)
    assert (unknown.upper - unknown.lower).iloc[1] > (est.upper - est.lower).iloc[1]
    assert unknown.upper.iloc[1] == pytest.approx(plain.upper.iloc[1], abs=0.3)
    with pytest.raises(ValueError, match="more than its frame"):
        estimate_shares(one, frames={"kunta": 50}, cluster="organisation_id")


def test_repeat_responses_of_one_organisation_do_not_narrow_the_interval():
    single = estimate_shares(_long(60, 24, "kunta"), frames={"kunta": None}, cluster="organisation_id")
    twice = estimate_shares(_long(60, 24, "kunta", copies=2), frames={"kunta": None}, cluster="organisation_id")
    naive = estimate_shares(_long(60, 24, "kunta", copies=2))
    s, t, n = (d[d.answer == "yes"].iloc[0] for d in (single, twice, naive))
    assert t.n == 120 and t.organisations == 60
    assert t.lower == pytest.approx(s.lower) and t.upper == pytest.approx(s.upper)
    assert t.deff == pytest.approx(2 * s.deff)  # the design effect of answering twice
    assert (n.upper - n.lower) < (t.upper - t.lower)  # treating repeats as independent is too narrow


def test_microdata_step_draws_what_the_file_holds(pub, shipped_export):
    export, mapping = shipped_export
    step = steps.figures(pub.provenance.path, export, mapping, synthetic=True, frame_municipalities=DEFAULT_FRAMES["kunta"])
    figs = step["figures"]
    est = figs[figs.share.notna()]
    assert (est.lower <= est.share + 1e-9).all() and (est.share <= est.upper + 1e-9).all()
    assert est.deff.notna().any()
    cmp = step["by_org_type"]
    assert {"difference", "lower", "upper", "significant"} <= set(cmp.columns)
    assert (cmp.significant == ((cmp.lower > 0) | (cmp.upper < 0))).all()
    assert set(step["by_size_class"].size_class) == {"alle 5 000", "5 000–20 000", "yli 20 000"}
    assert step["responses"] == 195 and step["organisations"] == 161 and step["synthetic"] is True
    assert step["rejected"] == 0 and step["rejected_rows"].empty


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_captions_explain_the_counts(pub, lang):
    press = load_press()
    q = pub.questions.loc["support"]
    text = " ".join(caption_lines(q, lang=lang, year=2022, press=press))
    for n in ("195", "121", "40", "34"):
        assert n in text
    counts = {"responses": 30, "organisations": 25, "municipalities": 20, "responses_municipalities": 24, "joint": 5, "responses_joint": 6}
    text = " ".join(caption_lines(q, lang=lang, year=2022, press=press, counts=counts, n_range=(28.0, 30.0)))
    assert "195" not in text and "121" not in text
    for n in ("30", "25", "20", "24", "28–30"):
        assert n in text


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_rounds_chart_shows_both_rounds_with_sources(lang):
    from kuntalib.present import figure_alt

    press = load_press()
    ax = plot_rounds(press, lang=lang)
    alt = figure_alt(ax)
    texts = " ".join(t.get_text() for t in ax.texts)
    for v in ("95", "96", "36", "39"):
        assert v in texts
    assert "innovaatiot-ovat-yleisia-kunnissa" in alt and "kunta-alan-innovaatiobarometri-2022" in alt
    widths = sorted(round(p.get_width()) for p in ax.patches)
    assert widths == [36, 39, 95, 96]
    matplotlib.pyplot.close(ax.figure)
    with pytest.raises(ValueError, match="both rounds"):
        plot_rounds(press.drop(index=["adopted_any_2018", "responding_municipalities_share_2018"]), lang=lang)


def test_missing_answers_are_estimated_as_zero_not_dropped():
    long = _long(10, 10, "kunta")
    est = estimate_shares(long.assign(question_id="support"))
    # 'no' is an answer of the question even where nobody gave it
    assert len(est) == 1 or set(est.answer) == {"yes"}
    both = pd.concat([long, _long(5, 0, "kuntayhtymä").assign(category_id="experiments")])
    est = estimate_shares(both)
    rnd = est[est.category_id == "rnd"].set_index("answer")
    assert rnd.loc["no", "share"] == 0 and rnd.loc["yes", "share"] == 100
    assert np.isfinite(rnd.loc["no", "upper"])


def test_organisation_defaults_to_the_respondent(pub):
    res = read_wide_frame(pub)
    assert (res.data.organisation_id == res.data.respondent_id).all()
    assert add_derived_items(res.data).organisation_id.notna().all()


def read_wide_frame(pub):
    from kuntalib.barometer.microdata import item_columns, wide_to_long

    wide = generate_synthetic(pub.figures, rng=3).head(20).drop(columns="organisation_id")
    return wide_to_long(wide.astype(str), item_columns(pub.figures), source="frame")


def test_an_item_the_file_cannot_estimate_says_so_not_unpublished():
    from kuntalib.barometer.charts import plot_bars

    df = pd.DataFrame({"chart_order": [1, 2], "label_en": ["a", "b"], "share": [np.nan, 40.0], "lower": [np.nan, 30.0],
                       "upper": [np.nan, 50.0]})
    ax = plot_bars(df, lang="en")
    texts = [t.get_text() for t in ax.texts]
    assert "not in the data file" in texts and not any("not published" in t for t in texts)
    assert len(ax.patches) == 1  # one bar, no band for the missing item
    matplotlib.pyplot.close(ax.figure)


def test_size_chart_names_every_class_in_its_legend(pub):
    from kuntalib.barometer.charts import plot_by_size

    rows = [{"question_id": "key_figures", "category_id": c, "size_class": k, "answer": "yes", "n": 10, "share": 50.0,
             "lower": 30.0, "upper": 70.0} for c, k in (("established", "alle 5 000"), ("supported", "alle 5 000"),
                                                         ("supported", "yli 20 000"))]
    ax = plot_by_size(pd.DataFrame(rows), pub.figures, lang="en")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["under 5,000 inhabitants (n = 10)", "over 20,000 inhabitants (n = 10)"]
    matplotlib.pyplot.close(ax.figure)
