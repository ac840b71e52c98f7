"""Benchmark: `kuntalib build` against a plain sequential papermill loop, same notebooks, same run.

Prints medians of ``--repeat`` runs and their ratio, and the median no-op rebuild
time (the target is under 2 s). Machines here are small and noisy: read ratios.

    .venv/bin/python benchmarks/build_vs_sequential.py --repeat 3 --lang fi,sv,en
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from kuntalib import paths
from kuntalib.build.runner import discover, plan, run_build


def _sequential(jobs, out: Path) -> None:
    import papermill as pm

    for job in jobs:
        pm.execute_notebook(str(job.notebook), str(out / f"{job.stem}.{job.lang}.ipynb"), parameters=job.params,
                            kernel_name="python3", progress_bar=False, cwd=str(job.notebook.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lang", default="fi,sv,en")
    args = ap.parse_args()
    langs = tuple(args.lang.split(","))
    times: dict[str, list[float]] = {"kuntalib build (2 workers)": [], "sequential papermill loop": [], "no-op rebuild": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["KUNTALIB_OUTPUTS"] = str(Path(tmp) / "build")
            jobs = plan(discover(), langs)
            t0 = time.perf_counter()
            report = run_build(jobs, force=True, workers=2, progress=False)
            times["kuntalib build (2 workers)"].append(time.perf_counter() - t0)
            assert report.ok, report.summary()
            t0 = time.perf_counter()
            run_build(plan(discover(), langs), progress=False)
            times["no-op rebuild"].append(time.perf_counter() - t0)
            os.environ["KUNTALIB_OUTPUTS"] = str(Path(tmp) / "seq")
            Path(tmp, "seq").mkdir()
            t0 = time.perf_counter()
            _sequential(jobs, Path(tmp) / "seq")
            times["sequential papermill loop"].append(time.perf_counter() - t0)
    os.environ.pop("KUNTALIB_OUTPUTS", None)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"notebooks: {len(discover())} x languages {len(langs)}; repeats: {args.repeat}; root {paths.proj_root()}")
    for k, v in med.items():
        print(f"  {k:<28} median {v:7.2f} s")
    ratio = med["sequential papermill loop"] / med["kuntalib build (2 workers)"]
    print(f"  ratio sequential / kuntalib build: {ratio:.2f}x")
    print(f"  no-op rebuild under 2 s: {'yes' if med['no-op rebuild'] < 2 else 'NO'}")


if __name__ == "__main__":
    main()
