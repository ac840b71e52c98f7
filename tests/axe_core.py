"""axe-core (the npm package) for the accessibility test: fetched from the npm registry, pinned and checked.

``python -m tests.axe_core`` (run by ``make browser``) downloads the pinned tarball once into
``.venv/share/axe-core/<version>/``, checks its SHA-512 against the registry's integrity string
and unpacks ``axe.min.js``. The browser tests inject that file into each page.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "4.11.0"
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
#: The registry's ``dist.integrity`` of the tarball.
INTEGRITY = "sha512-ilYanEU8vxxBexpJd8cWM4ElSQq4QctCLKih0TSfjIfCQTeyH/6zVrmIJfLPrKTKJRbiG+cfnZbQIjAlJmF1jQ=="
ROOT = Path(__file__).resolve().parents[1]


def axe_path() -> Path:
    """Where ``axe.min.js`` of the pinned version lives."""
    return ROOT / ".venv" / "share" / "axe-core" / VERSION / "axe.min.js"


def ensure_axe(timeout: float = 60) -> Path:
    """Return ``axe.min.js``, downloading and checking it first if it is not there."""
    path = axe_path()
    if path.exists():
        return path
    with urllib.request.urlopen(TARBALL, timeout=timeout) as resp:  # noqa: S310 - a fixed https address
        data = resp.read()
    algo, _, want = INTEGRITY.partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != want:
        raise RuntimeError(f"{TARBALL}: {algo} {got} differs from the pinned integrity {want}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("package/axe.min.js")
        if member is None:
            raise RuntimeError(f"{TARBALL}: no package/axe.min.js")
        js = member.read()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(js)
    tmp.replace(path)
    return path


if __name__ == "__main__":
    print(ensure_axe(), file=sys.stderr)
