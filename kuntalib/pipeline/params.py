"""Parameters cells: parse, check conventions, validate overrides.

A notebook has exactly one code cell tagged ``parameters``. Each statement in
it is an annotated assignment with a literal default and a trailing comment::

    lang: str = "fi"  # fi, sv or en
    config_file: str = "kotidigi/settings.yml"  # simulator settings under data/raw
    budget_file: str = "x/budget.csv"  # budget CSV under data/raw; "" for none
    source: str = "published"  # "published", or a microdata file under data/raw

A ``str`` parameter whose comment says *under data/raw* is a raw-data path: before
anything runs, its value (given or default) must name a file under ``data/raw`` (no
escape by ``..`` or an absolute path) that exists and has a provenance sidecar. The
empty string is allowed only where the comment documents ``""``, and a word quoted in
the comment (``"published"``) is a keyword, not a path.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuntalib import paths
from kuntalib.provenance import sidecar_path

__all__ = ["Parameter", "ParameterError", "read_parameters", "validate_overrides", "validate_paths", "parse_cli_value"]

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

    @property
    def is_raw_path(self) -> bool:
        """A ``str`` parameter whose comment says it names a file under data/raw."""
        return self.type_name == "str" and "under data/raw" in self.comment

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


def _path_problem(param: Parameter, value: str) -> str | None:
    """Why ``value`` is not acceptable for a raw-path parameter, or None."""
    if value == "":
        return None if '""' in param.comment else "a file under data/raw is required"
    if f'"{value}"' in param.comment and "/" not in value:
        return None  # a documented keyword such as "published"
    try:
        path = paths.raw_file(value)
    except ValueError:
        return f"not a file path under data/raw ({paths.data_raw()})"
    if not path.is_file():
        return f"no such file under data/raw ({path})"
    if not sidecar_path(path).is_file():
        return f"{path.name} has no provenance sidecar {sidecar_path(path).name}"
    return None


def validate_paths(notebook: str | Path, params: dict[str, Parameter], values: dict[str, Any]) -> None:
    """Raise ``ParameterError`` for a raw-path parameter (given or default) that names no sound raw file."""
    name = Path(notebook).name
    for p in params.values():
        if not p.is_raw_path:
            continue
        value = values.get(p.name, p.default)
        problem = _path_problem(p, value)
        if problem:
            raise ParameterError(f"{name}: parameter {p.name!r} = {value!r}: {problem}")


def parse_cli_value(text: str) -> Any:
    """``'3'`` -> 3, ``'true'`` -> True, ``'[1, 2]'`` -> [1, 2]; anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
