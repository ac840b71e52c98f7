"""Content hashes that decide whether a notebook must run again, and what the build produced.

A run is up to date when the notebook's source, its parameters, the kuntalib
package, the installed packages and Python (:func:`environment_digest`) and every
data file it read last time hash as they did then, and every
file it wrote is still there with the hash it had when the run wrote it.

``outputs/.build-state.json`` (format 3)::

    {"format": 3,
     "runs": {"<stem>/<lang>": {"static": ..., "params": {...}, "inputs": {path: sha256},
                                "outputs": {path under outputs/: sha256},
                                "steps": ["computed|read <notebook>/<step> <key>", ...]}},
     "site": {path under outputs/: sha256}}

A run's ``steps`` say which language-neutral steps it computed and which it read from
``data/processed`` (kuntalib.pipeline.steps), each with the step's key, so what a build did
stays readable after it. They are a record only: whether a run is up to date does not depend
on them (nor on the order the runs happened to take the steps in).

The hashes are taken when the files are produced, never read back later from disk, so
``MANIFEST.sha256`` (made from this file) lists only what the build itself wrote. The
file is replaced atomically after every finished run. A file of another shape is
ignored with a warning (everything then runs again), never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntalib import paths
from kuntalib.provenance import sha256_file

__all__ = ["RunRecord", "BuildState", "package_hash", "environment_digest", "static_fingerprint", "atomic_write_text",
           "rel_path", "FORMAT"]

FORMAT = 3


def package_hash() -> str:
    """SHA-256 over every source and template file of the kuntalib package."""
    h = hashlib.sha256()
    root = paths.package_dir()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".so", ".pyd"):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def environment_digest() -> str:
    """SHA-256 over the Python version and every installed distribution's name and version.

    Part of every run's static fingerprint: a notebook's figures and pages depend on pandas,
    matplotlib, nbconvert and the rest, so after the lock is bumped (or the venv is re-made with
    other versions) every notebook runs again. A package installed in editable mode changes its code
    without its version: such a change is not seen (kuntalib's own code is, by :func:`package_hash`).
    """
    from importlib.metadata import distributions

    names = set()
    for dist in distributions():
        meta = dist.metadata  # parsed once per distribution; None or without a name for a broken one
        if meta is not None and meta.get("Name"):
            names.add(f"{meta['Name']}=={meta.get('Version')}".lower())
    return hashlib.sha256("\n".join([sys.version, *sorted(names)]).encode()).hexdigest()


def static_fingerprint(notebook: Path, params: dict[str, Any], pkg_hash: str) -> str:
    """Hash of what is known before running: notebook bytes, parameters, and ``pkg_hash`` (the build passes the
    package, :func:`environment_digest` and the notebook's catalogue in it)."""
    h = hashlib.sha256()
    h.update(notebook.read_bytes())
    h.update(json.dumps(params, sort_keys=True, ensure_ascii=False).encode())
    h.update(pkg_hash.encode())
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def rel_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` in POSIX form, or absolute when it lies outside ``base``."""
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


@dataclass
class RunRecord:
    """What one successful run depended on and wrote (with the hashes of both), and the steps it computed or read."""

    static: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)

    def is_current(self, static: str) -> bool:
        """True when nothing this run depended on has changed and its outputs are as it wrote them."""
        if static != self.static:
            return False
        root, out = paths.proj_root(), paths.outputs_dir()
        for rel, digest in self.inputs.items():
            p = Path(rel) if Path(rel).is_absolute() else root / rel
            if not p.is_file() or sha256_file(p) != digest:
                return False
        return all((out / rel).is_file() and sha256_file(out / rel) == digest for rel, digest in self.outputs.items())

    @classmethod
    def from_run(cls, static: str, params: dict[str, Any], inputs: list[Path], outputs: list[Path],
                 steps: Sequence[str] = ()) -> RunRecord:
        """Record hashes of the inputs a run read and the outputs it wrote, and the steps it computed or read."""
        root, out = paths.proj_root(), paths.outputs_dir()
        ins = {rel_path(p, root): sha256_file(p) for p in sorted(set(inputs)) if p.exists()}
        outs = {rel_path(p, out): sha256_file(p) for p in sorted(outputs)}
        return cls(static=static, params=dict(params), inputs=ins, outputs=outs, steps=list(steps))

    @classmethod
    def parse(cls, raw: Any) -> RunRecord:
        """A record from its JSON form; ``ValueError`` for any other shape."""
        if not isinstance(raw, dict) or set(raw) != {"static", "params", "inputs", "outputs", "steps"}:
            raise ValueError("not a run record")
        if not isinstance(raw["static"], str) or not isinstance(raw["params"], dict):
            raise ValueError("not a run record")
        for key in ("inputs", "outputs"):
            if not isinstance(raw[key], dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw[key].items()):
                raise ValueError(f"run record {key} must map paths to hashes")
        if not isinstance(raw["steps"], list) or not all(isinstance(s, str) for s in raw["steps"]):
            raise ValueError("run record steps must be a list of lines")
        return cls(raw["static"], raw["params"], raw["inputs"], raw["outputs"], raw["steps"])


class BuildState:
    """The JSON file ``outputs/.build-state.json``: one RunRecord per run id, and the site's files."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.build_state_file()
        self.records: dict[str, RunRecord] = {}
        self.site: dict[str, str] = {}
        if self.path.exists():
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                    raise ValueError(f"not format {FORMAT}")
                self.records = {str(k): RunRecord.parse(v) for k, v in dict(raw.get("runs", {})).items()}
                site = raw.get("site", {})
                if not isinstance(site, dict) or not all(isinstance(v, str) for v in site.values()):
                    raise ValueError("site must map paths to hashes")
                self.site = dict(site)
            except (ValueError, TypeError, AttributeError) as exc:
                print(f"kuntalib: {self.path} is not a build state of this version ({exc}); every notebook runs again",
                      file=sys.stderr)
                self.records, self.site = {}, {}

    def get(self, run_id: str) -> RunRecord | None:
        """The record of ``run_id`` or None."""
        return self.records.get(run_id)

    def set(self, run_id: str, record: RunRecord | None) -> None:
        """Store (or with None, forget) the record of ``run_id``."""
        if record is None:
            self.records.pop(run_id, None)
        else:
            self.records[run_id] = record

    def record_site(self, written: list[Path]) -> None:
        """Record the hashes of site files just written; forget site files no longer on disk."""
        out = paths.outputs_dir()
        for p in written:
            self.site[rel_path(p, out)] = sha256_file(p)
        self.site = {rel: h for rel, h in self.site.items() if (out / rel).is_file()}

    def produced(self) -> dict[str, str]:
        """Every output the recorded runs and the site wrote, with the hash it had then."""
        files = dict(self.site)
        for rec in self.records.values():
            files.update(rec.outputs)
        return dict(sorted(files.items()))

    def save(self) -> None:
        """Replace the state file atomically, keys sorted (readers see the old file or the new one, never half)."""
        data = {"format": FORMAT, "runs": {k: vars(v) for k, v in sorted(self.records.items())},
                "site": dict(sorted(self.site.items()))}
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")
