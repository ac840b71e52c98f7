"""Inputs hostile or careless: YAML alias bombs refused fast everywhere, small cells never published."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from kuntalib.yamlsafe import MAX_BYTES, YamlError, safe_load_text

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def test_alias_bombs_are_refused_at_once():
    t0 = time.perf_counter()
    with pytest.raises(YamlError, match=r"line 2, column \d+: aliases \(\*a\) are not allowed"):
        safe_load_text(BOMB, "bomb.yml")
    assert time.perf_counter() - t0 < 1
    with pytest.raises(YamlError, match="larger than"):
        safe_load_text("x: " + "y" * (MAX_BYTES + 1), "big.yml")
    assert safe_load_text("a: [1, 2]\nb: {c: d}\n", "ok.yml") == {"a": [1, 2], "b": {"c": "d"}}


def test_every_yaml_reader_refuses_aliases(tmp_path):
    from kuntalib.fhir.simulate import load_cohort_config
    from kuntalib.indicators import load_impact_chain, load_indicator_file
    from kuntalib.indicators.model import IndicatorFileError
    from kuntalib.provenance import ProvenanceError, read_provenance
    from kuntalib.scenarios import load_model
    from kuntalib.scenarios.model import ScenarioFileError

    bomb = tmp_path / "bomb.yml"
    bomb.write_text(BOMB, encoding="utf-8")
    for load, error in ((load_indicator_file, IndicatorFileError), (load_model, ScenarioFileError), (load_cohort_config, ValueError),
                        (load_impact_chain, ValueError)):
        with pytest.raises(error, match="alias"):
            load(bomb)
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "data.csv.provenance.yml").write_text(BOMB, encoding="utf-8")
    with pytest.raises(ProvenanceError, match="alias"):
        read_provenance(data)


def test_small_cells_below_five_persons_are_refused():
    from kuntalib.fhir.analysis import suppress_small

    df = pd.DataFrame({"persons": [3, 9], "alerts": [4, 12]})
    for k in (0, -1, 4):
        with pytest.raises(ValueError, match="at least 5"):
            suppress_small(df, "persons", k=k)
    out = suppress_small(df, "persons")
    assert out["alerts"].isna().tolist() == [True, False]
