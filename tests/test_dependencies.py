"""Dependencies as used: what kuntalib and the notebooks import is what pyproject.toml declares.

Imports are read with ``ast`` (every ``import`` and ``from ... import`` anywhere, functions included) from
``kuntalib/**/*.py`` and the notebooks' code cells, and mapped to distributions with
``importlib.metadata.packages_distributions()`` (``yaml`` is PyYAML, ``fhir`` is fhir.resources). The tests
and benchmarks may import the ``dev`` extra besides. ``tests/test_conventions.py`` checks that
environment.yml lists the same packages and requirements-lock.txt pins them.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Declared runtime dependencies that no code imports, and why they are needed all the same.
RUN_WITHOUT_IMPORT = {
    "ipykernel": "the Python kernel that papermill starts for every notebook (kernel_name='python3'); kuntalib.lab "
                 "registers it as 'kuntalib' with 'python -m ipykernel install'",
    "matplotlib-inline": "the notebooks' matplotlib backend, named by a string (MPLBACKEND in kuntalib.pipeline.runner)",
    "jupyterlab": "where researchers open, edit and re-run the notebooks: 'kuntalib lab' runs 'python -m jupyterlab'",
    "distributed": "the Dask Client that kuntalib.fhir.scale.dask_runner takes (docs/scale-out.md imports it)",
}
#: Declared development tools that no test imports.
DEV_TOOLS = {"ruff": "the linter of make lint and make test",
             "pytest-xdist": "runs the test suite on every core (make test: pytest -n auto)"}


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``fhir.resources`` and ``Fhir_Resources`` are ``fhir-resources``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(req: str) -> str:
    """``"dask[dataframe]>=2024.8"`` -> ``dask``."""
    return normalise(re.split(r"[\[<>=!~;\s]", req.strip(), maxsplit=1)[0])


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def top_level_imports(source: str, where: str) -> set[str]:
    """Top-level names of every absolute import in ``source`` (relative imports are the package's own)."""
    names = set()
    for node in ast.walk(ast.parse(source, where)):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names


def notebook_code(path: Path) -> str:
    """A notebook's code cells as one module, IPython magics (``%``, ``!``) left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def imported(sources: list[tuple[str, str]], own: set[str]) -> dict[str, set[str]]:
    """Third-party top-level import names of ``sources`` ((where, text) pairs) -> where each is imported."""
    found: dict[str, set[str]] = {}
    for where, text in sources:
        for name in top_level_imports(text, where) - own:
            if name not in sys.stdlib_module_names and name != "__future__":
                found.setdefault(name, set()).add(where)
    return found


def _package_sources() -> list[tuple[str, str]]:
    out = [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8")) for p in sorted((REPO / "kuntalib").rglob("*.py"))]
    out += [(p.relative_to(REPO).as_posix(), notebook_code(p)) for p in sorted((REPO / "notebooks").glob("*.ipynb"))]
    return out


def _distributions(names: dict[str, set[str]], declared: set[str]) -> tuple[set[str], list[str]]:
    """(distributions used, problems): each import name's distribution, the declared one where several provide it."""
    mapping = packages_distributions()
    used, problems = set(), []
    for name, where in sorted(names.items()):
        dists = {normalise(d) for d in mapping.get(name, [])}
        shown = ", ".join(sorted(where)[:3]) + (" ..." if len(where) > 3 else "")
        if not dists:
            problems.append(f"'{name}' is imported ({shown}) but no installed distribution provides it")
        elif not dists & declared:
            problems.append(f"'{name}' is imported ({shown}) but its distribution {' or '.join(sorted(dists))} "
                            "is not declared: add it with a lower bound to pyproject.toml and environment.yml, and pin "
                            "the installed version in requirements-lock.txt")
        used |= (dists & declared) or dists
    return used, problems


def test_imports_and_runtime_dependencies_agree():
    declared = {requirement_name(r) for r in _project()["dependencies"]}
    used, problems = _distributions(imported(_package_sources(), {"kuntalib"}), declared)
    for dist in sorted(declared - used - RUN_WITHOUT_IMPORT.keys()):
        problems.append(f"{dist} is declared in pyproject.toml but nothing in kuntalib/ or notebooks/ imports it: "
                        "drop it (and from environment.yml), or move it to the extra that uses it")
    for dist in sorted(RUN_WITHOUT_IMPORT.keys() - declared):
        problems.append(f"{dist} is listed in RUN_WITHOUT_IMPORT but no longer declared: remove it from the list")
    for dist in sorted(RUN_WITHOUT_IMPORT.keys() & used):
        problems.append(f"{dist} is imported now: remove it from RUN_WITHOUT_IMPORT")
    assert problems == [], "\n".join(problems)


def test_tests_and_benchmarks_import_only_declared_packages():
    project = _project()
    runtime = {requirement_name(r) for r in project["dependencies"]}
    dev = {requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    sources = [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
               for folder in ("tests", "benchmarks") for p in sorted((REPO / folder).rglob("*.py"))]
    own = {"kuntalib", "tests", "benchmarks", "conftest"} | {p.stem for p in (REPO / "benchmarks").glob("*.py")}
    used, problems = _distributions(imported(sources, own), runtime | dev)
    for dist in sorted(dev - used - DEV_TOOLS.keys()):
        problems.append(f"{dist} is in the dev extra but no test or benchmark imports it")
    assert problems == [], "\n".join(problems)


def test_the_checks_see_what_they_look_for():
    assert requirement_name("dask[dataframe]>=2024.8") == "dask" and requirement_name("fhir.resources>=8.0") == "fhir-resources"
    src = "import os, yaml\nfrom fhir.resources import R4B\nfrom . import x\ndef f():\n    import IPython.display\n"
    assert top_level_imports(src, "x.py") == {"os", "yaml", "fhir", "IPython"}
    used, problems = _distributions(imported([("x.py", src)], set()), {"pyyaml"})
    assert used >= {"pyyaml", "fhir-resources", "ipython"}
    assert [p.split("'")[1] for p in problems] == ["IPython", "fhir"]
