"""Benchmark: national-scale simulation in bounded memory (SYNTHETIC data).

Runs :func:`kuntalib.fhir.scale.simulate_national` for each cohort size in ``--clients``
with the same batch size, and prints rows, seconds, rows a second and the peak memory
(PSS of the whole process tree, sampled every 20 ms). Bounded memory shows as a peak
that stays flat while the cohort grows.

    .venv/bin/python benchmarks/national_scale.py --clients 2000,8000 --days 28
    .venv/bin/python benchmarks/national_scale.py --clients 100000 --days 365 --batch 250   # the national run
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest_vs_peers import _PeakMemory  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="2000,8000", help="comma-separated cohort sizes")
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--batch", type=int, default=500, help="clients per batch (bounds memory)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="where to write (default: a temporary folder, removed after)")
    args = ap.parse_args()
    from kuntalib.fhir.scale import simulate_national

    print(f"{'clients':>9s} {'days':>5s} {'batches':>8s} {'rows':>13s} {'seconds':>8s} {'rows/s':>10s} {'peak MiB':>9s} {'GiB on disk':>11s}")
    peaks = []
    for n in (int(x) for x in args.clients.split(",")):
        out = Path(args.out) / f"n{n}" if args.out else Path(tempfile.mkdtemp(prefix="national-"))
        with _PeakMemory() as meter:
            t0 = time.perf_counter()
            run = simulate_national(n, args.days, out, batch_clients=args.batch, seed=2021, workers=args.workers)
            sec = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in run.parts) / 2**30
        peaks.append(meter.mib)
        print(f"{n:9,d} {args.days:5d} {run.batches:8d} {run.measurements:13,d} {sec:8.1f} {run.measurements / sec:10,.0f} "
              f"{meter.mib:9.0f} {size:11.2f}", flush=True)
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    if len(peaks) > 1:
        print(f"\npeak memory ratio largest / smallest cohort: {peaks[-1] / peaks[0]:.2f}× "
              f"(cohort ratio {int(args.clients.split(',')[-1]) / int(args.clients.split(',')[0]):.0f}×)")


if __name__ == "__main__":
    main()
