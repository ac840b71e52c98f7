import json

import pytest

from kuntalib.pipeline.params import ParameterError, parse_cli_value, read_parameters, validate_overrides
from tests.conftest import write_notebook


def test_reads_annotated_literals(tmp_path):
    nb = write_notebook(tmp_path / "a.ipynb", 'lang: str = "fi"  # language\nn: int = 3  # count\nx: float = 1  # ok\nflag: bool = False  # f')
    params = read_parameters(nb)
    assert list(params) == ["lang", "n", "x", "flag"]
    assert params["n"].default == 3 and params["lang"].comment == "language"


@pytest.mark.parametrize(
    "src, message",
    [
        ("lang = 'fi'  # no annotation", "expected 'name: type = literal"),
        ("lang: str = 'fi'", "needs a trailing comment"),
        ("n: int = len('ab')  # derived", "not a literal"),
        ("n: int = 'x'  # wrong", "is not a int"),
        ("d: tuple = (1,)  # unsupported", "annotation must be one of"),
    ],
)
def test_rejects_bad_parameter_cells(tmp_path, src, message):
    nb = write_notebook(tmp_path / "a.ipynb", src)
    with pytest.raises(ParameterError, match=message) as exc:
        read_parameters(nb)
    assert "line 1" in str(exc.value)


def test_needs_exactly_one_parameters_cell(tmp_path):
    nb = write_notebook(tmp_path / "a.ipynb", "x: int = 1  # c")
    data = json.loads(nb.read_text())
    data["cells"][1]["metadata"]["tags"] = []
    nb.write_text(json.dumps(data))
    with pytest.raises(ParameterError, match="found 0"):
        read_parameters(nb)


def test_validate_overrides(tmp_path):
    params = read_parameters(write_notebook(tmp_path / "a.ipynb", 'n: int = 3  # c\nx: float = 1.0  # c'))
    validate_overrides("a.ipynb", params, {"n": 5, "x": 2})
    with pytest.raises(ParameterError, match="unknown parameter 'm'"):
        validate_overrides("a.ipynb", params, {"m": 1})
    with pytest.raises(ParameterError, match="must be int, got str"):
        validate_overrides("a.ipynb", params, {"n": "5"})
    with pytest.raises(ParameterError, match="must be int, got bool"):
        validate_overrides("a.ipynb", params, {"n": True})


def test_cli_values():
    assert parse_cli_value("3") == 3
    assert parse_cli_value("true") is True
    assert parse_cli_value("[1, 2]") == [1, 2]
    assert parse_cli_value("barometer/2022/x.csv") == "barometer/2022/x.csv"


def test_a_str_parameter_keeps_what_was_typed():
    """``-p 01_barometer:round=2025`` is the round "2025" (the notebook declares round: str); other values are parsed."""
    from kuntalib.cli import _overrides

    assert _overrides(["01_barometer:round=2025", "01_barometer:weighted=true", "01_barometer:frame_municipalities=308"]) == {
        "01_barometer": {"round": "2025", "weighted": True, "frame_municipalities": 308}}
