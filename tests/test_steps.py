"""Compute once, render per language: the declared step graph and its cache in data/processed."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kuntalib import paths
from kuntalib.fhir import steps as fhir_steps
from kuntalib.pipeline import steps
from kuntalib.pipeline.steps import StepError, StepResult, code_files, code_version, run_step
from kuntalib.provenance import INPUT_LOG_ENV

CALLS: Counter[str] = Counter()


@pytest.fixture
def processed(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path / "processed"))
    monkeypatch.delenv(steps.CACHE_ENV, raising=False)
    CALLS.clear()
    return tmp_path / "processed"


@pytest.fixture
def raw(tmp_path) -> Path:
    p = tmp_path / "input.csv"
    p.write_text("x\n1\n2\n", encoding="utf-8")
    return p


def _table(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "name": [f"v{i}" for i in range(n)],
        "value": rng.normal(size=n),
        "missing": np.where(rng.random(n) < 0.3, np.nan, 1.0),
        "flag": rng.random(n) < 0.5,
        "time_utc": pd.date_range("2024-01-08", periods=n, freq="37min", tz="UTC"),
        "count": rng.integers(0, 100, n),
    })


# Step functions live in a module file (this one): their code version covers it.

def estimate(source: Path, *, work: Path, scale: float = 1.0) -> dict[str, Any]:
    """Reads a file, keeps a file in its work folder."""
    CALLS["estimate"] += 1
    (work / "intermediate.txt").write_text("kept", encoding="utf-8")
    x = pd.read_csv(source)["x"] * scale
    return {"t": _table(), "x": pd.DataFrame({"x": x}), "n": 20, "label": "ä", "total": float(x.sum())}


def double(up: StepResult, *, offset: int = 0) -> dict[str, Any]:
    CALLS["double"] += 1
    return {"x": up["x"] * 2 + offset, "total": up["total"] * 2 + offset * len(up["x"])}


def report(up: StepResult, *, workers: int = 1) -> dict[str, Any]:
    CALLS["report"] += 1
    CALLS[f"report_workers_{workers}"] += 1
    return {"total": up["total"]}


def maybe(source: Path | None = None) -> dict[str, Any]:
    CALLS["maybe"] += 1
    return {"has_file": source is not None}


def boom(*, work: Path, a: int = 0) -> dict[str, Any]:
    (work / "half.txt").write_text("x")
    raise RuntimeError("boom")


def chain(raw: Path, scale: float = 1.0, offset: int = 0, workers: int = 1) -> list[StepResult]:
    first = run_step("nb", estimate, source=raw, scale=scale)
    second = run_step("nb", double, first, offset=offset)
    return [first, second, run_step("nb", report, second, options={"workers": workers})]


def test_computes_once_then_reads_the_same_tables_and_values(processed, raw):
    first = run_step("01_demo", estimate, source=raw, scale=1.0)
    second = run_step("01_demo", estimate, source=raw, scale=1.0)
    assert CALLS["estimate"] == 1 and first.computed and not second.computed
    pd.testing.assert_frame_equal(second["t"], _table())
    assert second.values == {"n": 20, "label": "ä", "total": 3.0} and second["label"] == "ä"
    assert second.work == second.path / "work" and (second.work / "intermediate.txt").read_text() == "kept"
    meta = json.loads((processed / "01_demo" / "estimate" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["step"] == "estimate" and meta["tables"] == {"t": 20, "x": 2} and meta["key"] == second.key
    assert meta["params"] == {"scale": 1.0, "source": meta["params"]["source"]}
    assert meta["inputs"] == {meta["params"]["source"]: steps.sha256_file(raw)} and len(meta["code_version"]) == 64
    assert meta["code_files"][0] == "kuntalib/__init__.py" and "tests.test_steps:test_steps.py" in meta["code_files"]


def nested() -> dict[str, Any]:
    return {"t": pd.DataFrame({"a": [1, 2]}), "d": {"a": [1]}}


def test_getitem_gives_copies_and_names_what_is_there(processed, raw):
    res = run_step("nb", nested)
    table, value = res["t"], res["d"]
    table.loc[0, "a"] = 99
    value["a"].append(2)
    assert res["t"]["a"].tolist() == [1, 2] and res["d"] == {"a": [1]}
    res = run_step("nb", estimate, source=raw)
    with pytest.raises(KeyError, match="tables: t, x; values: n, label, total"):
        res["nope"]
    assert run_step("nb", maybe).work is None


def test_a_parameter_change_recomputes_that_step_and_those_below_only(processed, raw):
    chain(raw)
    assert +CALLS == {"estimate": 1, "double": 1, "report": 1, "report_workers_1": 1}
    assert [r.computed for r in chain(raw)] == [False, False, False]
    assert [r.computed for r in chain(raw, offset=1)] == [False, True, True]
    assert [r.computed for r in chain(raw, offset=1)] == [False, False, False]
    assert CALLS["estimate"] == 1 and CALLS["double"] == 2 and CALLS["report"] == 2


def test_an_upstream_change_recomputes_the_chain_below(processed, raw):
    before = chain(raw)
    raw.write_text("x\n1\n3\n", encoding="utf-8")  # an input byte of the first step
    after = chain(raw)
    assert [r.computed for r in after] == [True, True, True]
    assert [a.key != b.key for a, b in zip(before, after, strict=True)] == [True, True, True]
    assert after[-1]["total"] == 8.0
    assert [r.computed for r in chain(raw, scale=2.0)] == [True, True, True]


def test_options_are_passed_but_not_part_of_the_key(processed, raw, monkeypatch):
    first = chain(raw, workers=1)[-1]
    again = chain(raw, workers=3)[-1]
    assert not again.computed and again.key == first.key and CALLS["report_workers_3"] == 0
    assert first.metadata["options"] == {"workers": 1}
    monkeypatch.setenv(steps.CACHE_ENV, "off")
    assert chain(raw, workers=3)[-1].key == first.key and CALLS["report_workers_3"] == 1


def test_a_file_parameter_may_be_none_and_is_tracked_as_an_input(processed, raw, tmp_path, monkeypatch):
    log = tmp_path / "inputs.log"
    monkeypatch.setenv(INPUT_LOG_ENV, str(log))
    assert run_step("nb", maybe, source=None)["has_file"] is False
    with_file = run_step("nb", maybe, source=raw)
    assert with_file.computed and with_file["has_file"] is True
    assert log.read_text().splitlines() == [str(raw.resolve())]


def test_the_code_version_covers_the_modules_a_step_imports_and_nothing_else(tmp_path):
    """Fixing a word in a translation catalogue recomputes nothing; a change to a module recomputes the steps that import it."""
    root = tmp_path / "kuntalib"
    shutil.copytree(paths.package_dir(), root, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    files = code_files(fhir_steps.simulate, root)
    assert "kuntalib/fhir/steps.py" in files and "kuntalib/fhir/simulate.py" in files and "kuntalib/fhir/columns.py" in files
    assert not [f for f in files if f.startswith(("kuntalib/locale", "kuntalib/templates", "kuntalib/pipeline"))]
    assert "kuntalib/barometer/bounds.py" not in files and "kuntalib/present.py" not in files
    before = {f: code_version(f, root) for f in (fhir_steps.simulate, fhir_steps.cost_benefit)}
    po = root / "locale" / "sv" / "LC_MESSAGES" / "kuntalib.po"
    po.write_text(po.read_text(encoding="utf-8").replace("msgstr \"", "msgstr \"x", 1), encoding="utf-8")
    assert {f: code_version(f, root) for f in before} == before
    simulate_py = root / "fhir" / "simulate.py"
    simulate_py.write_text(simulate_py.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert code_version(fhir_steps.simulate, root) != before[fhir_steps.simulate]
    assert "kuntalib/fhir/simulate.py" in code_files(fhir_steps.cost_benefit, root)  # the step module imports it
    cost = root / "fhir" / "costbenefit.py"
    cost.write_text(cost.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert code_version(fhir_steps.cost_benefit, root) != before[fhir_steps.cost_benefit]


def test_a_code_change_recomputes(processed, raw, monkeypatch):
    run_step("nb", estimate, source=raw)
    monkeypatch.setattr(steps, "_digest", lambda files: "0" * 64)  # the code version run_step keys on
    assert run_step("nb", estimate, source=raw).computed and CALLS["estimate"] == 2


def test_cache_off_computes_every_time(processed, raw, monkeypatch):
    monkeypatch.setenv(steps.CACHE_ENV, "off")
    run_step("nb", estimate, source=raw)
    assert run_step("nb", estimate, source=raw).computed and CALLS["estimate"] == 2


def test_a_failing_step_keeps_the_previous_result(processed, raw):
    run_step("nb", estimate, source=raw, scale=1.0)
    with pytest.raises(RuntimeError, match="boom"):
        run_step("nb", boom, a=1)
    again = run_step("nb", estimate, source=raw, scale=1.0)
    assert not again.computed and CALLS["estimate"] == 1
    assert sorted(p.name for p in (processed / "nb").iterdir()) == [".boom.lock", ".estimate.lock", "estimate"]


def _returns(value: Any):
    def result() -> Any:
        return value
    return result


@pytest.mark.parametrize(
    "value, message",
    [
        ({"t": pd.DataFrame({1: [1]})}, "column names that are not strings"),
        ({"Bad Name": pd.DataFrame({"a": [1]})}, "table name"),
        ({"x": object()}, "values must be JSON"),
        ({"x": np.int64(3)}, "values must be JSON"),
        ([pd.DataFrame()], "expected a dict"),
    ],
)
def test_results_that_cannot_be_stored_are_named(processed, value, message):
    with pytest.raises(StepError, match=message):
        run_step("nb", _returns(value))
    assert not (processed / "nb" / "result").exists()


def test_bad_names_params_calls_and_inputs_are_refused(processed, raw, tmp_path):
    def Bad() -> dict:
        return {}

    with pytest.raises(StepError, match="step name"):
        run_step("nb", Bad)
    with pytest.raises(StepError, match="JSON values"):
        run_step("nb", maybe, source=object())
    with pytest.raises(StepError, match="does not exist"):
        run_step("nb", maybe, source=tmp_path / "nope.csv")
    with pytest.raises(StepError, match="does not fit"):
        run_step("nb", maybe, other=1)
    with pytest.raises(StepError, match="given twice"):
        run_step("nb", report, run_step("nb", maybe), workers=1, options={"workers": 2})
    typed_in: dict[str, Any] = {"__name__": "__main__"}
    exec("def typed_in_a_console():\n    return {}", typed_in)  # a function without a source file
    with pytest.raises(StepError, match="not defined in a module file"):
        run_step("nb", typed_in["typed_in_a_console"])
    assert CALLS["maybe"] == 1


def _worker(args: tuple[str, str, str]) -> bool:
    processed, raw, log = args
    os.environ["KUNTALIB_PROCESSED"] = processed
    res = run_step("nb", logged, source=Path(raw), log=log)
    return bool(res["t"]["a"].sum() == 499500)


def logged(source: Path, *, log: str) -> dict[str, Any]:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("computed\n")
    return {"t": pd.DataFrame({"a": np.arange(1000)})}


def test_processes_that_want_the_same_step_compute_it_once(processed, raw, tmp_path):
    log = tmp_path / "log.txt"
    with mp.get_context("spawn").Pool(4) as pool:
        ok = pool.map(_worker, [(str(processed), str(raw), str(log))] * 8)
    assert all(ok)
    assert log.read_text().splitlines() == ["computed"]
