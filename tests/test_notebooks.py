"""The real notebooks: as shipped (defaults) through the build, and with other parameters through papermill."""

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", ["sv"])
def test_barometer_notebook_on_synthetic_microdata(tmp_path, monkeypatch, lang):
    import papermill as pm

    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    pm.execute_notebook(
        str(REPO / "notebooks" / "01_barometer.ipynb"), str(tmp_path / "nb.ipynb"),
        parameters={"lang": lang, "source": "barometer/2022/synthetic_webropol_export.csv",
                    "mapping_file": "barometer/2022/webropol_mapping.csv"},
        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "01_barometer" / lang
    drawn = {p.stem for p in figs.glob("*.png")}
    assert_figures(REPO / "notebooks" / "01_barometer.ipynb", drawn, {"source": "barometer/2022/synthetic_webropol_export.csv"})
    assert {"breakdown_org_type", "breakdown_size_class"} <= drawn  # microdata allow the breakdowns
    support = (figs / "support.svg").read_text(encoding="utf-8")
    assert "SYNTETISKA DATA" in support
    # the file's own counts in the caption, and an interval line over every one of the 12 bars
    assert "195 svar från 161 organisationer" in support and "121 kommuner (147 svar)" in support
    assert support.count('id="LineCollection_') >= 12
    assert "SYNTETISKA DATA" in (figs / "breakdown_org_type.svg").read_text(encoding="utf-8")
    tables = tmp_path / "out" / "tables" / "01_barometer" / lang
    rejected = tables / "microdata_rejected.csv"
    assert rejected.read_text().strip() == "line,column,value,reason"
    cmp = pd.read_csv(tables / "breakdown_org_type.csv")
    assert {"difference", "lower", "upper", "significant", "synthetic"} <= set(cmp.columns)


def test_barometer_notebook_on_the_next_round_from_its_microdata(tmp_path, monkeypatch):
    """The synthetic 2025 round dropped in as a folder, from its microdata, compared with 2022's microdata (en)."""
    import papermill as pm

    from kuntalib.barometer.report import CHARTS
    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path / "processed"))
    params = {"lang": "en", "round": "2025", "compare": "2022", "source": "microdata", "frame_municipalities": 308}
    pm.execute_notebook(str(REPO / "notebooks" / "01_barometer.ipynb"), str(tmp_path / "nb.ipynb"), parameters=params,
                        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"))
    figs = tmp_path / "out" / "figures" / "01_barometer" / "en"
    drawn = {p.stem for p in figs.glob("*.png")}
    assert_figures(REPO / "notebooks" / "01_barometer.ipynb", drawn, params)
    assert {f"compare_{q}" for q in CHARTS} | set(CHARTS) <= drawn and "rounds_2018_2022" not in drawn
    support = (figs / "compare_support.svg").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in support and "rounds 2022 and 2025" in support and "Newcombe" in support
    assert "not published for 2025" in support and "not published for 2022" in support
    assert "2025" in (figs / "key_figures.svg").read_text(encoding="utf-8")  # the round's year, not 2022's
    table = pd.read_csv(tmp_path / "out" / "tables" / "01_barometer" / "en" / "comparison_2022.csv")
    both = table[table.in_now & table.in_before]
    assert both.diff_lower.notna().all() and table.synthetic.all()


def test_strategy_notebook_runs_the_old_file_with_one_round(tmp_path, monkeypatch):
    """Any indicator file in the format: the first (unworded, aimless) Rautjärvi file, one round, English."""
    import papermill as pm

    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path / "processed"))
    pm.execute_notebook(
        str(REPO / "notebooks" / "04_strategy_followup.ipynb"), str(tmp_path / "nb.ipynb"),
        parameters={"lang": "en", "tolerance": 0.05, "indicator_file": "strategy/rautjarvi/indicators.yml",
                    "compare_as_of": "", "impact_chain": ""},
        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "04_strategy_followup" / "en"
    assert (figs / "dashboard.svg").exists() and not (figs / "dashboard_latest.svg").exists()
    assert not (figs / "impact_chain.svg").exists()
    assert {p.stem.split("_", 1)[0] for p in figs.glob("*.png")} == {"strategy", "dashboard", "trajectory", "bullet", "forecast"}
    status = (tmp_path / "out" / "tables" / "04_strategy_followup" / "en" / "status.csv").read_text(encoding="utf-8")
    assert "not_estimable" in status


def test_scenario_notebook_runs_a_second_scenario_set(tmp_path, monkeypatch):
    """The synthetic example set runs through the same notebook by parameter, stamped synthetic."""
    import papermill as pm

    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    pm.execute_notebook(
        str(REPO / "notebooks" / "03_scenarios.ipynb"), str(tmp_path / "nb.ipynb"),
        parameters={"lang": "en", "scenario_file": "scenarios/example/synthetic_municipality_2035.yml",
                    "competence_file": "", "budget_file": "", "population_file": "", "foresight_file": ""},
        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "03_scenarios" / "en"
    params = {"scenario_file": "scenarios/example/synthetic_municipality_2035.yml", "competence_file": "", "budget_file": "",
              "population_file": "", "foresight_file": ""}
    assert_figures(REPO / "notebooks" / "03_scenarios.ipynb", {p.stem for p in figs.glob("*.png")}, params)
    assert not (figs / "competence_matrix.png").exists()  # a section without its file draws nothing
    assert "SYNTHETIC DATA" in (figs / "futures_table.svg").read_text(encoding="utf-8")
    table = (tmp_path / "out" / "tables" / "03_scenarios" / "en" / "futures_table.csv").read_text(encoding="utf-8")
    assert table.splitlines()[0].endswith(",synthetic") and "Remote village" in table


def test_scenario_notebook_names_an_unknown_variable(tmp_path, monkeypatch):
    import papermill as pm

    from tests.conftest import REPO

    root = tmp_path / "proj"
    (root / "data" / "raw" / "scenarios").mkdir(parents=True)
    src = REPO / "data" / "raw" / "scenarios" / "example" / "synthetic_municipality_2035.yml"
    bad = root / "data" / "raw" / "scenarios" / "bad.yml"
    bad.write_text(src.read_text(encoding="utf-8").replace("      migration: {state: gain", "      migrashun: {state: gain"), encoding="utf-8")
    from kuntalib.provenance import write_sidecar

    write_sidecar(bad, source="test", address="-", date="2026-01-01", licence="CC0", synthetic=True)
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(root))
    with pytest.raises(pm.PapermillExecutionError, match=r"bad\.yml: scenarios\[0\] \(remote_village\)\.states\.migrashun: unknown variable"):
        pm.execute_notebook(
            str(REPO / "notebooks" / "03_scenarios.ipynb"), str(tmp_path / "nb.ipynb"),
            parameters={"lang": "fi", "scenario_file": "scenarios/bad.yml", "competence_file": "", "budget_file": "",
                        "population_file": ""},
            kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
        )


def test_device_data_notebook_runs_on_bundles(tmp_path, monkeypatch):
    """Notebook 02 on a small synthetic cohort sent as transaction Bundles: every figure, no identifiers."""
    import pandas as pd
    import papermill as pm

    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    monkeypatch.setenv("KUNTALIB_PROCESSED", str(tmp_path / "processed"))
    pm.execute_notebook(
        str(REPO / "notebooks" / "02_device_data.ipynb"), str(tmp_path / "nb.ipynb"),
        parameters={"lang": "en", "n_clients": 20, "days": 21, "fhir_format": "bundle", "workers": 1, "conformance_sample": 20},
        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "02_device_data" / "en"
    assert_figures(REPO / "notebooks" / "02_device_data.ipynb", {p.stem for p in figs.glob("*.png")})
    assert "SYNTHETIC DATA" in (figs / "adherence.svg").read_text(encoding="utf-8")
    for table in (tmp_path / "out" / "tables" / "02_device_data" / "en").glob("*.csv"):
        cols = set(pd.read_csv(table).columns)
        assert not cols & {"patient", "device", "identifier", "observation_id"}, table.name
        assert "synthetic" in cols or table.stem.startswith("cost_benefit"), table.name
    processed = tmp_path / "processed" / "02_device_data"
    fhir, tidy = (json.loads((processed / step / "metadata.json").read_text(encoding="utf-8")) for step in ("fhir_files", "tidy"))
    assert fhir["params"] == {"fhir_format": "bundle"} and fhir["values"]["sent"][0].startswith("bundles/")
    assert tidy["upstream"] == {"0:fhir_files": fhir["key"]} and tidy["options"] == {"workers": 1}
    assert tidy["values"]["synthetic"] is True
    assert tidy["values"]["accepted"] + tidy["values"]["rejected"] == tidy["values"]["lines"]


def expected_figures(notebook: Path, params: dict | None = None) -> tuple[set[str], set[str], set[str]]:
    """What a run of ``notebook`` must draw, read from its code: ``figure(ax, "name", ...)`` calls.

    Returns (required, optional, prefixes): literal names whose enclosing ``if`` tests use only parameters
    and hold for ``params`` (defaults where not given); literal names under a test of a value the run computes
    (drawn only when the data allow); and the literal prefixes of f-string names (one figure per item).
    """
    from kuntalib.pipeline.params import read_parameters

    values = {n: p.default for n, p in read_parameters(notebook).items()} | (params or {})
    required, optional, prefixes = set(), set(), set()

    def visit(node, conditions):
        if isinstance(node, ast.If):
            for child in node.body:
                visit(child, [*conditions, node.test])
            for child in node.orelse:
                visit(child, [*conditions, ast.UnaryOp(ast.Not(), node.test)])
            return
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "figure" and len(node.args) > 1:
            name = node.args[1]
            if isinstance(name, ast.JoinedStr):
                prefixes.add(name.values[0].value)
            elif all({n.id for n in ast.walk(t) if isinstance(n, ast.Name)} <= set(values) for t in conditions):
                if all(eval(compile(ast.Expression(t), "cond", "eval"), {}, dict(values)) for t in conditions):  # noqa: S307
                    required.add(name.value)
            else:
                optional.add(name.value)
        for child in ast.iter_child_nodes(node):
            visit(child, conditions)

    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            visit(ast.parse("".join(cell["source"])), [])
    return required, optional, prefixes


def assert_figures(notebook: Path, drawn: set[str], params: dict | None = None) -> None:
    """The figures a run drew are those its code calls for with these parameters."""
    required, optional, prefixes = expected_figures(notebook, params)
    assert required <= drawn, (notebook.name, sorted(required - drawn))
    unexpected = {d for d in drawn - required - optional if not any(d.startswith(p) for p in prefixes)}
    assert not unexpected, (notebook.name, sorted(unexpected))
    for prefix in prefixes:
        assert any(d.startswith(prefix) for d in drawn), (notebook.name, prefix)


NOTEBOOKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def declared_steps(notebook: Path) -> list[str]:
    """``<notebook>/<step>`` of every ``run_step(NOTEBOOK, steps.<step>, ...)`` call in the notebook's code."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_step":
                    out.append(f"{notebook.stem}/{node.args[1].attr}")
    return out


def test_every_notebook_runs_as_shipped_and_computes_each_step_once(shipped):
    """The build at every notebook's defaults, three languages: each step is computed by one run and read by the others.

    Each run's record in the build state lists the steps it took; every run takes each step of its notebook
    once. That the build computed each step once and read it twice is checked where it was built from nothing
    in this session (``shipped.fresh``, as on CI); a copy of an earlier ``make build`` may have read every step
    that a build before it computed.
    """
    from kuntalib import paths
    from kuntalib.pipeline.state import BuildState
    from kuntalib.pipeline.steps import step_line
    from tests.conftest import REPO

    report = shipped.report
    assert report.ok, report.summary()
    names = sorted(name for stem in NOTEBOOKS for name in declared_steps(REPO / "notebooks" / f"{stem}.ipynb"))
    assert {"02_device_data/simulate", "02_device_data/cost_benefit", "04_strategy_followup/rounds"} <= set(names)
    if shipped.fresh:
        assert {r.job.stem for r in report.ran} == set(NOTEBOOKS)
        computed = [step_line(s)[1] for s in report.steps if step_line(s)[0] == "computed"]
        read = [step_line(s)[1] for s in report.steps if step_line(s)[0] == "read"]
        assert sorted(computed) == names and sorted(read) == sorted(names * 2)
        assert f"steps: {len(names)} computed, {2 * len(names)} read" in report.summary()
    with shipped.env():
        records = BuildState().records
        assert set(records) == {f"{stem}/{lang}" for stem in NOTEBOOKS for lang in ("fi", "sv", "en")}
        taken = sorted(step_line(line)[1] for rec in records.values() for line in rec.steps)
        assert taken == sorted(names * 3), "every run takes each step of its notebook once"
        for stem in NOTEBOOKS:
            drawn = {lang: {p.stem for p in paths.figures_dir(stem, lang).glob("*.png")} for lang in ("fi", "sv", "en")}
            assert drawn["fi"] == drawn["sv"] == drawn["en"], stem
            assert_figures(REPO / "notebooks" / f"{stem}.ipynb", drawn["fi"])
            for lang in ("fi", "sv", "en"):  # every figure saved is shown on the page, with its alt text
                executed = json.loads((paths.executed_dir(lang) / f"{stem}.ipynb").read_text(encoding="utf-8"))
                shown = [o for c in executed["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
                assert len(shown) == len(drawn[lang]) and all(o["metadata"]["image/png"]["alt"] for o in shown), (stem, lang)
        # the languages publish the same language-neutral numbers
        for table in ("quality_by_vendor", "alerts_by_week", "bp_trend_fixed_effects"):
            fi = (paths.tables_dir("02_device_data", "fi") / f"{table}.csv").read_bytes()
            for lang in ("sv", "en"):
                assert fi == (paths.tables_dir("02_device_data", lang) / f"{table}.csv").read_bytes()
    # nothing machine-specific is published: a rebuild elsewhere (kuntalib verify) must give the same bytes
    for executed in (shipped.outputs / "notebooks").rglob("*.ipynb"):
        text = executed.read_text(encoding="utf-8")
        assert str(shipped.root) not in text and str(REPO) not in text, executed
