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
import re
from dataclasses import dataclass, field
from datetime import date as _date
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
    "add_source",
    "RawCheck",
    "check_raw",
]

REQUIRED_FIELDS = ("source", "address", "date", "licence", "sha256")
SIDECAR_SUFFIX = ".provenance.yml"
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
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _sidecar_fields(side: Path, shown: str | Path) -> dict[Any, Any]:
    """A sidecar's fields; a sidecar that is not a YAML mapping is a ProvenanceError naming it as ``shown``."""
    try:
        meta = safe_load_file(side) or {}
    except YamlError as exc:
        raise ProvenanceError(str(exc)) from None
    if not isinstance(meta, dict):
        raise ProvenanceError(f"{shown}: a sidecar is a mapping of fields")
    return meta


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
    meta = _sidecar_fields(side, side)
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


def _shown(path: Path) -> str:
    """``path`` as ``data/raw/...`` (relative to the project root, POSIX form), else as given."""
    try:
        return path.resolve().relative_to(paths.proj_root().resolve()).as_posix()
    except ValueError:
        return str(path)


def _under_raw(path: str | Path) -> Path:
    """``path`` (absolute, or relative to the working folder) resolved; refused unless it is a file under data/raw."""
    given = Path(path)
    full = given.resolve()
    raw = paths.data_raw().resolve()
    if not full.is_relative_to(raw) or full == raw:
        raise ProvenanceError(f"{given}: not under data/raw ({raw}); copy it into a folder of data/raw first "
                              "(the build reads raw data only from there)")
    if full.name.endswith(SIDECAR_SUFFIX):
        raise ProvenanceError(f"{given}: this is a sidecar; name the data file it describes")
    if not full.is_file():
        raise ProvenanceError(f"{given}: no such file")
    return full


def add_source(
    path: str | Path,
    *,
    source: str | None = None,
    address: str | None = None,
    date: str | None = None,
    licence: str | None = None,
    synthetic: bool | None = None,
    description: str | None = None,
    update: bool = False,
) -> tuple[Path, str | None]:
    """Write the provenance sidecar of a raw file: ``kuntalib source add``.

    Parameters
    ----------
    path
        The data file, under ``data/raw`` (absolute, or relative to the working folder).
    source, address, date, licence
        Who published the data, where it can be found (an address, or the document and page),
        its date (``YYYY-MM-DD``) and its licence. All four are needed for a new sidecar.
    synthetic
        Whether the data is made up (simulated); a new sidecar says ``false`` unless told.
    description
        What the file holds, in a sentence (optional).
    update
        Re-hash a file whose sidecar exists, keeping the sidecar's other fields (those given
        here replace theirs). Without it an existing sidecar is never overwritten.

    Returns
    -------
    (sidecar, old_sha256)
        The sidecar written, and the checksum it had before (``None`` for a new sidecar).

    Raises
    ------
    ProvenanceError
        The file is not under ``data/raw`` or does not exist, the sidecar exists (without
        ``update``) or is missing (with it), a field is missing, or the date is not a date.
    """
    full = _under_raw(path)
    side = sidecar_path(full)
    if date is not None and not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) and _valid_date(date)):
        raise ProvenanceError(f"date {date!r}: give the date as YYYY-MM-DD")
    given = {k: v for k, v in {"source": source, "address": address, "date": date, "licence": licence,
                                "description": description}.items() if v is not None}
    if update:
        if not side.exists():
            raise ProvenanceError(f"{_shown(side)}: no sidecar to update; add it without --update")
        meta = {str(k): v for k, v in _sidecar_fields(side, _shown(side)).items()}
        old = meta.pop("sha256", None)
        meta.update(given)
        if synthetic is not None:
            meta["synthetic"] = synthetic
    else:
        if side.exists():
            raise ProvenanceError(f"{_shown(side)}: the sidecar exists; raw data is not edited in place (add a new "
                                  "file), or if the change is meant, --update re-hashes it and keeps its other fields")
        old = None
        meta = {k: given.get(k) for k in REQUIRED_FIELDS[:-1]}
        meta["synthetic"] = bool(synthetic)
        if description is not None:
            meta["description"] = description
    missing = [f for f in REQUIRED_FIELDS[:-1] if not meta.get(f)]
    if missing:
        raise ProvenanceError(f"{_shown(full)}: the sidecar needs {', '.join('--' + f for f in missing)}")
    return write_sidecar(full, **meta), (str(old) if old is not None else None)


def _valid_date(text: str) -> bool:
    try:
        _date.fromisoformat(text)
    except ValueError:
        return False
    return True


#: Files under data/raw that are not data: hidden files and folders (macOS Finder's ``.DS_Store``,
#: ``._name``), Office's lock files of open workbooks (``~$name.xlsx``) and Windows Explorer's own files.
_NOT_DATA = ("Thumbs.db", "desktop.ini")


def _is_data(path: Path, raw: Path) -> bool:
    parts = path.relative_to(raw).parts
    return not (any(part.startswith(".") for part in parts) or path.name.startswith("~$") or path.name in _NOT_DATA)


@dataclass
class RawCheck:
    """What ``kuntalib source check`` found: counts, and one line per problem."""

    files: int = 0
    sidecars: int = 0
    cited: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what was checked and how many problems."""
        found = f"{len(self.problems)} problem(s)" if self.problems else "no problems"
        return (f"source check: {self.files} raw file(s), {self.sidecars} sidecar(s), "
                f"{self.cited} file(s) cited in data/raw/sources/citations.yml; {found}")


def check_raw() -> RawCheck:
    """Check ``data/raw``: every file has a sound sidecar with its hash, every sidecar its file, every citation a file.

    Lists every data file with no sidecar, with a sidecar that lacks a field or is not valid
    YAML, or whose SHA-256 differs from its sidecar's (stale); every sidecar whose data file is
    missing; and every entry of ``data/raw/sources/citations.yml`` (``files`` and ``keys``)
    naming a file that does not exist. Hidden files and Office lock files are not data.
    """
    raw = paths.data_raw()
    out = RawCheck()
    found = sorted(p for p in raw.rglob("*") if p.is_file() and _is_data(p, raw)) if raw.is_dir() else []
    data = [p for p in found if not p.name.endswith(SIDECAR_SUFFIX)]
    sidecars = [p for p in found if p.name.endswith(SIDECAR_SUFFIX)]
    out.files, out.sidecars = len(data), len(sidecars)
    for p in data:
        side = sidecar_path(p)
        if not side.exists():
            out.problems.append(f"{_shown(p)}: no sidecar {side.name} (kuntalib source add {_shown(p)} "
                                "--source ... --address ... --date YYYY-MM-DD --licence ...)")
            continue
        try:
            meta = _sidecar_fields(side, _shown(side))
        except ProvenanceError as exc:  # not YAML (the message names the file), or not a mapping
            out.problems.append(str(exc))
            continue
        missing = [f for f in REQUIRED_FIELDS if not meta.get(f)]
        if missing:
            out.problems.append(f"{_shown(side)}: missing field(s) {', '.join(missing)}")
        if meta.get("sha256") and (actual := sha256_file(p)) != str(meta["sha256"]):
            out.problems.append(f"{_shown(p)}: stale sidecar: the file's sha256 is {actual[:12]}…, its sidecar says "
                                f"{str(meta['sha256'])[:12]}… (a changed file: add it as a new file, or "
                                f"kuntalib source add {_shown(p)} --update if the change is meant)")
    for side in sidecars:
        if not side.with_name(side.name[: -len(SIDECAR_SUFFIX)]).is_file():
            out.problems.append(f"{_shown(side)}: sidecar without its file {side.name[: -len(SIDECAR_SUFFIX)]}")
    out.cited, citation_problems = _check_citations(raw)
    out.problems += citation_problems
    return out


def _check_citations(raw: Path) -> tuple[int, list[str]]:
    """Entries of the citations file naming no file under ``raw``: (number of cited files, problems)."""
    from kuntalib.sources import CITATIONS_FILE

    path = raw / CITATIONS_FILE
    where = _shown(path)
    if not path.is_file():
        return 0, [f"{where}: missing (captions, pages and workbooks cite the raw files from it)"]
    try:
        data = safe_load_file(path)
    except YamlError as exc:
        return 0, [f"{where}: {exc}"]
    if not isinstance(data, dict):
        return 0, [f"{where}: not a kuntalib.citations/1 file"]
    problems = []
    files = data.get("files") or {}
    keys = data.get("keys") or {}
    if not isinstance(files, dict) or not isinstance(keys, dict):
        return 0, [f"{where}: 'files' and 'keys' are mappings"]
    for section, entries in (("files", files), ("keys", keys)):
        for entry in entries:
            rel = str(entry).partition("#")[0] if section == "keys" else str(entry)
            target = raw / rel
            inside = target.resolve().is_relative_to(raw.resolve())
            if not (inside and target.is_file() and not rel.endswith(SIDECAR_SUFFIX)):
                problems.append(f"{where}: {section}: {entry} names no file under data/raw")
    return len(files), problems
