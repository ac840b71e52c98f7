"""Shared fixtures: a tiny project tree, seeded generators, figures closed after each test."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from kuntalib import paths  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Property tests (hypothesis). "ci": the examples follow from each test's name alone, so a CI run and a
# reviewer's re-run try the same inputs and a failure repeats; "dev": fresh examples every run, and a
# failure found once is tried first next time (from .hypothesis/). Both print the blob that reproduces a
# failure. HYPOTHESIS_PROFILE chooses; without it, "ci" where CI is set.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20220914)


def write_notebook(path: Path, params: str, *code: str, title: str = "# Fixture") -> Path:
    """A minimal notebook: a title, a parameters cell, code cells (no outputs)."""
    cells = [{"cell_type": "markdown", "id": "c0", "metadata": {}, "source": title}]
    cells.append({"cell_type": "code", "id": "c1", "metadata": {"tags": ["parameters"]}, "source": params,
                  "outputs": [], "execution_count": None})
    for i, src in enumerate(code, 2):
        cells.append({"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": src, "outputs": [], "execution_count": None})
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                       "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    if path.parent.name == "notebooks":
        translate_prose(path)
    return path


def translate_prose(path: Path) -> None:
    """Write the sv and en catalogues of a fixture notebook's prose: each cell's text with " (sv)" / " (en)" added."""
    from babel.messages.pofile import write_po

    from kuntalib.pipeline.translate import TARGET_LANGS, template

    for lang in TARGET_LANGS:
        cat = template(path)
        for msg in cat:
            if msg.id:
                msg.string = f"{msg.id} ({lang})"
        po = path.parent / "locale" / lang / "LC_MESSAGES" / f"{path.stem}.po"
        po.parent.mkdir(parents=True, exist_ok=True)
        with po.open("wb") as fh:
            write_po(fh, cat)


PLOT_CODE = (
    "import matplotlib.pyplot as plt\n"
    "from kuntalib import theme, outputs\n"
    "from kuntalib.provenance import open_raw\n"
    "import pandas as pd\n"
    "theme.set_theme()\n"
    "path, prov = open_raw('demo', 'values.csv')\n"
    "df = pd.read_csv(path)\n"
    "fig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.bar(df['x'][:n], df['y'][:n])\n"
    "ax.set_title(lang)\n"
    "outputs.save_figure(ax, 'bars', notebook='a_plot', lang=lang)\n"
    "outputs.save_table(df, 'values', notebook='a_plot', lang=lang)\n"
    "plt.show()"
)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project tree with one raw file (with sidecar) and one plotting notebook."""
    from kuntalib.provenance import write_sidecar

    root = tmp_path / "proj"
    raw = root / "data" / "raw" / "demo"
    raw.mkdir(parents=True)
    (raw / "values.csv").write_text("x,y\n1,3\n2,5\n3,4\n", encoding="utf-8")
    write_sidecar(raw / "values.csv", source="test fixture", address="tests/conftest.py", date="2026-11-29",
                  licence="CC0", synthetic=True)
    write_notebook(root / "notebooks" / "a_plot.ipynb",
                   'lang: str = "fi"  # fi, sv or en\nn: int = 3  # bars to draw', PLOT_CODE, title="# Demo plot")
    monkeypatch.setenv("KUNTALIB_ROOT", str(root))
    monkeypatch.delenv("KUNTALIB_OUTPUTS", raising=False)
    assert paths.proj_root() == root.resolve()
    return root


class ShippedBuild:
    """The build of every shipped notebook at its defaults in fi, sv and en, made once per test session.

    ``fresh`` is true when it was built from nothing in this session (not from a copy of ``make build``'s).
    """

    def __init__(self, root: Path, report, fresh: bool) -> None:
        self.root = root
        self.outputs = root / "out"
        self.processed = root / "processed"
        self.report = report
        self.fresh = fresh

    @contextlib.contextmanager
    def env(self):
        """Point kuntalib at this build's folders for the ``with`` block."""
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("KUNTALIB_ROOT", str(REPO))
            mp.setenv("KUNTALIB_OUTPUTS", str(self.outputs))
            mp.setenv("KUNTALIB_PROCESSED", str(self.processed))
            yield mp


def whole_build_of(jobs: list) -> bool:
    """True when ``outputs/`` is a whole, unedited build of exactly ``jobs`` whose steps are still in ``data/processed``.

    That is: the build state records exactly these runs (none missing, none of a notebook no longer
    here); every output is as the build wrote it (``MANIFEST.sha256``, as ``kuntalib verify`` checks);
    and each step a run computed or read is still stored, whole, under the key the run used (a JupyterLab
    run with other parameters replaces a step's folder).
    """
    from kuntalib.pipeline.manifest import collect, compare, read_manifest
    from kuntalib.pipeline.state import BuildState
    from kuntalib.pipeline.steps import _stored, step_line  # _stored: the rule run_step reads a stored result by

    if not (paths.build_state_file().is_file() and paths.manifest_file().is_file()):
        return False
    records = BuildState().records
    if set(records) != {job.run_id for job in jobs} or compare(read_manifest(paths.manifest_file()), collect()):
        return False
    for line in {line for rec in records.values() for line in rec.steps}:
        try:
            _how, name, key = step_line(line)
        except ValueError:
            return False
        if _stored(paths.data_processed() / name, key) is None:
            return False
    return True


@pytest.fixture(scope="session")
def shipped(tmp_path_factory) -> ShippedBuild:
    """Build all notebooks as shipped, in all three languages, into a scratch folder (slow: about 80 s).

    Made once per test session: with pytest-xdist (``make test`` runs ``-n auto``) the first worker that needs it
    builds it under a file lock (filelock) in the session's shared temporary folder, and the others read it.
    Where ``make build`` (``kuntalib build``) has left a whole build of every notebook (:func:`whole_build_of`),
    the scratch build starts from a copy of ``outputs/`` and ``data/processed``, taken under the build's lock;
    the build then runs again only what is not up to date by its own rule (the notebook, its parameters, the
    kuntalib package, the installed packages, the catalogue and every file read and written, hashed), so the
    tests check what that build made. Otherwise it builds from nothing. Nothing in the repository's folders is
    written (the build's lock file, ``outputs/.build.lock``, is made if missing).
    """
    import pickle

    from filelock import FileLock

    from kuntalib.cli import build_jobs
    from kuntalib.pipeline.lock import build_lock
    from kuntalib.pipeline.runner import discover, plan

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shipped"
    done = root / "report.pickle"  # written last: its presence means the build is whole
    with FileLock(f"{root}.lock"):
        if done.exists():
            return ShippedBuild(root, *pickle.loads(done.read_bytes()))
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        build = ShippedBuild(root, None, fresh=True)
        with pytest.MonkeyPatch.context() as mp:  # the repository's own folders, whatever the shell has set
            mp.setenv("KUNTALIB_ROOT", str(REPO))
            mp.delenv("KUNTALIB_OUTPUTS", raising=False)
            mp.delenv("KUNTALIB_PROCESSED", raising=False)
            jobs = plan(discover(), ("fi", "sv", "en"))
            with build_lock(paths.build_lock_file()):
                if whole_build_of(jobs):
                    shutil.copytree(paths.outputs_dir(), build.outputs,
                                    ignore=shutil.ignore_patterns(".build.lock", ".staging"))
                    # a step's lock and its half-written, replaced or working folders (kuntalib.pipeline.steps)
                    shutil.copytree(paths.data_processed(), build.processed,
                                    ignore=shutil.ignore_patterns(".*.lock", ".*.tmp-*", ".*.old-*", ".*.work-*"))
                    build.fresh = False
        with build.env():
            build.report = build_jobs(jobs, progress=False)  # as kuntalib build does
        done.write_bytes(pickle.dumps((build.report, build.fresh)))
        return build


def near_a_clock_change(when, zone: str):
    """``when`` moved next to one of ``zone``'s offset changes of its year (the change picked and the
    distance, within half an hour either way, by ``when``'s own fields), or unchanged in a year without one.
    For property tests of local times: the changes are found hour by hour in UTC, independently of the code tested."""
    import pandas as pd

    changes = pd.date_range(f"{when.year}-01-01", f"{when.year + 1}-01-01", freq="h", tz="UTC").tz_convert(zone)
    offsets = changes.map(lambda t: t.utcoffset())
    jumps = changes[1:][offsets[1:] != offsets[:-1]]
    if not len(jumps):
        return when
    pick = jumps[when.microsecond % len(jumps)].tz_localize(None)
    return (pick + pd.Timedelta(seconds=when.second * 60 + when.minute - 1800)).to_pydatetime()

