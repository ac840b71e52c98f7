"""Content hashes that decide whether a notebook must run again.

A run is up to date when the notebook's source, its parameters, the kuntalib
package and every data file it read last time hash as they did then, and the
files it wrote are still there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntalib import paths
from kuntalib.provenance import sha256_file

__all__ = ["RunRecord", "BuildState", "package_hash", "static_fingerprint"]


def package_hash() -> str:
    """SHA-256 over every source and template file of the kuntalib package."""
    h = hashlib.sha256()
    root = paths.package_dir()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(p.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


def static_fingerprint(notebook: Path, params: dict[str, Any], pkg_hash: str) -> str:
    """Hash of what is known before running: notebook bytes, parameters, package."""
    h = hashlib.sha256()
    h.update(notebook.read_bytes())
    h.update(json.dumps(params, sort_keys=True, ensure_ascii=False).encode())
    h.update(pkg_hash.encode())
    return h.hexdigest()


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


@dataclass
class RunRecord:
    """What one successful run depended on and wrote."""

    static: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)

    def is_current(self, static: str) -> bool:
        """True when nothing this run depended on has changed and its outputs exist."""
        if static != self.static:
            return False
        root, out = paths.proj_root(), paths.outputs_dir()
        for rel, digest in self.inputs.items():
            p = Path(rel) if Path(rel).is_absolute() else root / rel
            if not p.exists() or sha256_file(p) != digest:
                return False
        return all((out / rel).exists() for rel in self.outputs)

    @classmethod
    def from_run(cls, static: str, params: dict[str, Any], inputs: list[Path], outputs: list[Path]) -> RunRecord:
        """Record hashes of the inputs a run read and the outputs it wrote."""
        root, out = paths.proj_root(), paths.outputs_dir()
        ins = {_rel(p, root): sha256_file(p) for p in sorted(set(inputs)) if p.exists()}
        outs = sorted(_rel(p, out) for p in outputs)
        return cls(static=static, params=dict(params), inputs=ins, outputs=outs)


class BuildState:
    """The JSON file ``outputs/.build-state.json``: one RunRecord per run id."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.build_state_file()
        self.records: dict[str, RunRecord] = {}
        if self.path.exists():
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                raw = {}
            self.records = {k: RunRecord(**v) for k, v in raw.items()}

    def get(self, run_id: str) -> RunRecord | None:
        """The record of ``run_id`` or None."""
        return self.records.get(run_id)

    def set(self, run_id: str, record: RunRecord | None) -> None:
        """Store (or with None, forget) the record of ``run_id``."""
        if record is None:
            self.records.pop(run_id, None)
        else:
            self.records[run_id] = record

    def save(self) -> None:
        """Write the state file, keys sorted, so it is itself reproducible."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: vars(v) for k, v in sorted(self.records.items())}
        self.path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
