"""Benchmark: `kuntalib build` against sequential papermill loops over the same notebooks, same run.

What each side does (every side starts from empty outputs and an empty data/processed):

- ``kuntalib build``: every notebook × language with papermill, 2 worker processes, each notebook's
  first language first; the language-neutral steps (simulation, ingest, model fits, enumeration)
  run once per notebook and the other languages read them back (kuntalib.pipeline.steps).
- ``papermill loop, steps computed every run``: ``papermill.execute_notebook`` on each notebook ×
  language one after another with ``KUNTALIB_STEP_CACHE=off``, i.e. every run computes everything,
  as the notebooks ran before compute-once (and as a loop over notebooks without a shared cache does).
- ``papermill loop, steps cached``: the same loop with the step cache on (its default), so it does
  the same work as the build, one notebook at a time: the ratio to it is what the 2 workers buy.
- ``no-op rebuild``: ``kuntalib build`` again with nothing changed (target: under 2 s).

Prints medians of ``--repeat`` runs and the ratios. Machines here are small and noisy: read ratios.

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
from kuntalib.pipeline.runner import discover, plan, run_build
from kuntalib.pipeline.steps import CACHE_ENV

BUILD = "kuntalib build (2 workers, steps once)"
LOOP_OFF = "papermill loop, steps computed every run"
LOOP_ON = "papermill loop, steps cached"
NOOP = "no-op rebuild"


def _sequential(jobs, out: Path) -> None:
    import papermill as pm

    for job in jobs:
        pm.execute_notebook(str(job.notebook), str(out / f"{job.stem}.{job.lang}.ipynb"), parameters=job.params,
                            kernel_name="python3", progress_bar=False, cwd=str(job.notebook.parent))


def _scratch(tmp: str, name: str) -> Path:
    """Point outputs and data/processed at fresh folders; return the outputs folder."""
    base = Path(tmp) / name
    os.environ["KUNTALIB_OUTPUTS"] = str(base / "outputs")
    os.environ["KUNTALIB_PROCESSED"] = str(base / "processed")
    (base / "outputs").mkdir(parents=True)
    return base / "outputs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lang", default="fi,sv,en")
    args = ap.parse_args()
    langs = tuple(args.lang.split(","))
    times: dict[str, list[float]] = {BUILD: [], LOOP_OFF: [], LOOP_ON: [], NOOP: []}
    saved = {k: os.environ.get(k) for k in ("KUNTALIB_OUTPUTS", "KUNTALIB_PROCESSED", CACHE_ENV)}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            _scratch(tmp, "build")
            jobs = plan(discover(), langs)
            t0 = time.perf_counter()
            report = run_build(jobs, force=True, workers=2, progress=False)
            times[BUILD].append(time.perf_counter() - t0)
            assert report.ok, report.summary()
            t0 = time.perf_counter()
            run_build(plan(discover(), langs), progress=False)
            times[NOOP].append(time.perf_counter() - t0)
            for name, cache in ((LOOP_OFF, "off"), (LOOP_ON, "on")):
                out = _scratch(tmp, cache)
                os.environ[CACHE_ENV] = cache
                t0 = time.perf_counter()
                _sequential(jobs, out)
                times[name].append(time.perf_counter() - t0)
            os.environ.pop(CACHE_ENV, None)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"notebooks: {len(discover())} x languages {len(langs)}; repeats: {args.repeat}; root {paths.proj_root()}")
    for k, v in med.items():
        print(f"  {k:<44} median {v:7.2f} s   (runs: {', '.join(f'{x:.1f}' for x in times[k])})")
    print(f"  build / loop with steps computed every run: {med[BUILD] / med[LOOP_OFF]:.2f}x  (target <= 0.35)")
    print(f"  build / loop with steps cached:             {med[BUILD] / med[LOOP_ON]:.2f}x  (what 2 workers buy)")
    print(f"  loop cached / loop computed every run:      {med[LOOP_ON] / med[LOOP_OFF]:.2f}x  (what compute-once buys)")
    print(f"  no-op rebuild under 2 s: {'yes' if med[NOOP] < 2 else 'NO'}")


if __name__ == "__main__":
    main()
