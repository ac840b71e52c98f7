"""The papermill build on a tiny fixture project: incremental, validated, failing well, reproducible."""

import json

import pytest

from kuntalib import paths
from kuntalib.cli import build, main
from kuntalib.pipeline.manifest import read_manifest
from kuntalib.pipeline.params import ParameterError
from kuntalib.pipeline.runner import discover, plan, run_build
from tests.conftest import write_notebook

pytestmark = pytest.mark.slow


def _run(langs=("fi",), overrides=None, **kw):
    return run_build(plan(discover(), langs, overrides), progress=False, **kw)


def test_build_writes_outputs_then_skips(project):
    assert build(langs=("fi", "sv"), progress=False) == 0
    out = paths.outputs_dir()
    for lang in ("fi", "sv"):
        assert (out / "figures" / "a_plot" / lang / "bars.png").exists()
        assert (out / "figures" / "a_plot" / lang / "bars.svg").exists()
        assert (out / "tables" / "a_plot" / lang / "values.csv").exists()
        assert (out / "notebooks" / lang / "a_plot.ipynb").exists()
        assert (out / "site" / lang / "a_plot.html").exists()
        assert (out / "site" / lang / "code" / "a_plot.html").exists()
    state = json.loads(paths.build_state_file().read_text())
    assert "data/raw/demo/values.csv" in state["runs"]["a_plot/fi"]["inputs"]
    assert state["runs"]["a_plot/fi"]["steps"] == []  # the fixture notebook declares no step
    assert set(state["runs"]["a_plot/fi"]["outputs"]) >= {"figures/a_plot/fi/bars.png", "notebooks/fi/a_plot.ipynb"}
    manifest = read_manifest(paths.manifest_file())
    assert "figures/a_plot/fi/bars.png" in manifest and "site/index.html" in manifest
    report = _run(("fi", "sv"))
    assert [r.status for r in report.results] == ["skipped", "skipped"]


def test_the_summary_counts_the_steps_each_run_computed_or_read(tmp_path):
    from kuntalib.pipeline.runner import BuildReport, Job, JobResult

    runs = [("fi", ("computed n/a 1f", "computed n/b 2e")), ("sv", ("read n/a 1f", "read n/b 2e")),
            ("en", ("read n/a 1f", "read n/b 2e"))]
    report = BuildReport([JobResult(Job(tmp_path / "n.ipynb", lang, {}), "ok", steps=steps) for lang, steps in runs]
                         + [JobResult(Job(tmp_path / "m.ipynb", "fi", {}), "skipped")])
    assert report.summary().splitlines() == ["3 run, 1 up to date, 0 failed; steps: 2 computed, 4 read from data/processed",
                                             "  n/a: computed 1, read 2", "  n/b: computed 1, read 2"]


def test_the_tests_reuse_only_a_whole_unedited_build(project):
    """``whole_build_of`` (tests/conftest.py), which lets the shared test build start from ``make build``'s."""
    from kuntalib.pipeline.state import BuildState
    from tests.conftest import whole_build_of

    assert not whole_build_of(plan(discover(), ("fi",)))  # nothing built
    assert build(langs=("fi",), progress=False) == 0
    assert whole_build_of(plan(discover(), ("fi",)))
    assert not whole_build_of(plan(discover(), ("fi", "sv")))  # a run missing
    state = BuildState()
    state.get("a_plot/fi").steps = ["read a_plot/s 1f"]  # as if the run had read a step stored under key 1f
    state.save()
    stored = paths.data_processed() / "a_plot" / "s" / "metadata.json"
    stored.parent.mkdir(parents=True)
    stored.write_text('{"key": "1f"}', encoding="utf-8")
    assert whole_build_of(plan(discover(), ("fi",)))
    stored.write_text('{"key": "2e"}', encoding="utf-8")  # the step's folder now holds another key
    assert not whole_build_of(plan(discover(), ("fi",)))
    stored.write_text('{"key": "1f"}', encoding="utf-8")
    table = paths.tables_dir("a_plot", "fi") / "values.csv"
    table.write_text(table.read_text(encoding="utf-8") + "9,9\n", encoding="utf-8")
    assert not whole_build_of(plan(discover(), ("fi",)))  # an output edited since the build


def test_reruns_when_params_data_or_notebook_change(project):
    _run()
    assert _run(overrides={"a_plot": {"n": 2}}).ran  # parameter changed
    assert not _run(overrides={"a_plot": {"n": 2}}).ran
    raw = project / "data" / "raw" / "demo" / "values.csv"
    raw.write_text(raw.read_text() + "4,1\n")  # data changed (checksum now fails: run is attempted)
    report = _run(overrides={"a_plot": {"n": 2}})
    assert report.failed and "checksum" in report.failed[0].message


def test_bad_parameters_run_nothing(project):
    with pytest.raises(ParameterError, match="unknown parameter 'bars'"):
        plan(discover(), ("fi",), {"a_plot": {"bars": 2}})
    with pytest.raises(ParameterError, match="must be int"):
        plan(discover(), ("fi",), {"a_plot": {"n": "two"}})
    assert main(["build", "-p", "a_plot:bars=2", "--no-progress"]) == 2
    assert not paths.outputs_dir().exists()


def test_failing_notebook_is_named_kept_and_others_finish(project, capsys):
    write_notebook(project / "notebooks" / "b_fail.ipynb", 'lang: str = "fi"  # l', "x = 1", "raise RuntimeError('boom')")
    assert build(langs=("fi",), progress=False) == 1
    text = capsys.readouterr().out
    assert "FAILED b_fail/fi" in text and "RuntimeError: boom" in text and "raise RuntimeError" in text
    assert (paths.outputs_dir() / "failed" / "fi" / "b_fail.ipynb").exists()
    assert (paths.outputs_dir() / "notebooks" / "fi" / "a_plot.ipynb").exists()
    assert not (paths.site_dir() / "fi" / "b_fail.html").exists()
    assert json.loads(paths.build_state_file().read_text())["runs"].keys() == {"a_plot/fi"}
    index = (paths.site_dir() / "fi" / "index.html").read_text(encoding="utf-8")
    assert '<li class="failed">b_fail – <strong>suoritus epäonnistui; sivua ei ole vielä</strong></li>' in index


def test_executed_notebooks_are_normalised(project):
    _run()
    nb = json.loads((paths.outputs_dir() / "notebooks" / "fi" / "a_plot.ipynb").read_text())
    assert nb["metadata"]["papermill"] == {"parameters": {"lang": "fi"}}
    assert [c["id"] for c in nb["cells"]] == [f"cell-{i:03d}" for i in range(len(nb["cells"]))]
    assert not any("execution" in c["metadata"] or "papermill" in c["metadata"] for c in nb["cells"])


def test_two_builds_same_bytes_and_verify(project, capsys):
    assert build(langs=("fi", "en"), progress=False) == 0
    assert main(["verify", "--no-progress"]) == 0
    assert "0 differ" in capsys.readouterr().out
    # a tampered output is reported by name
    png = paths.outputs_dir() / "figures" / "a_plot" / "en" / "bars.png"
    png.write_bytes(png.read_bytes() + b"x")
    assert main(["verify", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "edited since the build: figures/a_plot/en/bars.png" in out and "differs from a fresh rebuild" not in out


def test_a_kernel_that_dies_before_it_answers_is_started_again(project, monkeypatch):
    """A kernel that never answered ran nothing (a TCP port taken between choosing and binding it): the run
    starts a new one; a kernel that keeps dying fails the run, saying how often it was started."""
    import os

    import papermill

    from kuntalib.pipeline import runner

    for name in ("KUNTALIB_OUTPUTS", runner.INPUT_LOG_ENV, runner.STEP_LOG_ENV, "MPLBACKEND"):  # _execute sets these:
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored (or removed) after the test
        if not os.environ[name]:
            monkeypatch.delenv(name)
    real, calls = papermill.execute_notebook, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    job = next(j for j in plan(discover(), ("fi",), None) if j.stem == "a_plot")
    status, message, _inputs, _steps = runner._execute(job, {})
    assert (status, message, len(calls)) == ("ok", "", 2)

    def dead(*args, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", dead)
    status, message, _inputs, _steps = runner._execute(job, {})
    assert status == "failed" and f"kernel started {runner.KERNEL_STARTS} times" in message
