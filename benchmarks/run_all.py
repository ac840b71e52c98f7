"""All benchmarks in one command, each printing medians and ratios measured in the same run.

1. ingest of simulated FHIR NDJSON: kuntalib (local threads, reference parser only, Dask) vs DuckDB, fhir.resources,
   fhiry — throughput and peak memory — plus the simulator's throughput;
2. national-scale simulation: peak memory as the cohort grows with a fixed batch (bounded memory);
3. the full notebook build vs a sequential papermill loop, and the no-op rebuild;
4. reading a 200 000-row survey export with every check vs pandas.read_csv (target < 5 s, < 500 MB).

    .venv/bin/python benchmarks/run_all.py            # or: make bench
    .venv/bin/python benchmarks/run_all.py --quick    # smaller inputs, one repeat
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    runs = [
        ("ingest vs peers", ["ingest_vs_peers.py", "--clients", "100" if args.quick else "300", "--days", "84",
                             "--repeat", "1" if args.quick else "3", "--sample", "500" if args.quick else "2000"]),
        ("national-scale simulation", ["national_scale.py", "--clients", "1000,4000" if args.quick else "2000,16000",
                                       "--days", "28", "--batch", "500"]),
        ("build vs sequential papermill", ["build_vs_sequential.py", "--repeat", "1" if args.quick else "3",
                                           "--lang", "fi" if args.quick else "fi,sv,en"]),
        ("survey microdata reader", ["microdata_read.py", "--rows", "50000" if args.quick else "200000",
                                     "--repeat", "1" if args.quick else "3"]),
    ]
    failed = 0
    for title, cmd in runs:
        print(f"\n=== {title} ===", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
