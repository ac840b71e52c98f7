"""Provenance of raw data: sidecars, checksums and input tracking.

Every file in ``data/raw`` has a sidecar ``<file>.provenance.yml`` with at
least ``source``, ``address``, ``date``, ``licence`` and ``sha256``. Reading a
raw file through :func:`open_raw` checks the checksum and records the file in
the build's input log, so that the incremental build knows which data each
notebook depends on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kuntalib import paths
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = [
    "Provenance",
    "ProvenanceError",
    "sha256_file",
    "sidecar_path",
    "read_provenance",
    "open_raw",
    "track_input",
    "REQUIRED_FIELDS",
    "write_sidecar",
]

REQUIRED_FIELDS = ("source", "address", "date", "licence", "sha256")
INPUT_LOG_ENV = "KUNTALIB_INPUT_LOG"


class ProvenanceError(ValueError):
    """A raw file lacks a sound provenance sidecar or does not match it."""


@dataclass(frozen=True)
class Provenance:
    """What a sidecar says of its data file."""

    path: Path
    source: str
    address: str
    date: str
    licence: str
    sha256: str
    synthetic: bool
    extra: dict[str, Any]

    def citation(self) -> str:
        """One line naming the source for a chart or table footer."""
        return f"{self.source} ({self.date})"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sidecar_path(path: Path) -> Path:
    """``data.csv`` -> ``data.csv.provenance.yml``."""
    return path.with_name(path.name + ".provenance.yml")


def read_provenance(path: str | Path, *, check: bool = True) -> Provenance:
    """Read and check the sidecar of ``path``.

    Parameters
    ----------
    path
        The data file (not the sidecar).
    check
        Compare the file's SHA-256 with the sidecar.

    Raises
    ------
    ProvenanceError
        The sidecar is missing, lacks a field, or the checksum differs; the
        message names the file.
    """
    path = Path(path)
    side = sidecar_path(path)
    if not side.exists():
        raise ProvenanceError(f"{path}: no provenance sidecar {side.name}")
    try:
        meta = safe_load_file(side) or {}
    except YamlError as exc:
        raise ProvenanceError(str(exc)) from None
    if not isinstance(meta, dict):
        raise ProvenanceError(f"{side}: a sidecar is a mapping of fields")
    missing = [f for f in REQUIRED_FIELDS if not meta.get(f)]
    if missing:
        raise ProvenanceError(f"{side}: missing field(s) {', '.join(missing)}")
    if check:
        actual = sha256_file(path)
        if actual != meta["sha256"]:
            raise ProvenanceError(
                f"{path}: checksum {actual[:12]}… differs from sidecar {str(meta['sha256'])[:12]}… "
                "(raw data is immutable: add a new file instead of editing this one)"
            )
    extra = {k: v for k, v in meta.items() if k not in REQUIRED_FIELDS + ("synthetic",)}
    return Provenance(
        path=path,
        source=str(meta["source"]),
        address=str(meta["address"]),
        date=str(meta["date"]),
        licence=str(meta["licence"]),
        sha256=str(meta["sha256"]),
        synthetic=bool(meta.get("synthetic", False)),
        extra=extra,
    )


def track_input(path: str | Path) -> None:
    """Record ``path`` in the build's input log, if the build set one."""
    log = os.environ.get(INPUT_LOG_ENV)
    if not log:
        return
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(str(Path(path).resolve()) + "\n")


def open_raw(*parts: str, check: bool = True) -> tuple[Path, Provenance]:
    """Locate a raw file, verify its sidecar and record it as a build input.

    ``open_raw("kotidigi/alert_thresholds.csv")`` or ``open_raw("kotidigi", "alert_thresholds.csv")``.

    Returns
    -------
    (path, provenance)
    """
    path = paths.raw_file(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such raw data file")
    prov = read_provenance(path, check=check)
    track_input(path)
    track_input(sidecar_path(path))
    return path, prov


def write_sidecar(path: str | Path, **fields: Any) -> Path:
    """Write ``<path>.provenance.yml`` with ``fields`` and the file's SHA-256.

    Used once, when a raw file is added; raw files are never edited after.
    """
    path = Path(path)
    meta = {**fields, "sha256": sha256_file(path)}
    missing = [f for f in REQUIRED_FIELDS if not meta.get(f)]
    if missing:
        raise ProvenanceError(f"{path}: sidecar needs {', '.join(missing)}")
    side = sidecar_path(path)
    side.write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return side
