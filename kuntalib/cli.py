"""Command line: ``kuntalib build``, ``kuntalib verify``, ``kuntalib params``.

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
from typing import Any

from kuntalib import paths
from kuntalib.i18n import LANGS
from kuntalib.pipeline.params import ParameterError, parse_cli_value, read_parameters

__all__ = ["main", "build", "verify"]


def _overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        stem, dot, name = target.partition(":")
        if not sep or not dot or not stem or not name:
            raise ParameterError(f"--param {item!r}: expected NOTEBOOK:NAME=VALUE")
        out.setdefault(stem, {})[name] = parse_cli_value(value)
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


def run_jobs(jobs: list, *, force: bool = False, workers: int = 2, progress: bool = True) -> int:
    """Run planned jobs, publish pages of those that ran, rewrite the manifest."""
    from kuntalib.pipeline.manifest import write_manifest
    from kuntalib.pipeline.runner import run_build

    t0 = time.perf_counter()
    report = run_build(jobs, force=force, workers=workers, progress=progress)
    ran = [r.job.run_id for r in report.ran]
    site = paths.site_dir()
    for r in report.failed:
        for page in (site / r.job.lang / f"{r.job.stem}.html", site / r.job.lang / "code" / f"{r.job.stem}.html"):
            page.unlink(missing_ok=True)
    missing_pages = any(
        not (site / j.lang / f"{j.stem}.html").exists() for j in jobs if j.output.exists()
    )
    if ran or report.failed or missing_pages or not (site / "index.html").exists():
        from kuntalib.pipeline.site import publish

        publish(ran)
    write_manifest()
    print(f"{report.summary()} ({time.perf_counter() - t0:.1f} s)")
    return 0 if report.ok else 1


def verify(*, workers: int = 2, progress: bool = True) -> int:
    """Rebuild the last build's runs into a scratch folder; report each file that differs from the manifest."""
    from kuntalib.pipeline.manifest import collect, compare, read_manifest
    from kuntalib.pipeline.runner import recorded_jobs

    manifest = paths.manifest_file()
    if not manifest.exists():
        print(f"{manifest}: no manifest; run 'kuntalib build' first", file=sys.stderr)
        return 2
    expected = read_manifest(manifest)
    jobs = recorded_jobs()
    with tempfile.TemporaryDirectory(prefix="kuntalib-verify-") as tmp:
        # Outputs and the language-neutral steps both go to the scratch folder, so every
        # step is computed afresh rather than read from data/processed.
        scratch = {"KUNTALIB_OUTPUTS": str(Path(tmp) / "outputs"), "KUNTALIB_PROCESSED": str(Path(tmp) / "processed")}
        saved = {k: os.environ.get(k) for k in scratch}
        os.environ.update(scratch)
        try:
            code = run_jobs(jobs, force=True, workers=workers, progress=progress)
            actual = collect(Path(scratch["KUNTALIB_OUTPUTS"]))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    problems = compare(expected, actual)
    for line in problems:
        print(line)
    print(f"verify: {len(actual)} files rebuilt, {len(problems)} differ")
    return 1 if problems or code else 0


def _params(notebooks: list[str] | None) -> int:
    from kuntalib.pipeline.runner import discover

    for nb in discover(notebooks):
        print(nb.name)
        for p in read_parameters(nb).values():
            print(f"  {p.name}: {p.type_name} = {p.default!r}  # {p.comment}")
    return 0


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
        return _params(args.notebooks or None)
    except (ParameterError, ValueError, FileNotFoundError) as exc:
        print(f"kuntalib: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
