"""Reading an indicator file in any of its forms: YAML, an Excel workbook or CSV files.

The YAML format and its validation are :mod:`kuntalib.indicators.model`; the spreadsheet
forms are :mod:`kuntalib.indicators.sheets`, which validates through the same parser. This
module picks between them, so neither of the two imports the other's reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuntalib.indicators.model import IndicatorFile, IndicatorFileError, parse_indicator_file
from kuntalib.indicators.sheets import read_indicator_sheets
from kuntalib.yamlsafe import YamlError, safe_load_file

__all__ = ["load_indicator_file"]


def load_indicator_file(path: str | Path, *, evaluation_date: Any = None) -> IndicatorFile:
    """Read and validate an indicator file: YAML, an Excel workbook or CSV files (:mod:`kuntalib.indicators.sheets`).

    ``evaluation_date`` (a date or ``YYYY-MM-DD``): no value may be dated or published after it
    (see :func:`~kuntalib.indicators.model.parse_indicator_file`).

    Raises
    ------
    IndicatorFileError
        The file does not fit the format; the message names the file and the place.
    """
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"} or path.name.endswith(".indicators.csv"):
        return read_indicator_sheets(path, evaluation_date=evaluation_date)
    try:
        data = safe_load_file(path)
    except YamlError as exc:
        raise IndicatorFileError(str(exc)) from None
    return parse_indicator_file(data, path, evaluation_date=evaluation_date)
