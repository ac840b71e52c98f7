"""SPSS as written (#32): numeric codes with value labels read like the same answers written as text."""

import numpy as np
import pandas as pd
import pyreadstat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.barometer.estimates import estimate_shares
from kuntalib.barometer.microdata import read_wide
from kuntalib.barometer.published import load_published

FIGURES = load_published().figures
SIZES = ["alle\u00a05 000", "5 000–20 000", "yli 20 000"]  # a no-break space, as SPSS files write it
ORGS = ["Kunta", "KUNTAYHTYMÄ "]  # labels in any case and spacing
YES_NO = ["Kyllä", "Ei"]
PROMOTER = ["EDISTI", "ei merkityksellinen", "OLI ESTEENÄ"]
TEXT = {"org_type": ["kunta", "kuntayhtymä"], "size_class": SIZES, "support__rnd": ["1", "0"],
        "partners__companies": ["1", "0"], "promoters__legislation": ["1", "2", "3"]}
LABELS = {"org_type": ORGS, "size_class": SIZES, "support__rnd": YES_NO, "partners__companies": YES_NO,
          "promoters__legislation": PROMOTER}


def _choices(n: int = 12, seed: int = 7) -> pd.DataFrame:
    """Each row's category (an index into LABELS) per column, ids and weights; fixed seed."""
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({c: rng.integers(0, len(v), n) for c, v in LABELS.items()})
    out.insert(0, "respondent_id", 1_000_001.0 + np.arange(n))
    out.insert(1, "organisation_id", 2_000_000.0 + np.arange(n) // 2)
    out["weight"] = rng.uniform(0.5, 2.5, n).round(3)
    return out


def _write(choices: pd.DataFrame, tmp, codes: dict[str, list], *, as_text: bool = False, bad: int | None = None
           ) -> tuple[object, object]:
    """The choices as a labelled .sav (category k of a column coded ``codes[col][k]``) and as a text CSV.

    ``bad``: that row's org_type gets code 7, which has no label.
    """
    sav, csv = choices.copy(), choices.copy()
    labels = {}
    for col, names in LABELS.items():
        code = [str(c) if as_text else float(c) for c in codes[col]]
        sav[col] = [code[k] for k in choices[col]]
        csv[col] = [TEXT[col][k] for k in choices[col]]
        labels[col] = dict(zip(code, names, strict=True))
    if bad is not None:
        sav.loc[bad, "org_type"] = "7" if as_text else 7.0
        csv.loc[bad, "org_type"] = "7"
    pyreadstat.write_sav(sav, str(tmp / "b.sav"), variable_value_labels=labels)
    csv.assign(respondent_id=csv.respondent_id.astype(int), organisation_id=csv.organisation_id.astype(int)
               ).to_csv(tmp / "b.csv", sep=";", index=False)
    return read_wide(tmp / "b.sav", FIGURES), read_wide(tmp / "b.csv", FIGURES)


CODES = {"org_type": [1, 2], "size_class": [1, 2, 3], "support__rnd": [1, 2], "partners__companies": [2, 1],
         "promoters__legislation": [3, 2, 1]}  # 1 = "Ei" and 1 = "OLI ESTEENÄ": the label, not the code, is read


def test_labelled_codes_read_as_the_same_data_as_text_and_an_unlabelled_code_is_named(tmp_path):
    sav, csv = _write(_choices(), tmp_path, CODES, bad=4)
    pd.testing.assert_frame_equal(sav.data, csv.data)
    pd.testing.assert_frame_equal(estimate_shares(sav.data, by="size_class"), estimate_shares(csv.data, by="size_class"))
    assert sav.n_rows == 12 and sav.n_accepted_rows + sav.rejected.line.nunique() == sav.n_rows == csv.n_rows
    assert sav.rejected[["line", "column", "value"]].values.tolist() == [[5, "org_type", "7"]]
    assert sav.rejected.reason.iloc[0] == "org_type code 7 has no value label and is not one of kunta, kuntayhtymä"
    assert sorted(set(sav.data.respondent_id)) == [str(1_000_001 + i) for i in range(12) if i != 4]
    assert set(sav.data.organisation_id) == {str(2_000_000 + i // 2) for i in range(12) if i != 4}
    assert set(sav.data.size_class) == set(SIZES) & set(csv.data.size_class)


def test_codes_stored_as_text_read_like_numbers(tmp_path):
    text_codes = {c: [f"{k}.0" if i % 2 else str(k) for i, k in enumerate(v)] for c, v in CODES.items()}  # '1' and '2.0'
    sav, csv = _write(_choices(), tmp_path, text_codes, as_text=True, bad=0)
    pd.testing.assert_frame_equal(sav.data, csv.data)
    assert sav.rejected.reason.tolist() == ["org_type code 7 has no value label and is not one of kunta, kuntayhtymä"]


def test_an_unlabelled_size_code_or_a_label_outside_the_table_is_rejected_by_name(tmp_path):
    df = pd.DataFrame({"respondent_id": ["a", "b", "c", "d"], "org_type": [1.0, 3.0, 1.0, 1.0],
                       "size_class": [1.0, 1.0, 9.0, np.nan], "support__rnd": [5.0, 1.0, 1.0, 0.0]})
    pyreadstat.write_sav(df, str(tmp_path / "s.sav"), variable_value_labels={
        "org_type": {1: "kunta", 3: "muu"}, "size_class": {1: "alle 5 000", 2: "yli 5 000"}, "support__rnd": {5: "ehkä"}})
    res = read_wide(tmp_path / "s.sav", FIGURES)
    assert res.rejected[["line", "column", "reason"]].values.tolist() == [
        [1, "support__rnd", "support__rnd code 5 is labelled 'ehkä', not 1/0 or kyllä/ei"],
        [2, "org_type", "org_type code 3 is labelled 'muu', not one of kunta, kuntayhtymä"],
        [3, "size_class", "size_class code 9 has no value label and is not one of alle 5 000, yli 5 000"]]
    assert res.data.drop_duplicates("respondent_id").set_index("respondent_id").size_class.to_dict() == {"d": "ei tiedossa"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(perm=st.permutations(range(8)), as_text=st.booleans())
def test_any_code_numbers_give_the_text_result(tmp_path, perm, as_text):
    codes = {c: [perm[(i + k) % 8] for k in range(len(v))] for i, (c, v) in enumerate(LABELS.items())}
    sav, csv = _write(_choices(8, seed=3), tmp_path, codes, as_text=as_text)
    pd.testing.assert_frame_equal(sav.data, csv.data)
    assert sav.rejected.empty and csv.rejected.empty
