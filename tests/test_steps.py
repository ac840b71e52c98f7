"""Compute once, render per language: the step cache in data/processed."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kuntalib.pipeline import steps
from kuntalib.pipeline.steps import StepData, StepError, run_step


@pytest.fixture
def processed(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path / "processed"))
    monkeypatch.delenv(steps.CACHE_ENV, raising=False)
    return tmp_path / "processed"


@pytest.fixture
def raw(tmp_path) -> Path:
    p = tmp_path / "input.csv"
    p.write_text("x\n1\n2\n", encoding="utf-8")
    return p


def _table(rng: np.random.Generator, n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({
        "name": [f"v{i}" for i in range(n)],
        "value": rng.normal(size=n),
        "missing": np.where(rng.random(n) < 0.3, np.nan, 1.0),
        "flag": rng.random(n) < 0.5,
        "time_utc": pd.date_range("2024-01-08", periods=n, freq="37min", tz="UTC"),
        "count": rng.integers(0, 100, n),
    })


class Counter:
    """A step function that counts its calls and writes a file into its work folder."""

    def __init__(self, table: pd.DataFrame):
        self.calls, self.table = 0, table

    def __call__(self, work: Path) -> StepData:
        self.calls += 1
        (work / "intermediate.txt").write_text("kept", encoding="utf-8")
        return StepData({"t": self.table}, {"n": len(self.table), "label": "ä"})


def test_computes_once_then_reads_the_same_tables(processed, raw, rng):
    f = Counter(_table(rng))
    first = run_step("01_demo", "est", f, params={"a": 1}, inputs=[raw])
    second = run_step("01_demo", "est", f, params={"a": 1}, inputs=[raw])
    assert f.calls == 1 and first.computed and not second.computed
    pd.testing.assert_frame_equal(second["t"], f.table)
    assert second.values == {"n": 20, "label": "ä"}
    assert (second.path / "work" / "intermediate.txt").read_text() == "kept"
    meta = json.loads((processed / "01_demo" / "est" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["params"] == {"a": 1} and meta["tables"] == {"t": 20} and meta["step"] == "est"
    assert list(meta["inputs"].values()) == [steps.sha256_file(raw)] and len(meta["code_version"]) == 64


def test_any_change_of_parameters_inputs_or_code_computes_again(processed, raw, rng, monkeypatch):
    f = Counter(_table(rng))
    run_step("nb", "s", f, params={"a": 1}, inputs=[raw])
    run_step("nb", "s", f, params={"a": 2}, inputs=[raw])
    assert f.calls == 2
    raw.write_text("x\n1\n3\n", encoding="utf-8")
    run_step("nb", "s", f, params={"a": 2}, inputs=[raw])
    assert f.calls == 3
    monkeypatch.setattr("kuntalib.pipeline.state.package_hash", lambda: "0" * 64)
    run_step("nb", "s", f, params={"a": 2}, inputs=[raw])
    assert f.calls == 4
    assert not run_step("nb", "s", f, params={"a": 2}, inputs=[raw]).computed


def test_cache_off_computes_every_time(processed, raw, rng, monkeypatch):
    f = Counter(_table(rng))
    monkeypatch.setenv(steps.CACHE_ENV, "off")
    run_step("nb", "s", f, params={}, inputs=[raw])
    assert run_step("nb", "s", f, params={}, inputs=[raw]).computed and f.calls == 2


def test_a_failing_step_keeps_the_previous_result(processed, raw, rng):
    f = Counter(_table(rng))
    run_step("nb", "s", f, params={"a": 1}, inputs=[raw])

    def boom(work: Path) -> StepData:
        (work / "half.txt").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_step("nb", "s", boom, params={"a": 2}, inputs=[raw])
    again = run_step("nb", "s", f, params={"a": 1}, inputs=[raw])
    assert not again.computed and f.calls == 1
    assert sorted(p.name for p in (processed / "nb").iterdir()) == [".s.lock", "s"]


@pytest.mark.parametrize(
    "result, message",
    [
        (StepData({"t": pd.DataFrame({1: [1]})}), "column names that are not strings"),
        (StepData({"Bad Name": pd.DataFrame({"a": [1]})}), "table name"),
        (StepData({"t": [1, 2]}), "not a DataFrame"),
        (StepData({}, {"x": object()}), "values must be JSON"),
        ({"t": pd.DataFrame()}, "expected StepData"),
    ],
)
def test_results_that_cannot_be_stored_are_named(processed, result, message):
    with pytest.raises(StepError, match=message):
        run_step("nb", "s", lambda work: result, params={})
    assert not (processed / "nb" / "s").exists()


def test_bad_names_params_and_inputs_are_refused(processed, tmp_path):
    with pytest.raises(StepError, match="step name"):
        run_step("nb", "../x", lambda w: StepData(), params={})
    with pytest.raises(StepError, match="JSON values"):
        run_step("nb", "s", lambda w: StepData(), params={"p": object()})
    with pytest.raises(StepError, match="does not exist"):
        run_step("nb", "s", lambda w: StepData(), params={}, inputs=[tmp_path / "nope.csv"])


def _worker(args: tuple[str, str, str]) -> bool:
    processed, raw, log = args
    os.environ["KUNTALIB_PROCESSED"] = processed

    def compute(work: Path) -> StepData:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("computed\n")
        return StepData({"t": pd.DataFrame({"a": np.arange(1000)})})

    res = run_step("nb", "s", compute, params={"p": 1}, inputs=[raw])
    return bool(res["t"]["a"].sum() == 499500)


def test_processes_that_want_the_same_step_compute_it_once(processed, raw, tmp_path):
    log = tmp_path / "log.txt"
    with mp.get_context("spawn").Pool(4) as pool:
        ok = pool.map(_worker, [(str(processed), str(raw), str(log))] * 8)
    assert all(ok)
    assert log.read_text().splitlines() == ["computed"]
