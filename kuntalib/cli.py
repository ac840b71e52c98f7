"""The ``kuntalib`` command: build, verify, params, source add/check and the rest that ``--help`` lists.

Heavy imports (papermill, nbconvert) happen only when there is work, so a
no-op rebuild is quick.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kuntalib import paths
from kuntalib.i18n import LANGS
from kuntalib.pipeline.params import ParameterError, parse_cli_value, read_parameters
from kuntalib.pipeline.state import rel_path

if TYPE_CHECKING:
    from kuntalib.pipeline.runner import BuildReport, Job

__all__ = ["main", "build", "build_jobs", "run_jobs", "verify", "source_add", "source_check"]


def _overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``NB:NAME=VALUE`` items by notebook; a parameter the notebook declares ``str`` keeps VALUE as written (round=2025)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        stem, dot, name = target.partition(":")
        if not sep or not dot or not stem or not name:
            raise ParameterError(f"--param {item!r}: expected NOTEBOOK:NAME=VALUE")
        nb = paths.notebooks_dir() / f"{stem}.ipynb"
        declared = read_parameters(nb).get(name) if nb.is_file() else None
        out.setdefault(stem, {})[name] = value if declared is not None and declared.type_name == "str" else parse_cli_value(value)
    return out


def build(
    notebooks: list[str] | None = None,
    *,
    langs: tuple[str, ...] = LANGS,
    overrides: dict[str, dict[str, Any]] | None = None,
    force: bool = False,
    workers: int = 2,
    progress: bool = True,
) -> int:
    """Run out-of-date notebooks, publish their pages, rewrite the manifest; return the exit code."""
    from kuntalib.pipeline.runner import discover, plan

    return run_jobs(plan(discover(notebooks), langs, overrides), force=force, workers=workers, progress=progress)


def build_jobs(jobs: list[Job], *, force: bool = False, workers: int = 2, progress: bool = True) -> BuildReport:
    """Run planned jobs, publish pages of those that ran, rewrite the manifest; return the build's report.

    One build at a time per outputs folder (a second one waits). Leftovers of an interrupted
    build's staging are removed first.

    Parameters
    ----------
    jobs
        The runs, as :func:`kuntalib.pipeline.runner.plan` makes them.
    force
        Run every job, up to date or not.
    workers
        Runs at a time.
    progress
        Show a progress bar.

    Returns
    -------
    BuildReport
        Each job's outcome and the steps it computed or read.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, after every run that finished before is recorded (and in the manifest); the
        next build runs only the rest.
    """
    import shutil

    from kuntalib.pipeline.lock import build_lock
    from kuntalib.pipeline.manifest import write_manifest
    from kuntalib.pipeline.runner import run_build
    from kuntalib.pipeline.state import BuildState

    with build_lock(paths.build_lock_file()):
        shutil.rmtree(paths.staging_dir(), ignore_errors=True)
        try:
            report = run_build(jobs, force=force, workers=workers, progress=progress)
        except KeyboardInterrupt:
            write_manifest(BuildState().produced())
            raise
        ran = [r.job.run_id for r in report.ran]
        failed = {r.job.run_id for r in report.failed}
        site = paths.site_dir()
        missing_pages = any(not (site / j.lang / f"{j.stem}.html").exists() for j in jobs if j.output.exists())
        state = BuildState()
        if ran or failed or missing_pages or not (site / "index.html").exists():
            from kuntalib.pipeline.site import publish

            state.record_site(publish(ran, failed=failed))
            state.save()
        write_manifest(state.produced())
        shutil.rmtree(paths.staging_dir(), ignore_errors=True)
    return report


def run_jobs(jobs: list[Job], *, force: bool = False, workers: int = 2, progress: bool = True) -> int:
    """:func:`build_jobs`, then print its summary; return the exit code (130 after Ctrl-C)."""
    t0 = time.perf_counter()
    try:
        report = build_jobs(jobs, force=force, workers=workers, progress=progress)
    except KeyboardInterrupt:
        print("kuntalib: interrupted; the notebooks that finished are recorded, 'kuntalib build' runs the rest",
              file=sys.stderr)
        return 130
    first, *rest = report.summary().split("\n")
    print("\n".join([f"{first} ({time.perf_counter() - t0:.1f} s)", *rest]))
    return 0 if report.ok else 1


def verify(*, workers: int = 2, progress: bool = True) -> int:
    """Check outputs/ against MANIFEST.sha256, then rebuild into a scratch folder and compare again.

    Names every file edited, missing or added since the build, and every file a fresh
    rebuild (steps recomputed) makes differently.
    """
    from kuntalib.pipeline.lock import build_lock
    from kuntalib.pipeline.manifest import collect, compare, read_manifest
    from kuntalib.pipeline.runner import recorded_jobs

    manifest = paths.manifest_file()
    if not manifest.exists():
        print(f"{manifest}: no manifest; run 'kuntalib build' first", file=sys.stderr)
        return 2
    with build_lock(paths.build_lock_file()):
        expected = read_manifest(manifest)
        on_disk = compare(expected, collect(paths.outputs_dir()),
                          words=("missing from outputs/", "not made by the build", "edited since the build"))
        jobs = recorded_jobs()
    for line in on_disk:
        print(line)
    with tempfile.TemporaryDirectory(prefix="kuntalib-verify-") as tmp:
        # Outputs and the language-neutral steps both go to the scratch folder, so every
        # step is computed afresh rather than read from data/processed.
        scratch = {"KUNTALIB_OUTPUTS": str(Path(tmp) / "outputs"), "KUNTALIB_PROCESSED": str(Path(tmp) / "processed")}
        saved = {k: os.environ.get(k) for k in scratch}
        os.environ.update(scratch)
        try:
            code = run_jobs(jobs, force=True, workers=workers, progress=progress)
            rebuilt = collect(Path(scratch["KUNTALIB_OUTPUTS"]))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    again = compare(expected, rebuilt, words=("not made by the rebuild", "made only by the rebuild",
                                              "differs from a fresh rebuild"))
    for line in again:
        print(line)
    print(f"verify: {len(expected)} files in the manifest; {len(on_disk)} differ on disk, "
          f"{len(again)} differ from a fresh rebuild of {len(rebuilt)} files; {len(on_disk) + len(again)} differ")
    return 1 if on_disk or again or code else 0


def _params(notebooks: list[str] | None) -> int:
    from kuntalib.pipeline.runner import discover

    for nb in discover(notebooks):
        print(nb.name)
        for p in read_parameters(nb).values():
            print(f"  {p.name}: {p.type_name} = {p.default!r}  # {p.comment}")
    return 0


def _prose(action: str, names: list[str] | None) -> int:
    """``kuntalib prose update|check``: merge the notebooks' Markdown cells into their catalogues, or list what lacks a translation."""
    from kuntalib.pipeline.runner import discover
    from kuntalib.pipeline.translate import problems, update_catalogues

    found = []
    for nb in discover(names):
        if action == "update":
            for path in update_catalogues(nb):
                print(f"updated {rel_path(path, paths.proj_root())}")
        found += problems(nb)
    print("\n".join(found) if found else "every prose cell has a current translation")
    return 1 if found and action == "check" else 0


def _lab(args: argparse.Namespace) -> int:
    """``kuntalib kernel`` and ``kuntalib lab``: register the ``kuntalib`` kernel in this environment, then (lab) start JupyterLab."""
    from kuntalib.lab import kernel_config_file, kernel_display_name, lab, register_kernel

    try:
        spec, config = register_kernel()
    except RuntimeError as exc:
        print(f"kuntalib: error: {exc}", file=sys.stderr)
        return 2
    root = paths.proj_root()
    print(f"kernel 'kuntalib' ({kernel_display_name()}) registered in {rel_path(spec, root)}", flush=True)
    if config is None:
        print(f"note: {rel_path(kernel_config_file(), root)} is not kuntalib's and was left alone: kernels log "
              "ipykernel's TCP-transport warning", flush=True)
    if args.command == "kernel":
        return 0
    return lab(port=args.port, open_browser=not args.no_browser, extra=args.jupyterlab_args, register=False)


def source_add(args: argparse.Namespace) -> int:
    """``kuntalib source add``: write a raw file's provenance sidecar with its SHA-256; return the exit code."""
    from kuntalib.provenance import SIDECAR_SUFFIX, add_source, read_provenance

    side, old = add_source(args.file, source=args.source, address=args.address, date=args.date, licence=args.licence,
                           synthetic=args.synthetic, description=args.description, update=args.update)
    data = side.with_name(side.name.removesuffix(SIDECAR_SUFFIX))
    new = read_provenance(data, check=False).sha256
    shown = rel_path(side, paths.proj_root())
    if old is None:
        print(f"{shown}: written (sha256 {new[:12]}…)")
    elif old == new:
        print(f"{shown}: sha256 unchanged ({new[:12]}…)")
    else:
        print(f"{shown}: updated, sha256 {old[:12]}… -> {new[:12]}…")
    rel = rel_path(data, paths.data_raw())
    if not _is_cited(rel):
        print(f"note: data/raw/sources/citations.yml names no public source for {rel}; captions and pages that cite "
              "it need one: add it under 'files', then 'kuntalib source add data/raw/sources/citations.yml --update'")
    return 0


def _is_cited(rel: str) -> bool:
    """Whether the citations file maps ``rel`` (a path under data/raw) to a citation; False if it cannot be read."""
    from kuntalib.sources import CITATIONS_FILE
    from kuntalib.yamlsafe import YamlError, safe_load_file

    if rel == CITATIONS_FILE:
        return True  # the citations themselves are what pages cite, not a source of numbers
    try:
        data = safe_load_file(paths.data_raw() / CITATIONS_FILE)
    except (OSError, YamlError):
        return False
    return isinstance(data, dict) and isinstance(data.get("files"), dict) and rel in data["files"]


def source_check() -> int:
    """``kuntalib source check``: list every problem of data/raw's sidecars and citations; 1 if any, else 0."""
    from kuntalib.provenance import check_raw

    found = check_raw()
    for line in found.problems:
        print(line)
    print(found.summary())
    return 1 if found.problems else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kuntalib`` and ``python -m kuntalib``."""
    parser = argparse.ArgumentParser(prog="kuntalib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="run out-of-date notebooks and publish outputs")
    b.add_argument("notebooks", nargs="*", help="notebook stems (default: all in notebooks/)")
    b.add_argument("--lang", default=",".join(LANGS), help="comma-separated languages (default fi,sv,en)")
    b.add_argument("-p", "--param", action="append", default=[], metavar="NB:NAME=VALUE")
    b.add_argument("--force", action="store_true", help="run even notebooks that are up to date")
    b.add_argument("-j", "--workers", type=int, default=2)
    b.add_argument("--no-progress", action="store_true")
    v = sub.add_parser("verify", help="rebuild into a scratch folder and compare with MANIFEST.sha256")
    v.add_argument("-j", "--workers", type=int, default=2)
    v.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("params", help="list each notebook's parameters")
    p.add_argument("notebooks", nargs="*")
    s = sub.add_parser("source", help="your own data: 'source add FILE ...' writes its provenance sidecar, "
                                      "'source check' checks data/raw")
    ssub = s.add_subparsers(dest="source_command", required=True, metavar="{add,check}")
    a = ssub.add_parser("add", help="write the provenance sidecar (with SHA-256) of FILE under data/raw")
    a.add_argument("file", metavar="FILE", help="the data file, under data/raw")
    a.add_argument("--source", help="who published the data (or made it)")
    a.add_argument("--address", help="where it can be found: an address, or the document and page")
    a.add_argument("--date", help="its date, YYYY-MM-DD")
    a.add_argument("--licence", help="its licence, e.g. 'CC BY 4.0'")
    a.add_argument("--synthetic", action=argparse.BooleanOptionalAction, default=None,
                   help="the data is made up (simulated); a new sidecar says not synthetic unless told")
    a.add_argument("--description", help="what the file holds, in a sentence")
    a.add_argument("--update", action="store_true",
                   help="the sidecar exists: re-hash the file and keep the sidecar's other fields")
    ssub.add_parser("check", help="list raw files with a missing or stale sidecar, sidecars without their file "
                                  "and citations naming no file; exit 1 if any")
    t = sub.add_parser("prose", help="the notebooks' prose translations: 'update' merges edited cells, 'check' lists gaps")
    t.add_argument("action", choices=["update", "check"])
    t.add_argument("notebooks", nargs="*")
    j = sub.add_parser("lab", help="register the 'kuntalib' Jupyter kernel in this environment and start JupyterLab "
                                     "on notebooks/ (127.0.0.1)")
    j.add_argument("--port", type=int, default=None, help="JupyterLab's port (default: its own choice, 8888 or the next free)")
    j.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    j.add_argument("jupyterlab_args", nargs="*", metavar="-- JUPYTERLAB_ARG",
                   help="passed on to JupyterLab after '--', e.g. 'kuntalib lab -- --allow-root' in a container")
    sub.add_parser("kernel", help="only register the 'kuntalib' Jupyter kernel in this environment (what 'lab' does first)")
    w = sub.add_parser("serve", help="preview outputs/site/ in a browser: serve it on 127.0.0.1 until Ctrl-C")
    w.add_argument("--port", type=int, default=8000, help="the port (default 8000; 0 picks a free one)")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            langs = tuple(x.strip() for x in args.lang.split(",") if x.strip())
            return build(
                args.notebooks or None,
                langs=langs,
                overrides=_overrides(args.param),
                force=args.force,
                workers=args.workers,
                progress=not args.no_progress,
            )
        if args.command == "verify":
            return verify(workers=args.workers, progress=not args.no_progress)
        if args.command == "source":
            return source_add(args) if args.source_command == "add" else source_check()
        if args.command == "prose":
            return _prose(args.action, args.notebooks or None)
        if args.command in ("lab", "kernel"):
            return _lab(args)
        if args.command == "serve":
            from kuntalib.serve import serve

            return serve(args.port)
        return _params(args.notebooks or None)
    except (ParameterError, ValueError, FileNotFoundError) as exc:
        print(f"kuntalib: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
