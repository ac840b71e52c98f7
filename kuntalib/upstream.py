"""What a step function receives from a step it depends on.

A topic's step functions (``kuntalib/<topic>/steps.py``) take the results of the steps
above them as arguments. They read those results by name and, where a step kept files,
from its work folder; nothing else. This protocol says so without tying topic code to the
build tool that runs the steps (:class:`kuntalib.pipeline.steps.StepResult` fits it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

__all__ = ["Upstream"]


class Upstream(Protocol):
    """A stored step result: its tables (DataFrames) and values (JSON) by name, and its kept work folder."""

    @property
    def work(self) -> Path | None:
        """The folder of files the step kept (``<step folder>/work/``), or None when it kept none."""
        ...

    def __getitem__(self, name: str) -> Any:
        """Table ``name`` as a DataFrame (a copy), or value ``name``."""
        ...
