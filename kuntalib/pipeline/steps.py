"""Compute once, render per language: language-neutral steps cached on disk.

A notebook's heavy, language-neutral work (simulation, ingest, model fits,
enumeration, estimates) is a *step*: a function that returns tables and a few
JSON values. :func:`run_step` runs it once and stores the result in
``data/processed/<notebook>/<step>/``:

- one Parquet file per table (``<table>.parquet``),
- ``metadata.json``: the step's key, its parameters, every input file with its
  SHA-256, the kuntalib code version (a hash over the package), the tables with
  their row counts, and the values.

The key is a SHA-256 over the step name, the parameters, the inputs' hashes and
the code version. Every later run with the same key (the other languages of the
same build, a researcher re-running the notebook) reads the stored tables
instead of computing again; any change to a parameter, an input byte or the
package computes afresh. Each language then only renders: charts draw the tables
that the step stored, so a chart and its published table cannot disagree.

Concurrency and interruption: a lock file serialises the processes that want the
same step (the second language of a build waits for the first, then reads), and a
result is written to a temporary folder that replaces the old one only when
complete, so a reader never sees half a step.

``KUNTALIB_STEP_CACHE=off`` computes every time (and still stores the result);
``kuntalib verify`` points ``KUNTALIB_PROCESSED`` at a scratch folder so that
every step is recomputed there.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kuntalib import paths
from kuntalib.provenance import sha256_file, track_input

if TYPE_CHECKING:  # pandas is imported where tables are read or written: the build imports this module
    import pandas as pd

__all__ = ["StepData", "StepResult", "StepError", "run_step", "step_key", "CACHE_ENV", "STEP_LOG_ENV"]

CACHE_ENV = "KUNTALIB_STEP_CACHE"
#: The build sets this to a file; each run_step appends ``computed|read <notebook>/<step>``.
STEP_LOG_ENV = "KUNTALIB_STEP_LOG"
_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class StepError(ValueError):
    """A step's name, parameters or result cannot be stored."""


@dataclass(frozen=True)
class StepData:
    """What a step function returns: named tables and JSON-serialisable values."""

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    """A step's stored result, as read back from ``data/processed``.

    Attributes
    ----------
    tables, values
        As the step function returned them (tables round-tripped through Parquet).
    path
        The step's folder.
    metadata
        The contents of ``metadata.json``.
    computed
        True when this call ran the step, False when it read a stored result.
    """

    tables: Mapping[str, pd.DataFrame]
    values: Mapping[str, Any]
    path: Path
    metadata: Mapping[str, Any]
    computed: bool

    def __getitem__(self, name: str) -> pd.DataFrame:
        """A copy of table ``name``."""
        if name not in self.tables:
            raise KeyError(f"step {self.metadata.get('step')!r} has no table {name!r} (has: {', '.join(self.tables)})")
        return self.tables[name].copy()


def _check_name(kind: str, name: str) -> str:
    if not name or not set(name) <= _SAFE:
        raise StepError(f"{kind} name must use a-z, 0-9, _ and - only, got {name!r}")
    return name


def step_key(name: str, params: Mapping[str, Any], inputs: Mapping[str, str], code: str) -> str:
    """SHA-256 over the step name, its parameters, its inputs' hashes and the code version."""
    try:
        blob = json.dumps({"step": name, "params": params, "inputs": inputs, "code": code}, sort_keys=True,
                          ensure_ascii=False)
    except TypeError as exc:
        raise StepError(f"step {name!r}: parameters must be JSON values: {exc}") from exc
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _log(notebook: str, name: str, computed: bool) -> None:
    log = os.environ.get(STEP_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{'computed' if computed else 'read'} {notebook}/{name}\n")


def _read(folder: Path, meta: dict[str, Any], computed: bool) -> StepResult:
    import pandas as pd

    _log(str(meta.get("notebook")), str(meta.get("step")), computed)
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in meta["tables"]}
    return StepResult(tables, meta.get("values", {}), folder, meta, computed)


def _write(folder: Path, data: StepData, meta: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    work = folder.with_name(f".{folder.name}.work-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if work.exists() and any(work.iterdir()):
        work.rename(tmp / "work")
    tables = {}
    for tname, df in data.tables.items():
        _check_name("table", tname)
        if not isinstance(df, pd.DataFrame):
            raise StepError(f"step {meta['step']!r}: table {tname!r} is a {type(df).__name__}, not a DataFrame")
        bad = [c for c in df.columns if not isinstance(c, str)]
        if bad:
            raise StepError(f"step {meta['step']!r}: table {tname!r} has column names that are not strings: {bad[:5]}")
        df.to_parquet(tmp / f"{tname}.parquet", compression="zstd")
        tables[tname] = len(df)
    meta = {**meta, "tables": tables, "values": dict(data.values)}
    try:
        text = json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=True)
    except TypeError as exc:
        raise StepError(f"step {meta['step']!r}: values must be JSON values: {exc}") from exc
    (tmp / "metadata.json").write_text(text + "\n", encoding="utf-8")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return meta


def run_step(
    notebook: str,
    name: str,
    compute: Callable[[Path], StepData],
    *,
    params: Mapping[str, Any],
    inputs: Sequence[str | Path] = (),
) -> StepResult:
    """Run ``compute`` once for these parameters, inputs and code; otherwise read its stored result.

    Parameters
    ----------
    notebook
        The notebook stem; the result goes to ``data/processed/<notebook>/<name>/``.
    name
        The step's name (a-z, 0-9, ``_``, ``-``).
    compute
        ``compute(work) -> StepData``. ``work`` is an empty folder the step may write
        intermediate files to (simulated FHIR, a Parquet dataset); it is kept as
        ``<step folder>/work/`` beside the tables.
    params
        Every setting the result depends on (JSON values); part of the key.
    inputs
        Every file the result depends on (usually raw files opened with ``open_raw``);
        their SHA-256 are part of the key and recorded in the metadata.

    Returns
    -------
    StepResult
    """
    from kuntalib.pipeline.state import package_hash, rel_path

    _check_name("notebook", notebook.lower())
    _check_name("step", name)
    files = {}
    for p in inputs:
        path = Path(p)
        if not path.is_file():
            raise StepError(f"step {name!r}: input {path} does not exist")
        files[rel_path(path, paths.proj_root())] = sha256_file(path)
        track_input(path)
    code = package_hash()
    key = step_key(name, dict(params), files, code)
    folder = paths.data_processed() / notebook / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.with_name(f".{name}.lock")
    use_cache = os.environ.get(CACHE_ENV, "on").lower() not in {"off", "0", "false", "no"}
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        meta_path = folder / "metadata.json"
        if use_cache and meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                meta = {}
            if meta.get("key") == key and all((folder / f"{t}.parquet").exists() for t in meta.get("tables", {})):
                return _read(folder, meta, computed=False)
        work = folder.with_name(f".{folder.name}.work-{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            data = compute(work)
            if not isinstance(data, StepData):
                raise StepError(f"step {name!r} returned {type(data).__name__}, expected StepData")
            meta = _write(folder, data, {"step": name, "notebook": notebook, "key": key, "params": dict(params),
                                         "inputs": files, "code_version": code})
        finally:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(folder.with_name(f".{folder.name}.tmp-{os.getpid()}"), ignore_errors=True)
        return _read(folder, meta, computed=True)
