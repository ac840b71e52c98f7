"""The three doors (#33): ``kuntalib lab`` (researcher), ``kuntalib serve`` (editor), papermill (reviewer).

No real JupyterLab starts here: the tests check that the registration step leaves a kernel spec
that Jupyter finds, that a notebook runs top to bottom on that kernel and draws the same figures
as on the build's kernel, with no "Kernel is running over TCP without encryption" line, and that
``kuntalib lab`` hands JupyterLab the project root and ``notebooks/``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from kuntalib import cli, lab
from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "04_strategy_followup.ipynb"


@pytest.fixture(scope="module")
def registered() -> Path:
    """The registration step of ``kuntalib lab``, into this environment's prefix (the venv), as ``make lab`` does."""
    spec, config = lab.register_kernel()
    assert config == lab.kernel_config_file(), "the venv's kernel config is not kuntalib's: the TCP warning would show"
    return spec


def test_registration_leaves_a_kernel_spec_jupyter_finds(registered):
    assert registered == Path(sys.prefix) / "share" / "jupyter" / "kernels" / "kuntalib"
    spec = json.loads((registered / "kernel.json").read_text(encoding="utf-8"))
    assert spec["display_name"] == f"kuntalib (Python {sys.version_info.major}.{sys.version_info.minor})"
    assert spec["language"] == "python"
    assert os.path.samefile(spec["argv"][0], sys.executable), "the kernel is this venv's Python"
    assert spec["argv"][-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    listed = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                            capture_output=True, text=True, encoding="utf-8", check=True, timeout=120)
    found = json.loads(listed.stdout)["kernelspecs"]
    assert Path(found["kuntalib"]["resource_dir"]).resolve() == registered.resolve()


def test_registration_into_another_prefix_stays_there(tmp_path):
    spec, config = lab.register_kernel(tmp_path)
    assert (spec / "kernel.json").is_file() and spec.is_relative_to(tmp_path)
    assert config == tmp_path / "etc" / "ipython" / "ipython_kernel_config.py"
    assert config.read_text(encoding="utf-8").startswith(lab.CONFIG_MARK)


def test_a_kernel_config_that_is_not_kuntalibs_is_left_alone(tmp_path):
    own = lab.kernel_config_file(tmp_path)
    own.parent.mkdir(parents=True)
    own.write_text("c.InteractiveShell.colors = 'nocolor'\n", encoding="utf-8")
    assert lab.write_kernel_config(tmp_path) is None
    assert own.read_text(encoding="utf-8") == "c.InteractiveShell.colors = 'nocolor'\n"
    own.unlink()
    assert lab.write_kernel_config(tmp_path) == own and lab.write_kernel_config(tmp_path) == own  # ours: rewritten
    assert [p.name for p in own.parent.iterdir()] == [own.name], "no temporary file left beside it"


def _record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord(lab.KERNEL_LOGGER, level, __file__, 1, msg, None, None)


def test_the_filter_drops_the_tcp_warning_only():
    f = lab.TcpWarningFilter()
    assert not f.filter(_record("Kernel is running over TCP without encryption. All communication ..."))
    assert f.filter(_record("Kernel is running over TCP without encryption.", logging.ERROR))
    assert f.filter(_record("Error loading config file"))


def test_the_filter_outlives_the_kernels_logging_set_up():
    """traitlets sets up the kernel's log with dictConfig after the config file ran: the filter must survive it.

    Run in a process of its own, as a kernel would, so this process's logging stays as it is.
    """
    code = """if True:
        import logging, logging.config
        from kuntalib.lab import KERNEL_LOGGER, TcpWarningFilter, quiet_tcp_warning
        quiet_tcp_warning(); quiet_tcp_warning()
        log = logging.getLogger(KERNEL_LOGGER)
        assert sum(isinstance(f, TcpWarningFilter) for f in log.filters) == 1
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
            "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
            "loggers": {KERNEL_LOGGER: {"level": "DEBUG", "handlers": ["console"]}}})
        log.warning("Kernel is running over TCP without encryption. All communication ...")
        log.warning("something else")
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["something else"]


def test_lab_registers_then_opens_jupyterlab_on_the_notebooks(monkeypatch, registered):
    """``kuntalib lab``: the kernel is registered before JupyterLab starts, in the project root, on notebooks/, on 127.0.0.1."""
    started = {}

    class FakeLab:
        def __init__(self, cmd: list[str], cwd: Path) -> None:
            started.update(cmd=cmd, cwd=cwd, spec=(registered / "kernel.json").exists())

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(lab, "Popen", FakeLab)
    assert cli.main(["lab", "--no-browser", "--port", "8899", "--", "--allow-root"]) == 0
    cmd = started["cmd"]
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"] and started["spec"]
    assert Path(started["cwd"]) == REPO
    assert f"--ServerApp.root_dir={REPO}" in cmd and "--LabApp.default_url=/lab/tree/notebooks" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.open_browser=False" in cmd
    assert "--ServerApp.port=8899" in cmd and cmd[-1] == "--allow-root"


def _papermill(cwd: Path, notebook: Path, out: Path, env: dict[str, str], *kernel: str) -> subprocess.CompletedProcess:
    """The reviewer's command, ``papermill NOTEBOOK OUT -p lang sv`` (plus ``-k NAME``), run from ``cwd``."""
    cmd = [sys.executable, "-m", "papermill", os.path.relpath(notebook, cwd), str(out), "-p", "lang", "sv",
           "--no-progress-bar", *kernel]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=900)


@pytest.mark.slow
def test_a_notebook_on_the_kuntalib_kernel_draws_what_the_builds_kernel_draws(tmp_path, registered):
    """Notebook 04 top to bottom on the ``kuntalib`` kernel (from the root) and on the build's kernel, ``python3``
    (from notebooks/): the same PNG files, byte for byte, and neither run logs the TCP warning."""
    runs = {}
    for name, cwd, kernel in (("kuntalib", REPO, ["-k", "kuntalib"]), ("python3", REPO / "notebooks", [])):
        (tmp_path / name).mkdir()
        env = {**os.environ, "KUNTALIB_ROOT": str(REPO), "KUNTALIB_OUTPUTS": str(tmp_path / name / "outputs"),
               "KUNTALIB_PROCESSED": str(tmp_path / name / "processed")}
        done = _papermill(cwd, NOTEBOOK, tmp_path / name / "executed.ipynb", env, *kernel)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"Executing notebook with kernel: {name}" in done.stderr
        assert "without encryption" not in done.stderr, done.stderr
        figures = tmp_path / name / "outputs" / "figures" / NOTEBOOK.stem / "sv"
        runs[name] = {p.name: p.read_bytes() for p in sorted(figures.glob("*.png"))}
    assert len(runs["kuntalib"]) >= 5, sorted(runs["kuntalib"])
    assert sorted(runs["kuntalib"]) == sorted(runs["python3"])
    differ = [name for name, data in runs["kuntalib"].items() if data != runs["python3"][name]]
    assert differ == [], f"figures that differ between the kernels: {differ}"


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "outputs" / "site"
    (site / "fi").mkdir(parents=True)
    (site / "index.html").write_text('<!DOCTYPE html><html lang="fi"><title>kuntalib</title>'
                                     '<a href="fi/index.html">suomeksi</a></html>\n', encoding="utf-8")
    (site / "fi" / "index.html").write_text("<!DOCTYPE html><html lang=\"fi\"><title>fi</title></html>\n",
                                            encoding="utf-8")
    return site


def test_serve_answers_with_the_site_index_on_loopback(tmp_path):
    """``kuntalib serve --port 0`` (a free port): prints the index's address; GET / answers with index.html."""
    site = _site(tmp_path)
    env = {**os.environ, "KUNTALIB_OUTPUTS": str(tmp_path / "outputs")}
    proc = subprocess.Popen([sys.executable, "-m", "kuntalib", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert lines and lines[0], f"no address printed; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", lines[0])
        assert found, lines[0]
        with urllib.request.urlopen(found.group(0), timeout=30) as resp:
            assert resp.status == 200 and resp.headers.get_content_type() == "text/html"
            assert resp.read() == (site / "index.html").read_bytes()
        with urllib.request.urlopen(found.group(0) + "fi/index.html", timeout=30) as resp:
            assert resp.read() == (site / "fi" / "index.html").read_bytes()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_the_preview_listens_on_loopback_only(tmp_path):
    from kuntalib.serve import make_server, site_address

    with make_server(_site(tmp_path), 0) as server:
        assert server.server_address[0] == "127.0.0.1"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", site_address(server))


def test_serve_without_a_built_site_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUNTALIB_OUTPUTS", str(tmp_path / "outputs"))
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "run 'kuntalib build' first" in capsys.readouterr().err
