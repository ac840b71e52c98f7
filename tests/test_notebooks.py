"""Smoke tests: each real notebook runs through papermill into a scratch folder."""

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
        parameters={"lang": lang, "source": "barometer/2022/synthetic_microdata.csv"},
        kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "01_barometer" / lang
    assert {p.stem for p in figs.glob("*.png")} == {"key_figures", "support", "partners", "types", "motivators", "promoters", "achievements"}
    assert "SYNTETISKA DATA" in (figs / "support.svg").read_text(encoding="utf-8")
    rejected = tmp_path / "out" / "tables" / "01_barometer" / lang / "microdata_rejected.csv"
    assert rejected.read_text().strip() == "line,column,value,reason"


def test_strategy_notebook_runs(tmp_path, monkeypatch):
    import papermill as pm

    from tests.conftest import REPO

    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "out"))
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    pm.execute_notebook(
        str(REPO / "notebooks" / "04_strategy_followup.ipynb"), str(tmp_path / "nb.ipynb"),
        parameters={"lang": "en", "tolerance": 0.05}, kernel_name="python3", progress_bar=False, cwd=str(REPO / "notebooks"),
    )
    figs = tmp_path / "out" / "figures" / "04_strategy_followup" / "en"
    assert (figs / "dashboard.svg").exists() and (figs / "impact_chain.png").exists()
    assert len(list(figs.glob("trajectory_*.png"))) == 6
