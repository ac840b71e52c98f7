"""Survey microdata against bad and hostile files: every row accepted or rejected with a reason, never a bare exception."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntalib.barometer.microdata import MicrodataError, item_columns, read_wide
from kuntalib.barometer.published import load_published

FIGURES = load_published().figures
ITEMS = list(item_columns(FIGURES))[:6]
HEADER = ["respondent_id", "org_type", "weight", *ITEMS]


def _row(i: int, weight: str = "1") -> list[str]:
    return [f"r{i}", "kunta" if i % 3 else "kuntayhtymä", weight] + [("1" if (i + j) % 2 else "0") if not c.startswith("promoters")
                                                                    else str(1 + (i + j) % 3) for j, c in enumerate(ITEMS)]


def _write(path, lines: list[str], encoding="utf-8") -> None:
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")


def _csv(rows: list[list[str]]) -> list[str]:
    return [";".join(HEADER), *(";".join(r) for r in rows)]


def _accounted(res) -> None:
    assert res.n_accepted_rows + res.rejected.line.nunique() == res.n_rows
    assert res.data.respondent_id.nunique() <= res.n_accepted_rows


def test_spss_numeric_ids_and_weights_are_kept_exactly(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"respondent_id": [1_000_001.0 + i for i in range(20)], "org_type": ["kunta"] * 20,
                       "weight": [1.23456789 + i for i in range(20)], ITEMS[0]: [1.0, 0.0] * 10})
    path = tmp_path / "ids.sav"
    pyreadstat.write_sav(df, str(path))
    res = read_wide(path, FIGURES)
    assert res.rejected.empty and res.n_accepted_rows == 20
    assert sorted(set(res.data.respondent_id)) == [str(1_000_001 + i) for i in range(20)]
    assert set(res.data.weight) == {1.23456789 + i for i in range(20)}


def test_spss_value_labels_do_not_replace_codes(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"respondent_id": ["a", "b", "c"], "org_type": ["kunta"] * 3, ITEMS[0]: [1.0, 0.0, 5.0]})
    path = tmp_path / "labels.sav"
    pyreadstat.write_sav(df, str(path), variable_value_labels={ITEMS[0]: {1.0: "Valittu", 0.0: "Ei valittu", 5.0: "Kyllä"}})
    res = read_wide(path, FIGURES)
    assert res.rejected.empty
    # the codes 1/0 are read as codes; 5 is outside the code table and read through its label "Kyllä"
    assert res.data.set_index("respondent_id").answer.to_dict() == {"a": "yes", "b": "no", "c": "yes"}


@pytest.mark.parametrize("weight", ["inf", "1e400", "-1", "0", "nan", "abc"])
def test_weights_must_be_finite_and_positive(tmp_path, weight):
    path = tmp_path / "w.csv"
    _write(path, _csv([_row(1), _row(2, weight), _row(3, "2,5")]))
    res = read_wide(path, FIGURES)
    assert res.rejected[["line", "column"]].values.tolist() == [[3, "weight"]]
    assert "finite positive" in res.rejected.reason.iloc[0]
    assert set(res.data.weight) == {1.0, 2.5}


def test_rows_with_too_few_or_too_many_fields_are_rejected_alone(tmp_path):
    rows = [_row(i) for i in range(1, 7)]
    lines = _csv(rows)
    lines[1] = lines[1] + ";extra"  # the first data row
    lines[3] = ";".join(rows[2][:3])  # 3 of 9 fields
    lines[5] = lines[5] + ";x;y"  # a later row
    path = tmp_path / "fields.csv"
    _write(path, lines)
    res = read_wide(path, FIGURES)
    _accounted(res)
    assert res.n_rows == 6 and res.n_accepted_rows == 3
    assert res.rejected.line.tolist() == [2, 4, 6]
    assert all(r.startswith("expected 9 fields") for r in res.rejected.reason)


def test_line_numbers_are_physical_after_blank_lines_and_quoted_newlines(tmp_path):
    rows = [_row(i) for i in range(1, 5)]
    rows[1][0] = '"r2\nwith a newline"'
    rows[3][1] = "yhdistys"
    lines = _csv(rows)
    lines.insert(2, "")  # a blank line after the first data row
    path = tmp_path / "lines.csv"
    _write(path, lines)
    res = read_wide(path, FIGURES)
    # header 1, r1 2, blank 3, r2 4–5, r3 6, r4 7
    assert res.rejected.line.tolist() == [7] and res.n_rows == 4
    assert "r2\nwith a newline" in set(res.data.respondent_id)


def test_encodings_are_detected_or_refused_by_name(tmp_path):
    rows = [_row(1), _row(2)]
    rows[0][1] = "kuntayhtymä"
    text = "\n".join(_csv(rows)) + "\n"
    for enc, raw in (("utf-8-sig", text.encode("utf-8-sig")), ("utf-16", text.encode("utf-16")), ("cp1252", text.encode("cp1252"))):
        path = tmp_path / f"{enc}.csv"
        path.write_bytes(raw)
        res = read_wide(path, FIGURES)
        assert res.rejected.empty and set(res.data.org_type) == {"kunta", "kuntayhtymä"}, enc
    (tmp_path / "nobom.csv").write_bytes(text.encode("utf-16-le"))
    with pytest.raises(MicrodataError, match=r"nobom.csv: NUL bytes: UTF-16"):
        read_wide(tmp_path / "nobom.csv", FIGURES)
    (tmp_path / "bad.csv").write_bytes(text.encode("utf-8") + b"\x81\x8d")
    with pytest.raises(MicrodataError, match=r"bad.csv: byte \d+ is not UTF-8 and byte \d+ is not cp1252"):
        read_wide(tmp_path / "bad.csv", FIGURES)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(MicrodataError, match="empty.csv: the file is empty"):
        read_wide(tmp_path / "empty.csv", FIGURES)


def test_excel_sheets_with_data_are_read_or_listed(tmp_path):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame([_row(1), _row(2)], columns=HEADER).to_excel(xl, sheet_name="Vastaukset", index=False)
        pd.DataFrame([_row(3)], columns=HEADER).to_excel(xl, sheet_name="Lisää", index=False)
        pd.DataFrame().to_excel(xl, sheet_name="Tyhjä", index=False)
    with pytest.raises(MicrodataError, match=r"two.xlsx: 2 sheets hold data \(Vastaukset, Lisää\)"):
        read_wide(path, FIGURES)
    assert read_wide(path, FIGURES, sheet="Lisää").n_rows == 1
    assert read_wide(path, FIGURES, sheet="Vastaukset").n_rows == 2


_VALUES = st.sampled_from(["1", "0", "2", "3", "kyllä", "EI", "", " ", "x", "1,5", "inf", "-0", "kunta", "kuntayhtymä",
                           "Kunta", "r1", "r2", '"', ";", "\n", "é", "\x00"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_VALUES, min_size=0, max_size=12), min_size=0, max_size=8))
def test_any_rows_are_accounted_for(tmp_path, rows):
    """Mutated rows of any length and content: MicrodataError for the file, or every row accepted or rejected."""
    path = tmp_path / "h.csv"
    path.write_text("\n".join([";".join(HEADER), *(";".join(r) for r in rows)]) + "\n", encoding="utf-8")
    try:
        res = read_wide(path, FIGURES)
    except MicrodataError:
        return
    _accounted(res)
    assert set(res.data.answer) <= {"yes", "no", "promoted", "not_relevant", "barrier"}
    assert np.isfinite(res.data.weight).all() and (res.data.weight > 0).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes_never_escape_as_a_bare_exception(tmp_path, raw):
    path = tmp_path / "r.csv"
    path.write_bytes(raw)
    try:
        res = read_wide(path, FIGURES)
    except MicrodataError:
        return
    _accounted(res)
