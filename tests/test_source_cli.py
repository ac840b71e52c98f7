"""Own data in one command: ``kuntalib source add`` writes a sidecar, ``kuntalib source check`` checks data/raw."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kuntalib.cli import main
from kuntalib.provenance import sha256_file, sidecar_path

REPO = Path(__file__).resolve().parents[1]
FIELDS = ["--source", "Rautjärven kunta", "--address", "https://www.rautjarvi.fi", "--date", "2024-03-01",
          "--licence", "CC BY 4.0"]


def _sidecar(path: Path) -> dict:
    return yaml.safe_load(sidecar_path(path).read_text(encoding="utf-8"))


@pytest.fixture
def tree(tmp_path, monkeypatch, capsys) -> Path:
    """A project whose data/raw holds one cited file and the citations file, both with sidecars."""
    root = tmp_path / "proj"
    raw = root / "data" / "raw"
    (raw / "demo").mkdir(parents=True)
    (raw / "sources").mkdir()
    (raw / "demo" / "values.csv").write_text("year,value\n2021,3\n2022,5\n", encoding="utf-8")
    (raw / "sources" / "citations.yml").write_text(
        "format: kuntalib.citations/1\ncitations:\n  demo:\n    publisher: Demo\n    title: Demo\n    medium: table\n"
        "files:\n  demo/values.csv: demo\nkeys:\n  demo/values.csv#seed: demo\n", encoding="utf-8")
    monkeypatch.setenv("KUNTALIB_ROOT", str(root))
    for f in (raw / "demo" / "values.csv", raw / "sources" / "citations.yml"):
        assert main(["source", "add", str(f), *FIELDS]) == 0
    capsys.readouterr()
    return raw


def _check(capsys) -> tuple[int, list[str]]:
    code = main(["source", "check"])
    return code, capsys.readouterr().out.splitlines()


def test_the_shipped_tree_passes(monkeypatch, capsys):
    monkeypatch.setenv("KUNTALIB_ROOT", str(REPO))
    code, lines = _check(capsys)
    assert code == 0, "\n".join(lines)
    assert len(lines) == 1 and lines[0].startswith("source check: ") and lines[0].endswith("; no problems")


def test_add_writes_the_sidecar_with_its_hash(tree, capsys, monkeypatch):
    new = tree / "demo" / "mine.xlsx"
    new.write_bytes(b"PK\x03\x04 not really a workbook")
    monkeypatch.chdir(tree.parent.parent)  # a path relative to the working folder
    assert main(["source", "add", "data/raw/demo/mine.xlsx", *FIELDS, "--synthetic", "--description", "a test"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"data/raw/demo/mine.xlsx.provenance.yml: written (sha256 {sha256_file(new)[:12]}")
    assert "names no public source for demo/mine.xlsx" in out  # not cited yet: told how
    assert _sidecar(new) == {"source": "Rautjärven kunta", "address": "https://www.rautjarvi.fi", "date": "2024-03-01",
                             "licence": "CC BY 4.0", "synthetic": True, "description": "a test",
                             "sha256": sha256_file(new)}
    assert "date: '2024-03-01'" in sidecar_path(new).read_text(encoding="utf-8")  # a string, as the others
    assert _check(capsys)[0] == 0


def test_a_stale_hash_is_listed_and_update_rehashes_keeping_the_fields(tree, capsys):
    data = tree / "demo" / "values.csv"
    before = _sidecar(data)
    data.write_text("year,value\n2021,3\n2022,6\n", encoding="utf-8")
    code, lines = _check(capsys)
    assert code == 1
    assert lines[0].startswith("data/raw/demo/values.csv: stale sidecar: the file's sha256 is "
                               f"{sha256_file(data)[:12]}…, its sidecar says {before['sha256'][:12]}…")
    assert lines[-1].endswith("; 1 problem(s)")
    # a second add does not overwrite the sidecar
    assert main(["source", "add", str(data), *FIELDS]) == 2
    err = capsys.readouterr().err
    assert "data/raw/demo/values.csv.provenance.yml: the sidecar exists" in err and "--update" in err
    assert _sidecar(data) == before
    assert main(["source", "add", str(data), "--update"]) == 0
    assert f"updated, sha256 {before['sha256'][:12]}… -> {sha256_file(data)[:12]}…" in capsys.readouterr().out
    assert _sidecar(data) == {**before, "sha256": sha256_file(data)}
    assert _check(capsys)[0] == 0


def test_missing_sidecars_and_orphan_sidecars_are_listed(tree, capsys):
    (tree / "demo" / "new.csv").write_text("a\n1\n", encoding="utf-8")
    (tree / "demo" / ".DS_Store").write_bytes(b"\0")  # a desktop's own files, not data
    (tree / "demo" / "~$new.xlsx").write_bytes(b"\0")
    (tree / "demo" / ".ipynb_checkpoints").mkdir()
    (tree / "demo" / ".ipynb_checkpoints" / "values-checkpoint.csv").write_text("a\n", encoding="utf-8")
    (tree / "demo" / "gone.csv.provenance.yml").write_text("source: s\n", encoding="utf-8")
    code, lines = _check(capsys)
    assert code == 1
    assert lines[:-1] == [
        "data/raw/demo/new.csv: no sidecar new.csv.provenance.yml (kuntalib source add data/raw/demo/new.csv "
        "--source ... --address ... --date YYYY-MM-DD --licence ...)",
        "data/raw/demo/gone.csv.provenance.yml: sidecar without its file gone.csv",
    ]
    assert lines[-1].startswith("source check: 3 raw file(s), 3 sidecar(s)") and lines[-1].endswith("; 2 problem(s)")


def test_a_citation_naming_no_file_is_listed(tree, capsys):
    cites = tree / "sources" / "citations.yml"
    text = cites.read_text(encoding="utf-8")
    text = text.replace("files:\n", "files:\n  demo/renamed.csv: demo\n  ../outside.csv: demo\n")
    text += "  demo/renamed.csv#seed: demo\n"
    cites.write_text(text, encoding="utf-8")
    assert main(["source", "add", str(cites), "--update"]) == 0
    capsys.readouterr()
    code, lines = _check(capsys)
    assert code == 1
    assert lines[:-1] == [
        "data/raw/sources/citations.yml: files: demo/renamed.csv names no file under data/raw",
        "data/raw/sources/citations.yml: files: ../outside.csv names no file under data/raw",
        "data/raw/sources/citations.yml: keys: demo/renamed.csv#seed names no file under data/raw",
    ]


def test_a_file_outside_data_raw_is_refused(tree, tmp_path, capsys):
    outside = tmp_path / "followup.xlsx"
    outside.write_bytes(b"x")
    assert main(["source", "add", str(outside), *FIELDS]) == 2
    err = capsys.readouterr().err
    assert f"kuntalib: error: {outside}: not under data/raw" in err and "copy it into a folder of data/raw" in err
    assert not sidecar_path(outside).exists()
    escaping = tree / "demo" / ".." / ".." / ".." / "followup.xlsx"  # data/raw/../.. is the project, not data/raw
    escaping.resolve().write_bytes(b"x")
    assert main(["source", "add", str(escaping), *FIELDS]) == 2
    assert "not under data/raw" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "s", "--address", "a", "--date", "2024-03-01"], "the sidecar needs --licence"),
    ([*FIELDS[:5], "1.3.2024", *FIELDS[6:]], "date '1.3.2024': give the date as YYYY-MM-DD"),
    ([*FIELDS[:5], "2024-02-30", *FIELDS[6:]], "date '2024-02-30': give the date as YYYY-MM-DD"),
    (["--update"], "no sidecar to update"),
])
def test_add_refuses_what_would_make_an_unsound_sidecar(tree, capsys, args, message):
    data = tree / "demo" / "other.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    assert main(["source", "add", str(data), *args]) == 2
    assert message in capsys.readouterr().err
    assert not sidecar_path(data).exists()


def test_add_refuses_a_sidecar_or_a_missing_file(tree, capsys):
    assert main(["source", "add", str(sidecar_path(tree / "demo" / "values.csv")), *FIELDS]) == 2
    assert "this is a sidecar" in capsys.readouterr().err
    assert main(["source", "add", str(tree / "demo" / "absent.csv"), *FIELDS]) == 2
    assert "absent.csv: no such file" in capsys.readouterr().err


def test_help_names_both_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "source" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["source", "--help"])
    out = capsys.readouterr().out
    assert "add" in out and "check" in out
