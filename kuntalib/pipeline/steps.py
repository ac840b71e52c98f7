"""Compute once, render per language: a small declared graph of language-neutral steps cached on disk.

A notebook's heavy, language-neutral work (simulation, ingest, model fits, enumeration,
estimates) is a chain of *steps*. A step is a plain function of a topic's ``steps`` module
(``kuntalib/<topic>/steps.py``) that takes file paths, parameters and the results of the
steps above it, and returns a dict: DataFrames are its tables, everything else JSON values.
The notebook declares the graph by the calls it makes::

    sim = run_step(NOTEBOOK, steps.simulate, config_file=cfg_path, n_clients=n_clients)
    tidy = run_step(NOTEBOOK, steps.tidy, run_step(NOTEBOOK, steps.fhir_files, sim), options={"workers": 2})

:func:`run_step` runs a step once and stores it in ``data/processed/<notebook>/<step>/``:

- one Parquet file per table (``<table>.parquet``), the files it kept under ``work/``,
- ``metadata.json``: the step's key, its parameters, every input file with its SHA-256, the
  keys of the steps above it, the code version and the source files it covers, the tables with
  their row counts, and the values.

The key is a SHA-256 over the step's name, its parameters (an input file counts by its path and
SHA-256), the keys of the steps it takes, and the code version: a hash of the source files of the
step function's module and of every kuntalib module it imports, transitively (read from its import
statements). Translations, templates and modules the step does not import are not part of it, so
fixing a word in a catalogue recomputes nothing, and a change to one step's parameters or code
recomputes that step and the steps below it only. Every later run with the same key (the other
languages of a build, a researcher re-running the notebook) reads the stored result.

Concurrency and interruption: a lock file (``.<step>.lock``, :class:`filelock.FileLock`) serialises
the processes that want the same step (the second language of a build waits for the first, then
reads), and a result is written to a temporary folder that replaces the old one only when complete,
so a reader never sees half a step.

``KUNTALIB_STEP_CACHE=off`` computes every time (and still stores the result);
``kuntalib verify`` points ``KUNTALIB_PROCESSED`` at a scratch folder so that every step is
recomputed there. This module is imported by the build itself: pandas is imported only where a
table is read or written, so that a no-op build starts without it.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import inspect
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from kuntalib import paths
from kuntalib.pipeline.state import rel_path
from kuntalib.provenance import sha256_file, track_input

if TYPE_CHECKING:  # pandas costs a no-op build ~0.4 s (python -X importtime): imported where tables are read or written
    import pandas as pd

__all__ = ["StepResult", "StepError", "run_step", "step_key", "step_line", "code_files", "code_version", "CACHE_ENV",
           "STEP_LOG_ENV", "FORMAT"]

CACHE_ENV = "KUNTALIB_STEP_CACHE"
#: The build sets this to a file; each run_step appends ``computed|read <notebook>/<step> <key>``.
STEP_LOG_ENV = "KUNTALIB_STEP_LOG"
#: Version of the key and of the stored layout; part of every key.
FORMAT = 2
_PACKAGE = "kuntalib"
_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class StepError(ValueError):
    """A step's name, parameters or result cannot be stored."""


@dataclass(frozen=True)
class StepResult:
    """A step's stored result, as read back from ``data/processed``.

    Attributes
    ----------
    tables, values
        As the step function returned them (tables round-tripped through Parquet).
    path
        The step's folder.
    work
        The files the step kept (``<path>/work/``), or None when it kept none.
    metadata
        The contents of ``metadata.json``.
    computed
        True when this call ran the step, False when it read a stored result.
    """

    tables: Mapping[str, pd.DataFrame]
    values: Mapping[str, Any]
    path: Path
    work: Path | None
    metadata: Mapping[str, Any]
    computed: bool

    @property
    def name(self) -> str:
        """The step's name (its function's name)."""
        return str(self.metadata["step"])

    @property
    def key(self) -> str:
        """The step's key (part of the key of every step that takes this result)."""
        return str(self.metadata["key"])

    def __getitem__(self, name: str) -> Any:
        """A copy of table ``name``, or of value ``name``."""
        if name in self.tables:
            return self.tables[name].copy()
        if name in self.values:
            return copy.deepcopy(self.values[name])
        raise KeyError(f"step {self.name!r} has no table or value {name!r} "
                       f"(tables: {', '.join(self.tables) or '-'}; values: {', '.join(self.values) or '-'})")


def _check_name(kind: str, name: str) -> str:
    if not name or not set(name) <= _SAFE:
        raise StepError(f"{kind} name must use a-z, 0-9, _ and - only, got {name!r}")
    return name


# --- the code a step depends on ----------------------------------------------------------------


def _module_file(module: str, root: Path) -> Path | None:
    """The source of kuntalib module ``module`` under the package folder ``root``."""
    parts = module.split(".")[1:]
    base = root.joinpath(*parts)
    candidates = [base / "__init__.py"] if not parts else [base.with_suffix(".py"), base / "__init__.py"]
    return next((p for p in candidates if p.is_file()), None)


@functools.lru_cache(maxsize=512)
def _imported_names(path: Path, module: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    """Every module name an import statement of ``path`` (module ``module``) may refer to, wherever it stands."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]
    return tuple(names)


def _with_parents(module: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages' ``__init__`` too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def code_files(func: Callable[..., Any], root: Path | None = None) -> dict[str, Path]:
    """The source files a step function's result depends on, by name.

    The file of ``func``'s module and of every kuntalib module it imports, transitively, found by
    reading import statements (at module level or in functions) with :mod:`ast`. Nothing else: no
    translation catalogue, template or unrelated module.

    Parameters
    ----------
    func
        The step function.
    root
        The kuntalib package folder to read (default: the installed package).

    Returns
    -------
    dict
        ``kuntalib/<path>`` (or ``<module>:<file name>`` for a function outside kuntalib) -> file.
    """
    root = Path(root) if root is not None else paths.package_dir()
    module = func.__module__ or ""
    out: dict[str, Path] = {}
    todo: list[tuple[str, Path]] = []
    if module == _PACKAGE or module.startswith(_PACKAGE + "."):
        if _module_file(module, root) is None:
            raise StepError(f"step {func.__name__!r}: module {module} has no source file under {root}")
        todo += [(m, f) for m in _with_parents(module) if (f := _module_file(m, root)) is not None]
    else:
        try:
            source = inspect.getsourcefile(func)
        except (TypeError, OSError):
            source = None
        if source is None or not Path(source).is_file():
            raise StepError(f"step {func.__name__!r} is not defined in a module file (define it in kuntalib/<topic>/steps.py)")
        out[f"{module}:{Path(source).name}"] = Path(source)
        todo.append((module, Path(source)))
    seen = {m for m, _ in todo}
    while todo:
        mod, path = todo.pop()
        if mod == _PACKAGE or mod.startswith(_PACKAGE + "."):
            out[f"{_PACKAGE}/{path.relative_to(root).as_posix()}"] = path
        if path.suffix != ".py":
            continue
        st = path.stat()
        for name in _imported_names(path, mod, st.st_mtime_ns, st.st_size):
            if name != _PACKAGE and not name.startswith(_PACKAGE + "."):
                continue
            for m in _with_parents(name):
                if m not in seen and (f := _module_file(m, root)) is not None:
                    seen.add(m)
                    todo.append((m, f))
    return dict(sorted(out.items()))


def code_version(func: Callable[..., Any], root: Path | None = None) -> str:
    """SHA-256 over the files of :func:`code_files` (names and bytes)."""
    return _digest(code_files(func, root))


def _digest(files: Mapping[str, Path]) -> str:
    h = hashlib.sha256()
    for name, path in files.items():
        h.update(name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


# --- the key ------------------------------------------------------------------------------------


def _json(name: str, what: str, value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StepError(f"step {name!r}: {what} must be JSON values (or a pathlib.Path for a file): {exc}") from exc


def _params(name: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameters as recorded (a file by its path under the project root) and the input files with their SHA-256."""
    recorded: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    for key, value in sorted(params.items()):
        if isinstance(value, Path):
            if not value.is_file():
                raise StepError(f"step {name!r}: input {key} = {value} does not exist")
            rel = rel_path(value, paths.proj_root())
            inputs[rel] = sha256_file(value)
            recorded[key] = rel
        else:
            _json(name, f"parameter {key!r}", value)
            recorded[key] = value
    return recorded, inputs


def step_key(name: str, params: Mapping[str, Any], inputs: Mapping[str, str], upstream: Mapping[str, str], code: str) -> str:
    """SHA-256 over the step's name, parameters, input files' hashes, the keys of the steps it takes and its code version."""
    blob = _json(name, "parameters", {"format": FORMAT, "step": name, "params": dict(params), "inputs": dict(inputs),
                                      "upstream": dict(upstream), "code": code})
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --- storing and reading ------------------------------------------------------------------------


def step_line(line: str) -> tuple[str, str, str]:
    """A line of the step log (:func:`_log`) as ``(computed|read, <notebook>/<step>, key)``; ``ValueError`` otherwise."""
    parts = line.split()
    if len(parts) != 3 or parts[0] not in ("computed", "read"):
        raise ValueError(f"not a step line: {line!r}")
    return parts[0], parts[1], parts[2]


def _log(notebook: str, name: str, key: str, computed: bool) -> None:
    """Append ``computed|read <notebook>/<step> <key>`` to the build's step log (``$KUNTALIB_STEP_LOG``), if any."""
    log = os.environ.get(STEP_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{'computed' if computed else 'read'} {notebook}/{name} {key}\n")


def _read(folder: Path, meta: dict[str, Any], computed: bool) -> StepResult:
    import pandas as pd

    _log(str(meta.get("notebook")), str(meta.get("step")), str(meta.get("key")), computed)
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in meta["tables"]}
    work = folder / "work"
    return StepResult(tables, meta.get("values", {}), folder, work if work.is_dir() else None, meta, computed)


def _split(name: str, result: Any) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """A step function's dict as tables (DataFrames) and values (the rest, JSON)."""
    import pandas as pd

    if not isinstance(result, Mapping):
        raise StepError(f"step {name!r} returned {type(result).__name__}, expected a dict of tables and values")
    tables, values = {}, {}
    for key, value in result.items():
        if not isinstance(key, str):
            raise StepError(f"step {name!r}: names of tables and values must be strings, got {key!r}")
        if isinstance(value, pd.DataFrame):
            _check_name("table", key)
            bad = [c for c in value.columns if not isinstance(c, str)]
            if bad:
                raise StepError(f"step {name!r}: table {key!r} has column names that are not strings: {bad[:5]}")
            tables[key] = value
        else:
            values[key] = value
    _json(name, "values", values)
    return tables, values


def _write(folder: Path, work: Path | None, tables: Mapping[str, pd.DataFrame], values: Mapping[str, Any],
           meta: dict[str, Any]) -> dict[str, Any]:
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if work is not None and work.exists() and any(work.iterdir()):
        work.rename(tmp / "work")
    for tname, df in tables.items():
        df.to_parquet(tmp / f"{tname}.parquet", compression="zstd")
    meta = {**meta, "tables": {t: len(df) for t, df in tables.items()}, "values": dict(values)}
    text = json.dumps(meta, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=True)
    (tmp / "metadata.json").write_text(text + "\n", encoding="utf-8")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return meta


def _stored(folder: Path, key: str) -> dict[str, Any] | None:
    """The stored metadata when the step's folder holds a complete result of ``key``."""
    try:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if isinstance(meta, dict) and meta.get("key") == key and all((folder / f"{t}.parquet").exists() for t in meta.get("tables", {})):
        return meta
    return None


def run_step(notebook: str, func: Callable[..., Mapping[str, Any]], *upstream: StepResult,
             options: Mapping[str, Any] | None = None, **params: Any) -> StepResult:
    """Run ``func`` once for these parameters, input files, upstream results and code; otherwise read its stored result.

    Parameters
    ----------
    notebook
        The notebook stem; the result goes to ``data/processed/<notebook>/<func.__name__>/``.
    func
        The step function (a-z, 0-9, ``_`` in its name), defined in a module (``kuntalib/<topic>/steps.py``).
        It is called as ``func(*upstream, **params, **options)``, with ``work=`` an empty folder when it has
        a parameter named ``work`` (kept as ``<step folder>/work/``), and returns a dict: DataFrames become
        tables (Parquet), everything else JSON values.
    *upstream
        Results of the steps this one takes, passed positionally; their keys are part of this key, so a
        change above recomputes the chain below.
    options
        Settings that do not change the result (e.g. the ingest's ``workers``): passed to ``func`` and
        recorded, not part of the key.
    **params
        Every setting the result depends on: JSON values, or a :class:`pathlib.Path` for an input file
        (its SHA-256 is part of the key; it is recorded with :func:`~kuntalib.provenance.track_input`);
        None for "no file". Passed to ``func`` as keyword arguments and part of the key.

    Returns
    -------
    StepResult

    Raises
    ------
    StepError
        A bad name, a parameter that is neither JSON nor a file, a call that does not fit ``func``, or a
        result that cannot be stored; nothing is stored then.
    """
    name = getattr(func, "__name__", repr(func))
    _check_name("notebook", notebook.lower())
    _check_name("step", name)
    options = dict(options or {})
    clash = sorted(set(options) & set(params) | ({"work"} & (set(options) | set(params))))
    if clash:
        raise StepError(f"step {name!r}: {', '.join(clash)} given twice (or reserved: work)")
    for up in upstream:
        if not isinstance(up, StepResult):
            raise StepError(f"step {name!r}: upstream results must be StepResults, got {type(up).__name__}")
    signature = inspect.signature(func)
    takes_work = "work" in signature.parameters
    try:
        signature.bind(*upstream, **params, **options, **({"work": None} if takes_work else {}))
    except TypeError as exc:
        raise StepError(f"step {name!r}: the call does not fit {name}{signature}: {exc}") from exc
    recorded, inputs = _params(name, params)
    _json(name, "options", options)
    for p in params.values():
        if isinstance(p, Path):
            track_input(p)
    files = code_files(func)
    code = _digest(files)
    ups = {f"{i}:{u.name}": u.key for i, u in enumerate(upstream)}
    key = step_key(name, recorded, inputs, ups, code)
    folder = paths.data_processed() / notebook / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    use_cache = os.environ.get(CACHE_ENV, "on").lower() not in {"off", "0", "false", "no"}
    with FileLock(folder.with_name(f".{name}.lock")):
        meta = _stored(folder, key) if use_cache else None
        if meta is not None:
            return _read(folder, meta, computed=False)
        work = folder.with_name(f".{name}.work-{os.getpid()}") if takes_work else None
        try:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
            extra = {"work": work} if work is not None else {}
            tables, values = _split(name, func(*upstream, **params, **options, **extra))
            meta = _write(folder, work, tables, values,
                          {"step": name, "notebook": notebook, "key": key, "format": FORMAT, "params": recorded,
                           "options": options, "inputs": inputs, "upstream": ups, "code_version": code,
                           "code_files": sorted(files)})
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(folder.with_name(f".{name}.tmp-{os.getpid()}"), ignore_errors=True)
        return _read(folder, meta, computed=True)
