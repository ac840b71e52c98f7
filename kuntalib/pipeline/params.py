"""Parameters cells: parse, check conventions, validate overrides.

A notebook has exactly one code cell tagged ``parameters``. Each statement in
it is an annotated assignment with a literal default and a trailing comment::

    lang: str = "fi"  # fi, sv or en
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Parameter", "ParameterError", "read_parameters", "validate_overrides", "parse_cli_value"]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


class ParameterError(ValueError):
    """A parameters cell breaks the convention, or an override does not fit it."""


@dataclass(frozen=True)
class Parameter:
    """One parameter: name, annotated type, literal default, comment."""

    name: str
    type_name: str
    default: Any
    comment: str

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of this parameter's type (bool is not an int here)."""
        types = _TYPES[self.type_name]
        if isinstance(value, bool) and bool not in types:
            return False
        return isinstance(value, types)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def read_parameters(path: str | Path) -> dict[str, Parameter]:
    """Parse the ``parameters`` cell of a notebook.

    Raises
    ------
    ParameterError
        No or several parameters cells, or a statement that is not
        ``name: type = literal  # comment``; the message names the notebook
        and the line.
    """
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{path}: not valid notebook JSON: {exc}") from exc
    cells = [
        c
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code" and "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    if len(cells) != 1:
        raise ParameterError(f"{path}: expected one cell tagged 'parameters', found {len(cells)}")
    src = _source(cells[0])
    lines = src.splitlines()
    try:
        tree = ast.parse(src)
    except SyntaxError as exc:
        raise ParameterError(f"{path}: parameters cell line {exc.lineno}: {exc.msg}") from exc
    params: dict[str, Parameter] = {}
    for node in tree.body:
        where = f"{path.name}: parameters cell line {node.lineno}"
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            raise ParameterError(f"{where}: expected 'name: type = literal  # comment'")
        if not isinstance(node.annotation, ast.Name) or node.annotation.id not in _TYPES:
            raise ParameterError(f"{where}: annotation must be one of {', '.join(_TYPES)}")
        if node.value is None:
            raise ParameterError(f"{where}: {node.target.id} has no default")
        try:
            default = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ParameterError(f"{where}: default of {node.target.id} is not a literal") from exc
        line = lines[node.end_lineno - 1]
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        if not comment:
            raise ParameterError(f"{where}: {node.target.id} needs a trailing comment")
        p = Parameter(node.target.id, node.annotation.id, default, comment)
        if not p.accepts(default):
            raise ParameterError(f"{where}: default {default!r} is not a {p.type_name}")
        params[p.name] = p
    return params


def validate_overrides(notebook: str | Path, params: dict[str, Parameter], overrides: dict[str, Any]) -> None:
    """Raise ``ParameterError`` for an unknown name or a value of the wrong type."""
    name = Path(notebook).name
    for key, value in overrides.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise ParameterError(f"{name}: unknown parameter {key!r} (known: {known})")
        if not params[key].accepts(value):
            raise ParameterError(
                f"{name}: parameter {key!r} must be {params[key].type_name}, got {type(value).__name__} {value!r}"
            )


def parse_cli_value(text: str) -> Any:
    """``'3'`` -> 3, ``'true'`` -> True, ``'[1, 2]'`` -> [1, 2]; anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
