"""The one place that builds paths.

Every other module asks this one where things live. The project root is the
folder that holds ``kuntalib/``; set ``KUNTALIB_ROOT`` to point the package at
another tree (tests do this), and ``KUNTALIB_OUTPUTS`` to send outputs elsewhere
(``kuntalib verify`` does this to rebuild into a scratch folder).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "proj_root",
    "data_raw",
    "data_processed",
    "notebooks_dir",
    "prose_catalogue",
    "outputs_dir",
    "figures_dir",
    "tables_dir",
    "executed_dir",
    "site_dir",
    "failed_dir",
    "build_state_file",
    "manifest_file",
    "raw_file",
    "package_dir",
]

_PACKAGE_DIR = Path(__file__).resolve().parent


def package_dir() -> Path:
    """Folder of the installed ``kuntalib`` package."""
    return _PACKAGE_DIR


def proj_root() -> Path:
    """Project root: ``$KUNTALIB_ROOT`` or the parent of the package folder."""
    env = os.environ.get("KUNTALIB_ROOT")
    return Path(env).resolve() if env else _PACKAGE_DIR.parent


def data_raw() -> Path:
    """Immutable source data with provenance sidecars."""
    return proj_root() / "data" / "raw"


def data_processed() -> Path:
    """Derived data (Parquet, CSV) rebuilt from ``data/raw``; ``KUNTALIB_PROCESSED`` overrides it."""
    env = os.environ.get("KUNTALIB_PROCESSED")
    return Path(env).resolve() if env else proj_root() / "data" / "processed"


def notebooks_dir() -> Path:
    """Parameterised source notebooks (committed without outputs)."""
    return proj_root() / "notebooks"


def prose_catalogue(notebook: str, lang: str) -> Path:
    """A notebook's prose in ``lang``: ``notebooks/locale/<lang>/LC_MESSAGES/<notebook>.po``."""
    return notebooks_dir() / "locale" / lang / "LC_MESSAGES" / f"{notebook}.po"


def outputs_dir() -> Path:
    """Everything the build writes: ``$KUNTALIB_OUTPUTS`` or ``<root>/outputs``."""
    env = os.environ.get("KUNTALIB_OUTPUTS")
    return Path(env).resolve() if env else proj_root() / "outputs"


def figures_dir(notebook: str, lang: str) -> Path:
    """``outputs/figures/<notebook>/<lang>/``."""
    return outputs_dir() / "figures" / notebook / lang


def tables_dir(notebook: str, lang: str) -> Path:
    """``outputs/tables/<notebook>/<lang>/``."""
    return outputs_dir() / "tables" / notebook / lang


def executed_dir(lang: str) -> Path:
    """Executed notebooks: ``outputs/notebooks/<lang>/``."""
    return outputs_dir() / "notebooks" / lang


def staging_dir() -> Path:
    """Where runs write before their outputs are moved into place: ``outputs/.staging/``."""
    return outputs_dir() / ".staging"


def build_lock_file() -> Path:
    """The lock that keeps two builds of one outputs folder apart: ``outputs/.build.lock``."""
    return outputs_dir() / ".build.lock"


def failed_dir(lang: str) -> Path:
    """Executed notebooks that failed, kept for inspection: ``outputs/failed/<lang>/``."""
    return outputs_dir() / "failed" / lang


def site_dir() -> Path:
    """Self-contained HTML site: ``outputs/site/``."""
    return outputs_dir() / "site"


def build_state_file() -> Path:
    """Content hashes of the last successful run of each notebook."""
    return outputs_dir() / ".build-state.json"


def manifest_file() -> Path:
    """SHA-256 of every published output file."""
    return outputs_dir() / "MANIFEST.sha256"


def raw_file(*parts: str) -> Path:
    """Path of a file under ``data/raw`` (it need not exist yet).

    ``raw_file("barometer/2022/questions.csv")`` and ``raw_file("barometer", "2022", "questions.csv")``
    are the same file. A path that would leave ``data/raw`` (``..``, an absolute path) is refused
    with ``ValueError``.
    """
    base = data_raw()
    path = base.joinpath(*parts)
    if not parts or not path.resolve().is_relative_to(base.resolve()) or path.resolve() == base.resolve():
        raise ValueError(f"{'/'.join(parts)!r}: not a file path under {base}")
    return path
