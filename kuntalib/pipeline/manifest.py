"""``outputs/MANIFEST.sha256``: one ``<sha256>  <path>`` line per published file.

The manifest is written from the build state: each hash is the one taken when the build
produced the file, never one read back from disk later, so a file edited after the build
keeps its original hash here and ``kuntalib verify`` names it.
"""

from __future__ import annotations

from pathlib import Path

from kuntalib import paths
from kuntalib.pipeline.state import atomic_write_text
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


def write_manifest(entries: dict[str, str], root: Path | None = None) -> Path:
    """Write ``MANIFEST.sha256`` (sha256sum format, sorted) from ``{path: sha256}``; return its path.

    A path with a line break or other control character cannot be listed and raises ``ValueError``.
    """
    root = root or paths.outputs_dir()
    bad = [rel for rel in entries if any(ord(ch) < 32 for ch in rel)]
    if bad:
        raise ValueError(f"output path {bad[0]!r} has a control character; it cannot be listed in MANIFEST.sha256")
    path = root / "MANIFEST.sha256"
    atomic_write_text(path, "".join(f"{h}  {rel}\n" for rel, h in sorted(entries.items())))
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


def compare(expected: dict[str, str], actual: dict[str, str], *,
            words: tuple[str, str, str] = ("missing", "new", "differs")) -> list[str]:
    """Lines describing every file that differs, is missing or is new (``words`` name the three cases)."""
    missing, new, differs = words
    problems = []
    for rel in sorted(set(expected) | set(actual)):
        if rel not in actual:
            problems.append(f"{missing}: {rel}")
        elif rel not in expected:
            problems.append(f"{new}: {rel}")
        elif expected[rel] != actual[rel]:
            problems.append(f"{differs}: {rel}")
    return problems
