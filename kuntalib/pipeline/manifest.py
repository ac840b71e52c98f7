"""``outputs/MANIFEST.sha256``: one ``<sha256>  <path>`` line per published file."""

from __future__ import annotations

from pathlib import Path

from kuntalib import paths
from kuntalib.provenance import sha256_file

__all__ = ["collect", "write_manifest", "read_manifest", "compare"]

_SKIP_TOP = {".build-state.json", "MANIFEST.sha256", "failed"}


def collect(root: Path | None = None) -> dict[str, str]:
    """SHA-256 of every output file under ``root`` (default: outputs/), by relative path."""
    root = root or paths.outputs_dir()
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] not in _SKIP_TOP and not rel.name.startswith("."):
            out[rel.as_posix()] = sha256_file(p)
    return out


def write_manifest(root: Path | None = None) -> Path:
    """Write ``MANIFEST.sha256`` (sha256sum format, sorted) and return its path."""
    root = root or paths.outputs_dir()
    entries = collect(root)
    path = root / "MANIFEST.sha256"
    path.write_text("".join(f"{h}  {rel}\n" for rel, h in entries.items()), encoding="utf-8")
    return path


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a manifest file into {relative path: sha256}."""
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{path}: line {n} is not '<sha256>  <path>'")
        entries[rel] = digest
    return entries


def compare(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Lines describing every file that differs, is missing or is new."""
    problems = []
    for rel in sorted(set(expected) | set(actual)):
        if rel not in actual:
            problems.append(f"missing: {rel}")
        elif rel not in expected:
            problems.append(f"new: {rel}")
        elif expected[rel] != actual[rel]:
            problems.append(f"differs: {rel}")
    return problems
