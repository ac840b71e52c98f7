"""A build that never loses a good output: validation first, staged outputs, interruption, locking, verify."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kuntalib import paths
from kuntalib.cli import build, main
from kuntalib.pipeline.manifest import collect, read_manifest
from kuntalib.pipeline.params import ParameterError
from kuntalib.pipeline.runner import discover, plan
from tests.conftest import REPO, write_notebook

pytestmark = pytest.mark.slow

ROBUST_PARAMS = (
    'lang: str = "fi"  # fi, sv or en\n'
    'data_file: str = "demo/values.csv"  # values file under data/raw\n'
    'extra_file: str = ""  # optional second file under data/raw; "" for none\n'
    "fail: bool = False  # raise after drawing\n"
    "sleep: float = 0.0  # seconds to wait before drawing"
)
ROBUST_CODE = (
    "import time\n"
    "import matplotlib.pyplot as plt\n"
    "import pandas as pd\n"
    "from kuntalib import outputs, theme\n"
    "from kuntalib.provenance import open_raw\n"
    "theme.set_theme()\n"
    "time.sleep(sleep)\n"
    "path, prov = open_raw(data_file)\n"
    "df = pd.read_csv(path)\n"
    "fig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.bar(df['x'], df['y'])\n"
    "outputs.save_figure(ax, 'bars', notebook='c_robust', lang=lang)\n"
    "outputs.save_table(df, 'values', notebook='c_robust', lang=lang)\n"
    "plt.show()\n"
    "if fail:\n"
    "    raise RuntimeError('boom after drawing')"
)


@pytest.fixture
def robust(project) -> Path:
    write_notebook(project / "notebooks" / "c_robust.ipynb", ROBUST_PARAMS, ROBUST_CODE, title="# Robust")
    return project


def _snapshot() -> dict[str, str]:
    return collect(paths.outputs_dir())


def _cli(*args: str, env_extra: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "kuntalib", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


BAD_PATHS = [
    ("../../../etc/passwd", "not a file path under data/raw"),
    ("demo/missing.csv", "no such file under data/raw"),
    ("demo", "no such file under data/raw"),
    ("/etc/passwd", "not a file path under data/raw"),
]


def test_a_bad_path_parameter_starts_no_kernel_and_deletes_nothing(robust, capsys):
    assert build(["c_robust"], langs=("fi",), progress=False) == 0
    before = _snapshot()
    state = paths.build_state_file().read_bytes()
    for value, message in BAD_PATHS:
        with pytest.raises(ParameterError, match=f"c_robust.ipynb: parameter 'data_file' = {re.escape(repr(value))}: {message}"):
            plan(discover(["c_robust"]), ("fi",), {"c_robust": {"data_file": value}})
        assert main(["build", "c_robust", "--lang", "fi", "--no-progress", "-p", f"c_robust:data_file={value}"]) == 2
        assert message in capsys.readouterr().err
    assert _snapshot() == before and paths.build_state_file().read_bytes() == state
    assert not paths.staging_dir().exists()  # no run was started


def test_path_parameters_need_a_sidecar_and_empty_only_where_documented(robust):
    (robust / "data" / "raw" / "demo" / "nosidecar.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="has no provenance sidecar"):
        plan(discover(["c_robust"]), ("fi",), {"c_robust": {"data_file": "demo/nosidecar.csv"}})
    with pytest.raises(ParameterError, match="'data_file' = '': a file under data/raw is required"):
        plan(discover(["c_robust"]), ("fi",), {"c_robust": {"data_file": ""}})
    plan(discover(["c_robust"]), ("fi",), {"c_robust": {"extra_file": ""}})  # documented: "" for none


def test_a_failing_notebook_keeps_its_last_good_outputs_and_is_marked(robust, capsys):
    assert build(["c_robust"], langs=("fi",), progress=False) == 0
    good = _snapshot()
    page = paths.site_dir() / "fi" / "c_robust.html"
    assert page.exists()
    assert build(["c_robust"], langs=("fi",), overrides={"c_robust": {"fail": True}}, progress=False) == 1
    assert "boom after drawing" in capsys.readouterr().out
    now = _snapshot()
    for rel, digest in good.items():
        if not rel.startswith("site/") or rel.endswith("c_robust.html"):
            assert now.get(rel) == digest, rel  # figures, tables, executed notebook and pages unchanged
    assert (paths.outputs_dir() / "failed" / "fi" / "c_robust.ipynb").exists()
    index = (paths.site_dir() / "fi" / "index.html").read_text(encoding="utf-8")
    assert 'class="failed"' in index and "c_robust.html" in index
    assert not list(paths.outputs_dir().glob(".staging/*"))
    assert build(["c_robust"], langs=("fi",), progress=False) == 0
    assert not (paths.outputs_dir() / "failed" / "fi" / "c_robust.ipynb").exists()
    assert 'class="failed"' not in (paths.site_dir() / "fi" / "index.html").read_text(encoding="utf-8")


def _wait_for_record(run_id: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        state = paths.build_state_file()
        if state.exists():
            try:
                if run_id in json.loads(state.read_text(encoding="utf-8")).get("runs", {}):
                    return
            except json.JSONDecodeError:
                pass  # never expected: the state is written atomically
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    raise AssertionError(f"{run_id} was not recorded in {timeout} s")


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal, even when the tests were started in the background (where
    a shell hands its background jobs SIGINT ignored, and a child would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="signals a process group, as a POSIX terminal does; on Windows "
                    "tests/test_portable.py kills a build that holds the lock")
@pytest.mark.parametrize("sig", [getattr(signal, "SIGKILL", None), signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_interrupted_build_is_finished_by_the_next_one(robust, sig, capsys):
    proc = _cli("build", "--no-progress", "-j", "1", "--lang", "fi", "-p", "c_robust:sleep=120", start_new_session=True,
                preexec_fn=_default_sigint)
    _wait_for_record("a_plot/fi", proc)
    time.sleep(2)  # c_robust is now running (sleeping)
    t0 = time.monotonic()
    os.killpg(proc.pid, sig)  # as Ctrl-C in a terminal does: the whole process group
    proc.wait(timeout=60)
    if sig == signal.SIGINT:
        assert time.monotonic() - t0 < 30, "Ctrl-C must cancel the queued and running work promptly"
        assert proc.returncode == 130 and "interrupted; the notebooks that finished are recorded" in proc.stdout.read()
    state = json.loads(paths.build_state_file().read_text(encoding="utf-8"))
    assert set(state["runs"]) == {"a_plot/fi"}
    assert not (paths.outputs_dir() / "notebooks" / "fi" / "c_robust.ipynb").exists()
    assert build(langs=("fi",), progress=False) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 run, 1 up to date, 0 failed"), out
    assert main(["verify", "--no-progress"]) == 0
    assert "0 differ" in capsys.readouterr().out
    assert not list(paths.outputs_dir().glob(".staging/*"))


def test_two_builds_at_once_do_not_corrupt(robust, capsys):
    procs = [_cli("build", "--no-progress", "--lang", "fi,sv") for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("waiting for another build" in o for o in outs) == 1, outs
    assert build(langs=("fi", "sv"), progress=False) == 0
    assert capsys.readouterr().out.startswith("0 run, 4 up to date")
    assert main(["verify", "--no-progress"]) == 0


def test_verify_names_an_edited_output_and_a_noop_build_does_not_record_it(robust, capsys):
    assert build(langs=("fi",), progress=False) == 0
    manifest = read_manifest(paths.manifest_file())
    table = paths.tables_dir("c_robust", "fi") / "values.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("5", "9"), encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "edited since the build: tables/c_robust/fi/values.csv" in out
    # the next build sees that the output no longer matches its record and runs it again
    assert build(langs=("fi",), progress=False) == 0
    assert capsys.readouterr().out.startswith("1 run, 1 up to date")
    assert read_manifest(paths.manifest_file()) == manifest
    assert main(["verify", "--no-progress"]) == 0


def test_a_state_file_of_the_wrong_shape_is_rebuilt_not_a_crash(robust, capsys):
    paths.build_state_file().parent.mkdir(parents=True, exist_ok=True)
    for bad in ("[]", '{"runs": {"a_plot/fi": 3}}', "{not json", '{"a_plot/fi": {"static": "x"}}', '{"format": 2, "runs": {}}'):
        paths.build_state_file().write_text(bad, encoding="utf-8")
        assert build(["a_plot"], langs=("fi",), progress=False) == 0
        assert capsys.readouterr().out.startswith("1 run, 0 up to date")
