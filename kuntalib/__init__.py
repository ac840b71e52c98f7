"""kuntalib: reproducible figures for Finnish municipal-sector innovation research.

The public API is kept short; see the submodules:

- :mod:`kuntalib.paths` — where everything lives
- :mod:`kuntalib.theme` — Finnish-first chart style and number formats
- :mod:`kuntalib.outputs` — saving figures and tables
- :mod:`kuntalib.provenance` — raw-data sidecars and checksums
- :mod:`kuntalib.barometer` — Innovation Barometer 2022
- :mod:`kuntalib.indicators` — strategy follow-up indicators
- :mod:`kuntalib.scenarios` — foresight scenarios

Names are imported lazily so that the command line starts quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["save_figure", "save_table", "fmt_num", "fmt_pct", "set_theme", "__version__"]
__version__ = "0.1.0"

_LAZY = {
    "save_figure": "kuntalib.outputs",
    "save_table": "kuntalib.outputs",
    "fmt_num": "kuntalib.theme",
    "fmt_pct": "kuntalib.theme",
    "set_theme": "kuntalib.theme",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kuntalib' has no attribute {name!r}")
