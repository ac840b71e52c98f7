"""Every committed notebook follows the parameters convention and carries no outputs."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from kuntalib.pipeline.params import read_parameters
from kuntalib.provenance import read_provenance, sidecar_path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_readme_documents_exactly_the_shipped_notebooks():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\d\d_\w+)` \|", readme, flags=re.M))
    assert documented == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(nb):
    params = read_parameters(nb)  # raises on any breach of the convention
    assert "lang" in params and params["lang"].default == "fi"
    data = json.loads(nb.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{nb.name}: committed outputs"
            assert cell.get("execution_count") is None, f"{nb.name}: committed execution count"
    head, note = data["cells"][:2]
    assert head["cell_type"] == "markdown" and "".join(head["source"]).startswith("# "), f"{nb.name}: opens with its title"
    assert not head["metadata"].get("tags"), f"{nb.name}: the title and introduction are published"
    assert note["cell_type"] == "markdown" and note["metadata"].get("tags") == ["source-only"], (
        f"{nb.name}: the note for JupyterLab users follows the title and is left off the published pages")
    assert sum("source-only" in c["metadata"].get("tags", []) for c in data["cells"]) == 1


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_file_parameter_is_a_checked_raw_path(nb):
    """Path parameters follow the 'under data/raw' convention, so the build checks them before any kernel starts."""
    from kuntalib.pipeline.params import validate_paths

    params = read_parameters(nb)
    for p in params.values():
        if p.name.endswith("_file") or p.name in {"source", "impact_chain"}:
            assert p.is_raw_path, f"{nb.name}: {p.name}'s comment must say 'under data/raw'"
    validate_paths(nb, params, {})  # the shipped defaults name real files with sidecars


RAW = sorted(p for p in (REPO / "data" / "raw").rglob("*") if p.is_file() and not p.name.endswith(".provenance.yml"))


@pytest.mark.parametrize("path", RAW, ids=lambda p: str(p.relative_to(REPO)))
def test_every_raw_file_has_a_sound_sidecar(path):
    prov = read_provenance(path)  # checks the checksum too
    if "synthetic" in path.name:
        assert prov.synthetic, f"{path.name} is synthetic but its sidecar does not say so"


def test_sidecar_errors_name_the_file(tmp_path):
    from kuntalib.provenance import ProvenanceError, write_sidecar

    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    with pytest.raises(ProvenanceError, match="x.csv: no provenance sidecar"):
        read_provenance(f)
    write_sidecar(f, source="s", address="a", date="d", licence="l")
    f.write_text("a\n2\n")
    with pytest.raises(ProvenanceError, match="x.csv: checksum"):
        read_provenance(f)
    sidecar_path(f).write_text("source: s\n")
    with pytest.raises(ProvenanceError, match="missing field"):
        read_provenance(f, check=False)


def _name(req: str) -> tuple[str, str]:
    req = re.sub(r"\[.*?\]", "", req)  # extras: dask[dataframe] is dask
    for op in (">=", "=="):
        if op in req:
            n, v = req.split(op)
            return n.strip().lower().replace("_", "-"), v.strip()
    return req.strip().lower(), ""


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_name(r) for r in py["dependencies"] + py["optional-dependencies"]["dev"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = dict(_name(d) for d in env["dependencies"] if isinstance(d, str) and not d.startswith("python="))
    assert conda == wanted


def test_lock_file_pins_every_dependency():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = dict(_name(line) for line in (REPO / "requirements-lock.txt").read_text().splitlines() if "==" in line)
    for req in py["dependencies"] + py["optional-dependencies"]["dev"]:
        name, _ = _name(req)
        assert name in lock, f"{name} not pinned in requirements-lock.txt"


def _commands(text: str) -> list[str]:
    """Shell command lines: no comments, no blank lines."""
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", readme, flags=re.S)
    assert block, "README needs the 'Two commands' bash block"
    build_cmd, test_cmd = _commands(block.group(1))
    assert build_cmd.startswith("make build") and test_cmd.startswith("make test")
    assert test_cmd in _commands((REPO / ".ci" / "run").read_text(encoding="utf-8"))
